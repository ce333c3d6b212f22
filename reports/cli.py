"""``neumelt report sim|profile|deploy|sweep RUN... -o FILE.html`` and ``report trace``.

Each HTML report is one self-contained file (plotly.js inline, opens offline from disk);
a markdown and a CSV file are written beside it and a summary is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neumelt.argtypes import positive_float
from neumelt.errors import InputError

KIND_HELP = {
    "sim": "compare simulated designs: throughput, latency, stages, operators, "
           "utilisation, energy per token, roofline",
    "profile": "real runs on a device: timeline of power/memory/temperature/clocks with "
               "calls, per-role latency, per-token latency, energy per phase",
    "deploy": "rank (device or design) x model x quantisation against budgets",
    "sweep": "Pareto fronts of a design-space sweep",
}


def _fraction(text: str) -> float:
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction like 0.2 or a percentage like 20%, got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"headroom must be in [0, 1) (or 0-99%), got {text!r}")
    return v


def register(sub, common) -> None:
    rep = sub.add_parser("report", help="write HTML reports and Perfetto traces from the "
                                        "results store")
    rsub = rep.add_subparsers(dest="report_kind", metavar="KIND")
    rep.set_defaults(func=lambda args: (rep.print_help(), 2)[1])
    for kind, text in KIND_HELP.items():
        p = rsub.add_parser(kind, parents=[common], help=text, description=text)
        p.add_argument("runs", nargs="+", metavar="RUN",
                       help="run ids (3, 5-7, 9,10); see `neumelt runs list`")
        p.add_argument("-o", "--output", metavar="FILE.html",
                       help=f"HTML file to write (default neumelt-{kind}-<runs>.html); "
                            "FILE.md and FILE.csv are written beside it")
        if kind == "sim":
            p.add_argument("--baseline", metavar="DESIGN",
                           help="design (or run id) that ratios divide by (default gpu, "
                                "else npu, else the first run)")
        if kind == "deploy":
            p.add_argument("--max-ttft", type=positive_float, metavar="S",
                           help="time to first token budget, seconds")
            p.add_argument("--min-tps", type=positive_float, metavar="TOK_S",
                           help="minimum decode speed, tokens/s")
            p.add_argument("--max-j-per-task", type=positive_float, metavar="J",
                           help="energy budget per agent task, joules")
            p.add_argument("--ram-headroom", type=_fraction, metavar="FRACTION",
                           help="memory that must stay free, 0.2 or 20%% (default: only "
                                "check that the model fits)")
            p.add_argument("--max-temp", type=positive_float, metavar="C",
                           help="peak temperature budget, °C")
            p.add_argument("--rank-by", choices=("tps", "ttft", "energy", "headroom"),
                           default="tps", help="order within feasible candidates "
                                               "(default tps)")
            p.add_argument("--accept-models", action="append", default=[],
                           metavar="MODEL[=SCORE],...",
                           help="models acceptable for the job, compared in one group with "
                                "their quality/size trade-off stated (SCORE: your quality "
                                "figure, higher is better); default: one group per model")
            p.add_argument("--mixed", action="store_true",
                           help="also rank every candidate across groups (different models "
                                "or workloads), in a separate, labelled section")
            p.add_argument("--tokens-per-task", type=positive_float, metavar="N",
                           help="output tokens of one agent task, to turn simulated J/token "
                                "into J/task (default: from a profile run's calls)")
        if kind == "sweep":
            p.add_argument("--throughput", metavar="FIELD", help="point field to maximise")
            p.add_argument("--energy", metavar="FIELD", help="point field to minimise")
            p.add_argument("--cost", metavar="FIELD", help="area/cost field to minimise")
        p.set_defaults(func=_report_handler, kind=kind)
    t = rsub.add_parser("trace", parents=[common],
                        help="export runs as Chrome/Perfetto trace JSON (ui.perfetto.dev)")
    t.add_argument("runs", nargs="+", metavar="RUN")
    t.add_argument("-o", "--output", metavar="FILE.json",
                   help="trace file (default neumelt-trace-<runs>.json)")
    t.set_defaults(func=_trace_handler)


def _open_store(args):
    from neumelt.store import Store

    path = Path(getattr(args, "db", None) or "neumelt.db")
    if not path.exists():
        raise InputError("no results store here; run a simulation or profile first, or "
                         "pass --db PATH", file=str(path), key="--db")
    return Store(path)


def _ids_text(ids: list[int]) -> str:
    text = "-".join(str(i) for i in ids[:6])
    return text + ("-etc" if len(ids) > 6 else "")


def _report_handler(args) -> int:
    from neumelt.output import print_json
    from reports.api import generate
    from reports.data import parse_run_ids
    from reports.deploy_report import Budgets
    from reports.render import summary_text

    ids = parse_run_ids(args.runs)
    out = args.output or f"neumelt-{args.kind}-{_ids_text(ids)}.html"
    options = {}
    if args.kind == "sim":
        options["baseline"] = args.baseline
    elif args.kind == "deploy":
        options["budgets"] = Budgets(max_ttft_s=args.max_ttft, min_tps=args.min_tps,
                                     max_j_per_task=args.max_j_per_task,
                                     ram_headroom=args.ram_headroom, max_temp_c=args.max_temp)
        options["rank_by"] = args.rank_by
        options["accept_models"] = args.accept_models
        options["mixed"] = args.mixed
        if args.tokens_per_task:
            options["task_tokens"] = (args.tokens_per_task, "--tokens-per-task")
    elif args.kind == "sweep":
        options.update(throughput=args.throughput, energy=args.energy, cost=args.cost)
    store = _open_store(args)
    try:
        files, report = generate(store, args.kind, ids, out, **options)
    finally:
        store.close()
    if getattr(args, "json", False):
        doc = {"kind": report.kind, "title": report.title, "runs": [r.id for r in report.runs],
               "html": str(files.html), "markdown": str(files.markdown),
               "csv": str(files.csv), "plots": len(report.plots()),
               "summary": list(report.summary)}
        if report.kind == "deployment":
            doc["candidates"] = [_candidate_json(c) for c in report.meta["candidates"]]
            doc["groups"] = [{"title": g.title, "workload": g.workload,
                              "models": list(g.models),
                              "recommended": g.best.run_label if g.best else None,
                              "reason": g.reason, "energy_comparable": g.energy_comparable,
                              "energy_reason": g.energy_reason,
                              "candidates": [c.run_label for c in g.candidates]}
                             for g in report.meta["groups"]]
        print_json(doc)
    else:
        print(summary_text(report))
        print(f"report: {files.html.resolve()}")
        print(f"        {files.markdown.resolve()}")
        print(f"        {files.csv.resolve()}")
    return 0


def _q(q):
    if q is None:
        return None
    return {"value": q.value if q.available else None, "unit": q.unit,
            "provenance": q.provenance, "source": q.source}


def _candidate_json(c) -> dict:
    m = c.memory
    return {"target": c.target, "kind": c.kind, "model": c.model, "quant": c.quant,
            "workload": c.workload, "run": c.run_id, "verdict": c.verdict, "checks": c.checks,
            "memory": {"weights": _q(m.weights), "kv_cache_peak": _q(m.kv),
                       "activations_runtime": _q(m.runtime), "total": _q(m.total),
                       "capacity": _q(m.capacity), "devices": m.devices},
            "ttft": _q(c.ttft), "decode_tps": _q(c.tps), "j_per_task": _q(c.j_per_task),
            "memory_required": _q(c.mem_required), "memory_available": _q(c.mem_available),
            "headroom": _q(c.headroom), "thermal": c.thermal.verdict}


def _trace_handler(args) -> int:
    from neumelt.output import print_json
    from reports.data import load_runs, parse_run_ids
    from reports.trace import write_trace

    ids = parse_run_ids(args.runs)
    out = args.output or f"neumelt-trace-{_ids_text(ids)}.json"
    store = _open_store(args)
    try:
        runs = load_runs(store, ids)
    finally:
        store.close()
    path, n = write_trace(runs, out)
    if getattr(args, "json", False):
        print_json({"trace": str(path), "events": n, "runs": ids})
    else:
        print(f"trace: {path.resolve()} ({n:,} events; open in https://ui.perfetto.dev)")
    return 0
