"""A cost proxy for design points: memory-system silicon area, an *estimate*.

Every figure here has provenance ``estimated`` (source ``area-proxy``):

- ``area_overhead_pct``: DRAM die area added by PIM, in % of a plain HBM die.
  ``dual_row_buffer_area_pct`` defaults to **3.11 %**, the dual-row-buffer overhead the
  NeuPIMs paper reports (ASPLOS'24). ``pim_logic_area_pct`` is the area of the per-bank
  MAC units at the reference width of 16 fp16 multipliers per bank and scales linearly
  with ``pim_macs_per_bank``; the reference papers publish no per-MAC figure, so the
  default is 0.0 (not counted) — set it from your own synthesis numbers.
- ``memory_area_rel``: memory-system area relative to the reference HBM2 system of 32
  channels without PIM: ``channels / 32 * (1 + area_overhead_pct / 100)``.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_CHANNELS = 32
REFERENCE_MACS_PER_BANK = 16
SOURCE = "area-proxy"


@dataclass(frozen=True)
class AreaModel:
    """Area constants, % of a plain DRAM die (see the module docstring for sources)."""

    dual_row_buffer_area_pct: float = 3.11
    pim_logic_area_pct: float = 0.0

    def __post_init__(self) -> None:
        if self.dual_row_buffer_area_pct < 0 or self.pim_logic_area_pct < 0:
            raise ValueError("area percentages must be >= 0")


def area_overhead_pct(model: AreaModel, pim: bool, row_buffer: str,
                      pim_macs_per_bank: int = REFERENCE_MACS_PER_BANK) -> float:
    """PIM area overhead in % of a plain DRAM die (0 without PIM)."""
    if not pim:
        return 0.0
    pct = model.pim_logic_area_pct * pim_macs_per_bank / REFERENCE_MACS_PER_BANK
    if row_buffer == "dual":
        pct += model.dual_row_buffer_area_pct
    return pct


def memory_area_rel(channels: int, overhead_pct: float) -> float:
    """Memory-system area relative to 32 plain HBM2 channels (dimensionless)."""
    return channels / REFERENCE_CHANNELS * (1.0 + overhead_pct / 100.0)
