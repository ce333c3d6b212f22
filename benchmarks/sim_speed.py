"""Simulator speed: the NeuPIMs reference batch (GPT3-7B, TP 4, 512 requests, one decoder
block, one decode iteration) on each design, single core, warm JIT, memo caches cleared.

The NeuPIMs artifact needs 58.9 s (-O2) for this batch with interleaving off and 189 s with
it on (sim/data/neupims/README or benchmarks/README.md). Prints a table; ``--json`` prints
one JSON object of the figures with units.

    python benchmarks/sim_speed.py [--json] [--repeat 3] [--fidelity command|fast]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time


def _time_design(name: str, batch, fidelity: str, repeat: int, **kw) -> dict:
    from sim.designs import clear_caches, get_design

    design = get_design(name, fidelity=fidelity, **kw)
    design.decode_iteration("gpt3-7b", batch.seq_lens, channel_idx=batch.channel_idx,
                            layers=1)                                   # warm the JIT
    walls = []
    res = None
    for _ in range(repeat):
        clear_caches()
        t0 = time.perf_counter()
        res = design.decode_iteration("gpt3-7b", batch.seq_lens, channel_idx=batch.channel_idx,
                                      layers=1)
        walls.append(time.perf_counter() - t0)
    clear_caches()
    return {"wall_s": statistics.median(walls), "wall_min_s": min(walls),
            "simulated_cycles": res.total_cycles, "fidelity": res.fidelity}


def decode_step_section(fidelity: str, repeat: int) -> list[dict]:
    from sim.designs.batch import parse_batch
    from sim.designs.reference import WALL_S as REFERENCE_WALL_S  # artifact, -O2, 2 cores

    batch = parse_batch("reference")
    rows = []
    cases = [
        ("neupims", "off", {"sub_batch": False, "channels": "given"}),
        ("neupims", "on", {"sub_batch": True, "channels": "given"}),
        ("npu-pim", "off", {}),
        ("npu", "off", {}),
        ("gpu", "off", {}),
    ]
    for name, sb, kw in cases:
        r = _time_design(name, batch, fidelity, repeat, **kw)
        ref = REFERENCE_WALL_S[sb] if name == "neupims" else None
        rows.append({"design": name, "sub_batch": sb, "fidelity": r["fidelity"],
                     "wall_s": r["wall_s"], "wall_min_s": r["wall_min_s"],
                     "simulated_cycles": r["simulated_cycles"],
                     "reference_wall_s": ref,
                     "speedup_vs_reference": (ref / r["wall_s"]) if ref else None})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fidelity", choices=("command", "fast"), default="command")
    ap.add_argument("--serving-requests", type=int, default=1000,
                    help="requests of the serving section (0 skips it)")
    ap.add_argument("--serving-designs", default="neupims",
                    help="designs of the serving section, comma-separated")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    rows = decode_step_section(args.fidelity, args.repeat)
    serving = serving_section(args.serving_requests, args.serving_designs.split(","))
    host = {"python": platform.python_version(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"benchmark": "sim_speed", "host": host,
                          "units": {"wall_s": "s (host wall clock, one core, warm JIT)",
                                    "simulated_cycles": "cycles of the device clock",
                                    "speedup_vs_reference": "x (reference wall / ours)"},
                          "decode_step": rows, "serving": serving}, indent=2))
        return 0
    from neumelt.output import print_table

    print_table([{"design": r["design"], "sub-batch": r["sub_batch"],
                  "fidelity": r["fidelity"], "wall (s)": round(r["wall_s"], 4),
                  "simulated (cycles)": r["simulated_cycles"],
                  "reference wall (s)": r["reference_wall_s"],
                  "speed-up (x)": (round(r["speedup_vs_reference"], 1)
                                   if r["speedup_vs_reference"] else None)}
                 for r in rows],
                title="one decode iteration, GPT3-7B TP4, NeuPIMs 512-request batch, 1 layer")
    if serving:
        print()
        print_table(serving, title="serving: GPT3-30B, max batch 256, ShareGPT, all requests "
                    "at t=0, PIM fast path, one core (simulated tokens per wall-second)")
    return 0


# ---- serving section (helper C): whole serving runs, simulated tokens per wall-second ----
SERVING_TARGET_TOK_PER_WALL_S = 10_000


def serving_section(requests: int, designs: list[str]) -> list[dict]:
    """GPT3-30B, max batch 256, ``requests`` ShareGPT requests through ``neumelt sim run``'s
    serving loop (memoised iteration costs, PIM fast path); wall time includes building the
    workload and the design, after a 20-request warm-up run that compiles the kernels."""
    if requests <= 0:
        return []
    from sim.serving.run import ServingRunConfig, execute

    rows = []
    for d in [x.strip() for x in designs if x.strip()]:
        kw = dict(design=d, model="gpt3-30b", workload="sharegpt", max_batch=256,
                  fidelity="fast", seed=0)
        execute(ServingRunConfig(requests=20, **kw))  # warm the JIT and the block caches
        t0 = time.perf_counter()
        out = execute(ServingRunConfig(requests=requests, **kw))
        wall = time.perf_counter() - t0
        tok = out.figure("output_tokens")
        rows.append({"design": d, "requests": requests, "output_tokens": int(tok),
                     "wall_s": round(wall, 2), "sim_tokens_per_wall_s": round(tok / wall),
                     "target_tokens_per_wall_s": SERVING_TARGET_TOK_PER_WALL_S,
                     "simulated_throughput_tok_s": round(out.figure("throughput_tok_s"), 1),
                     "memo_hits": out.info["memo_hits"], "memo_misses": out.info["memo_misses"],
                     "source": out.source})
    return rows


if __name__ == "__main__":
    sys.exit(main())
