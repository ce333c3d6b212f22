"""What the deployment report compares: user budgets and one candidate (a device or a design).

A candidate holds its figures as :class:`reports.doc.Quantity` (value, unit, provenance);
``model_key`` names one model across quantisations so candidates can be grouped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reports.deploy_energy import EnergyBasis
from reports.deploy_memory import Memory
from reports.doc import Quantity

_QUANT_TAIL = re.compile(r"[._-]((?:I?Q\d(?:_[0-9A-Z]+)*)|F16|BF16|F32|FP16)$", re.I)


def model_key(model: str) -> str:
    """One model across quantisations: lower case, the quantisation suffix dropped."""
    return _QUANT_TAIL.sub("", model.strip()).lower()


@dataclass(frozen=True)
class Budgets:
    """User budgets; None = not constrained."""

    max_ttft_s: float | None = None
    min_tps: float | None = None
    max_j_per_task: float | None = None
    ram_headroom: float | None = None  # fraction of memory that must stay free, 0..1
    max_temp_c: float | None = None

    def describe(self) -> list[str]:
        out = []
        if self.max_ttft_s is not None:
            out.append(f"TTFT ≤ {self.max_ttft_s:g} s")
        if self.min_tps is not None:
            out.append(f"decode ≥ {self.min_tps:g} tok/s")
        if self.max_j_per_task is not None:
            out.append(f"energy ≤ {self.max_j_per_task:g} J/task")
        if self.ram_headroom is not None:
            out.append(f"memory headroom ≥ {100 * self.ram_headroom:g} %")
        if self.max_temp_c is not None:
            out.append(f"peak temperature ≤ {self.max_temp_c:g} °C")
        return out


@dataclass(frozen=True)
class Thermal:
    peak: Quantity | None = None
    rise: Quantity | None = None
    sustained_ratio: Quantity | None = None  # late / early decode tok/s
    verdict: str = "unavailable"


@dataclass(frozen=True)
class Candidate:
    run_label: str
    run_id: int
    kind: str  # "device" (profile run) or "design" (sim run)
    target: str
    model: str
    quant: str
    memory: Memory
    ttft: Quantity | None
    tps: Quantity | None
    j_per_task: Quantity | None
    thermal: Thermal
    system_tps: Quantity | None = None
    workload: str = "unknown workload"
    energy: EnergyBasis | None = None
    checks: dict[str, str] = field(default_factory=dict)
    verdict: str = "unverified"

    @property
    def mem_required(self) -> Quantity | None:
        return self.memory.total

    @property
    def mem_available(self) -> Quantity | None:
        return self.memory.capacity

    @property
    def headroom(self) -> Quantity | None:
        return self.memory.headroom

    @property
    def model_family(self) -> str:
        """The model without its quantisation suffix, as named by the run."""
        key = model_key(self.model)
        return self.model[:len(key)] if self.model.lower().startswith(key) else self.model

    @property
    def name(self) -> str:
        quant = f" {self.quant}" if self.quant not in ("", "—") else ""
        return f"{self.target} / {self.model_family}{quant}"
