"""Run a decoder block's non-attention operators on the NPU: per-operator timing and counters.

Operators of one part (``qkv`` or ``ffn``, see :mod:`sim.mapping.blocks`) run back to back
on the NPU (GEMMs on the systolic arrays, norms and activations on the vector units, the
KV-cache write and all-reduces over HBM and the link). Results are memoised per
(hardware, operator, tensor parallelism).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from sim.mapping.blocks import Op
from sim.mapping.parallel import allreduce_link_bytes, ring_allreduce_s
from sim.npu.config import NpuHw
from sim.npu.gemm import gemm_timing
from sim.npu.vector import vector_timing


@dataclass(frozen=True)
class OpTiming:
    """One operator's cycles and the counters its energy and utilisation come from.

    macs: useful MACs; element_ops: vector lane-ops; hbm_*_bytes: external HBM traffic;
    sram_bytes: scratchpad traffic; link_bytes: bytes sent over the inter-device link.
    """

    name: str
    part: str
    unit: str
    cycles: int
    macs: int = 0
    element_ops: int = 0
    hbm_read_bytes: int = 0
    hbm_write_bytes: int = 0
    sram_bytes: int = 0
    link_bytes: int = 0

    @property
    def hbm_bytes(self) -> int:
        return self.hbm_read_bytes + self.hbm_write_bytes


@lru_cache(maxsize=8192)
def op_timing(hw: NpuHw, op: Op, tp: int = 1) -> OpTiming:
    """Cycles and counters of ``op`` on NPU ``hw``."""
    if op.unit == "gemm":
        g = gemm_timing(hw, op.m, op.k, op.n)
        return OpTiming(op.name, op.part, op.unit, g.cycles, macs=g.macs,
                        hbm_read_bytes=g.hbm_read_bytes, hbm_write_bytes=g.hbm_write_bytes,
                        sram_bytes=g.sram_bytes)
    if op.unit == "vector":
        v = vector_timing(hw, op.vop, op.elements)
        return OpTiming(op.name, op.part, op.unit, v.cycles, element_ops=v.element_ops,
                        sram_bytes=2 * op.elements * hw.dtype_bytes)
    if op.unit == "kv_write":
        cyc = math.ceil(op.nbytes / hw.hbm.sustained_bytes_per_cycle) if op.nbytes else 0
        return OpTiming(op.name, op.part, op.unit, cyc, hbm_write_bytes=op.nbytes,
                        sram_bytes=op.nbytes)
    if op.unit == "allreduce":
        s = ring_allreduce_s(op.nbytes, tp, hw.link.bandwidth_gbps, hw.link.latency_ns)
        link_b = int(allreduce_link_bytes(op.nbytes, tp)) if hw.link.bandwidth_gbps else 0
        return OpTiming(op.name, op.part, op.unit, int(math.ceil(s * hw.clock_hz)),
                        link_bytes=link_b)
    raise ValueError(f"operator {op.name!r} ({op.unit}) does not run as an NPU block operator")


@dataclass(frozen=True)
class PartTiming:
    """A part of a block run serially on the NPU: total cycles and per-operator timings."""

    cycles: int
    ops: tuple[OpTiming, ...]

    @property
    def hbm_read_bytes(self) -> int:
        return sum(o.hbm_read_bytes for o in self.ops)

    @property
    def hbm_bytes(self) -> int:
        return sum(o.hbm_bytes for o in self.ops)


def run_part(hw: NpuHw, ops: tuple[Op, ...], part: str, tp: int = 1) -> PartTiming:
    """Run the operators of ``part`` back to back."""
    timings = tuple(op_timing(hw, op, tp) for op in ops if op.part == part)
    return PartTiming(sum(t.cycles for t in timings), timings)
