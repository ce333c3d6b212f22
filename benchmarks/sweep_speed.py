"""Sweep throughput: design points per hour on this machine and the 1 -> 2 worker speed-up.

Runs one spec (default: the 200-point ``sim/sweep/examples/decode_grid.yaml`` on the
simulator's fast path) twice with a fresh cluster each time, 1 then 2 workers, into a
throwaway store with the point cache off, and reports measured wall time (evaluation only;
cluster start-up listed apart) and points per hour.

    python benchmarks/sweep_speed.py [--spec FILE] [--backend dask|pool] [--workers 1,2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "sim" / "sweep" / "examples" / "decode_grid.yaml"


def measure(spec_path: Path, backend_kind: str, workers: int, db: Path) -> dict:
    from neumelt.store import Store
    from sim.sweep.backends import DaskBackend, PoolBackend
    from sim.sweep.execute import load_points, run_sweep
    from sim.sweep.spec import load_spec

    spec, doc = load_spec(spec_path)
    t0 = time.perf_counter()
    backend = DaskBackend(workers=workers) if backend_kind == "dask" else PoolBackend(workers)
    with backend:
        if backend_kind == "dask":
            backend.client.wait_for_workers(workers)
        startup = time.perf_counter() - t0
        s = run_sweep(spec, Store(db), backend, doc=doc, use_cache=False)
    pts = load_points(Store(db), s.run_id).values()
    cpu = sum(p.get("cpu_s") or 0.0 for p in pts)
    return {"workers": workers, "points": s.total, "ok": s.ok, "failed": s.failed,
            "point_cpu_s": round(cpu, 3),
            "wall_s": round(s.wall_s, 3), "startup_s": round(startup, 3),
            "points_per_hour": round(s.points_per_hour or 0.0)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    ap.add_argument("--backend", choices=("dask", "pool"), default="dask")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            rows.append(measure(args.spec, args.backend, n, Path(tmp) / f"w{n}.db"))
    base = rows[0]["wall_s"]
    for r in rows:
        r["speedup"] = round(base / r["wall_s"], 3) if r["wall_s"] else None
    out = {
        "spec": str(args.spec.relative_to(ROOT) if args.spec.is_relative_to(ROOT) else args.spec),
        "backend": args.backend, "host_cpus": os.cpu_count(), "python": platform.python_version(),
        "load_avg_1min_before": load_before,
        "runs": rows,
        "points_per_hour": {"value": rows[-1]["points_per_hour"], "unit": "points/h",
                            "provenance": "measured",
                            "workers": rows[-1]["workers"]},
        "speedup_1_to_2": {"value": rows[-1]["speedup"] if counts[:1] == [1] else None,
                           "unit": "x", "provenance": "measured"},
    }
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return 0
    print(f"sweep speed: {out['spec']} on {args.backend}, host with {os.cpu_count()} CPUs, "
          f"1-min load average {load_before} before the runs (measured, wall clock)")
    print(f"{'workers':>7}  {'points':>6}  {'failed':>6}  {'start-up s':>10}  {'wall s':>8}  "
          f"{'point CPU s':>11}  {'points/h':>10}  {'speed-up':>8}")
    for r in rows:
        print(f"{r['workers']:>7}  {r['points']:>6}  {r['failed']:>6}  {r['startup_s']:>10.2f}  "
              f"{r['wall_s']:>8.2f}  {r['point_cpu_s']:>11.2f}  {r['points_per_hour']:>10,}  "
              f"{r['speedup']:>7.2f}x")
    print("point CPU s: CPU time the workers spent inside points (summed); equal across rows "
          "means no work was duplicated, so a missing speed-up is CPU contention")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
