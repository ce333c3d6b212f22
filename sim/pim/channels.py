"""NeuPIMs channel load model (paper Algorithm 1) and greedy min-load channel assignment."""

from __future__ import annotations

from collections.abc import Sequence


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def channel_load(seq_len: int, *, e_tp: int, heads: int, d_k: int,
                 gwrite_cost: int = 100, block_cost: int = 184) -> int:
    """Estimated PIM cycles one request of ``seq_len`` tokens puts on its channel.

    ``ceil(E_tp/512)*100 + ceil(E_tp/512)*ceil(seq/32)*184 + ceil(seq/512)*nh*100
    + ceil(seq/512)*nh*ceil(dk/32)*184`` (NeuPIMs, Algorithm 1; 100 per GWRITE, 184 per
    row-open MAC block).
    """
    chunks = _ceil(e_tp, 512)
    pages = _ceil(seq_len, 512)
    return (chunks * gwrite_cost + chunks * _ceil(seq_len, 32) * block_cost
            + pages * heads * gwrite_cost + pages * heads * _ceil(d_k, 32) * block_cost)


def assign_channels(seq_lens: Sequence[int], channels: int, *, e_tp: int, heads: int,
                    d_k: int) -> list[int]:
    """Greedy min-load: each request (in the given order) goes to the least-loaded channel
    (lowest index on ties). Returns the channel of each request."""
    if channels < 1:
        raise ValueError("channels must be >= 1")
    load = [0] * channels
    out = []
    for s in seq_lens:
        ch = min(range(channels), key=lambda c: (load[c], c))
        load[ch] += channel_load(int(s), e_tp=e_tp, heads=heads, d_k=d_k)
        out.append(ch)
    return out


def group_by_channel(seq_lens: Sequence[int], channel_of: Sequence[int],
                     channels: int) -> list[list[int]]:
    """Per-channel lists of sequence lengths, request order preserved."""
    out: list[list[int]] = [[] for _ in range(channels)]
    for s, c in zip(seq_lens, channel_of, strict=True):
        if not 0 <= c < channels:
            raise ValueError(f"channel {c} out of range 0..{channels - 1}")
        out[c].append(int(s))
    return out
