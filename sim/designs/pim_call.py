"""The one place the designs call the PIM attention model (:mod:`sim.pim`, helper A's).

Calls are memoised on (hardware, shape, per-channel context lengths, row buffer, fidelity,
concurrent NPU reads), so a serving loop that sees the same batch composition twice pays
once. The PIM model itself lives in :mod:`sim.pim.attention`; nothing here times commands.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from neumelt.errors import RunError
from sim.mapping.blocks import AttentionDims
from sim.npu.config import NpuHw


def _pim():
    try:
        from sim.dram.standard import load_standard
        from sim.pim.attention import AttentionShape, simulate_attention
    except ImportError as exc:  # pragma: no cover - only before sim.pim exists
        raise RunError(f"the PIM attention model (sim.pim) is not available: {exc}") from None
    return load_standard, AttentionShape, simulate_attention


@lru_cache(maxsize=16)
def _standard(name: str) -> Any:
    load_standard, _, _ = _pim()
    return load_standard(name)


def pim_channels(hw: NpuHw) -> int:
    """PIM channels of the device's HBM standard (falls back to the preset's count)."""
    return int(_standard(hw.hbm.standard).org.channels)


@lru_cache(maxsize=4096)
def pim_attention(hw: NpuHw, dims: AttentionDims, channel_seq_lens: tuple[tuple[int, ...], ...],
                  row_buffer: str, fidelity: str,
                  npu_read_bytes_per_channel: tuple[int, ...] | None = None) -> Any:
    """AttentionResult of one decode attention on PIM (see :mod:`sim.pim.attention`)."""
    _, AttentionShape, simulate_attention = _pim()
    std = _standard(hw.hbm.standard)
    shape = AttentionShape(heads=dims.heads, d_k=dims.d_head, e_tp=dims.e_tp,
                           dtype_bytes=hw.dtype_bytes, kv_heads=dims.kv_heads)
    return simulate_attention(
        std, [list(c) for c in channel_seq_lens], shape, phase="both", row_buffer=row_buffer,
        fidelity=fidelity,
        npu_read_bytes_per_channel=(list(npu_read_bytes_per_channel)
                                    if npu_read_bytes_per_channel is not None else None))


def assign(seq_lens: tuple[int, ...], dims: AttentionDims, n_channels: int, policy: str,
           ) -> tuple[int, ...]:
    """Channel per request: ``rr`` round-robin in arrival order, ``greedy`` the paper's
    min-load bin packing (Algorithm 1, :func:`sim.pim.channels.assign_channels`)."""
    if policy == "rr":
        return tuple(i % n_channels for i in range(len(seq_lens)))
    try:
        from sim.pim.channels import assign_channels
    except ImportError as exc:  # pragma: no cover
        raise RunError(f"sim.pim.channels is not available: {exc}") from None
    out = assign_channels(list(seq_lens), n_channels, e_tp=dims.e_tp,
                          heads=dims.heads, d_k=dims.d_head)
    return tuple(int(c) for c in out)


@lru_cache(maxsize=4096)
def pim_port(hw: NpuHw, dims: AttentionDims, requests: tuple[tuple[int, int], ...],
             command_set: str) -> Any:
    """The NPU's PIM command port for one attention call (:mod:`sim.pim.issue`): the logits
    and attend phases, in HBM cycles, with ``requests`` (``(seq_len, channel)``) handed out
    in the order given at ``hw.pim.command_port_per_cycle`` per NPU cycle."""
    from sim.pim.attention import AttentionShape
    from sim.pim.issue import ordered_port_timing

    std = _standard(hw.hbm.standard)
    shape = AttentionShape(heads=dims.heads, d_k=dims.d_head, e_tp=dims.e_tp,
                           dtype_bytes=hw.dtype_bytes, kv_heads=dims.kv_heads)
    return ordered_port_timing(std, list(requests), shape, (0, 1), command_set,
                               hw.pim.command_port_per_cycle,
                               port_to_dram=std.clock_hz / hw.clock_hz)
