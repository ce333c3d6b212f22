"""DRAM standards as data: YAML presets -> frozen :class:`DramStandard` -> integer tables.

A preset (``sim/standards/<name>.yaml``) lists the organisation, the timing table (JEDEC names,
``n`` prefix = cycles of the command clock), IDD power values, PIM parameters and the timing
constraints as data: ``(level, prev, next, latency expression)`` plus rolling windows (nFAW).
:meth:`DramStandard.tables` compiles them, once, into numpy arrays for the numba kernel, so the
engine never hard-codes a timing number. ns -> cycles conversion happens only in
:meth:`DramStandard.cycles`.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import numpy as np

from neumelt.config import Doc, build, load_yaml
from neumelt.errors import InputError
from sim.dram import commands as C

STANDARDS_DIR = Path(__file__).resolve().parent.parent / "standards"
LevelName = Literal["bank", "bank_group", "rank", "pseudo_channel", "channel", "sibling_rank"]


def _pow2(name: str, v: int) -> None:
    if v <= 0 or v & (v - 1):
        raise ValueError(f"{name} must be a positive power of two, got {v}")


@dataclass(frozen=True)
class Organization:
    """Geometry of one device. ``columns`` counts bus-width words per row."""

    channels: int
    pseudo_channels: int
    bank_groups: int
    banks_per_group: int
    rows: int
    columns: int
    burst_length: int
    bus_bits: int

    def __post_init__(self) -> None:
        for f in fields(self):
            _pow2(f.name, getattr(self, f.name))
        if self.columns < self.burst_length:
            raise ValueError("columns must be at least burst_length")

    @property
    def banks(self) -> int:
        """Banks per channel (all pseudo-channels)."""
        return self.pseudo_channels * self.bank_groups * self.banks_per_group

    @property
    def burst_bytes(self) -> int:
        """Bytes moved by one RD/WR burst."""
        return self.burst_length * self.bus_bits // 8

    @property
    def row_bytes(self) -> int:
        return self.columns * self.bus_bits // 8

    @property
    def bursts_per_row(self) -> int:
        return self.columns // self.burst_length

    @property
    def channel_bytes(self) -> int:
        return self.banks * self.rows * self.row_bytes

    @property
    def capacity_bytes(self) -> int:
        return self.channels * self.channel_bytes


@dataclass(frozen=True)
class Timing:
    """Timing table in command-clock cycles (JEDEC names with the ``n`` prefix)."""

    nBL: int
    nCL: int
    nCWL: int
    nRCDRD: int
    nRCDWR: int
    nRP: int
    nRAS: int
    nRC: int
    nRRD_S: int
    nRRD_L: int
    nFAW: int
    nWR: int
    nCCD_S: int
    nCCD_L: int
    nWTR_S: int
    nWTR_L: int
    nRTP_S: int
    nRTP_L: int
    nRTRS: int
    nRFC: int
    nREFI: int

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0")
        for f in ("nBL", "nCL", "nRCDRD", "nRCDWR", "nRP", "nRAS", "nRC", "nRFC", "nREFI"):
            if getattr(self, f) <= 0:
                raise ValueError(f"{f} must be > 0")
        pairs = [("nRAS", "nRC"), ("nRRD_S", "nRRD_L"), ("nCCD_S", "nCCD_L"),
                 ("nWTR_S", "nWTR_L"), ("nRTP_S", "nRTP_L"), ("nRRD_S", "nFAW")]
        for small, big in pairs:
            if getattr(self, small) > getattr(self, big):
                raise ValueError(f"timing values contradict each other: {small} "
                                 f"({getattr(self, small)}) > {big} ({getattr(self, big)})")
        if self.nRC < self.nRAS + self.nRP:
            raise ValueError(f"timing values contradict each other: nRC ({self.nRC}) < "
                             f"nRAS + nRP ({self.nRAS + self.nRP})")
        if self.nRCDRD >= self.nRAS:
            raise ValueError(f"timing values contradict each other: nRCDRD ({self.nRCDRD}) "
                             f">= nRAS ({self.nRAS})")
        if self.nRFC >= self.nREFI:
            raise ValueError(f"timing values contradict each other: nRFC ({self.nRFC}) >= "
                             f"nREFI ({self.nREFI})")

    @property
    def nRCD(self) -> int:
        return self.nRCDRD

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Power:
    """IDD power model values: volts and milliamps (per pseudo-channel)."""

    VDD: float
    IDD0: float
    IDD2N: float
    IDD3N: float
    IDD4R: float
    IDD4W: float
    IDD5AB: float

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"{f.name} must be > 0")
        if self.IDD3N < self.IDD2N:
            raise ValueError("IDD3N (active standby) must be >= IDD2N (precharge standby)")


@dataclass(frozen=True)
class PimParams:
    """Newton-style all-bank PIM parameters (cycles carry ``n``)."""

    multipliers_per_bank: int
    global_buffer_bytes: int
    readres_bytes: int
    nGWRITE: int
    nGWRITE_BUS: int
    nCOMP: int
    comps_min: int
    g_act_weight: int
    comp_energy_reads: float
    g_act_energy_acts: float

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0")
        if self.nCOMP <= 0 or self.multipliers_per_bank <= 0:
            raise ValueError("nCOMP and multipliers_per_bank must be > 0")

    def timing_names(self) -> dict[str, int]:
        return {"nGWRITE": self.nGWRITE, "nGWRITE_BUS": self.nGWRITE_BUS, "nCOMP": self.nCOMP}


@dataclass(frozen=True)
class Constraint:
    """``next`` may not issue earlier than ``latency`` cycles after ``prev`` at ``level``."""

    level: LevelName
    prev: str | list[str]
    next: list[str]
    latency: str | int


@dataclass(frozen=True)
class Window:
    """At most ``count`` activations (weighted) per ``window`` cycles at ``level`` (nFAW)."""

    level: Literal["rank", "pseudo_channel"]
    commands: list[str]
    count: int
    window: str | int


@dataclass(frozen=True)
class PimConstraints:
    common: list[Constraint] = field(default_factory=list)
    single: list[Constraint] = field(default_factory=list)
    dual: list[Constraint] = field(default_factory=list)


@dataclass(frozen=True)
class _StandardFile:
    name: str
    base: str | None = None
    description: str = ""
    tCK_ps: float | None = None
    address_mapping: str | None = None
    org: Organization | None = None
    timing: Timing | None = None
    power: Power | None = None
    pim: PimParams | None = None
    constraints: list[Constraint] | None = None
    windows: list[Window] | None = None
    pim_constraints: PimConstraints | None = None


@dataclass(frozen=True)
class Tables:
    """Constraint tables compiled for the kernel (CSR over the preceding command)."""

    con_ptr: np.ndarray     # int64[N_COMMANDS + 1]
    con_level: np.ndarray   # int64[k]
    con_next: np.ndarray    # int64[k]
    con_lat: np.ndarray     # int64[k]
    win_weight: np.ndarray  # int64[N_COMMANDS]: activations a command adds to the window
    win_count: int
    win_cycles: int
    row_buffer: str


@dataclass(frozen=True, eq=False)
class DramStandard:
    """A resolved DRAM standard: organisation, timing (cycles), power, PIM, constraints."""

    name: str
    description: str
    tck_ps: float
    org: Organization
    timing: Timing
    power: Power
    pim: PimParams
    constraints: tuple[Constraint, ...]
    windows: tuple[Window, ...]
    pim_constraints: PimConstraints
    address_mapping: str = "rorabgbachco"
    source: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _tables: dict[str, Tables] = field(default_factory=dict, compare=False, repr=False)

    @property
    def clock_hz(self) -> float:
        return 1e12 / self.tck_ps

    @property
    def channel_peak_bytes_per_cycle(self) -> float:
        return self.org.burst_bytes / self.timing.nBL

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        """Data-bus peak over all channels, bytes/s (refresh not deducted)."""
        return self.org.channels * self.channel_peak_bytes_per_cycle * self.clock_hz

    @property
    def refresh_availability(self) -> float:
        """Fraction of time a rank is not refreshing: 1 - nRFC / nREFI."""
        return 1.0 - self.timing.nRFC / self.timing.nREFI

    def cycles(self, ns: float) -> int:
        """The one ns -> cycles conversion (rounded up)."""
        return int(-(-round(ns * 1000.0, 6) // self.tck_ps))

    def seconds(self, cycles: float) -> float:
        return cycles * self.tck_ps * 1e-12

    def names(self) -> dict[str, int]:
        """Every name a latency expression may use."""
        out = self.timing.as_dict()
        out.update(self.pim.timing_names())
        return out

    def tables(self, row_buffer: str = "dual") -> Tables:
        if row_buffer not in ("single", "dual"):
            raise InputError(f"unknown row buffer mode {row_buffer!r}", key="row_buffer",
                             expected="'single' or 'dual'")
        return _compile(self, row_buffer)


# --------------------------------------------------------------------------- expressions
_ALLOWED_FUNCS = {"max": max, "min": min}


def eval_latency(expr: str | int, names: dict[str, int], *, where: str = "",
                 file: str | None = None, line: int | None = None) -> int:
    """Evaluate a latency expression (+, -, *, //, max, min over timing names) to cycles."""
    if isinstance(expr, int):
        return expr

    def err(msg: str) -> InputError:
        return InputError(msg, file=file, key=where or None, line=line,
                          expected="an expression over timing names, e.g. nCWL + nBL + nWR")

    try:
        tree = ast.parse(str(expr), mode="eval")
    except SyntaxError:
        raise err(f"cannot parse latency {expr!r}") from None

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise err(f"unknown timing name {node.id!r} in {expr!r}")
            return names[node.id]
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, (ast.FloorDiv, ast.Div)) and b != 0:
                return a // b
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _ALLOWED_FUNCS and node.args and not node.keywords):
            return _ALLOWED_FUNCS[node.func.id](ev(a) for a in node.args)
        raise err(f"unsupported expression {expr!r}")

    return int(ev(tree))


# --------------------------------------------------------------------------- loading
def list_presets() -> list[str]:
    return sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml"))


def _resolve_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    preset = STANDARDS_DIR / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    raise InputError(f"unknown DRAM standard {str(name_or_path)!r}", key="preset",
                     expected="one of " + ", ".join(list_presets()) + " or a YAML file path")


def load_standard(name_or_path: str | Path) -> DramStandard:
    """Load a preset by name (``hbm2-neupims``, ``hbm3``) or a YAML file path."""
    path = _resolve_path(name_or_path)
    return _load(str(path.resolve()) if path.exists() else str(path), 0)


@functools.lru_cache(maxsize=32)
def _load(path: str, depth: int) -> DramStandard:
    if depth > 4:
        raise InputError("too many nested 'base' standards", file=path, key="base")
    doc = load_yaml(path)
    assert isinstance(doc, Doc)
    raw = build(_StandardFile, doc.data, doc=doc)
    base: DramStandard | None = None
    if raw.base is not None:
        try:
            bpath = _resolve_path(raw.base)
        except InputError:
            raise doc.error("base", f"unknown base standard {raw.base!r}",
                            "one of " + ", ".join(list_presets())) from None
        base = _load(str(bpath.resolve()), depth + 1)

    def pick(key: str):
        v = getattr(raw, key)
        if v is None:
            if base is None:
                raise doc.error("", f"missing required key '{key}'")
            return getattr(base, {"tCK_ps": "tck_ps"}.get(key, key))
        return v

    std = DramStandard(
        name=raw.name, description=raw.description, tck_ps=float(pick("tCK_ps")),
        org=pick("org"), timing=pick("timing"), power=pick("power"), pim=pick("pim"),
        constraints=tuple(pick("constraints")), windows=tuple(pick("windows")),
        pim_constraints=pick("pim_constraints"),
        address_mapping=raw.address_mapping or (base.address_mapping if base else "rorabgbachco"),
        source=path, lines=dict(doc.lines))
    if std.tck_ps <= 0:
        raise doc.error("tCK_ps", f"got {std.tck_ps}", "a positive clock period in ps")
    for mode in ("single", "dual"):
        _compile(std, mode)  # validate names and levels now, with file and line
    return std


def _code(name: str, path: str, std: DramStandard) -> int:
    if name not in C.COMMAND_CODES:
        raise InputError(f"unknown command {name!r}", file=std.source, key=path,
                         line=std.lines.get(path), expected="one of " + ", ".join(C.COMMAND_NAMES))
    return C.COMMAND_CODES[name]


def _compile(std: DramStandard, row_buffer: str) -> Tables:
    if row_buffer not in std._tables:
        std._tables[row_buffer] = _compile_uncached(std, row_buffer)
    return std._tables[row_buffer]


def _compile_uncached(std: DramStandard, row_buffer: str) -> Tables:
    names = std.names()
    groups = [("constraints", std.constraints),
              ("pim_constraints.common", std.pim_constraints.common),
              (f"pim_constraints.{row_buffer}", getattr(std.pim_constraints, row_buffer))]
    best: dict[tuple[int, int, int], int] = {}
    for gname, cons in groups:
        for i, con in enumerate(cons):
            path = f"{gname}[{i}]"
            line = std.lines.get(path)
            lat = eval_latency(con.latency, names, where=f"{path}.latency", file=std.source,
                               line=line)
            level = C.LEVEL_CODES[con.level]
            prevs = [con.prev] if isinstance(con.prev, str) else con.prev
            for p in prevs:
                pc = _code(p, f"{path}.prev", std)
                for n in con.next:
                    nc = _code(n, f"{path}.next", std)
                    tgt = C.COMMAND_TARGET[nc]
                    if tgt == C.TARGET_CHANNEL and level != C.LEVEL_CHANNEL:
                        raise InputError(f"{n} addresses the whole channel; its constraints "
                                         "must be at level 'channel'", file=std.source,
                                         key=f"{path}.level", line=line)
                    if level == C.LEVEL_SIBLING and C.COMMAND_TARGET[pc] == C.TARGET_CHANNEL:
                        raise InputError(f"{p} has no rank; it cannot carry a sibling_rank "
                                         "constraint", file=std.source, key=f"{path}.level",
                                         line=line)
                    if lat <= 0:
                        continue
                    k = (pc, level, nc)
                    best[k] = max(best.get(k, 0), lat)
    keys = sorted(best)
    ptr = np.zeros(C.N_COMMANDS + 1, dtype=np.int64)
    for pc, _, _ in keys:
        ptr[pc + 1] += 1
    ptr = np.cumsum(ptr).astype(np.int64)
    level_arr = np.array([k[1] for k in keys], dtype=np.int64)
    next_arr = np.array([k[2] for k in keys], dtype=np.int64)
    lat_arr = np.array([best[k] for k in keys], dtype=np.int64)
    weight = np.zeros(C.N_COMMANDS, dtype=np.int64)
    win_count, win_cycles = 0, 0
    for i, w in enumerate(std.windows):
        path = f"windows[{i}]"
        if win_count:
            raise InputError("only one activation window (nFAW) is supported", file=std.source,
                             key=path, line=std.lines.get(path))
        win_count = int(w.count)
        win_cycles = eval_latency(w.window, names, where=f"{path}.window", file=std.source,
                                  line=std.lines.get(path))
        for cname in w.commands:
            c = _code(cname, f"{path}.commands", std)
            weight[c] = std.pim.g_act_weight if c == C.G_ACT else 1
        if win_count < std.pim.g_act_weight and weight[C.G_ACT]:
            raise InputError(f"window count {win_count} is smaller than pim.g_act_weight "
                             f"{std.pim.g_act_weight}", file=std.source, key=f"{path}.count",
                             line=std.lines.get(path))
    return Tables(con_ptr=ptr, con_level=level_arr, con_next=next_arr, con_lat=lat_arr,
                  win_weight=weight, win_count=win_count, win_cycles=win_cycles,
                  row_buffer=row_buffer)
