"""neumelt beside DRAMsim3 and Ramulator 2 on the seeded reference traces, and their speed.

Fidelity: the stored reference figures (tests/data/dram_reference/*_figures.json, measured by
the runs its manifest describes) next to a fresh neumelt run (simulated) of the same traces
(sim/dram/reference_traces.py), per trace and metric, with the relative error.

Speed (only when reference binaries are given): one interleaved run -- per round neumelt,
DRAMsim3, Ramulator 2 on the same trace, several rounds -- CPU seconds of each command
(neumelt: process CPU time of the simulate call, warm JIT; references: the CPU time their
driver reports around its tick loop), printed as the ratio of neumelt's device commands
per CPU-second to each reference's (both divide neumelt's command count: same work).

    python benchmarks/dram_fidelity.py [--json] [--trace random_heavy] [--rounds 5]
        [--dramsim3 "BIN CONFIG"] [--ramulator2 "BIN CONFIG"]

A reference is given as "BIN CONFIG" (or env NEUMELT_DRAMSIM3 / NEUMELT_RAMULATOR2): BIN is a
timed-trace driver run as ``BIN CONFIG [OUTDIR] TRACE.drv q`` that prints ``# cpu_s <s>``
(tests/data/dram_reference/README.md describes the drivers used for the stored figures).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "dram_reference"
REFS = ("dramsim3", "ramulator2")


def _stored() -> dict:
    out = {}
    for r in REFS:
        p = REF / f"{r}_figures.json"
        out[r] = json.loads(p.read_text()) if p.is_file() else {}
    return out


def fidelity_rows(std) -> list[dict]:
    from sim.dram.reference_compare import METRICS, neumelt_figures, rel_error
    from sim.dram.reference_traces import reference_traces

    stored = _stored()
    rows = []
    for t in reference_traces():
        ours = neumelt_figures(std, t)
        for m in METRICS:
            row = {"trace": t.name, "metric": m, "neumelt": ours[m]}
            for r in REFS:
                v = stored[r].get(t.name, {}).get(m)
                row[r] = v
                row[f"error_vs_{r}_pct"] = (None if v is None
                                            else round(100 * rel_error(ours[m], v), 2))
            rows.append(row)
    return rows


def _drv_file(trace, std, path: Path) -> None:
    from sim.dram.mapping import AddressMapping
    from sim.dram.reference_traces import MAPPING

    ch = AddressMapping.of(std, MAPPING).decode(trace.address).channel
    with path.open("w") as fh:
        for a, ad, w, c in zip(trace.arrival, trace.address, trace.is_write, ch, strict=True):
            fh.write(f"{int(a)} {int(ad):x} {int(w)} {int(c)}\n")


def _run_ref(spec: str, drv: Path, outdir: Path, name: str) -> float:
    parts = spec.split()
    if len(parts) != 2 or not Path(parts[0]).is_file() or not Path(parts[1]).is_file():
        print(f"error: --{name} / NEUMELT_{name.upper()}: expected 'BIN CONFIG' with an "
              f"existing BIN and CONFIG file, got {spec!r}", file=sys.stderr)
        raise SystemExit(2)
    args = [parts[0], parts[1]] + ([str(outdir)] if name == "dramsim3" else []) + [str(drv), "q"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    m = re.search(r"# cpu_s ([0-9.]+)", out)
    if not m:
        print(f"error: {parts[0]}: no '# cpu_s <seconds>' line in its output", file=sys.stderr)
        raise SystemExit(2)
    return float(m.group(1))


def speed(std, trace_name: str, rounds: int, refs: dict) -> dict:
    from sim.dram.engine import simulate_requests
    from sim.dram.reference_compare import CONTROLLER
    from sim.dram.reference_traces import MAPPING, make_trace

    p, lv = trace_name.split("_")
    t = make_trace(p, lv)
    run = lambda: simulate_requests(std, t.arrival, t.address, t.is_write,  # noqa: E731
                                    mapping=MAPPING, controller=CONTROLLER)
    res = run()  # warm the JIT
    cpu = {"neumelt": []} | {r: [] for r in refs}
    with tempfile.TemporaryDirectory() as d:
        drv = Path(d) / f"{trace_name}.drv"
        _drv_file(t, std, drv)
        for _ in range(rounds):
            c0 = time.process_time()
            res = run()
            cpu["neumelt"].append(time.process_time() - c0)
            for r, spec in refs.items():
                cpu[r].append(_run_ref(spec, drv, Path(d), r))
    best = {k: min(v) for k, v in cpu.items()}
    cmds = res.commands_issued
    out = {"trace": trace_name, "rounds": rounds, "commands": cmds,
           "cpu_s_best": best, "cpu_s_all": cpu,
           "neumelt_commands_per_cpu_s": cmds / best["neumelt"]}
    for r in refs:
        out[f"ratio_vs_{r}"] = best[r] / best["neumelt"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--trace", default="random_heavy")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dramsim3", default=os.environ.get("NEUMELT_DRAMSIM3"))
    ap.add_argument("--ramulator2", default=os.environ.get("NEUMELT_RAMULATOR2"))
    ap.add_argument("--no-fidelity", action="store_true", help="speed only")
    a = ap.parse_args(argv)
    from sim.dram.standard import load_standard

    std = load_standard("hbm2-neupims")
    out: dict = {"units": {"cycles": "memory-clock cycles (1 GHz)", "bandwidth_gb_s": "GB/s",
                           "act/pre_bank/ref": "commands", "row_hit_rate": "fraction",
                           "*_latency_cycles": "cycles", "error_*_pct": "%",
                           "cpu_s": "CPU seconds", "ratio_vs_*": "x (neumelt faster if > 1)"},
                 "provenance": {"neumelt": "simulated (fresh run)",
                                "dramsim3": "stored reference figures (measured runs)",
                                "ramulator2": "stored reference figures (measured runs)"}}
    if not a.no_fidelity:
        out["fidelity"] = fidelity_rows(std)
    refs = {r: s for r, s in (("dramsim3", a.dramsim3), ("ramulator2", a.ramulator2)) if s}
    if refs:
        out["speed"] = speed(std, a.trace, a.rounds, refs)
    if a.json:
        print(json.dumps(out, indent=1))
        return 0
    if "fidelity" in out:
        print(f"{'trace':16s} {'metric':26s} {'neumelt':>10s} {'DRAMsim3':>10s} "
              f"{'err %':>6s} {'Ramulator2':>10s} {'err %':>6s}")
        fmt = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
        for r in out["fidelity"]:
            print(f"{r['trace']:16s} {r['metric']:26s} {fmt(r['neumelt']):>10s} "
                  f"{fmt(r['dramsim3']):>10s} {fmt(r['error_vs_dramsim3_pct']):>6s} "
                  f"{fmt(r['ramulator2']):>10s} {fmt(r['error_vs_ramulator2_pct']):>6s}")
        print("neumelt: simulated; DRAMsim3 / Ramulator 2: stored measured figures "
              "(tests/data/dram_reference)")
    if "speed" in out:
        s = out["speed"]
        print(f"\nspeed on {s['trace']} ({s['commands']} commands, {s['rounds']} interleaved "
              f"rounds, best CPU s): " + ", ".join(f"{k} {v:.4f} s"
                                                   for k, v in s["cpu_s_best"].items()))
        for r in refs:
            print(f"  neumelt / {r}: {s[f'ratio_vs_{r}']:.1f}x commands per CPU-second "
                  f"(measured)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
