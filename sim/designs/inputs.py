"""Argument checks every design shares: the model and the batch's lengths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neumelt.errors import InputError


def resolve_model(model: Any) -> Any:
    """A preset name or YAML path becomes a ``ModelSpec``; a ``ModelSpec`` stays as is."""
    if isinstance(model, str):
        from workloads.models import load_model

        return load_model(model)
    return model


def decode_lengths(seq_lens: Sequence[int], *, sort: bool = False) -> tuple[int, ...]:
    """Context lengths (tokens) of a decode batch; at least one, each > 0."""
    seq = tuple(int(s) for s in seq_lens)
    if not seq or min(seq) <= 0:
        raise InputError("a decode batch needs at least one request with seq_len > 0",
                         key="seq_lens")
    return tuple(sorted(seq)) if sort else seq


def prefill_lengths(prompt_lens: Sequence[int]) -> tuple[int, ...]:
    """Prompt lengths (tokens) of a prefill batch, sorted; at least one, each > 0."""
    lens = tuple(sorted(int(x) for x in prompt_lens))
    if not lens or lens[0] <= 0:
        raise InputError("prefill needs at least one prompt with length > 0",
                         key="prompt_lens")
    return lens
