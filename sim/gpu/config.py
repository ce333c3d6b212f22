"""GPU device configuration for the per-operator roofline (``kind: gpu`` presets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sim.npu.config import LinkConfig


@dataclass(frozen=True)
class GpuEfficiency:
    """Named fractions of peak a kernel sustains.

    gemm_compute: tensor-core GEMM (cuBLAS) fraction of peak FLOP/s.
    gemm_memory: weight streaming in a GEMM, fraction of peak HBM bandwidth.
    gemv_memory: decode GEMMs with few rows (<= small_m_rows), fraction of peak bandwidth.
    attention_memory: decode attention reading the KV cache, fraction of peak bandwidth.
    elementwise_memory: norms, activations, residual adds, fraction of peak bandwidth.
    prefill_attention_compute: causal prefill attention (flash-attention), fraction of peak
    tensor FLOP/s; short prompts keep it far below a GEMM's.
    small_m_rows: rows at or below which a GEMM is treated as a GEMV.
    """

    gemm_compute: float = 0.8
    gemm_memory: float = 0.85
    gemv_memory: float = 0.8
    attention_memory: float = 0.7
    elementwise_memory: float = 0.75
    prefill_attention_compute: float = 0.8
    small_m_rows: int = 64

    def __post_init__(self) -> None:
        for name in ("gemm_compute", "gemm_memory", "gemv_memory", "attention_memory",
                     "elementwise_memory", "prefill_attention_compute"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")


@dataclass(frozen=True)
class GpuEnergyConfig:
    """idle_w: static power while busy; pJ per MAC, per DRAM bit, per link bit."""

    idle_w: float = 60.0
    mac_pj: float = 0.8
    dram_pj_per_bit: float = 3.9
    link_pj_per_bit: float = 1.3


@dataclass(frozen=True)
class GpuHw:
    """A GPU: peak tensor FLOP/s (TFLOP/s), vector FLOP/s, HBM GB/s, capacity GiB."""

    name: str
    kind: Literal["gpu"] = "gpu"
    clock_hz: float = 1.41e9
    dtype_bytes: int = 2
    peak_tflops: float = 312.0
    vector_tflops: float = 78.0
    hbm_gbps: float = 1555.0
    capacity_gib: float = 40.0
    efficiency: GpuEfficiency = field(default_factory=GpuEfficiency)
    kernel_launch_us: float = 4.0
    link: LinkConfig = field(default_factory=LinkConfig)
    energy: GpuEnergyConfig = field(default_factory=GpuEnergyConfig)

    def __post_init__(self) -> None:
        for name in ("clock_hz", "peak_tflops", "vector_tflops", "hbm_gbps", "capacity_gib"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
