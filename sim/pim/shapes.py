"""The shape of one device's attention after tensor parallelism (:class:`AttentionShape`),
shared by the command-level PIM stage, its program generator and its fast path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttentionShape:
    """Attention of one device after tensor parallelism: ``heads`` per device, ``d_k`` per head,
    ``e_tp`` = heads x d_k (the query/key width per device), element size in bytes."""

    heads: int
    d_k: int
    e_tp: int
    dtype_bytes: int = 2

    def __post_init__(self) -> None:
        for name in ("heads", "d_k", "e_tp", "dtype_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
