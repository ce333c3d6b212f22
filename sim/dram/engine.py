"""Request arrays -> :class:`DramResult`: split by channel, run the kernel, add up.

``simulate_requests(std, arrival_cycles, addresses, is_write)`` is the entry point used by
the CLI, the benchmarks and other parts of ``sim/``. Channels are independent (own command
and data buses), so each runs through the kernel on its own: one compiled call decodes and
partitions the requests, one more runs every channel and scatters the completion cycles
back (no per-channel Python work); ``twin=True`` runs the pure-Python twin per channel.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from neumelt.errors import InputError
from sim.dram import commands as C
from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.energy import energy_breakdown
from sim.dram.mapping import AddressMapping
from sim.dram.result import LOG_COLUMNS, DramResult
from sim.dram.standard import DramStandard
from sim.kernels.dram import (
    N_STATS_BASE,
    ST_ACTIVE0,
    ST_ERROR,
    ST_FINAL,
    ST_HITS,
    ST_ISSUED,
    decode_partition,
    simulate_channels,
)

# DramResult and LOG_COLUMNS live in sim.dram.result; importable from here as before
__all__ = ["LOG_COLUMNS", "DramResult", "simulate_requests"]


def simulate_requests(std: DramStandard, arrival_cycles, addresses, is_write, *,
                      mapping: str | None = None, controller: ControllerConfig | None = None,
                      row_buffer: Literal["single", "dual"] = "dual",
                      log_capacity: int = 0, twin: bool = False,
                      fidelity: Literal["command", "fast"] = "command") -> DramResult:
    """Simulate read/write requests (64 B-class bursts) arriving at the given cycles.

    ``addresses`` are byte addresses (< capacity); ``is_write`` booleans; ``mapping`` defaults
    to the standard's ``address_mapping``. ``log_capacity``
    > 0 keeps up to that many command-log rows per channel for the checker.
    ``fidelity='fast'`` uses the closed form for sequential streams (see ``sim.dram.fast``)
    and falls back to command level for anything else.
    """
    arrival = np.asarray(arrival_cycles, dtype=np.int64)
    addr = np.asarray(addresses, dtype=np.int64)
    wr = np.asarray(is_write, dtype=bool)
    if not (len(arrival) == len(addr) == len(wr)):
        raise InputError("arrival_cycles, addresses and is_write differ in length")
    if len(addr) and (addr.min() < 0 or addr.max() >= std.org.capacity_bytes):
        bad = int(np.argmax((addr < 0) | (addr >= std.org.capacity_bytes)))
        raise InputError(f"address {hex(int(addr[bad]))} (request {bad}) is beyond the "
                         f"capacity of {std.name}", key="address",
                         expected=f"0 <= address < {hex(std.org.capacity_bytes)}")
    if len(arrival) and arrival.min() < 0:
        raise InputError("arrival cycles must be >= 0", key="arrival")
    ctrl = controller or ControllerConfig()
    mapping = mapping or std.address_mapping
    if fidelity == "fast":
        from sim.dram.fast import stream_fast
        fast = stream_fast(std, arrival, addr, wr, mapping=mapping, controller=ctrl)
        if fast is not None:
            return fast
    elif fidelity != "command":
        raise InputError(f"unknown fidelity {fidelity!r}", key="fidelity",
                         expected="'command' or 'fast'")
    amap = AddressMapping.of(std, mapping)
    if len(arrival) > 1 and not np.all(arrival[1:] >= arrival[:-1]):
        first = np.argsort(arrival, kind="stable")
    else:
        first = None
    shifts, masks = amap.shifts_masks()
    src = (addr, arrival, wr) if first is None else (addr[first], arrival[first], wr[first])
    nch = std.org.channels
    if twin:
        order, bounds, s_arr, s_wr, s_bank, s_row, s_col = decode_partition(
            *src, shifts, masks, std.org.bank_groups, std.org.banks_per_group, nch)
        if first is not None:
            order = first[order]
        completion, counts, ch_cycles, hits, issued, active, log = _channels_twin(
            std, ctrl, row_buffer, order, bounds, s_arr, s_wr, s_bank, s_row, s_col,
            log_capacity)
    else:
        completion, counts, ch_cycles, hits, issued, active, log = _channels(
            std, ctrl, row_buffer, src, shifts, masks, log_capacity)
        if first is not None:
            completion[first] = completion.copy()
    cycles = int(ch_cycles.max()) if len(ch_cycles) else 0
    wr_n = int(np.count_nonzero(wr))
    names = {C.COMMAND_NAMES[i]: int(counts[i]) for i in range(C.N_COMMANDS) if counts[i]}
    total_rank_cycles = cycles * nch * std.org.pseudo_channels
    energy = energy_breakdown(std, names, active, total_rank_cycles)
    nbytes = len(addr) * std.org.burst_bytes
    secs = std.seconds(cycles)
    bw = nbytes / secs if secs > 0 else 0.0
    return DramResult(
        standard=std.name, cycles=cycles, completion_cycles=completion, channel_cycles=ch_cycles,
        commands=names, commands_issued=issued, reads=len(wr) - wr_n, writes=wr_n,
        bytes=nbytes, row_hits=hits, row_hit_rate=hits / len(addr) if len(addr) else 0.0,
        bandwidth_bytes_per_s=bw, peak_fraction=bw / std.peak_bandwidth_bytes_per_s,
        seconds=secs, energy_j=energy, command_log=log)


_EMPTY = np.zeros(0, dtype=np.int64)


def _channels(std, ctrl, row_buffer, src, shifts, masks, log_capacity):
    """Decode and every channel through :func:`sim.kernels.dram.simulate_channels` (compiled,
    one call). ``src`` = (addresses, arrival, is_write) in arrival order."""
    tb = std.tables(row_buffer)
    o, t = std.org, std.timing
    nch = o.channels
    n = len(src[0])
    completion = np.empty(n, dtype=np.int64)
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    stats = np.zeros((nch, N_STATS_BASE + o.pseudo_channels), dtype=np.int64)
    cap = max(int(log_capacity), 0)
    log = np.zeros((nch * cap, 7), dtype=np.int64)
    nlogs = np.zeros(nch, dtype=np.int64)
    bad = simulate_channels(
        *src, shifts, masks, _EMPTY, _EMPTY, _EMPTY,
        o.pseudo_channels, o.bank_groups, o.banks_per_group, nch,
        tb.con_ptr, tb.con_level, tb.con_next, tb.con_lat, tb.win_weight, tb.win_count,
        tb.win_cycles, t.nCL, t.nCWL, t.nBL, t.nREFI, int(ctrl.refresh), std.pim.nCOMP,
        std.pim.comps_min, std.pim.nGWRITE, int(row_buffer == "dual"),
        int(ctrl.page_policy == "closed"), ctrl.read_queue, ctrl.write_queue, ctrl.write_high,
        ctrl.write_low, completion, counts, stats, log, nlogs)
    if bad >= 0 or stats[:, ST_ERROR].any():
        from neumelt.errors import RunError
        raise RunError("DRAM controller deadlock: no command can issue (model bug)")
    out_log = None
    if cap:
        parts = [np.concatenate([log[ch * cap:ch * cap + nlogs[ch]],
                                 np.full((nlogs[ch], 1), ch, dtype=np.int64)], 1)
                 for ch in range(nch) if nlogs[ch]]
        out_log = np.concatenate(parts) if parts else np.zeros((0, 8), np.int64)
    return (completion, counts, stats[:, ST_FINAL].copy(), int(stats[:, ST_HITS].sum()),
            int(stats[:, ST_ISSUED].sum()), int(stats[:, ST_ACTIVE0:].sum()), out_log)


def _channels_twin(std, ctrl, row_buffer, order, bounds, s_arr, s_wr, s_bank, s_row, s_col,
                   log_capacity):
    """Every channel through the pure-Python twin, one call per channel."""
    nch = std.org.channels
    s_done = np.full(len(order), -1, dtype=np.int64)
    completion = np.full(len(order), -1, dtype=np.int64)
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    ch_cycles = np.zeros(nch, dtype=np.int64)
    hits = issued = active = 0
    logs = []
    for ch in range(nch):
        lo, hi = int(bounds[ch]), int(bounds[ch + 1])
        if lo == hi:
            continue
        out = run_channel(std, ctrl, row_buffer, s_arr[lo:hi], s_wr[lo:hi], s_bank[lo:hi],
                          s_row[lo:hi], s_col[lo:hi], log_capacity=log_capacity, twin=True)
        s_done[lo:hi] = out.done
        counts += out.counts
        ch_cycles[ch] = out.final_cycle
        hits += out.row_hits
        issued += out.issued
        active += out.active_rank_cycles
        if out.log is not None and len(out.log):
            logs.append(np.concatenate(
                [out.log, np.full((len(out.log), 1), ch, dtype=np.int64)], 1))
    completion[order] = s_done
    log = np.concatenate(logs) if logs else (np.zeros((0, 8), np.int64) if log_capacity else None)
    return completion, counts, ch_cycles, hits, issued, active, log
