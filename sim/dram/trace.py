"""Memory traces in the formats of DRAMsim3 and Ramulator 2, so the same trace runs through
those tools and this one.

DRAMsim3:   ``0x<addr> READ|WRITE <cycle>``  (one request per line, cycle of arrival)
Ramulator 2 (LoadStoreTrace): ``LD|ST <addr>`` (hex with 0x or decimal); no timestamps, so
request ``i`` arrives at cycle ``i`` (one per cycle, as its frontend sends them) and queue
back-pressure does the rest.
Blank lines and lines starting with ``#`` are skipped. Every error names file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neumelt.errors import InputError

_DRAMSIM3 = "dramsim3"
MAX_CYCLE = 1 << 37   # latest arrival accepted, cycles (~137 G; the engine walks idle time)
_RAMULATOR = "ramulator2"


@dataclass(frozen=True)
class Trace:
    arrival: np.ndarray    # int64 cycles
    address: np.ndarray    # int64 bytes
    is_write: np.ndarray   # bool
    format: str
    source: str
    line_numbers: np.ndarray | None = None  # file line of each request


    def __len__(self) -> int:
        return len(self.address)


def _int(tok: str, file: str, line: int, what: str) -> int:
    try:
        v = int(tok, 0) if tok.lower().startswith("0x") else int(tok, 10)
    except ValueError:
        raise InputError(f"bad {what} {tok!r}", file=file, line=line,
                         expected="a hex (0x...) or decimal integer") from None
    if v < 0:
        raise InputError(f"negative {what} {tok!r}", file=file, line=line,
                         expected="a non-negative integer")
    if v >= 1 << 63:
        raise InputError(f"{what} {tok!r} does not fit in 64 bits", file=file, line=line,
                         expected="an integer below 2**63")
    return v


def parse_trace(lines, source: str = "<trace>") -> Trace:
    """Parse trace lines (format detected from the first request line)."""
    arr: list[int] = []
    lines_no: list[int] = []
    addr: list[int] = []
    wr: list[bool] = []
    fmt = None
    for no, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        tok = text.split()
        lines_no.append(no)
        if fmt is None:
            fmt = _RAMULATOR if tok[0].upper() in ("LD", "ST") else _DRAMSIM3
        if fmt == _DRAMSIM3:
            if len(tok) != 3 or tok[1].upper() not in ("READ", "WRITE"):
                raise InputError(f"malformed DRAMsim3 trace line {text!r}", file=source,
                                 line=no, expected="'0x<addr> READ|WRITE <cycle>'")
            addr.append(_int(tok[0], source, no, "address"))
            wr.append(tok[1].upper() == "WRITE")
            cycle = _int(tok[2], source, no, "cycle")
            if cycle > MAX_CYCLE:
                raise InputError(f"arrival cycle {cycle} is past the longest trace this "
                                 f"engine runs ({MAX_CYCLE} cycles: it steps through idle "
                                 "refresh windows, so run time grows with the span)",
                                 file=source, line=no, expected=f"a cycle <= {MAX_CYCLE}")
            arr.append(cycle)
        else:
            if len(tok) != 2 or tok[0].upper() not in ("LD", "ST"):
                raise InputError(f"malformed Ramulator 2 trace line {text!r}", file=source,
                                 line=no, expected="'LD|ST <addr>' (the format of the first "
                                                   "request line)")
            addr.append(_int(tok[1], source, no, "address"))
            wr.append(tok[0].upper() == "ST")
            arr.append(len(arr))
    if fmt is None:
        raise InputError("trace has no requests", file=source,
                         expected="lines '0x<addr> READ|WRITE <cycle>' or 'LD|ST <addr>'")
    return Trace(arrival=np.asarray(arr, np.int64), address=np.asarray(addr, np.int64),
                 is_write=np.asarray(wr, bool), format=fmt, source=source,
                 line_numbers=np.asarray(lines_no, np.int64))


def read_trace(path: str | Path) -> Trace:
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as fh:
            return parse_trace(fh, str(path))
    except FileNotFoundError:
        raise InputError("trace file not found", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read trace: {exc}", file=str(path)) from None


def check_capacity(trace: Trace, capacity_bytes: int, standard: str) -> None:
    """Addresses beyond capacity are bad input: name the line."""
    if not len(trace):
        return
    over = np.nonzero(trace.address >= capacity_bytes)[0]
    if len(over):
        i = int(over[0])
        line = int(trace.line_numbers[i]) if trace.line_numbers is not None else None
        raise InputError(f"address {hex(int(trace.address[i]))} is beyond the "
                         f"{capacity_bytes / 2**30:g} GiB of {standard}", file=trace.source,
                         line=line, expected=f"addresses below {hex(capacity_bytes)}")


def write_trace(path: str | Path, arrival, address, is_write, fmt: str = _DRAMSIM3) -> None:
    """Write a trace DRAMsim3 or Ramulator 2 can read."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for a, ad, w in zip(arrival, address, is_write, strict=True):
            if fmt == _DRAMSIM3:
                fh.write(f"{int(ad):#x} {'WRITE' if w else 'READ'} {int(a)}\n")
            else:
                fh.write(f"{'ST' if w else 'LD'} {int(ad):#x}\n")
