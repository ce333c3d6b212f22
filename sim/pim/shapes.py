"""The shape of one device's attention after tensor parallelism (:class:`AttentionShape`),
shared by the command-level PIM stage, its program generator and its fast path."""

from __future__ import annotations

from dataclasses import dataclass


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
