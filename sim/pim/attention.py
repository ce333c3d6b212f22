"""Decode attention on HBM-PIM: map logits (K^T q) and attend (softmax x V) GEMVs onto PIM
commands per channel and time them at command level (or with the closed-form fast path).

Stage model (NeuPIMs, sub-batch interleaving off): every channel runs its requests' logits
program, a barrier (softmax on the NPU vector unit, not timed here), then its attend program.
``cycles`` = logits_cycles + attend_cycles, each the maximum over channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from neumelt.errors import InputError
from sim.dram import commands as C
from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.standard import DramStandard
from sim.pim.program import channel_program, npu_read_requests
from sim.pim.result import AttentionResult
from sim.pim.shapes import AttentionShape

Phase = Literal["logits", "attend", "both"]
_PHASES = {"logits": (0,), "attend": (1,), "both": (0, 1)}

# the shape, the result and the channel program live in their own modules (shared with the
# fast path); importable from here as before
__all__ = ["AttentionResult", "AttentionShape", "Phase", "channel_program", "npu_read_requests",
           "simulate_attention"]


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
