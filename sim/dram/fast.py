"""Fast path for sequential streams: per-segment closed forms (``stream_fast_channel``).

Applies when the requests are one regular run of bursts (a constant stride that is a multiple
of the burst size), all reads or all writes, with non-decreasing arrival cycles (a burst never
issues before it arrives). Anything
else returns ``None`` and runs at command level. The error bound is measured against command
level on the regression traces in ``tests/data/dram`` (tests/test_dram_fast.py).
"""

from __future__ import annotations

import numpy as np

from sim.dram.controller import ControllerConfig
from sim.dram.energy import energy_breakdown
from sim.dram.mapping import AddressMapping
from sim.dram.result import DramResult
from sim.dram.standard import DramStandard
from sim.kernels.dram import first_refresh, stream_fast_channel

ERROR_BOUND = 0.02


def is_stream(std: DramStandard, arrival: np.ndarray, addr: np.ndarray, wr: np.ndarray) -> bool:
    n = len(addr)
    if n < 2 or not (wr.all() or (~wr).all()):
        return False
    stride = int(addr[1] - addr[0])
    if stride <= 0 or stride % std.org.burst_bytes or not np.all(np.diff(addr) == stride):
        return False
    return bool(np.all(np.diff(arrival) >= 0))


def stream_fast(std: DramStandard, arrival, addr, wr, *, mapping: str,
                controller: ControllerConfig):
    if controller.page_policy != "open" or not is_stream(std, arrival, addr, wr):
        return None
    t = std.timing
    amap = AddressMapping.of(std, mapping)
    d = amap.decode(addr)
    write = bool(wr[0])
    nch = std.org.channels
    ch_cycles = np.zeros(nch, dtype=np.int64)
    acts = 0
    refs = 0
    for ch in range(nch):
        sel = d.channel == ch
        if not sel.any():
            continue
        ch_cycles[ch] = stream_fast_channel(
            arrival[sel], d.rank[sel], d.bank_group[sel], d.bank[sel], d.row[sel], write,
            std.org.bank_groups, std.org.banks_per_group, std.org.pseudo_channels, t.nBL,
            t.nCCD_S, t.nCCD_L, t.nRTRS, t.nRCDWR if write else t.nRCDRD,
            t.nCWL if write else t.nCL, t.nRAS, t.nRP,
            (t.nCWL + t.nBL + t.nWR) if write else t.nRTP_L, t.nRFC, t.nREFI,
            int(controller.refresh), controller.write_queue if write else controller.read_queue)
        flat = d.flat_bank(std.org.bank_groups, std.org.banks_per_group)[sel]
        rows = d.row[sel]
        acts += int(np.count_nonzero((np.diff(flat) != 0) | (np.diff(rows) != 0))) + 1
        if controller.refresh:
            # the command level issues a refresh only while the channel still has a column
            # command to issue: deadlines before the last one (data end - nCAS - nBL) count
            last = ch_cycles[ch] - (t.nCWL if write else t.nCL) - t.nBL
            for r in range(std.org.pseudo_channels):
                first = first_refresh(r, std.org.pseudo_channels, t.nREFI)
                if last > first:
                    refs += int((last - 1 - first) // t.nREFI) + 1
    cycles = int(ch_cycles.max())
    n = len(addr)
    counts = {"ACT": acts, ("WR" if write else "RD"): n}
    if refs:
        counts["REF"] = refs
    names = {k: v for k, v in counts.items() if v}
    ranks = nch * std.org.pseudo_channels
    energy = energy_breakdown(std, names, int(ch_cycles.sum()), cycles * ranks)
    nbytes = n * std.org.burst_bytes
    secs = std.seconds(cycles)
    bw = nbytes / secs if secs else 0.0
    return DramResult(
        standard=std.name, cycles=cycles, completion_cycles=np.full(n, -1, dtype=np.int64),
        channel_cycles=ch_cycles, commands=names, commands_issued=0,
        reads=0 if write else n, writes=n if write else 0, bytes=nbytes,
        row_hits=n - acts, row_hit_rate=(n - acts) / n, bandwidth_bytes_per_s=bw,
        peak_fraction=bw / std.peak_bandwidth_bytes_per_s, seconds=secs, energy_j=energy,
        fidelity="fast", error_bound=ERROR_BOUND)
