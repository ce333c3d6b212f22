"""KV-cache capacity counted in a design's real memory layout.

Two layouts:

- :class:`PagedLayout`: one pool of fixed blocks of ``block_tokens`` tokens (vLLM-style
  paging) for GPUs and NPU-only designs whose KV cache sits in plain HBM.
- :class:`PimLayout`: the NeuPIMs layout in PIM banks. A request's KV lives on one
  channel. Keys are stored one token per bank, so a *key page* (one row in every bank
  of the channel) holds ``banks`` tokens and ``ceil(E_kv / row_elems)`` pages are needed
  per group of ``banks`` tokens per layer. Values are stored transposed, one row of
  ``row_elems`` tokens per head dimension per bank, so a *value page* holds
  ``row_elems`` tokens of ``banks`` dimensions and ``heads * ceil(d_head / banks)`` pages
  are needed per ``row_elems`` tokens per layer. Partly filled pages are charged whole:
  a 100-token request pays for a full 512-token value page, as on the hardware.

:class:`KVPool` allocates and frees these units per request and per channel and never
lets usage exceed capacity (it raises if asked to). Channel choice on admission is
``greedy`` (least-loaded channel, NeuPIMs' min-load balancing applied when KV is
placed, since KV cannot move afterwards) or ``rr`` (round robin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from neumelt.errors import RunError


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class KVLayout(Protocol):
    channels: int
    units_per_channel: int
    unit_bytes: int
    kind: str

    def units(self, tokens: int) -> int:
        """Allocation units (blocks or pages) needed to hold ``tokens`` tokens of KV."""
        ...


@dataclass(frozen=True)
class PagedLayout:
    """KV in ``block_tokens``-token blocks in one pool of ``capacity_bytes`` (bytes).

    ``bytes_per_token``: K and V bytes per token held on one device (all its layers).
    """

    capacity_bytes: int
    bytes_per_token: int
    block_tokens: int = 16
    kind: str = "paged"

    def __post_init__(self) -> None:
        if self.bytes_per_token <= 0 or self.block_tokens <= 0:
            raise ValueError("bytes_per_token and block_tokens must be > 0")

    @property
    def channels(self) -> int:
        return 1

    @property
    def unit_bytes(self) -> int:
        return self.bytes_per_token * self.block_tokens

    @property
    def units_per_channel(self) -> int:
        return max(int(self.capacity_bytes) // self.unit_bytes, 0)

    def units(self, tokens: int) -> int:
        return _ceil(max(tokens, 0), self.block_tokens)


@dataclass(frozen=True)
class PimLayout:
    """KV in PIM banks, NeuPIMs layout (see module docstring). Sizes per device.

    ``channels``: PIM channels; ``banks``: banks per channel; ``row_elems``: elements per
    DRAM row (1 KB rows of fp16 = 512); ``page_bytes``: one row in every bank of a
    channel; ``pages_per_channel``: pages left for KV after weights; ``layers``: decoder
    layers held by this device; ``kv_heads``, ``d_head``: KV heads on this device and
    their width.
    """

    channels: int
    banks: int
    row_elems: int
    page_bytes: int
    pages_per_channel: int
    layers: int
    kv_heads: int
    d_head: int
    kind: str = "pim"

    @property
    def units_per_channel(self) -> int:
        return self.pages_per_channel

    @property
    def unit_bytes(self) -> int:
        return self.page_bytes

    def key_pages(self, tokens: int) -> int:
        """Key pages per layer: ceil(E_kv / row_elems) per ``banks`` tokens."""
        return _ceil(self.kv_heads * self.d_head, self.row_elems) * _ceil(tokens, self.banks)

    def value_pages(self, tokens: int) -> int:
        """Value pages per layer: heads * ceil(d_head / banks) per ``row_elems`` tokens."""
        return self.kv_heads * _ceil(self.d_head, self.banks) * _ceil(tokens, self.row_elems)

    def units(self, tokens: int) -> int:
        if tokens <= 0:
            return 0
        return self.layers * (self.key_pages(tokens) + self.value_pages(tokens))


class KVPool:
    """Allocation of KV units per request, per channel; usage never exceeds capacity.

    ``admit(rid, tokens)`` places a request on a channel (or returns None if it does
    not fit while keeping ``watermark`` of each channel free); ``grow(rid, tokens)``
    extends it in place (False if the channel is full); ``release(rid)`` frees it.
    """

    def __init__(self, layout: KVLayout, policy: Literal["greedy", "rr"] = "greedy",
                 watermark: float = 0.01) -> None:
        if policy not in ("greedy", "rr"):
            raise ValueError("channel policy must be 'greedy' or 'rr'")
        self.layout = layout
        self.policy = policy
        self.capacity = int(layout.units_per_channel)
        self.n = int(layout.channels)
        self.reserve = int(self.capacity * watermark)
        self.used = [0] * self.n
        self.peak_used = 0
        self._alloc: dict[object, tuple[int, int, int]] = {}  # rid -> (channel, tokens, units)
        self._rr = 0

    @property
    def total_capacity(self) -> int:
        return self.capacity * self.n

    @property
    def total_used(self) -> int:
        return sum(self.used)

    def usage(self) -> float:
        """Fraction of KV units in use over all channels (0..1)."""
        return self.total_used / self.total_capacity if self.total_capacity else 0.0

    def max_tokens_one_request(self) -> int:
        """Largest context one request can hold (whole channel, no watermark)."""
        lo, hi = 0, 1
        while self.layout.units(hi) <= self.capacity and hi < 1 << 30:
            hi *= 2
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if self.layout.units(mid) <= self.capacity:
                lo = mid
            else:
                hi = mid
        return lo

    def channel_of(self, rid: object) -> int:
        return self._alloc[rid][0]

    def tokens_of(self, rid: object) -> int:
        return self._alloc[rid][1]

    def __contains__(self, rid: object) -> bool:
        return rid in self._alloc

    def admit(self, rid: object, tokens: int) -> int | None:
        if rid in self._alloc:
            raise RunError(f"KV for request {rid!r} is already allocated")
        need = self.layout.units(tokens)
        limit = self.capacity - self.reserve
        if self.policy == "greedy":
            ch = min(range(self.n), key=self.used.__getitem__)
            if self.used[ch] + need > limit:
                return None
        else:
            ch = None
            for k in range(self.n):
                c = (self._rr + k) % self.n
                if self.used[c] + need <= limit:
                    ch = c
                    break
            if ch is None:
                return None
            self._rr = (ch + 1) % self.n
        self._take(ch, need)
        self._alloc[rid] = (ch, tokens, need)
        return ch

    def grow(self, rid: object, tokens: int) -> bool:
        ch, old_tokens, old_units = self._alloc[rid]
        need = self.layout.units(tokens)
        extra = need - old_units
        if extra > 0 and self.used[ch] + extra > self.capacity:
            return False
        self._take(ch, extra)
        self._alloc[rid] = (ch, tokens, need)
        return True

    def release(self, rid: object) -> None:
        ch, _, units = self._alloc.pop(rid)
        self.used[ch] -= units

    def _take(self, ch: int, units: int) -> None:
        self.used[ch] += units
        if self.used[ch] > self.capacity:  # a bug, not a user error
            raise RunError(f"KV channel {ch} over capacity: {self.used[ch]} > {self.capacity}")
        total = self.total_used
        if total > self.peak_used:
            self.peak_used = total
