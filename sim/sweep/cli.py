"""``neumelt sweep run SPEC`` and ``neumelt sweep show RUN``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from neumelt.errors import InputError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    sweep = sub.add_parser("sweep", help="design-space sweeps (Dask or a process pool)")
    ssub = sweep.add_subparsers(dest="sweep_command", metavar="SWEEP_COMMAND")
    sweep.set_defaults(func=lambda args: (sweep.print_help(), 2)[1])

    run = ssub.add_parser(
        "run", parents=[common], help="run a sweep spec; results stream into the store",
        description="Expand SPEC into design points and evaluate them on a Dask LocalCluster "
                    "(default when Dask is installed), the Dask scheduler at --scheduler, or "
                    "a process pool. Points already in the store are reused.")
    run.add_argument("spec", metavar="SPEC",
                     help="sweep spec (YAML) or a shipped example: decode-grid, roofline-grid, "
                          "random-explore, serving-designs")
    run.add_argument("--workers", type=int, default=None,
                     help="worker processes on this machine (default: CPU count; with "
                          "--scheduler the cluster's workers are used)")
    run.add_argument("--scheduler", metavar="ADDR", default=None,
                     help="an existing Dask scheduler, e.g. tcp://host:8786")
    run.add_argument("--connect-timeout", type=float, default=20.0, metavar="S",
                     help="seconds to wait for --scheduler (default 20)")
    run.add_argument("--backend", choices=("dask", "pool"), default=None,
                     help="dask (LocalCluster; default if installed) or pool "
                          "(concurrent.futures processes)")
    run.add_argument("--resume", metavar="RUN", type=int, default=None,
                     help="continue sweep run RUN: skip the points it already has")
    run.add_argument("--retry-errors", action="store_true",
                     help="with --resume, evaluate failed points again")
    run.add_argument("--no-cache", action="store_true",
                     help="do not reuse points from earlier sweep runs in the store")
    run.add_argument("--numba-cache", metavar="DIR", default=os.environ.get("NUMBA_CACHE_DIR"),
                     help="numba cache shared by all workers (default $NUMBA_CACHE_DIR, else "
                          "numba's own, next to the sources); on a cluster, a shared path")
    run.add_argument("--dry-run", action="store_true",
                     help="expand and print the points, evaluate nothing")
    run.set_defaults(func=_run)

    show = ssub.add_parser("show", parents=[common],
                           help="rank a sweep's points and print its Pareto front")
    show.add_argument("run_id", metavar="RUN", type=int, help="sweep run id")
    show.add_argument("--objective", action="append", default=None, metavar="METRIC:max|min",
                      help="Pareto objective (repeatable; default: the spec's objectives)")
    show.add_argument("--top", type=int, default=10, help="ranked points to print (default 10)")
    show.set_defaults(func=_show)


def _backend(args: argparse.Namespace) -> Any:
    from sim.sweep.backends import DaskBackend, PoolBackend, dask_available

    kind = args.backend or ("dask" if (args.scheduler or dask_available()) else "pool")
    if args.scheduler and kind != "dask":
        raise InputError("--scheduler needs the dask backend", key="--backend")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"got {args.workers}", key="--workers", expected="an integer >= 1")
    if kind == "dask":
        return DaskBackend(workers=args.workers, address=args.scheduler,
                           numba_cache_dir=args.numba_cache,
                           connect_timeout_s=args.connect_timeout)
    return PoolBackend(workers=args.workers or os.cpu_count() or 1,
                       numba_cache_dir=args.numba_cache)


def _run(args: argparse.Namespace) -> int:
    if args.numba_cache:
        os.environ["NUMBA_CACHE_DIR"] = args.numba_cache  # before numba is imported here
    from neumelt.output import Progress, print_json, print_table
    from neumelt.store import Store
    from sim.sweep.execute import check_resume, run_sweep
    from sim.sweep.spec import expand, load_spec

    spec, doc = load_spec(args.spec)
    if args.dry_run:
        exp = expand(spec, doc)
        rows = [{"key": p.key, **p.coords} for p in exp.points]
        summary = {"points": len(exp.points), "generated": exp.generated, "pruned": exp.pruned,
                   "duplicates": exp.duplicates}
        if args.json:
            print_json({**summary, "points_list": rows})
        else:
            print_table(rows[:50], title=f"{spec.name}: {len(rows)} points "
                        f"({exp.pruned} pruned by constraints, {exp.duplicates} duplicates)"
                        + (", first 50" if len(rows) > 50 else ""))
        return 0
    if args.retry_errors and args.resume is None:
        raise InputError("--retry-errors needs --resume RUN", key="--retry-errors")
    store = Store(args.db)
    if args.resume is not None:
        check_resume(store, args.resume, spec)
    with _backend(args) as backend:
        summary = run_sweep(spec, store, backend, doc=doc, resume=args.resume,
                            use_cache=not args.no_cache, retry_errors=args.retry_errors,
                            progress=lambda n: Progress(n, f"sweep {spec.name}"))
        info = backend.describe()
    data = {**summary.__dict__, "backend": info}
    if args.json:
        print_json(data)
    else:
        pph = summary.points_per_hour
        print_table([
            {"quantity": "run", "value": summary.run_id, "unit": ""},
            {"quantity": "points", "value": summary.total, "unit": "points"},
            {"quantity": "pruned by constraints", "value": summary.pruned, "unit": "points"},
            {"quantity": "already in this run", "value": summary.skipped, "unit": "points"},
            {"quantity": "reused from earlier runs", "value": summary.cached, "unit": "points"},
            {"quantity": "evaluated now", "value": summary.evaluated, "unit": "points"},
            {"quantity": "ok", "value": summary.ok, "unit": "points"},
            {"quantity": "failed", "value": summary.failed, "unit": "points"},
            {"quantity": "wall time", "value": round(summary.wall_s, 3), "unit": "s, measured"},
            {"quantity": "throughput", "value": None if pph is None else round(pph),
             "unit": "points/h, measured"},
        ], title=f"sweep '{spec.name}' on {info.get('backend')} "
                 f"({info.get('workers', '?')} workers)")
        print(f"\nneumelt sweep show {summary.run_id}"
              + ("" if args.db == "neumelt.db" else f" --db {args.db}"))
    return 1 if summary.failed else 0


def _objectives(args: argparse.Namespace, run: Any) -> list[tuple[str, str]]:
    if args.objective:
        out = []
        for text in args.objective:
            name, _, goal = text.partition(":")
            if not name or goal not in ("max", "min"):
                raise InputError(f"got {text!r}", key="--objective", expected="METRIC:max or "
                                 "METRIC:min")
            out.append((name, goal))
        return out
    return [(o["metric"], o["goal"]) for o in run.info.get("objectives") or []]


def _header(points: list[dict[str, Any]], metric: str) -> str:
    for p in points:
        m = p.get("metrics", {}).get(metric)
        if m:
            return f"{metric} [{m['unit']}, {m['provenance']}]"
    return metric


def _show(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from neumelt.store import Store
    from sim.sweep.execute import load_points
    from sim.sweep.results import front_rows, metric_value, ranked

    store = Store(args.db)
    run = store.get_run(args.run_id)
    if run.kind != "sweep":
        raise InputError(f"run {run.id} is a '{run.kind}' run, not a sweep", key="RUN")
    objectives = _objectives(args, run)
    points = load_points(store, run.id)
    rows = ranked(points, objectives)
    known = {m for p in rows for m in p.get("metrics", {})}
    for name, _ in objectives:
        if rows and name not in known:
            raise InputError(f"no point of run {run.id} has metric '{name}'",
                             key="--objective", expected="one of " + ", ".join(sorted(known)))
    front = front_rows(points, objectives)
    failed = [p for p in points.values() if p.get("status") == "error"]
    metrics = {m.name: m for m in store.metrics(run.id)}
    if args.json:
        print_json({"run": run.id, "name": run.name, "status": run.status,
                    "objectives": [{"metric": m, "goal": g} for m, g in objectives],
                    "summary": {k: {"value": m.value, "unit": m.unit, "provenance": m.provenance}
                                for k, m in metrics.items()},
                    "front": front,
                    "ranked": [{"key": p["key"], "pareto_rank": p["pareto_rank"],
                                "coords": p.get("coords"), "metrics": p.get("metrics")}
                               for p in rows],
                    "failed": [{"key": p["key"], "coords": p.get("coords"),
                                "error": p.get("error")} for p in failed]})
        return 0
    axes = sorted({k for p in points.values() for k in (p.get("coords") or {})})
    print(f"sweep run {run.id} '{run.name}' ({run.status}): {len(points)} points, "
          f"{len(rows)} ok, {len(failed)} failed"
          + (f", {metrics['points_per_hour'].value:,.0f} points/h (measured)"
             if "points_per_hour" in metrics and metrics["points_per_hour"].value else ""))
    obj_names = [m for m, _ in objectives]
    shown = obj_names or sorted(known)[:4]

    def row(p: dict[str, Any], rank: bool) -> dict[str, Any]:
        r: dict[str, Any] = {"pareto_rank": p["pareto_rank"]} if rank else {}
        r.update({a: (p.get("coords") or {}).get(a) for a in axes})
        r.update({_header(rows, m): metric_value(p, m) for m in shown})
        r["key"] = p["key"]
        return r

    if objectives:
        goals = ", ".join(f"{m} ({g})" for m, g in objectives)
        front_pts = [p for p in rows if p["pareto_rank"] == 1]
        print()
        print_table([row(p, False) for p in front_pts],
                    title=f"Pareto front over {goals}: {len(front_pts)} points")
    print()
    print_table([row(p, True) for p in rows[:args.top]],
                title=f"top {min(args.top, len(rows))} of {len(rows)} points"
                      + (" by Pareto rank, then " + obj_names[0] if objectives else ""))
    if failed:
        print()
        print_table([{"key": p["key"], **(p.get("coords") or {}), "error": p.get("error")}
                     for p in failed[:10]],
                    title=f"failed points: {len(failed)}" + (" (first 10)" if len(failed) > 10
                                                            else ""))
    return 0
