"""Operator mapping of one decoder block onto a device of a tensor-parallel group.

``decoder_block(model, tokens, tp)`` lists the block's operators for ``tokens`` rows
(the decode batch size, or the summed prompt tokens in prefill) as :class:`Op` records, in
execution order, grouped in three parts:

- ``qkv``: input norm, QKV projection (and RoPE for LLaMA-style models), KV-cache write;
- ``attn``: attention (logits, softmax, attend) -- a GEMV per request and head in decode,
  which a design with PIM sends to the PIM and any other design runs itself;
- ``ffn``: output projection, all-reduce, residual, post-attention norm, MLP (GELU MLP for
  GPT-3; SwiGLU gate/up/down for LLaMA), all-reduce, residual.

GPT-3 blocks: LayerNorm, fused QKV, GELU MLP (d_ff = 4 d_model). LLaMA blocks: RMSNorm,
grouped-query attention (``n_kv_heads`` < ``n_heads``), RoPE, SwiGLU. Shapes are per device
after tensor parallelism: heads and the FFN width are split ``tp`` ways; KV heads are split
when there are at least ``tp`` of them, else replicated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Part = Literal["qkv", "attn", "ffn"]
Unit = Literal["gemm", "vector", "attention", "allreduce", "kv_write"]


@dataclass(frozen=True)
class Op:
    """One operator of a block on one device.

    gemm: ``m x k @ k x n``; vector: ``vop`` over ``elements``; allreduce / kv_write:
    ``nbytes``; attention: decided by the design from the request lengths.
    """

    name: str
    unit: Unit
    part: Part
    m: int = 0
    k: int = 0
    n: int = 0
    vop: str = ""
    elements: int = 0
    nbytes: int = 0


@dataclass(frozen=True)
class AttentionDims:
    """Per-device attention shape: query heads, KV heads, head size, and the per-device
    embedding width ``e_tp = heads * d_head``; ``group`` query heads share a KV head."""

    heads: int
    kv_heads: int
    d_head: int

    @property
    def e_tp(self) -> int:
        return self.heads * self.d_head

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads


def attention_dims(model, tp: int) -> AttentionDims:
    heads = model.n_heads // tp
    kv = model.n_kv_heads // tp if model.n_kv_heads >= tp else 1
    return AttentionDims(heads=heads, kv_heads=max(1, kv), d_head=model.d_head)


def ffn_width(model, tp: int) -> int:
    """The FFN hidden width on one device."""
    return math.ceil(model.d_ff / tp)


def decoder_block(model, tokens: int, tp: int = 1, dtype_bytes: int = 2) -> tuple[Op, ...]:
    """Operators of one decoder block for ``tokens`` rows on one of ``tp`` devices."""
    if tokens <= 0:
        raise ValueError("tokens must be positive")
    d = model.d_model
    att = attention_dims(model, tp)
    f = ffn_width(model, tp)
    norm = "rmsnorm" if model.norm == "rmsnorm" else "layernorm"
    qkv_n = (att.heads + 2 * att.kv_heads) * att.d_head
    ops: list[Op] = [
        Op("norm_attn", "vector", "qkv", vop=norm, elements=tokens * d),
        Op("qkv", "gemm", "qkv", m=tokens, k=d, n=qkv_n),
    ]
    if getattr(model, "position", "rope") == "rope":
        ops.append(Op("rope", "vector", "qkv", vop="rope",
                      elements=tokens * (att.heads + att.kv_heads) * att.d_head))
    ops.append(Op("kv_write", "kv_write", "qkv",
                  nbytes=tokens * 2 * att.kv_heads * att.d_head * dtype_bytes))
    ops.append(Op("attention", "attention", "attn"))
    ops += [
        Op("proj", "gemm", "ffn", m=tokens, k=att.e_tp, n=d),
        Op("allreduce_attn", "allreduce", "ffn", nbytes=tokens * d * dtype_bytes if tp > 1 else 0),
        Op("residual_attn", "vector", "ffn", vop="residual", elements=tokens * d),
        Op("norm_ffn", "vector", "ffn", vop=norm, elements=tokens * d),
    ]
    if model.mlp in ("swiglu", "geglu"):
        ops += [
            Op("ffn_gate_up", "gemm", "ffn", m=tokens, k=d, n=2 * f),
            Op("act", "vector", "ffn", vop="silu_mul" if model.mlp == "swiglu" else "gelu",
               elements=tokens * f),
        ]
    else:
        ops += [
            Op("ffn1", "gemm", "ffn", m=tokens, k=d, n=f),
            Op("act", "vector", "ffn", vop="gelu", elements=tokens * f),
        ]
    ops += [
        Op("ffn2", "gemm", "ffn", m=tokens, k=f, n=d),
        Op("allreduce_ffn", "allreduce", "ffn", nbytes=tokens * d * dtype_bytes if tp > 1 else 0),
        Op("residual_ffn", "vector", "ffn", vop="residual", elements=tokens * d),
    ]
    return tuple(ops)


def weight_bytes_per_block(model, tp: int, dtype_bytes: int = 2) -> int:
    """Bytes of one block's weight matrices on one device."""
    return sum(op.k * op.n for op in decoder_block(model, 1, tp)
               if op.unit == "gemm") * dtype_bytes


def attention_flops(dims: AttentionDims, seq_lens) -> int:
    """Decode attention FLOPs on one device (logits + attend, a MAC counts 2)."""
    total = int(sum(int(s) for s in seq_lens))
    return 2 * 2 * dims.heads * dims.d_head * total


def kv_read_bytes(dims: AttentionDims, seq_lens, dtype_bytes: int = 2) -> int:
    """KV-cache bytes one decode iteration reads on one device."""
    total = int(sum(int(s) for s in seq_lens))
    return 2 * dims.kv_heads * dims.d_head * total * dtype_bytes
