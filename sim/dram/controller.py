"""Controller configuration and the one-channel call into the numba kernel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.dram import commands as C
from sim.dram.standard import DramStandard
from sim.kernels import dram as K


@dataclass(frozen=True)
class ControllerConfig:
    """FR-FCFS controller: queue depths (requests), write-drain watermarks, page policy."""

    page_policy: Literal["open", "closed"] = "open"
    read_queue: int = 32
    write_queue: int = 32
    write_high: int = 24      # enter write drain at this many queued writes
    write_low: int = 8        # leave it at this many (if reads wait)
    refresh: bool = True

    def __post_init__(self) -> None:
        if self.read_queue < 1 or self.write_queue < 1:
            raise ValueError("read_queue and write_queue must be >= 1")
        if not 0 <= self.write_low < self.write_high <= self.write_queue:
            raise ValueError("need 0 <= write_low < write_high <= write_queue")


@dataclass(frozen=True)
class ChannelOut:
    done: np.ndarray      # completion cycle per request
    p_time: np.ndarray    # issue cycle per PIM command
    counts: np.ndarray    # int64[N_COMMANDS]
    final_cycle: int
    pim_end: int
    normal_end: int
    row_hits: int
    issued: int
    active_rank_cycles: int
    log: np.ndarray | None


_EMPTY_I64 = np.zeros(0, dtype=np.int64)


def run_channel(std: DramStandard, ctrl: ControllerConfig, row_buffer: str,
                arrival: np.ndarray, is_write: np.ndarray, bank: np.ndarray, row: np.ndarray,
                col: np.ndarray, p_cmd: np.ndarray | None = None, p_tgt: np.ndarray | None = None,
                p_arg: np.ndarray | None = None, *, log_capacity: int = 0,
                twin: bool = False) -> ChannelOut:
    """Simulate one channel; requests must be sorted by arrival. ``twin`` runs the pure-Python
    twin (the kernel's source under CPython) instead of the compiled kernel."""
    tb = std.tables(row_buffer)
    o, t = std.org, std.timing
    n = len(arrival)
    p_cmd = _EMPTY_I64 if p_cmd is None else np.ascontiguousarray(p_cmd, dtype=np.int64)
    p_tgt = _EMPTY_I64 if p_tgt is None else np.ascontiguousarray(p_tgt, dtype=np.int64)
    p_arg = _EMPTY_I64 if p_arg is None else np.ascontiguousarray(p_arg, dtype=np.int64)
    done = np.full(n, -1, dtype=np.int64)
    p_time = np.full(len(p_cmd), -1, dtype=np.int64)
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    stats = np.zeros(K.N_STATS_BASE + o.pseudo_channels, dtype=np.int64)
    log = np.zeros((max(int(log_capacity), 0), 7), dtype=np.int64)
    fn = K.channel_kernel_py if twin else K.channel_kernel
    fn(np.ascontiguousarray(arrival, dtype=np.int64), np.ascontiguousarray(is_write, np.int8),
       np.ascontiguousarray(bank, dtype=np.int64), np.ascontiguousarray(row, dtype=np.int64),
       np.ascontiguousarray(col, dtype=np.int64), p_cmd, p_tgt, p_arg,
       o.pseudo_channels, o.bank_groups, o.banks_per_group,
       tb.con_ptr, tb.con_level, tb.con_next, tb.con_lat, tb.win_weight, tb.win_count,
       tb.win_cycles, t.nCL, t.nCWL, t.nBL, t.nREFI, int(ctrl.refresh), std.pim.nCOMP,
       std.pim.comps_min, std.pim.nGWRITE, int(row_buffer == "dual"),
       int(ctrl.page_policy == "closed"), ctrl.read_queue, ctrl.write_queue, ctrl.write_high,
       ctrl.write_low, done, p_time, counts, stats, log)
    if stats[K.ST_ERROR]:
        from neumelt.errors import RunError
        raise RunError("DRAM controller deadlock: no command can issue (model bug)")
    nlog = int(stats[K.ST_NLOG])
    return ChannelOut(done=done, p_time=p_time, counts=counts, final_cycle=int(stats[K.ST_FINAL]),
                      pim_end=int(stats[K.ST_PIM_END]), normal_end=int(stats[K.ST_NORMAL_END]),
                      row_hits=int(stats[K.ST_HITS]), issued=int(stats[K.ST_ISSUED]),
                      active_rank_cycles=int(stats[K.ST_ACTIVE0:].sum()),
                      log=log[:nlog] if log_capacity else None)
