"""Does a batch's KV cache fit the device? One check shared by every design.

A decode batch of context lengths ``seq_lens`` (or a prefill of prompt lengths) needs, on
each device of a TP x PP group, its weight shard plus the K and V of every token of every
request for the device's ``ceil(layers / pp)`` layers and ``kv_heads`` KV heads
(:func:`sim.mapping.blocks.attention_dims`). If that exceeds the device memory the batch
cannot exist on the hardware, and timing it would be fiction: :func:`check_kv_capacity`
raises an :class:`~neumelt.errors.InputError` (exit status 2) naming the batch, the bytes
needed and the capacity. Serving never gets there: its KV pool admits requests only while
their pages fit (:mod:`sim.serving.kv`).

Counted densely (bytes of K and V, no paging slack) so that a batch the hardware could
hold with a perfect allocator is never refused; the PIM page layout, which charges
partly filled pages whole, is what serving admission uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from neumelt.errors import InputError
from sim.mapping.blocks import attention_dims

GB = 1e9


@dataclass(frozen=True)
class KvDemand:
    """Bytes one device needs for a batch: ``kv_bytes`` (K and V of all tokens, its
    layers and KV heads), ``weight_bytes`` (its weight shard) and ``capacity_bytes``."""

    requests: int
    tokens: int
    kv_bytes: int
    weight_bytes: int
    capacity_bytes: int

    @property
    def needed_bytes(self) -> int:
        return self.kv_bytes + self.weight_bytes

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.capacity_bytes


def device_capacity_bytes(hw: Any) -> int:
    """Memory of one device (bytes): ``hbm.capacity_gib`` (NPU) or ``capacity_gib`` (GPU)."""
    hbm = getattr(hw, "hbm", None)
    gib = hbm.capacity_gib if hbm is not None else hw.capacity_gib
    return int(float(gib) * 2**30)


def kv_demand(hw: Any, model: Any, lens: Sequence[int], tp: int, pp: int) -> KvDemand:
    """What one device of a ``tp`` x ``pp`` group needs to hold the batch ``lens``."""
    dtype = int(getattr(hw, "dtype_bytes", 2))
    dims = attention_dims(model, tp)
    layers = math.ceil(model.n_layers / pp)
    tokens = int(sum(int(x) for x in lens))
    kv = tokens * 2 * layers * dims.kv_heads * model.d_head * dtype
    weights = int(math.ceil(_params(model) * dtype / (tp * pp)))
    return KvDemand(len(lens), tokens, int(kv), weights, device_capacity_bytes(hw))


def check_kv_capacity(design: str, hw: Any, model: Any, lens: Sequence[int], tp: int,
                      pp: int, phase: str = "decode") -> KvDemand:
    """The demand of the batch; an :class:`InputError` when it does not fit the device."""
    d = kv_demand(hw, model, lens, tp, pp)
    if not d.fits:
        raise InputError(
            f"{phase} batch of {d.requests} requests ({d.tokens:,} tokens of context) "
            f"needs {d.needed_bytes / GB:.2f} GB per device on {design} "
            f"({d.kv_bytes / GB:.2f} GB of KV cache + {d.weight_bytes / GB:.2f} GB of "
            f"weights of {model.name}, tp={tp}, pp={pp}) but {getattr(hw, 'name', 'the device')}"
            f" holds {d.capacity_bytes / GB:.2f} GB",
            key="batch", expected="fewer or shorter requests, a larger tp/pp, or hardware "
                                  "with more memory")
    return d


@lru_cache(maxsize=256)
def _params(model: Any) -> int:
    return int(model.param_count())
