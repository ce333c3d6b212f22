"""DRAM and PIM simulation speed: device commands per second, one core, warm JIT.

Streaming (sequential 64 B-class reads) and random (uniform addresses, 80 % reads, the
Ramulator 2 / DRAMsim3 comparison method) request streams on hbm2-neupims and hbm3, through
``simulate_requests`` at command level; and the PIM attention stage of the NeuPIMs reference
batch (GPT3-7B, TP 4, 512 requests) at command level (dual row buffer) and on the fast path.

DCPS = issued device commands (ACT, PRE, RD, WR, REF, PREA; every PIM command, an all-bank
command counting once) / seconds. Both wall seconds and process CPU seconds are reported: on
a shared machine the CPU figure is the one-core speed. Targets: >= 10 M DRAM commands/s,
>= 1 M PIM commands/s (Ramulator 2 / DRAMsim3: 0.26-0.80 M/s on a 2-core VM).

    python benchmarks/dram_speed.py [--requests 500000] [--repeat 5] [--json]

Each case runs ``--repeat`` times, one run of every case per round; the fastest run is the
figure (as ``timeit`` takes the minimum), the median run is printed beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_DRAM = 10e6
TARGET_PIM = 1e6


def _timed_rounds(cases: dict, repeat: int) -> dict:
    """Time every case ``repeat`` times, one run of each case per round, so that the runs of a
    case are spread over the whole benchmark rather than over one moment of it (a shared VM
    has slow phases lasting seconds). Returns {case: (last result, wall times, CPU times)}."""
    times: dict = {k: ([], []) for k in cases}
    results: dict = {}
    for _ in range(repeat):
        for key, fn in cases.items():
            w0, c0 = time.perf_counter(), time.process_time()
            results[key] = fn()
            times[key][0].append(time.perf_counter() - w0)
            times[key][1].append(time.process_time() - c0)
    return {k: (results[k], times[k][0], times[k][1]) for k in cases}


def _row(case: str, commands: int, walls: list, cpus: list, simulated_s: float,
         bandwidth: str | float, digits: int = 3) -> dict:
    """One table row: fastest wall and CPU run, commands per second for both and for the
    median CPU run."""
    wall, cpu = min(walls), min(cpus)
    return {"case": case, "commands": commands,
            "wall (s)": round(wall, 4), "cpu (s)": round(cpu, 4),
            "M cmds/wall-s": round(commands / wall / 1e6, digits),
            "M cmds/cpu-s": round(commands / cpu / 1e6, digits),
            "median M cmds/cpu-s": round(commands / float(np.median(cpus)) / 1e6, digits),
            "simulated (us)": round(simulated_s * 1e6, 2), "bandwidth (GB/s)": bandwidth}


def _reference_batch():
    path = Path(__file__).resolve().parents[1] / "sim/data/neupims"
    per: list[list[int]] = [[] for _ in range(32)]
    with open(path / "share-gpt2-bs512-ms7B-tp4-clb-0.csv") as fh:
        for row in csv.DictReader(fh):
            per[int(row["ch_idx"])].append(int(row["seq_len"]))
    return per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=5,
                    help="timed runs per case; the fastest counts (default 5: a shared VM "
                         "slows single runs down by up to 2x)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from sim.dram.engine import simulate_requests
    from sim.dram.standard import load_standard
    from sim.pim.attention import AttentionShape, simulate_attention

    rows = []
    out: dict = {"requests": args.requests, "repeat": args.repeat, "cpu_count": os.cpu_count(),
                 "load_average_1m": os.getloadavg()[0]}
    n = args.requests
    cases: dict = {}
    stds = {name: load_standard(name) for name in ("hbm2-neupims", "hbm3")}
    for name, std in stds.items():
        rng = np.random.default_rng(args.seed)
        streams = {
            "stream": (np.arange(n, dtype=np.int64) * std.org.burst_bytes, np.zeros(n, bool)),
            "random": (rng.integers(0, std.org.capacity_bytes // std.org.burst_bytes, n)
                       * std.org.burst_bytes, rng.random(n) < 0.2),
        }
        for pattern, (addr, wr) in streams.items():
            arr = np.zeros(n, dtype=np.int64)
            simulate_requests(std, arr[:1000], addr[:1000], wr[:1000])  # warm the JIT
            cases[(name, pattern)] = (lambda a=addr, w=wr, s=std, r=arr:
                                      simulate_requests(s, r, a, w))
    std = stds["hbm2-neupims"]
    per = _reference_batch()
    shape = AttentionShape(heads=8, d_k=128, e_tp=1024)
    simulate_attention(std, [p[:2] for p in per[:2]], shape)  # warm
    simulate_attention(std, [p[:2] for p in per[:2]], shape, fidelity="fast")
    cases["pim"] = lambda: simulate_attention(std, per, shape)
    cases["pim_fast"] = lambda: simulate_attention(std, per, shape, fidelity="fast")
    timed = _timed_rounds(cases, args.repeat)

    for name in stds:
        for pattern in ("stream", "random"):
            res, walls, cpus = timed[(name, pattern)]
            wall, cpu = min(walls), min(cpus)
            key = f"{name}_{pattern}"
            out[f"{key}_dcps_wall"] = res.commands_issued / wall
            out[f"{key}_dcps_cpu"] = res.commands_issued / cpu
            out[f"{key}_dcps_cpu_median"] = res.commands_issued / float(np.median(cpus))
            out[f"{key}_commands"] = res.commands_issued
            out[f"{key}_slowdown_cpu"] = cpu / res.seconds
            rows.append(_row(f"{name} {pattern}", res.commands_issued, walls, cpus,
                             res.seconds, round(res.bandwidth_bytes_per_s / 1e9, 1)))
    res, walls, cpus = timed["pim"]
    wall, cpu = min(walls), min(cpus)
    pim_cmds = sum(v for k, v in res.commands.items()
                   if k in ("GWRITE", "G_ACT", "PIM_PRECHARGE", "P_HEADER", "COMPS_READRES"))
    bank_ops = (res.commands["COMP"] * std.org.banks + res.commands["G_ACT"]
                * std.org.banks_per_group + res.commands["PIM_PRECHARGE"])
    out.update({"pim_commands": pim_cmds, "pim_cps_wall": pim_cmds / wall,
                "pim_cps_cpu": pim_cmds / cpu, "pim_cps_cpu_median": pim_cmds / float(
                    np.median(cpus)), "pim_bank_ops_per_s_cpu": bank_ops / cpu,
                "pim_slowdown_cpu": cpu / res.seconds, "pim_stage_cycles": res.cycles})
    rows.append(_row("PIM attention, reference batch (command, dual)", pim_cmds, walls, cpus,
                     res.seconds, "-"))
    fres, fwalls, fcpus = timed["pim_fast"]
    fcpu = min(fcpus)
    out.update({"pim_fast_equiv_cps_cpu": pim_cmds / fcpu,
                "pim_fast_error": abs(fres.cycles - res.cycles) / res.cycles})
    rows.append(_row("PIM attention, reference batch (fast path)", pim_cmds, fwalls, fcpus,
                     fres.seconds, "-", digits=1))
    units = {k: ("commands/s" if "cps" in k or "dcps" in k else
                 "bank-ops/s" if "bank_ops" in k else "x" if "slowdown" in k else
                 "fraction" if "error" in k else "cycles" if "cycles" in k else
                 "commands" if k.endswith("commands") else "runs" if k == "repeat" else
                 "requests" if k == "requests" else "")
             for k in out}
    out["units"] = {k: v for k, v in units.items() if v}
    out["targets"] = {"dram_dcps": TARGET_DRAM, "pim_cps": TARGET_PIM}
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    from neumelt.output import print_table

    print_table(rows, title=f"DRAM/PIM simulation speed, one core, warm JIT "
                            f"({os.cpu_count()} CPUs, load {out['load_average_1m']:.1f})")
    print(f"targets: >= {TARGET_DRAM / 1e6:g} M DRAM cmds/s, >= {TARGET_PIM / 1e6:g} M PIM "
          f"cmds/s; fast-path stage error vs command level {out['pim_fast_error']:.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
