"""Sampler CPU overhead at 10 Hz: thread CPU time of the sampler's reader (which also writes
the store) as a share of one core. Target: < 1 % of one core on the local host.

    python benchmarks/sampler_overhead.py [--seconds 10] [--rate 10] [--device local] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_PCT = 1.0


def measure(seconds: float, rate: float, device: str, adb_port: int) -> dict[str, object]:
    from devices import get_device
    from devices.sampler import Sampler
    from neumelt.store import Store

    dev = get_device(device, adb_port=adb_port)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        run_id = store.start_run("profile", {"benchmark": "sampler_overhead"})
        rates = {"power": rate, "cpu": rate, "thermal": rate, "memory": 1.0}
        proc0 = time.process_time()
        with Sampler(dev, store, run_id, rates=rates, pids=[os.getpid()]) as s:
            time.sleep(seconds)
        proc_s = time.process_time() - proc0
        store.finish_run(run_id, "done")
        over = s.overhead()
        n = len(store.samples(run_id))
    host_pct = over["host_cpu_fraction"] * 100 if over["host_cpu_fraction"] is not None else None
    return {
        "device": dev.serial, "kind": dev.kind, "rate_hz": rate, "seconds": round(s.wall_s, 3),
        "ticks": s.n_ticks, "samples": n, "gaps": len(s.gaps),
        "sampler_cpu_pct_of_one_core": host_pct,
        "process_cpu_pct_of_one_core": proc_s / s.wall_s * 100 if s.wall_s else None,
        "device_cpu_pct_of_one_core": (over["device_cpu_fraction"] * 100
                                       if over.get("device_cpu_fraction") is not None else None),
        "target_pct": TARGET_PCT,
        "meets_target": host_pct is not None and host_pct < TARGET_PCT,
        "provenance": "measured (thread CPU time, time.thread_time)",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=10.0, help="Hz for power, cpu, thermal")
    ap.add_argument("--device", default="local")
    ap.add_argument("--adb-port", type=int, default=5037)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = measure(args.seconds, args.rate, args.device, args.adb_port)
    if args.json:
        print(json.dumps(res, sort_keys=True))
        return 0
    from neumelt.output import print_table
    rows = [{"figure": "sampler reader thread CPU", "value": res["sampler_cpu_pct_of_one_core"],
             "unit": "% of one core"},
            {"figure": "whole benchmark process CPU while sampling",
             "value": res["process_cpu_pct_of_one_core"], "unit": "% of one core"},
            {"figure": "on-device loop CPU", "value": res["device_cpu_pct_of_one_core"],
             "unit": "% of one core"},
            {"figure": "samples stored", "value": res["samples"], "unit": "samples"},
            {"figure": "gaps", "value": res["gaps"], "unit": "count"}]
    print_table(rows, ["figure", "value", "unit"],
                title=f"Sampler overhead at {res['rate_hz']:g} Hz on {res['device']} "
                      f"({res['seconds']} s, measured)")
    print(f"target < {TARGET_PCT:g} % of one core: {'met' if res['meets_target'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
