"""Is energy comparable across a group of candidates? Decided from what the store records.

A simulated design's energy is the sum of the components its model prices
(``energy_per_task_j.<component>`` / ``energy_per_token_j.<component>``); the GPU model
has a ``static`` component (idle power over the run) while the NPU and PIM models price
dynamic energy only (MACs, SRAM, DRAM/PIM commands): their static and leakage power is not
modelled, and ``energy_idle_j`` is unavailable. A measured device's energy comes from a
power sensor, which sees everything (static included).

Figures are comparable when they have the same provenance and the same components;
otherwise the report says *not comparable* and why, and never ranks on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reports.data import RunData, finite

STATIC_NAMES = ("static", "leakage", "idle", "background")


@dataclass(frozen=True)
class EnergyBasis:
    """What one candidate's energy figure covers."""

    provenance: str | None
    components: tuple[str, ...]  # sorted; ("whole device",) for a power sensor
    static: bool | None  # static / leakage power included? None: unknown
    static_share: float | None = None  # fraction of the figure that is static power

    def describe(self) -> str:
        comps = ", ".join(self.components) or "unknown components"
        static = {True: "static included", False: "no static/leakage power",
                  None: "static power unknown"}[self.static]
        return f"{self.provenance or 'unknown'}: {comps} ({static})"


def energy_basis(run: RunData, provenance: str | None) -> EnergyBasis:
    """The components behind a run's energy per task / per token."""
    if run.run.kind != "sim":
        return EnergyBasis(provenance, ("whole device (power sensor)",), True)
    comps: set[str] = set()
    values: dict[str, dict[str, float]] = {"task": {}, "token": {}}
    for m in run.metrics:
        hit = re.fullmatch(r"energy_per_(task|token)_j\.([A-Za-z0-9_]+)", m.name)
        if hit and m.scope == "run":
            comps.add(hit.group(2))
            if finite(m.value) is not None:
                values[hit.group(1)][hit.group(2)] = float(m.value)
    idle = run.metric("energy_idle_j")
    static = any(c.lower().startswith(STATIC_NAMES) for c in comps)
    if not static and idle is not None and finite(idle.value) is not None:
        static = True
    if not comps and idle is None:
        return EnergyBasis(provenance, (), None)
    share = None
    per = values["task"] or values["token"]
    if per and sum(per.values()) > 0:
        share = sum(v for k, v in per.items() if k.lower().startswith(STATIC_NAMES)) \
            / sum(per.values())
    return EnergyBasis(provenance, tuple(sorted(comps)), static, share)


@dataclass(frozen=True)
class Comparability:
    comparable: bool
    reason: str


def comparability(items: list[tuple[str, EnergyBasis]]) -> Comparability:
    """Whether energy figures of ``items`` ((name, basis), each with an available figure)
    can be ranked against each other, and why not."""
    if len(items) < 2:
        return Comparability(True, "one figure: nothing to compare")
    provs = {b.provenance for _, b in items}
    if len(provs) > 1:
        by = "; ".join(f"{n}: {b.provenance}" for n, b in items)
        return Comparability(False, f"mixed provenance ({by})")
    comps = {b.components for _, b in items}
    no_static = [n for n, b in items if b.static is False]
    unknown = [n for n, b in items if b.static is None]
    if len(comps) == 1 and not unknown:
        if no_static:
            return Comparability(True, "same provenance and components; static/leakage "
                                       "power modelled for none of them, so these are "
                                       "dynamic energies only")
        return Comparability(True, "same provenance and components")
    parts = []
    if no_static:
        parts.append(f"{_join(no_static)} price dynamic energy only (their models have no "
                     "static/leakage power)")
    with_static = [(n, b) for n, b in items if b.static]
    if with_static:
        parts.append(_join([n for n, _ in with_static])
                     + (" includes" if len(with_static) == 1 else " include")
                     + " static power" + (" (" + ", ".join(
                         f"{100 * b.static_share:.0f} % of {n}'s figure"
                         for n, b in with_static if b.static_share is not None) + ")"
                         if any(b.static_share is not None for _, b in with_static) else ""))
    if unknown:
        parts.append(f"{', '.join(unknown)} record no energy components")
    if not parts:
        parts.append("different components: " + "; ".join(
            f"{n}: {', '.join(b.components)}" for n, b in items))
    return Comparability(False, "; ".join(parts))


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
