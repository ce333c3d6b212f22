"""Tensor and pipeline parallelism: shard sizes, defaults, ring all-reduce over a link.

Tensor parallelism (Megatron-style) splits attention heads and the FFN hidden width over
``tp`` devices; each decoder block then needs two all-reduces of the ``M x d_model``
activations (after the attention projection and after the FFN down projection). Pipeline
parallelism gives each of ``pp`` devices a contiguous run of ``ceil(n_layers / pp)``
layers and sends the activations to the next device once per layer run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neumelt.errors import InputError

#: (TP, PP) the NeuPIMs artifact uses per model (configs/model_configs/gpt3-*.json).
REFERENCE_PARALLELISM: dict[str, tuple[int, int]] = {
    "gpt3-7b": (4, 1),
    "gpt3-13b": (4, 1),
    "gpt3-30b": (4, 2),
    "gpt3-175b": (8, 4),
}


@dataclass(frozen=True)
class Parallelism:
    """``tp`` devices per tensor-parallel group, ``pp`` pipeline stages."""

    tp: int = 1
    pp: int = 1

    def __post_init__(self) -> None:
        if self.tp < 1 or self.pp < 1:
            raise ValueError("tp and pp must be >= 1")


def default_parallelism(model, capacity_bytes: float, dtype_bytes: int = 2,
                        weight_share: float = 0.5) -> Parallelism:
    """The reference's (TP, PP) for its GPT-3 models; otherwise the smallest power-of-two
    TP (up to 8, then PP) whose weight shard takes at most ``weight_share`` of a device's
    memory, leaving the rest for the KV cache."""
    if model.name in REFERENCE_PARALLELISM:
        return Parallelism(*REFERENCE_PARALLELISM[model.name])
    weights = model.param_count() * dtype_bytes
    tp, pp = 1, 1
    while weights / (tp * pp) > weight_share * capacity_bytes:
        if tp < 8 and model.n_heads % (tp * 2) == 0:
            tp *= 2
        else:
            pp *= 2
        if pp > model.n_layers:
            break
    return Parallelism(tp, pp)


def check_parallelism(model, par: Parallelism) -> None:
    """Bad TP / PP for this model is an input error naming what fits."""
    if model.n_heads % par.tp:
        raise InputError(f"tp={par.tp} does not divide the {model.n_heads} attention heads of "
                         f"{model.name}", key="tp",
                         expected="a divisor of n_heads")
    if par.pp > model.n_layers:
        raise InputError(f"pp={par.pp} exceeds the {model.n_layers} layers of {model.name}",
                         key="pp", expected=f"1..{model.n_layers}")


def ring_allreduce_s(nbytes: float, tp: int, bandwidth_gbps: float | None,
                     latency_ns: float) -> float:
    """Seconds for a ring all-reduce of ``nbytes`` over ``tp`` devices: reduce-scatter plus
    all-gather, ``2 (tp-1)`` steps each moving ``nbytes / tp`` per link at
    ``bandwidth_gbps`` GB/s per direction plus ``latency_ns`` per step. 0 for tp == 1;
    0 when the link is not modelled (``bandwidth_gbps`` None)."""
    if tp <= 1 or bandwidth_gbps is None or nbytes <= 0:
        return 0.0
    steps = 2 * (tp - 1)
    return steps * (nbytes / tp / (bandwidth_gbps * 1e9) + latency_ns * 1e-9)


def allreduce_link_bytes(nbytes: float, tp: int) -> float:
    """Bytes one device sends over its link in a ring all-reduce of ``nbytes``."""
    if tp <= 1:
        return 0.0
    return 2 * (tp - 1) * nbytes / tp


def layers_per_stage(n_layers: int, pp: int) -> int:
    return math.ceil(n_layers / pp)
