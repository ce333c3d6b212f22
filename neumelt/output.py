"""Terminal output shared by every command: tables, JSON and a progress bar.

Tables go to stdout; progress goes to stderr (so ``--json`` output stays clean).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, TextIO

from neumelt.config import to_dict


def fmt(value: Any, digits: int = 4) -> str:
    """Human form of a cell: None -> 'unavailable', floats to ``digits`` significant figures."""
    if value is None:
        return "unavailable"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        if value.is_integer() and abs(value) < 1e7:
            return f"{int(value):,}"
        return f"{value:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(value)))) if value else digits)}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: list[str] | None = None,
                 title: str | None = None) -> str:
    """Plain-text table; numbers right-aligned."""
    if columns is None:
        columns = []
        for r in rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows)
               for c in columns]
    out = []
    if title:
        out.append(title)
    out.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    out.append("  ".join("-" * w for w in widths))
    for row in cells:
        out.append("  ".join(v.rjust(w) if num else v.ljust(w)
                             for v, w, num in zip(row, widths, numeric)))
    return "\n".join(out)


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None,
                title: str | None = None, file: TextIO | None = None) -> None:
    print(format_table(rows, columns, title), file=file or sys.stdout)


def print_json(obj: Any, file: TextIO | None = None) -> None:
    """One JSON document, keys sorted, so equal data prints equal bytes."""
    print(json.dumps(to_dict(obj), sort_keys=True, indent=2, default=str), file=file or sys.stdout)


class Progress:
    """A stderr progress bar with ETA; silent when stderr is not a terminal unless forced."""

    def __init__(self, total: int, label: str = "", file: TextIO | None = None,
                 force: bool = False, min_interval_s: float = 0.2) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.done = 0
        self.file = file or sys.stderr
        self.enabled = force or getattr(self.file, "isatty", lambda: False)()
        self.start = time.monotonic()
        self._last = 0.0
        self.min_interval_s = min_interval_s

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.min_interval_s or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.start
        frac = self.done / self.total if self.total else 1.0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        bar = "#" * int(frac * 30)
        eta_s = f"{eta:,.0f} s" if eta == eta else "?"
        self.file.write(f"\r{self.label} [{bar:<30}] {self.done}/{self.total} "
                        f"elapsed {elapsed:,.0f} s, ETA {eta_s}   ")
        self.file.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.file.write("\n")
            self.file.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
