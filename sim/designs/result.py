"""What one simulated iteration returns: :class:`IterationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IterationResult:
    """One decode iteration (or prefill) of a batch on a design.

    total_cycles: cycles of ``clock_hz`` for the whole iteration (all simulated layers);
    seconds = total_cycles / clock_hz.
    stages: stage name -> cycles of ONE layer (sub-batch off: A, B, E; on: A..F).
    operators: operator name -> cycles of one layer (summed over sub-batches).
    energy_j: component -> joules for the whole iteration; the components sum to the total
    (:attr:`energy_total_j`). utilisation: npu / pim / hbm_bw (or gpu / hbm_bw), in [0, 1].
    events: (track, name, start_cycle, dur_cycles) of one layer, for a Perfetto trace;
    tracks "npu", "pim", "pim/ch<N>" (or "gpu").
    layer_cycles: steady-state cycles per layer (C + D with sub-batch interleaving);
    layers: layers simulated on one device; counters: HBM bytes, MACs, PIM commands.
    breakdown: part -> cycles of the whole iteration along the critical path (GEMM,
    attention, contention stalls, mode switches, command issue, communication, idle;
    :mod:`sim.designs.breakdown`); the parts sum to ``total_cycles``.
    """

    design: str
    phase: str
    total_cycles: int
    clock_hz: float
    stages: dict[str, int]
    operators: dict[str, int]
    energy_j: dict[str, float]
    utilisation: dict[str, float]
    fidelity: str
    events: list[tuple[str, str, int, int]] = field(default_factory=list)
    layer_cycles: int = 0
    layers: int = 1
    batch: int = 0
    error_bound: float | None = None
    counters: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.total_cycles / self.clock_hz

    @property
    def energy_total_j(self) -> float:
        return float(sum(self.energy_j.values()))

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` and the store."""
        return {
            "design": self.design, "phase": self.phase, "total_cycles": self.total_cycles,
            "clock_hz": self.clock_hz, "seconds": self.seconds, "layers": self.layers,
            "layer_cycles": self.layer_cycles, "batch": self.batch, "stages": dict(self.stages),
            "operators": dict(self.operators), "energy_j": dict(self.energy_j),
            "energy_total_j": self.energy_total_j, "utilisation": dict(self.utilisation),
            "fidelity": self.fidelity, "error_bound": self.error_bound,
            "counters": dict(self.counters), "notes": list(self.notes),
            "breakdown_cycles": dict(self.breakdown),
        }
