"""Fast path for PIM attention: per-block closed forms instead of the command event loop.

Each row-open block (G_ACT of every bank group under nRRD/nFAW, nRCDRD, the COMPS_READRES
hold times, one PIM_PRECHARGE per bank under nRAS, nRP before the next G_ACT) and each GWRITE
(nGWRITE) is timed by formula; refresh enters where a rank's deadline falls before its next
G_ACT. Concurrent NPU reads: with dual row buffers they fill the data-bus slots PIM leaves
free (time = max(PIM, reads) plus the read/PIM command-bus share); with a single row buffer they
serialise with PIM. Error against command level is measured in tests/test_pim_fast.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.dram import commands as C
from sim.dram.controller import ControllerConfig
from sim.dram.energy import energy_breakdown
from sim.dram.standard import DramStandard
from sim.kernels.pim import attention_fast_channel

# Measured bound of |fast - command| / command on the regression set (PIM-only stages).
ERROR_BOUND_PIM = 0.02
# With concurrent NPU reads the fast path is a coarser model (measured bound).
ERROR_BOUND_MIXED = 0.10


def pim_channel_cycles(std: DramStandard, seq_lens: Sequence[int], shape, phase: int,
                       refresh: bool = True) -> tuple[int, np.ndarray]:
    o, t, p = std.org, std.timing, std.pim
    tb = std.tables("dual")
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    lens = np.asarray([int(s) for s in seq_lens], dtype=np.int64)
    cyc = attention_fast_channel(
        lens, phase, shape.heads, shape.d_k, shape.e_tp, shape.dtype_bytes, o.pseudo_channels,
        o.bank_groups, o.banks_per_group, o.row_bytes, p.global_buffer_bytes,
        p.multipliers_per_bank, t.nRCDRD, t.nRAS, t.nRP, t.nRRD_S, t.nRRD_L,
        tb.win_cycles if tb.win_count else 0, max(tb.win_count, 1),
        int(tb.win_weight[C.G_ACT]) if tb.win_count else 1, p.nCOMP, p.comps_min, p.nGWRITE,
        t.nRFC, t.nREFI, int(refresh), counts)
    return int(cyc), counts


def reads_cycles(std: DramStandard, nbytes: int) -> int:
    """Closed form for a sequential read stream alone in one channel."""
    if nbytes <= 0:
        return 0
    n = -(-int(nbytes) // std.org.burst_bytes)
    t = std.timing
    return int((t.nRCDRD + t.nCL + n * t.nBL) / std.refresh_availability)


def attention_fast(std: DramStandard, channel_seq_lens, shape, phases, row_buffer: str,
                   reads: list[int], ctrl: ControllerConfig):
    from sim.pim.attention import AttentionResult

    nch = std.org.channels
    per = np.zeros((nch, len(phases)), dtype=np.int64)
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    read_done = np.full(nch, -1, dtype=np.int64)
    active = 0
    for ch, lens in enumerate(channel_seq_lens):
        cyc = []
        for p in phases:
            c, k = pim_channel_cycles(std, lens, shape, p, ctrl.refresh)
            cyc.append(c)
            counts += k
        rbytes = int(reads[ch]) if reads else 0
        offset = 0
        for j, c in enumerate(cyc):
            share = rbytes * max(c, 1) // max(sum(cyc), 1) if j < len(cyc) - 1 else \
                rbytes - sum(rbytes * max(x, 1) // max(sum(cyc), 1) for x in cyc[:-1])
            rc = reads_cycles(std, share)
            if share:
                nread = -(-share // std.org.burst_bytes)
                rows = -(-nread // std.org.bursts_per_row)
                counts[C.RD] += nread
                counts[C.ACT] += rows
                counts[C.PRE] += rows
                if row_buffer == "dual":
                    # reads use the command-bus and data-bus slots PIM leaves free
                    total = max(c, rc) + (min(c, rc) * (nread + 2 * rows)) // max(c + rc, 1)
                else:
                    total = c + rc
                read_done[ch] = offset + (total if row_buffer == "single" else max(rc, 1))
            else:
                total = c
            per[ch, j] = total
            offset += total
            active += total * std.org.pseudo_channels if total else 0
    phase_max = per.max(axis=0) if len(channel_seq_lens) else np.zeros(len(phases), np.int64)
    logits = int(phase_max[0]) if 0 in phases else 0
    attend = int(phase_max[-1]) if 1 in phases else 0
    total = int(phase_max.sum())
    names = {C.COMMAND_NAMES[i]: int(counts[i]) for i in range(C.N_COMMANDS) if counts[i]}
    energy = energy_breakdown(std, names, active, total * nch * std.org.pseudo_channels)
    return AttentionResult(
        cycles=total, channel_cycles=per.sum(axis=1), logits_cycles=logits, attend_cycles=attend,
        npu_reads_done_cycle=int(read_done.max()) if reads and read_done.max() >= 0 else None,
        commands=names, energy_j=energy, fidelity="fast",
        error_bound=ERROR_BOUND_MIXED if any(reads) else ERROR_BOUND_PIM,
        row_buffer=row_buffer, commands_issued=0, seconds=std.seconds(total),
        channel_phase_cycles=per)
