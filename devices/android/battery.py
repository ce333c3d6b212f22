"""Fuel-gauge sign and unit calibration for ``/sys/class/power_supply/<battery>/current_now``.

The kernel documents µA with negative = discharging (commit 05f94eb98907, 2020), but drivers
ship three conventions: µA positive-discharging (Xiaomi Mi 8, Poco F1, OnePlus 6), mA
(Samsung S20 FE / S21 / A52s / Xcover5), and the kernel's own. We keep the raw value and a
transform: ``current_a = raw * scale_a * discharge_sign``, so after calibration a positive
current means the battery is discharging (the device draws power).

Detection: the unit from magnitude (|raw| < 10 000 reads as mA, as Lawnchair PR #7203 does;
an ambiguous 0 keeps the kernel's µA) and the sign from the charging status read at the same
time (Discharging with raw > 0 means positive = discharging). A user override wins.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from neumelt.errors import InputError

Unit = Literal["uA", "mA"]
SCALE_A = {"uA": 1e-6, "mA": 1e-3}
MA_BELOW = 10_000


@dataclass(frozen=True)
class BatteryCalibration:
    """How to turn a raw ``current_now`` into amperes, positive = discharging."""

    unit: Unit
    discharge_sign: int      # +1: raw > 0 means discharging; -1: raw < 0 means discharging
    how: str                 # detected | override | assumed
    reason: str = ""

    def current_a(self, raw: float) -> float:
        return raw * SCALE_A[self.unit] * self.discharge_sign

    def as_dict(self) -> dict[str, object]:
        return {"unit": self.unit, "discharge_sign": self.discharge_sign, "how": self.how,
                "reason": self.reason,
                "transform": f"current_a = raw * {SCALE_A[self.unit]:g} * {self.discharge_sign:+d}"}


def detect(raw_currents: list[float], status: str | None) -> BatteryCalibration:
    """Calibrate from a few raw ``current_now`` reads and the power_supply ``status``."""
    nonzero = [r for r in raw_currents if r]
    if not nonzero:
        return BatteryCalibration("uA", -1, "assumed",
                                  "current_now reads 0: kernel convention (µA, negative = "
                                  "discharging) assumed; override if wrong")
    med = statistics.median(nonzero)
    unit: Unit = "mA" if abs(med) < MA_BELOW else "uA"
    why_unit = f"median |raw| {abs(med):g} {'<' if unit == 'mA' else '>='} {MA_BELOW} -> {unit}"
    st = (status or "").strip().lower()
    if st in ("discharging", "not charging"):
        sign = 1 if med > 0 else -1
        return BatteryCalibration(unit, sign, "detected",
                                  f"{why_unit}; status {status!r} with raw {med:+g}")
    if st == "charging":
        sign = -1 if med > 0 else 1
        return BatteryCalibration(unit, sign, "detected",
                                  f"{why_unit}; status {status!r} with raw {med:+g} "
                                  "(charging current is the opposite of discharging)")
    return BatteryCalibration(unit, -1, "assumed",
                              f"{why_unit}; status {status!r} tells no sign: kernel convention "
                              "(negative = discharging) assumed; override if wrong")


def parse_override(text: str) -> BatteryCalibration:
    """``"uA,+"``, ``"mA,-"``: unit and the sign of a discharging raw current."""
    unit, _, sign = text.replace(" ", "").partition(",")
    units = {"ua": "uA", "µa": "uA", "ma": "mA"}
    if unit.lower() not in units or sign not in ("+", "-"):
        raise InputError(f"bad battery override {text!r}", key="--battery",
                         expected="UNIT,SIGN with UNIT uA or mA and SIGN + or - "
                                  "(the sign current_now has while discharging), e.g. uA,-")
    return BatteryCalibration(units[unit.lower()], 1 if sign == "+" else -1, "override",  # type: ignore[arg-type]
                              f"set by the user: {text}")
