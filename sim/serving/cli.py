"""``neumelt sim run`` and ``neumelt sim compare``: serve a workload on simulated designs.

Heavy modules (numba kernels, designs) are imported inside the handlers.
"""

from __future__ import annotations

import argparse
from typing import Any

from neumelt.argtypes import positive_float, positive_int
from neumelt.errors import InputError

SHOWN = [
    ("throughput_tok_s", "tokens/s"), ("ttft_p50_s", "s"), ("ttft_p99_s", "s"),
    ("tpot_p50_s", "s"), ("tpot_p99_s", "s"), ("e2e_p50_s", "s"), ("e2e_p99_s", "s"),
    ("task_latency_p50_s", "s"), ("task_latency_p90_s", "s"), ("energy_per_token_j", "J/token"),
    ("energy_per_task_j", "J"), ("tokens_per_joule", "tokens/J"), ("energy_idle_j", "J"),
    ("utilisation.gpu", "fraction"), ("utilisation.npu", "fraction"),
    ("utilisation.pim", "fraction"), ("utilisation.hbm_bw", "fraction"),
    ("roofline_fraction", "fraction"), ("kv_peak_fraction", "fraction"),
    *((f"time_share.{k}", "fraction of busy time") for k in (
        "gemm", "attention", "contention_stall", "mode_switch", "command_issue",
        "communication", "idle")),
    ("preemptions", "count"),
    ("requests_finished", "requests"), ("requests_rejected", "requests"),
]


def _workload_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", required=True, help="model preset (gpt3-30b) or YAML file")
    p.add_argument("--hw", default=None, help="hardware preset or YAML (default: the design's)")
    p.add_argument("--workload", "-w", required=True,
                   help="chat trace (sharegpt, alpaca, lmsys), trace file, or agent template "
                        "(mobile-agent-v2) / YAML")
    p.add_argument("--requests", "-n", type=positive_int, default=None,
                   help="requests of a trace (default 1000) or tasks of an agent workload "
                        "(default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--rate", type=positive_float, default=None,
                   help="Poisson arrivals per second (requests or tasks); default all at t=0")
    p.add_argument("--concurrency", type=positive_int, default=None,
                   help="closed loop: agent tasks or chat clients in flight (default: open loop; "
                        "agents: the template's arrivals)")
    p.add_argument("--batch", type=positive_int, default=256,
                   help="maximum requests per iteration (default 256)")
    p.add_argument("--prefill", choices=("separate", "mixed"), default="separate",
                   help="prefill in its own iterations (vLLM) or mixed into decode (Orca)")
    p.add_argument("--fidelity", choices=("fast", "command"), default="fast",
                   help="PIM model: fast path or command level (default fast)")
    p.add_argument("--row-buffer", choices=("single", "dual"), default=None)
    p.add_argument("--channels", choices=("greedy", "rr"), default=None,
                   help="KV placement over PIM channels: greedy min-load or round robin "
                        "(default: the design's, greedy for neupims, rr for npu-pim)")
    p.add_argument("--sub-batch", choices=("on", "off", "auto"), default=None,
                   help="sub-batch interleaving (neupims default auto: where it is faster)")
    p.add_argument("--tp", type=positive_int, default=None)
    p.add_argument("--pp", type=positive_int, default=None)
    p.add_argument("--baselines", choices=("ideal", "artifact"), default="ideal",
                   help="baseline model: ideal (batched NPU attention) or artifact (the NeuPIMs "
                        "artifact's npu-only attention, serialised per request and head)")
    p.add_argument("--memo-tolerance", type=float, default=0.02,
                   help="relative context difference under which iterations share a cost "
                        "(0 = exact batches only; default 0.02)")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser("run", parents=[common],
                         help="serve a trace or agent workload on one simulated design")
    run.add_argument("--design", "-d", required=True,
                     help="gpu | gpu-overlap | npu | npu-pim | neupims")
    _workload_args(run)
    run.set_defaults(func=cmd_run)
    cmp_ = sub.add_parser("compare", parents=[common],
                          help="serve one workload on several designs, side by side")
    cmp_.add_argument("--designs", default="gpu,npu,npu-pim,neupims",
                      help="comma-separated designs (default gpu,npu,npu-pim,neupims); "
                           "DESIGN@HW runs one on other hardware, e.g. gpu@a100-eager")
    cmp_.add_argument("--baseline", default=None, help="design the ratios divide by (default: "
                      "the first)")
    _workload_args(cmp_)
    cmp_.set_defaults(func=cmd_compare)


def _config(args: argparse.Namespace, design: str, hw: str | None = None):
    from sim.serving.run import ServingRunConfig, check_design_name
    check_design_name(design)
    if not 0 <= args.memo_tolerance < 0.5:
        raise InputError(f"memo tolerance {args.memo_tolerance} out of range",
                         key="--memo-tolerance", expected="a number in [0, 0.5)")
    return ServingRunConfig(design=design, model=args.model, workload=args.workload,
                            hw=hw or args.hw,
                            requests=args.requests, rate=args.rate, seed=args.seed,
                            max_batch=args.batch, prefill=args.prefill, fidelity=args.fidelity,
                            row_buffer=args.row_buffer, channels=args.channels,
                            sub_batch=args.sub_batch, tp=args.tp, pp=args.pp,
                            memo_tolerance=args.memo_tolerance, concurrency=args.concurrency,
                            baselines=args.baselines)


def _execute(cfg, label: str):
    from neumelt.output import Progress
    from sim.serving.run import execute
    bar = Progress(0, label)
    try:
        return execute(cfg, progress=bar)
    finally:
        bar.close()


def _store(args: argparse.Namespace):
    from neumelt.store import Store
    return Store(getattr(args, "db", "neumelt.db"))


def _row(out, baseline=None) -> dict:
    row: dict[str, Any] = {"design": out.config.design, "source": out.source}
    for name, _unit in SHOWN:
        try:
            v = out.figure(name)
        except KeyError:
            continue
        row[name] = v
    if baseline is not None:
        for name, better in (("throughput_tok_s", "higher"), ("energy_per_token_j", "lower"),
                             ("task_latency_p50_s", "lower"), ("e2e_p50_s", "lower")):
            try:
                a, b = out.figure(name), baseline.figure(name)
            except KeyError:
                continue
            if a is None or b is None or not a or not b:
                continue
            row[f"{name}_vs_base"] = (a / b) if better == "higher" else (b / a)
    return row


def cmd_run(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from sim.serving.run import record
    cfg = _config(args, args.design)
    out = _execute(cfg, f"serve {cfg.design}")
    run_id = record(_store(args), out)
    if getattr(args, "json", False):
        print_json({"run_id": run_id, "source": out.source, "provenance": "simulated",
                    "config": cfg, "info": out.info,
                    "metrics": {f.name: {"value": f.value, "unit": f.unit}
                                for f in out.figures}})
        return 0
    rows = [{"metric": f.name, "value": f.value, "unit": f.unit} for f in out.figures]
    print_table(rows, ["metric", "value", "unit"],
                title=f"run {run_id}: {cfg.design} serving {cfg.model} on {out.info['requests']} "
                      f"{cfg.workload} calls (simulated, {out.source}; wall {out.wall_s:.2f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from sim.serving.run import record
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    if not designs:
        raise InputError("no designs given", key="--designs", expected="a comma-separated list")
    if len(set(designs)) != len(designs):
        raise InputError("a design is listed twice", key="--designs",
                         expected="each DESIGN[@HW] once")
    base = args.baseline or designs[0]
    if base not in designs:
        raise InputError(f"baseline {base!r} is not among the designs", key="--baseline",
                         expected=" | ".join(designs))
    cfgs = {}
    for d in designs:
        name, _, hw = d.partition("@")
        cfgs[d] = _config(args, name, hw or None)
    hw_names = {d: _hw_name(c) for d, c in cfgs.items()}
    store = _store(args)
    outs = {}
    ids = {}
    for d, cfg in cfgs.items():
        outs[d] = _execute(cfg, f"serve {d}")
        ids[d] = record(store, outs[d])
    rows = [dict(_row(outs[d], outs[base]), design=d, hw=hw_names[d], run_id=ids[d])
            for d in designs]
    base_label = f"{base} on {hw_names[base]}"
    if getattr(args, "json", False):
        print_json({"baseline": base, "baseline_hw": hw_names[base],
                    "ratios_against": base_label, "provenance": "simulated", "designs": rows})
        return 0
    shown = [n for n, _ in SHOWN if any(n in r for r in rows)]
    cols = ["design", "run_id", "hw"] + [n for n in shown if not n.startswith("time_share.")]
    cols += [c for c in rows[0] if c.endswith("_vs_base")]
    table = [{c: r.get(c) for c in cols} for r in rows]
    # transpose: one row per figure, one column per design (fits a terminal)
    units = dict(SHOWN)
    out_rows = []
    for c in cols[2:]:
        unit = "preset" if c == "hw" else units.get(
            c, f"x (ratio, >1 = better than {base_label})")
        out_rows.append({"figure": c, "unit": unit, **{r["design"]: r.get(c) for r in table}})
    print_table(out_rows, ["figure", "unit"] + designs,
                title=f"{args.workload} on {args.model}: simulated, ratios against "
                      f"{base_label}; runs " + ", ".join(f"{d}={ids[d]}" for d in designs))
    parts = [n for n in shown if n.startswith("time_share.")]
    if parts:
        print()
        dec = [{"part": n.split(".", 1)[1], "unit": "fraction of busy time",
                **{r["design"]: r.get(n) for r in rows}} for n in parts]
        print_table(dec, ["part", "unit"] + designs,
                    title="where the iteration time goes (simulated; sim.designs.breakdown: "
                          "critical path, parts sum to 1)")
    return 0


def _hw_name(cfg) -> str:
    """The hardware preset a serving config's design runs on (its default when not set)."""
    from sim.designs import get_design

    try:
        return get_design(cfg.design, hw=cfg.hw).hw.name
    except Exception:  # noqa: BLE001 - a bad hw is reported by the run itself
        return str(cfg.hw)
