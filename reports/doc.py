"""The report document model: what a report says, independent of how it is written.

A :class:`Report` is a list of :class:`Section` s, each holding blocks: :class:`Table`,
:class:`Plot` (a plotly figure) and :class:`Note`. The same document renders to HTML,
markdown, CSV and a terminal summary (:mod:`reports.render`), so the numbers in every
format come from one place (llama-bench's "one row, every printer").

Every number a report shows is a :class:`Quantity`: value, unit and provenance
(``measured`` / ``simulated`` / ``estimated``). A value of ``None`` is *unavailable* and
is printed as such, never as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

PROVENANCE_MARK = {"measured": "M", "simulated": "S", "estimated": "E"}


@dataclass(frozen=True)
class Quantity:
    """A number with its unit, provenance and source (sensor, design+fidelity, model)."""

    value: float | None
    unit: str = ""
    provenance: str | None = None
    source: str = ""
    digits: int = 3

    @property
    def available(self) -> bool:
        return self.value is not None and not (
            isinstance(self.value, float) and math.isnan(self.value))

    def number(self) -> str:
        """The value alone, ``digits`` significant digits; ``unavailable`` for None."""
        if not self.available:
            return "unavailable"
        return fmt_number(float(self.value), self.digits)

    def display(self) -> tuple[str, str]:
        """(number, unit) scaled for reading: 5.6e-4 s -> ("563", "µs"), 2e8 B -> MiB."""
        if not self.available:
            return "unavailable", ""
        v = float(self.value)
        if v == 0:
            return "0", self.unit
        for unit, steps in _DISPLAY_STEPS.items():
            if self.unit == unit or self.unit.startswith(unit + "/"):
                rest = self.unit[len(unit):]
                for limit, factor, name in steps:
                    if abs(v) >= limit or limit == 0:
                        return fmt_number(v / factor, self.digits), name + rest
        return fmt_number(v, self.digits), self.unit

    def text(self, with_provenance: bool = True) -> str:
        """``12.3 tok/s (simulated)``."""
        if not self.available:
            out = "unavailable"
        else:
            out = " ".join(self.display()).rstrip()
        if with_provenance and self.provenance:
            out += f" ({self.provenance})"
        return out


# unit -> [(smallest |value| for this display unit, factor, display unit)], largest first
_DISPLAY_STEPS = {
    "s": [(1.0, 1.0, "s"), (1e-3, 1e-3, "ms"), (1e-6, 1e-6, "µs"), (0, 1e-9, "ns")],
    "B": [(2 ** 30, 2 ** 30, "GiB"), (2 ** 20, 2 ** 20, "MiB"), (2 ** 10, 2 ** 10, "KiB"),
          (0, 1.0, "B")],
    "J": [(1.0, 1.0, "J"), (1e-3, 1e-3, "mJ"), (1e-6, 1e-6, "µJ"), (0, 1e-9, "nJ")],
}


def fmt_number(x: float, digits: int = 3) -> str:
    """Compact human formatting: 3 significant digits, thousands kept readable."""
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e6 or ax < 1e-3:
        return f"{x:.{digits - 1}e}"
    if ax >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(ax))))
    return f"{x:.{decimals}f}"


Cell = Any  # str | int | float | None | Quantity


@dataclass(frozen=True)
class Table:
    """A table; cells are plain text/numbers or :class:`Quantity`.

    ``primary`` marks the table written to the CSV beside the report; ``csv_only`` keeps a
    table too wide to read at a glance out of the HTML page (which says where it is) while
    markdown and CSV carry it whole.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    primary: bool = False
    note: str = ""
    csv_only: bool = False


@dataclass(frozen=True)
class Plot:
    """One plotly figure; ``note`` is shown under it (what it shows, where numbers come from)."""

    title: str
    figure: Any
    note: str = ""
    height_px: int = 420


@dataclass(frozen=True)
class Note:
    """A paragraph; ``level`` "nodata" marks a section that had nothing to show."""

    text: str
    level: Literal["info", "warn", "nodata", "ok"] = "info"


Block = Table | Plot | Note


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...] = ()

    @staticmethod
    def nodata(title: str, what: str) -> Section:
        return Section(title, (Note(f"No data: {what}", "nodata"),))


@dataclass(frozen=True)
class RunRef:
    """Which run a report read (shown in the header)."""

    id: int
    kind: str
    name: str
    status: str
    started_at: str


@dataclass(frozen=True)
class Report:
    """A whole report. ``summary`` holds the lines printed to the terminal."""

    kind: str
    title: str
    runs: tuple[RunRef, ...]
    sections: tuple[Section, ...]
    summary: tuple[str, ...] = ()
    subtitle: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def plots(self) -> list[Plot]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Plot)]

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def primary_table(self) -> Table | None:
        tables = self.tables()
        for t in tables:
            if t.primary:
                return t
        return tables[0] if tables else None
