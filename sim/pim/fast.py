"""Fast path for PIM attention: per-block closed forms instead of the command event loop.

Each row-open block (G_ACT of every bank group under nRRD/nFAW, nRCDRD, the COMPS_READRES
hold times, one PIM_PRECHARGE per bank under nRAS, nRP before the next G_ACT) and each GWRITE
(nGWRITE) is timed by formula; refresh enters where a rank's deadline falls before its next
G_ACT. Concurrent NPU reads: with dual row buffers PIM keeps priority and the reads flow at
their solo rate while the banks compute (except the last nCL + 2 nBL cycles of each MAC, when
a read's burst would collide with the READRES burst), at a per-standard measured share while
rows open
(:func:`open_phase_flow`), not during PIM_PRECHARGE bursts and GWRITEs, then alone after PIM
ends; with a single row buffer they serialise with PIM. Error against command level is measured in tests/test_pim_fast.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from sim.dram import commands as C
from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.standard import DramStandard
from sim.kernels.dram import SEQ_I, seq_state_init, stream_fast_channel, stream_seq_run
from sim.kernels.pim import attention_fast_channel
from sim.pim.program import channel_program, npu_read_requests
from sim.pim.result import AttentionResult
from sim.pim.shapes import AttentionShape

# Measured bound of |fast - command| / command on the regression set (PIM-only stages).
ERROR_BOUND_PIM = 0.02
# With concurrent NPU reads the fast path is a coarser model: bound on the stage cycles
# (measured up to 2.1 %; per channel and phase up to 3.3 %, NPU-reads-done cycle up to 3.5 %).
ERROR_BOUND_MIXED = 0.05


def pim_channel_cycles(std: DramStandard, seq_lens: Sequence[int], shape, phase: int,
                       refresh: bool = True) -> tuple[int, np.ndarray, np.ndarray]:
    """Fast-path cycles of one channel's phase, its command counts, and (row-opening cycles,
    all-bank MAC cycles, MAC cycles usable by reads)."""
    o, t, p = std.org, std.timing, std.pim
    tb = std.tables("dual")
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    acc = np.zeros(3, dtype=np.int64)
    lens = np.asarray([int(s) for s in seq_lens], dtype=np.int64)
    cyc = attention_fast_channel(
        lens, phase, shape.heads, shape.d_k, shape.e_tp, shape.dtype_bytes, o.pseudo_channels,
        o.bank_groups, o.banks_per_group, o.row_bytes, p.global_buffer_bytes,
        p.multipliers_per_bank, t.nRCDRD, t.nRAS, t.nRP, t.nRRD_S, t.nRRD_L,
        tb.win_cycles if tb.win_count else 0, max(tb.win_count, 1),
        int(tb.win_weight[C.G_ACT]) if tb.win_count else 1, p.nCOMP, p.comps_min, p.nGWRITE,
        t.nRFC, t.nREFI, int(refresh), counts, acc, t.nCL + 2 * t.nBL, shape.group)
    return int(cyc), counts, acc


class _SeqReads:
    """Timings of one channel's sequential NPU read stream (the layout of
    ``npu_read_requests``) for any length: the stream is timed once up to a horizon with
    checkpoints of the controller state every ``every`` bursts; a query of ``n`` bursts resumes
    from the last checkpoint that no decision after ``n`` could have changed and runs at most
    ``every + queue`` bursts. Exactly :func:`stream_fast_channel` on the laid-out requests."""

    QUEUE = 32

    def __init__(self, std: DramStandard, refresh: bool) -> None:
        from sim.dram.mapping import AddressMapping

        o, t = std.org, std.timing
        amap = AddressMapping.of(std, std.address_mapping)
        ids = {"ro": 0, "ra": 1, "bg": 2, "ba": 3, "co": 5}
        lsb = [amap.scheme[i:i + 2] for i in range(10, -1, -2) if amap.scheme[i:i + 2] != "ch"]
        self.fields = np.array([ids[f] for f in lsb], dtype=np.int64)
        self.widths = np.array([amap.widths[f] for f in lsb], dtype=np.int64)
        self.nbanks = o.pseudo_channels * o.bank_groups * o.banks_per_group
        self.geom = (o.bank_groups, o.banks_per_group, o.pseudo_channels, o.rows // 2)
        self.timing = (t.nBL, t.nCCD_S, t.nCCD_L, t.nRTRS, t.nRCDRD, t.nCL, t.nRAS, t.nRP,
                       t.nRTP_L, t.nRFC, t.nREFI, int(refresh), self.QUEUE)
        self.nREFI = t.nREFI
        self.horizon = 0
        self.every = 1
        self.ckpts = np.zeros((0, 0), dtype=np.int64)
        self.memo: dict[int, int] = {}

    def _init_state(self) -> np.ndarray:
        return seq_state_init(self.nbanks, self.geom[2], self.nREFI)

    def _build(self, n: int) -> None:
        horizon = max(n + self.QUEUE + 1, 2 * self.horizon, 1 << 16)
        every = max(1024, horizon // 4096)
        ckpts = np.zeros((horizon // every + 2, len(self._init_state())), dtype=np.int64)
        _, nck = stream_seq_run(self._init_state(), horizon, every, ckpts, self.fields,
                                self.widths, *self.geom, *self.timing)
        self.horizon, self.every, self.ckpts = horizon, every, ckpts[:nck]

    def cycles(self, n: int) -> int:
        if n <= 0:
            return 0
        if n in self.memo:
            return self.memo[n]
        if n + self.QUEUE + 1 > self.horizon:
            self._build(n)
        # latest checkpoint at request index <= n - queue - 1 (the ones before it never looked
        # at requests past n)
        idx = np.searchsorted(self.ckpts[:, SEQ_I], n - self.QUEUE - 1, side="right") - 1
        state = self.ckpts[idx].copy() if idx >= 0 else self._init_state()
        out, _ = stream_seq_run(state, n, 0, self.ckpts[:0], self.fields, self.widths,
                                *self.geom, *self.timing)
        self.memo[n] = int(out)
        return int(out)


_SEQ_READS: dict[tuple, _SeqReads] = {}


def reads_cycles(std: DramStandard, nbytes: int, refresh: bool = True) -> int:
    """A channel's sequential NPU reads alone (the layout of ``npu_read_requests``), timed by
    the stream closed form (:func:`stream_fast_channel`, via resumable checkpoints)."""
    if nbytes <= 0:
        return 0
    o, t = std.org, std.timing
    key = (o, t, std.address_mapping, bool(refresh))
    seq = _SEQ_READS.get(key)
    if seq is None:
        seq = _SEQ_READS[key] = _SeqReads(std, refresh)
    return seq.cycles(-(-int(nbytes) // o.burst_bytes))


def reads_cycles_reference(std: DramStandard, nbytes: int, refresh: bool = True) -> int:
    """:func:`reads_cycles` the long way: lay the requests out and run the stream kernel."""
    if nbytes <= 0:
        return 0
    o, t = std.org, std.timing
    a, _w, flat, row, _c = npu_read_requests(std, nbytes)
    rank = flat // (o.bank_groups * o.banks_per_group)
    bg = (flat // o.banks_per_group) % o.bank_groups
    bank = flat % o.banks_per_group
    return int(stream_fast_channel(a, rank, bg, bank, row, False, o.bank_groups,
                                   o.banks_per_group, o.pseudo_channels, t.nBL, t.nCCD_S,
                                   t.nCCD_L, t.nRTRS, t.nRCDRD, t.nCL, t.nRAS, t.nRP, t.nRTP_L,
                                   t.nRFC, t.nREFI, int(refresh), _SeqReads.QUEUE))


# per standard object (weak: a standard that is garbage-collected cannot alias a new one)
_FLOW_OPEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def open_phase_flow(std: DramStandard, refresh: bool = True) -> float:
    """Fraction of their solo rate at which NPU reads flow while PIM opens rows (first G_ACT to
    first MAC), dual row buffers. Measured once per standard by a short command-level probe
    (a 1,000-token logits program with 2 MB of reads); during MACs the reads flow at their
    solo rate, during PIM_PRECHARGE bursts and GWRITEs not at all."""
    per_std = _FLOW_OPEN.setdefault(std, {})
    if refresh not in per_std:
        shape = AttentionShape(heads=8, d_k=128, e_tp=1024)
        cmd, tgt, arg = channel_program(std, [1000], shape, 0)
        c, _k, acc = pim_channel_cycles(std, [1000], shape, 0, refresh)
        nbytes = 2_000_000
        a, w, b, r, co = npu_read_requests(std, nbytes)
        out = run_channel(std, ControllerConfig(refresh=refresh), "dual", a, w, b, r, co,
                          cmd, tgt, arg)
        solo = reads_cycles(std, nbytes, refresh) / len(a)
        flow = (out.done <= c).sum() * solo / c
        x = (flow * c - acc[2]) / max(acc[0], 1)
        per_std[refresh] = float(min(max(x, 0.0), 1.0))
    return per_std[refresh]


def attention_fast(std: DramStandard, channel_seq_lens, shape, phases, row_buffer: str,
                   reads: list[int], ctrl: ControllerConfig):
    nch = std.org.channels
    per = np.zeros((nch, len(phases)), dtype=np.int64)
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    read_done = np.full(nch, -1, dtype=np.int64)
    active = 0
    for ch, lens in enumerate(channel_seq_lens):
        cyc, accs, sizes = [], [], []
        for p in phases:
            c, k, acc = pim_channel_cycles(std, lens, shape, p, ctrl.refresh)
            cyc.append(c)
            accs.append(acc)
            counts += k
            # the phase's PIM program length: reads split across phases like command level
            sizes.append(max(int(k[[C.GWRITE, C.G_ACT, C.PIM_PRE, C.P_HEADER,
                                    C.COMPS_READRES]].sum()), 1))
        rbytes = int(reads[ch]) if reads else 0
        offset = 0
        for j, c in enumerate(cyc):
            share = rbytes * sizes[j] // sum(sizes) if j < len(cyc) - 1 else \
                rbytes - sum(rbytes * x // sum(sizes) for x in sizes[:-1])
            if share:
                rc = reads_cycles(std, share, ctrl.refresh)
                nread = -(-share // std.org.burst_bytes)
                rows = -(-nread // std.org.bursts_per_row)
                counts[C.RD] += nread
                counts[C.ACT] += rows
                counts[C.PRE] += rows
                if row_buffer == "dual":
                    # PIM keeps priority; reads run at their own pace while the banks compute
                    # (all-bank MACs) and at half pace while rows open, not during the
                    # PIM_PRECHARGE bursts and GWRITEs; after PIM ends they run alone.
                    x = open_phase_flow(std, ctrl.refresh)
                    flow = (accs[j][2] + x * accs[j][0]) / max(c, 1)
                    if flow > 0 and rc <= flow * c:
                        done = int(rc / flow)
                        total = c
                    else:
                        done = int(c + rc - flow * c)
                        total = done
                else:
                    total = c + rc      # PIM holds the row buffers: serialised
                    done = total
                read_done[ch] = offset + done
            else:
                total = c
            per[ch, j] = total
            offset += total
            active += total * std.org.pseudo_channels if total else 0
    return AttentionResult.from_phases(
        std, per, phases, counts, active, read_done, reads, fidelity="fast",
        error_bound=ERROR_BOUND_MIXED if any(reads) else ERROR_BOUND_PIM,
        row_buffer=row_buffer, issued=0)
