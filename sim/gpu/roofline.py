"""Per-operator roofline on a GPU with named efficiency factors.

An operator takes ``max(flops / (peak * eff_compute), bytes / (bandwidth * eff_memory))``
plus one kernel launch. GEMMs with few rows (decode) use the GEMV bandwidth factor;
attention in decode streams the KV cache at the attention bandwidth factor; norms,
activations and residual adds are bandwidth-bound element-wise kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.gpu.config import GpuHw
from sim.mapping.blocks import Op
from sim.mapping.parallel import allreduce_link_bytes, ring_allreduce_s

#: element-wise kernels: (bytes read + written) per element in units of dtype size
_ELEMENTWISE_RW = {"layernorm": 2, "rmsnorm": 2, "softmax": 2, "gelu": 2, "silu_mul": 3,
                   "residual": 3, "rope": 2}
#: FLOPs per element of element-wise kernels (vector units)
_ELEMENTWISE_FLOPS = {"layernorm": 8, "rmsnorm": 4, "softmax": 5, "gelu": 8, "silu_mul": 5,
                      "residual": 1, "rope": 3}


@dataclass(frozen=True)
class GpuOpTiming:
    """seconds of one operator, its FLOPs (a MAC counts 2), HBM bytes, link bytes and the
    bound that set its time ("compute" | "memory" | "launch" | "link")."""

    name: str
    part: str
    seconds: float
    flops: int
    hbm_bytes: int
    link_bytes: int
    bound: str


def _roof(hw: GpuHw, flops: float, nbytes: float, tflops: float, eff_c: float,
          eff_m: float) -> tuple[float, str]:
    tc = flops / (tflops * 1e12 * eff_c) if flops else 0.0
    tm = nbytes / (hw.hbm_gbps * 1e9 * eff_m) if nbytes else 0.0
    launch = hw.kernel_launch_us * 1e-6
    if max(tc, tm) < launch:
        return launch, "launch"
    return max(tc, tm) + launch, "compute" if tc >= tm else "memory"


def gpu_op_timing(hw: GpuHw, op: Op, tp: int = 1) -> GpuOpTiming:
    """Roofline time of one block operator (not attention; see :func:`gpu_decode_attention`)."""
    db = hw.dtype_bytes
    eff = hw.efficiency
    if op.unit == "gemm":
        flops = 2 * op.m * op.k * op.n
        nbytes = (op.k * op.n + op.m * op.k + op.m * op.n) * db
        eff_m = eff.gemv_memory if op.m <= eff.small_m_rows else eff.gemm_memory
        s, bound = _roof(hw, flops, nbytes, hw.peak_tflops, eff.gemm_compute, eff_m)
        return GpuOpTiming(op.name, op.part, s, flops, nbytes, 0, bound)
    if op.unit == "vector":
        nbytes = _ELEMENTWISE_RW[op.vop] * op.elements * db
        flops = _ELEMENTWISE_FLOPS[op.vop] * op.elements
        s, bound = _roof(hw, flops, nbytes, hw.vector_tflops, 1.0, eff.elementwise_memory)
        return GpuOpTiming(op.name, op.part, s, flops, nbytes, 0, bound)
    if op.unit == "kv_write":
        s, bound = _roof(hw, 0, op.nbytes, hw.vector_tflops, 1.0, eff.elementwise_memory)
        return GpuOpTiming(op.name, op.part, s, 0, op.nbytes, 0, bound)
    if op.unit == "allreduce":
        s = ring_allreduce_s(op.nbytes, tp, hw.link.bandwidth_gbps, hw.link.latency_ns)
        lb = int(allreduce_link_bytes(op.nbytes, tp)) if hw.link.bandwidth_gbps else 0
        return GpuOpTiming(op.name, op.part, s, 0, 0, lb, "link")
    raise ValueError(f"operator {op.name!r} ({op.unit}) is not a GPU block operator")


def gpu_decode_attention(hw: GpuHw, heads: int, kv_heads: int, d_head: int,
                         total_ctx: int, batch: int) -> GpuOpTiming:
    """Decode attention (a paged/flash-decoding kernel): reads K and V of every context
    token once; FLOPs 4 * heads * d_head per token."""
    db = hw.dtype_bytes
    nbytes = 2 * kv_heads * d_head * total_ctx * db + 2 * batch * heads * d_head * db
    flops = 4 * heads * d_head * total_ctx
    s, bound = _roof(hw, flops, nbytes, hw.peak_tflops, hw.efficiency.gemm_compute,
                     hw.efficiency.attention_memory)
    return GpuOpTiming("attention", "attn", s, flops, nbytes, 0, bound)


def gpu_prefill_attention(hw: GpuHw, heads: int, kv_heads: int, d_head: int,
                          prompt_lens) -> GpuOpTiming:
    """Causal prefill attention (flash-attention): FLOPs 2 * heads * d_head * L^2 per prompt
    (half of QK^T and PV each), bytes for Q, K, V and the output."""
    db = hw.dtype_bytes
    flops = sum(2 * heads * d_head * L * L for L in prompt_lens)
    toks = sum(prompt_lens)
    nbytes = (2 * heads + 2 * kv_heads) * d_head * toks * db
    s, bound = _roof(hw, flops, nbytes, hw.peak_tflops,
                     hw.efficiency.prefill_attention_compute, hw.efficiency.gemm_memory)
    return GpuOpTiming("attention", "attn", s, flops, nbytes, 0, bound)
