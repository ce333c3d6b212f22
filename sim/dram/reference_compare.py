"""neumelt's figures on the reference traces, in the definitions DRAMsim3 and Ramulator 2 use.

:func:`neumelt_figures` runs one :class:`sim.dram.reference_traces.RefTrace` through the
engine with the controller configured as the references are (queues 32, write drain at 24 /
leave at 8, open page, refresh on, mapping ``robabgrachco``) and returns the metrics of the
stored reference figures (tests/data/dram_reference/figures.json) under the same keys:

- ``cycles``: cycle of the last data beat of any request; ``bandwidth_gb_s`` = bytes / that.
- ``act``: ACT commands; ``ref``: all-bank refreshes (REF per pseudo-channel) issued before
  ``cycles``.
- ``pre_bank``: bank precharges, counting a PREA once per bank it closes (DRAMsim3 closes
  banks for refresh with one PRE each); ``pre``: per-bank PRE commands only (Ramulator 2's
  PREpb), ``prea``: PREA commands (its PREab).
- ``row_hit_rate``: column accesses that found their row open (no ACT of their own) / all.
- ``avg_read_latency_cycles``, ``p99_read_latency_cycles``: trace arrival -> last data beat.
"""

from __future__ import annotations

import numpy as np

from sim.dram import commands as C
from sim.dram.controller import ControllerConfig
from sim.dram.reference_traces import MAPPING, RefTrace

CONTROLLER = ControllerConfig(page_policy="open", read_queue=32, write_queue=32, write_high=24,
                              write_low=8, refresh=True)
METRICS = ("cycles", "bandwidth_gb_s", "act", "pre_bank", "ref", "row_hit_rate",
           "avg_read_latency_cycles", "p99_read_latency_cycles")
# tolerance (relative) per metric, issue 14
TOLERANCE = {"cycles": 0.02, "bandwidth_gb_s": 0.02, "act": 0.02, "pre_bank": 0.02,
             "ref": 0.02, "row_hit_rate": 0.02, "avg_read_latency_cycles": 0.05,
             "p99_read_latency_cycles": 0.10}


def bank_precharges(log: np.ndarray, banks_per_rank: int) -> int:
    """PRE commands plus, for each PREA, the banks of its rank open at that moment."""
    order = np.lexsort((np.arange(len(log)), log[:, 0], log[:, 7]))
    open_banks: dict[tuple[int, int], set] = {}
    n = 0
    for i in order:
        cyc, cmd, rank, bg, bank, row, arg, ch = (int(v) for v in log[i])
        key = (ch, rank)
        s = open_banks.setdefault(key, set())
        if cmd == C.ACT:
            s.add((bg, bank))
        elif cmd in (C.PRE,):
            s.discard((bg, bank))
            n += 1
        elif cmd in (C.RDA, C.WRA):
            s.discard((bg, bank))
            n += 1
        elif cmd == C.PREA:
            n += len(s)
            s.clear()
    return n


def neumelt_figures(std, trace: RefTrace, *, twin: bool = False) -> dict:
    """Run ``trace`` and return the METRICS (plus latency detail) of the run."""
    from sim.dram.engine import simulate_requests
    from sim.dram.latency import of_result

    res = simulate_requests(std, trace.arrival, trace.address, trace.is_write, mapping=MAPPING,
                            controller=CONTROLLER, log_capacity=8 * len(trace) + 10_000,
                            twin=twin)
    lat = of_result(std, res, trace.arrival, trace.address, trace.is_write, mapping=MAPPING)
    log = res.command_log
    ref = int(np.count_nonzero((log[:, 1] == C.REF) & (log[:, 0] < res.cycles)))
    s = lat.summary()
    return {
        "cycles": res.cycles,
        "bandwidth_gb_s": res.bytes / res.cycles * std.clock_hz / 1e9 if res.cycles else 0.0,
        "act": int(res.commands.get("ACT", 0)),
        "pre_bank": bank_precharges(log, std.org.bank_groups * std.org.banks_per_group),
        "pre": int(res.commands.get("PRE", 0)),
        "prea": int(res.commands.get("PREA", 0)),
        "ref": ref,
        "row_hit_rate": res.row_hit_rate,
        "avg_read_latency_cycles": s["avg_read_latency_cycles"],
        "p99_read_latency_cycles": s["p99_read_latency_cycles"],
        "avg_write_latency_cycles": s["avg_write_latency_cycles"],
        "avg_queue_occupancy_requests": s["avg_queue_occupancy_requests"],
        "commands_issued": res.commands_issued,
    }


def rel_error(ours: float, ref: float) -> float:
    """|ours - ref| / |ref| (0 when both are 0)."""
    if ref == 0:
        return 0.0 if ours == 0 else float("inf")
    return abs(ours - ref) / abs(ref)
