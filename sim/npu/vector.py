"""Vector-unit timing: element-wise and row-reduction operators on ``count`` x ``width`` lanes.

Each operator is a number of passes over its elements (one element-op per lane per cycle);
a pass pays the unit's pipeline latency once. Pass counts follow the usual fused kernels:

- layernorm 3: mean; variance; normalise with gamma and beta.
- rmsnorm 2: mean of squares; scale with gamma.
- softmax 3: max; exp and sum; divide.
- gelu 8: tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
- silu_mul 5: sigmoid (exp, add, reciprocal), x * sigmoid, times the up projection (SwiGLU).
- residual 1: add.
- rope 3: rotate pairs (two multiplies and an add per element).

Operands live in SRAM; HBM traffic, when activations spill, is accounted by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.npu.config import NpuHw

VECTOR_PASSES: dict[str, int] = {
    "layernorm": 3,
    "rmsnorm": 2,
    "softmax": 3,
    "gelu": 8,
    "silu_mul": 5,
    "residual": 1,
    "rope": 3,
}


@dataclass(frozen=True)
class VectorTiming:
    """cycles: wall cycles; element_ops: lane-operations done (for energy)."""

    op: str
    elements: int
    cycles: int
    element_ops: int


def vector_timing(hw: NpuHw, op: str, elements: int) -> VectorTiming:
    """Cycles of vector operator ``op`` over ``elements`` elements on ``hw``'s vector units."""
    if op not in VECTOR_PASSES:
        raise ValueError(f"unknown vector op {op!r}; known: {', '.join(VECTOR_PASSES)}")
    if elements < 0:
        raise ValueError("elements must be >= 0")
    passes = VECTOR_PASSES[op]
    if elements == 0:
        return VectorTiming(op, 0, 0, 0)
    per_pass = math.ceil(elements / hw.vector.lanes) + hw.vector.latency_cycles
    return VectorTiming(op, elements, passes * per_pass, passes * elements)
