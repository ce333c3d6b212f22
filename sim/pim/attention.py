"""Decode attention on HBM-PIM: map logits (K^T q) and attend (softmax x V) GEMVs onto PIM
commands per channel and time them at command level (or with the closed-form fast path).

Stage model (NeuPIMs, sub-batch interleaving off): every channel runs its requests' logits
program, a barrier (softmax on the NPU vector unit, not timed here), then its attend program.
``cycles`` = logits_cycles + attend_cycles, each the maximum over channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from neumelt.errors import InputError
from sim.dram import commands as C
from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.energy import energy_breakdown
from sim.dram.standard import DramStandard
from sim.kernels.pim import attention_program

Phase = Literal["logits", "attend", "both"]
_PHASES = {"logits": (0,), "attend": (1,), "both": (0, 1)}


@dataclass(frozen=True)
class AttentionShape:
    """Attention of one device after tensor parallelism: ``heads`` (query heads) per device,
    ``d_k`` per head, ``e_tp`` = heads x d_k (the query width per device), element size in
    bytes; ``kv_heads`` KV heads per device (None: as many as query heads, MHA). With
    grouped-query attention a KV head's K and V live once in the banks and serve its
    ``group`` query heads."""

    heads: int
    d_k: int
    e_tp: int
    dtype_bytes: int = 2
    kv_heads: int | None = None

    def __post_init__(self) -> None:
        for name in ("heads", "d_k", "e_tp", "dtype_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.kv_heads is not None and (self.kv_heads < 1 or self.heads % self.kv_heads):
            raise ValueError("kv_heads must be >= 1 and divide heads")

    @property
    def group(self) -> int:
        """Query heads per KV head (1 for multi-head attention)."""
        return self.heads // self.kv_heads if self.kv_heads else 1


@dataclass(frozen=True)
class AttentionResult:
    """Timing, command counts and energy of one attention stage on PIM."""

    cycles: int
    channel_cycles: np.ndarray
    logits_cycles: int
    attend_cycles: int
    npu_reads_done_cycle: int | None
    commands: dict[str, int]
    energy_j: dict[str, float]
    fidelity: str
    error_bound: float | None
    row_buffer: str = "dual"
    commands_issued: int = 0
    seconds: float = 0.0
    channel_phase_cycles: np.ndarray = field(default=None, repr=False)  # [channels, phases]

    @classmethod
    def from_phases(cls, std: DramStandard, per: np.ndarray, phases: Sequence[int],
                    counts: np.ndarray, active: int, read_done: np.ndarray, reads, *,
                    fidelity: str, error_bound: float | None, row_buffer: str,
                    issued: int) -> AttentionResult:
        """The stage from per-channel, per-phase cycles ``per`` [channels, phases]: phases run
        one after the other, each as long as its slowest channel. ``counts`` per command code,
        ``active`` active-standby rank-cycles (for the IDD energy), ``read_done`` per channel
        the cycle its NPU reads finished (-1 none), ``reads`` the NPU bytes per channel."""
        phase_max = per.max(axis=0) if len(per) else np.zeros(len(phases), np.int64)
        total = int(phase_max.sum())
        names = {C.COMMAND_NAMES[i]: int(counts[i]) for i in range(C.N_COMMANDS) if counts[i]}
        energy = energy_breakdown(std, names, active,
                                  total * std.org.channels * std.org.pseudo_channels)
        return cls(
            cycles=total, channel_cycles=per.sum(axis=1),
            logits_cycles=int(phase_max[0]) if 0 in phases else 0,
            attend_cycles=int(phase_max[-1]) if 1 in phases else 0,
            npu_reads_done_cycle=int(read_done.max()) if reads and read_done.max() >= 0 else None,
            commands=names, energy_j=energy, fidelity=fidelity, error_bound=error_bound,
            row_buffer=row_buffer, commands_issued=issued, seconds=std.seconds(total),
            channel_phase_cycles=per)


def channel_program(std: DramStandard, seq_lens: Sequence[int], shape: AttentionShape,
                    phase: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The PIM command program (cmd, target, arg arrays) of one channel for one phase."""
    o = std.org
    lens = np.asarray([int(s) for s in seq_lens], dtype=np.int64)
    args = (lens, phase, shape.heads, shape.d_k, shape.e_tp, shape.dtype_bytes,
            o.pseudo_channels, o.bank_groups, o.banks_per_group, o.row_bytes,
            std.pim.global_buffer_bytes, std.pim.multipliers_per_bank, o.rows)
    empty = np.zeros(0, dtype=np.int64)
    n = attention_program(*args, False, empty, empty, empty, shape.group)
    cmd = np.zeros(n, dtype=np.int64)
    tgt = np.zeros(n, dtype=np.int64)
    arg = np.zeros(n, dtype=np.int64)
    attention_program(*args, True, cmd, tgt, arg, shape.group)
    return cmd, tgt, arg


def npu_read_requests(std: DramStandard, nbytes: int) -> tuple[np.ndarray, ...]:
    """Sequential NPU reads of ``nbytes`` in one channel, laid out by the standard's address
    mapping with the channel field removed (so consecutive bursts interleave banks and bank
    groups as the mapping does), rows from the upper half of each bank. All arrive at 0."""
    from sim.dram.mapping import AddressMapping

    o = std.org
    n = -(-int(nbytes) // o.burst_bytes)
    amap = AddressMapping.of(std, std.address_mapping)
    rest = np.arange(n, dtype=np.int64)
    fields = {}
    for f in reversed([amap.scheme[i:i + 2] for i in range(0, 12, 2)]):
        if f == "ch":
            continue
        w = amap.widths[f]
        fields[f] = rest & ((1 << w) - 1) if f != "ro" else rest
        rest = rest >> w
    bank = (fields["ra"] * o.bank_groups + fields["bg"]) * o.banks_per_group + fields["ba"]
    row = o.rows // 2 + fields["ro"] % (o.rows // 2)
    return np.zeros(n, np.int64), np.zeros(n, bool), bank, row, fields["co"]


def simulate_attention(std: DramStandard, channel_seq_lens: Sequence[Sequence[int]],
                       shape: AttentionShape, *, phase: Phase = "both",
                       row_buffer: Literal["single", "dual"] = "dual",
                       fidelity: Literal["command", "fast"] = "command",
                       npu_read_bytes_per_channel: Sequence[int] | None = None,
                       controller: ControllerConfig | None = None) -> AttentionResult:
    """Time one attention stage: ``channel_seq_lens[c]`` lists the sequence lengths (tokens)
    of the requests whose KV cache lives in channel ``c``."""
    if phase not in _PHASES:
        raise InputError(f"unknown phase {phase!r}", key="phase",
                         expected="'logits', 'attend' or 'both'")
    if row_buffer not in ("single", "dual"):
        raise InputError(f"unknown row buffer {row_buffer!r}", key="row_buffer",
                         expected="'single' or 'dual'")
    if fidelity not in ("command", "fast"):
        raise InputError(f"unknown fidelity {fidelity!r}", key="fidelity",
                         expected="'command' or 'fast'")
    nch = std.org.channels
    if len(channel_seq_lens) > nch:
        raise InputError(f"{len(channel_seq_lens)} channel lists for a {nch}-channel device",
                         key="channel_seq_lens", expected=f"at most {nch} lists")
    reads = list(npu_read_bytes_per_channel or [])
    if reads and len(reads) != len(channel_seq_lens):
        raise InputError("npu_read_bytes_per_channel must have one entry per channel list",
                         key="npu_read_bytes_per_channel")
    ctrl = controller or ControllerConfig()
    phases = _PHASES[phase]
    ncl = len(channel_seq_lens)
    per = np.zeros((nch, len(phases)), dtype=np.int64)
    counts = np.zeros(C.N_COMMANDS, dtype=np.int64)
    read_done = np.full(nch, -1, dtype=np.int64)
    active = 0
    issued = 0
    if fidelity == "fast":
        from sim.pim.fast import attention_fast
        return attention_fast(std, channel_seq_lens, shape, phases, row_buffer, reads, ctrl)
    for ch in range(ncl):
        progs = [channel_program(std, channel_seq_lens[ch], shape, p) for p in phases]
        sizes = [max(len(p[0]), 1) for p in progs]
        rbytes = int(reads[ch]) if reads else 0
        offset = 0
        for j, (cmd, tgt, arg) in enumerate(progs):
            share = rbytes * sizes[j] // sum(sizes) if j < len(progs) - 1 else \
                rbytes - sum(rbytes * s // sum(sizes) for s in sizes[:-1])
            if rbytes and share:
                a, w, b, r, c = npu_read_requests(std, share)
            else:
                a = w = b = r = c = np.zeros(0, np.int64)
            out = run_channel(std, ctrl, row_buffer, a, w, b, r, c, cmd, tgt, arg)
            per[ch, j] = out.final_cycle
            counts += out.counts
            active += out.active_rank_cycles
            issued += out.issued
            if len(a):
                read_done[ch] = offset + out.normal_end
            offset += out.final_cycle
    return AttentionResult.from_phases(std, per, phases, counts, active, read_done, reads,
                                       fidelity="command", error_bound=None,
                                       row_buffer=row_buffer, issued=issued)
