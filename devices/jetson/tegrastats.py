"""A ``tegrastats`` line parser tolerant of every JetPack format variant.

One small function per token, each quoting the format it reads (NVIDIA L4T
"AppendixTegraStats" and lines recorded on named boards, see tests/data/devices):

* optional date ``MM-DD-YYYY HH:MM:SS`` (JetPack 5+);
* ``RAM 2257/30536MB (lfb 5392x4MB)``, ``SWAP 0/15268MB (cached 0MB)``, ``IRAM 0/252kB(lfb 252kB)``;
* ``CPU [23%@2201,10%@2201,off,...]`` (also ``X%`` without a clock on old boards);
* ``EMC_FREQ 3%@3199``, ``GR3D_FREQ 12%@[1300,1300]`` (JetPack 7: one clock per GPC),
  ``GR3D_FREQ @[...]`` (Thor), ``GR3D_FREQ 0%@76``;
* engines ``APE 150``, ``NVENC0 off``, ``NVDEC 1190``, ``VIC_FREQ 0%@115``;
* temperatures ``cpu@52.968C`` or ``cpu@52.968C/52.968C``; ``-256C`` means the zone is off;
* rails ``VDD_IN 5000mW/4800mW``, ``POM_5V_IN 933/933`` (no unit, mW), two or three values
  (current/average[/peak]).

Values are normalised to base units in the field names: bytes, Hz, °C, W, fractions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_UNIT = {"B": 1, "kB": 1024, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}

_DATE = re.compile(r"^\s*(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)([kKMG]?B)(?: ?\(lfb (\d+)x(\d+)([kKMG]?B)\))?")
_SWAP = re.compile(r"\bSWAP (\d+)/(\d+)([kKMG]?B)(?: ?\(cached (\d+)([kKMG]?B)\))?")
_IRAM = re.compile(r"\bIRAM (\d+)/(\d+)([kKMG]?B)")
_CPU = re.compile(r"\bCPU \[([^\]]*)\]")
_EMC = re.compile(r"\bEMC_FREQ (?:(\d+)%)?(?:@(\d+))?")
_GR3D = re.compile(r"\bGR3D_FREQ (?:(\d+)%)?(?:@\[?([\d,]+)\]?)?")
_TEMP = re.compile(r"(?<![\w@])([A-Za-z][\w-]*)@(-?\d+(?:\.\d+)?)C(?:/(-?\d+(?:\.\d+)?)C)?")
_RAIL = re.compile(r"(?<![\w@])([A-Z][A-Z0-9_]*)\s+(\d+)(?:mW)?/(\d+)(?:mW)?(?:/(\d+)(?:mW)?)?(?![\w/])")
_ENGINE = re.compile(r"(?<![\w@])([A-Z][A-Z0-9_]*) (off|\d+%@\d+|\d+)(?![\w/%@.])")
_NOT_RAILS = {"RAM", "SWAP", "IRAM", "CPU", "EMC_FREQ", "GR3D_FREQ", "MTS"}
_NOT_ENGINES = _NOT_RAILS | {"GR3D", "EMC"}


@dataclass(frozen=True)
class Rail:
    """One power rail: current and running-average power in W (peak if printed)."""

    now_w: float
    avg_w: float
    peak_w: float | None = None


@dataclass(frozen=True)
class TegraSample:
    """One tegrastats line. Absent tokens are None / empty."""

    time: datetime | None = None
    ram_used_b: int | None = None
    ram_total_b: int | None = None
    lfb_blocks: int | None = None
    lfb_block_b: int | None = None
    swap_used_b: int | None = None
    swap_total_b: int | None = None
    swap_cached_b: int | None = None
    iram_used_b: int | None = None
    cpus: tuple[tuple[float | None, float | None] | None, ...] = ()   # (util, Hz); None = off
    emc_util: float | None = None
    emc_freq_hz: float | None = None
    gpu_util: float | None = None
    gpu_freq_hz: tuple[float, ...] = ()
    engines: dict[str, float | None] = field(default_factory=dict)    # Hz; None = off
    temps_c: dict[str, float | None] = field(default_factory=dict)    # None = sensor off
    rails: dict[str, Rail] = field(default_factory=dict)


def parse_date(line: str) -> datetime | None:
    """``07-25-2026 09:08:28`` at the start of JetPack 5+ lines (month first)."""
    m = _DATE.match(line)
    return datetime.strptime(m.group(1), "%m-%d-%Y %H:%M:%S") if m else None


def parse_ram(line: str) -> dict[str, int | None]:
    """``RAM 2257/30536MB (lfb 5392x4MB)``."""
    m = _RAM.search(line)
    if not m:
        return {}
    u = _UNIT[m.group(3)]
    out: dict[str, int | None] = {"ram_used_b": int(m.group(1)) * u,
                                  "ram_total_b": int(m.group(2)) * u}
    if m.group(4):
        out["lfb_blocks"] = int(m.group(4))
        out["lfb_block_b"] = int(m.group(5)) * _UNIT[m.group(6)]
    return out


def parse_swap(line: str) -> dict[str, int | None]:
    """``SWAP 0/15268MB (cached 0MB)``."""
    m = _SWAP.search(line)
    if not m:
        return {}
    u = _UNIT[m.group(3)]
    out: dict[str, int | None] = {"swap_used_b": int(m.group(1)) * u,
                                  "swap_total_b": int(m.group(2)) * u}
    if m.group(4):
        out["swap_cached_b"] = int(m.group(4)) * _UNIT[m.group(5)]
    return out


def parse_cpus(line: str) -> tuple[tuple[float | None, float | None] | None, ...]:
    """``CPU [23%@2201,off,5%]``: (util 0..1, Hz) per core, None for an offline core."""
    m = _CPU.search(line)
    if not m:
        return ()
    out: list[tuple[float | None, float | None] | None] = []
    for item in m.group(1).split(","):
        item = item.strip()
        if item == "off" or not item:
            out.append(None)
            continue
        util_s, _, freq_s = item.partition("@")
        util = float(util_s.rstrip("%")) / 100 if util_s.rstrip("%").isdigit() else None
        freq = float(freq_s) * 1e6 if freq_s.isdigit() else None
        out.append((util, freq))
    return tuple(out)


def parse_emc(line: str) -> dict[str, float | None]:
    """``EMC_FREQ 3%@3199`` (MHz) or ``EMC_FREQ 0%``."""
    m = _EMC.search(line)
    if not m:
        return {}
    return {"emc_util": float(m.group(1)) / 100 if m.group(1) else None,
            "emc_freq_hz": float(m.group(2)) * 1e6 if m.group(2) else None}


def parse_gr3d(line: str) -> dict[str, object]:
    """``GR3D_FREQ 12%@[1300,1300]``, ``GR3D_FREQ 0%@76``, ``GR3D_FREQ @[...]`` (Thor)."""
    m = _GR3D.search(line)
    if not m:
        return {}
    freqs = tuple(float(f) * 1e6 for f in (m.group(2) or "").split(",") if f)
    return {"gpu_util": float(m.group(1)) / 100 if m.group(1) else None, "gpu_freq_hz": freqs}


def parse_temps(line: str) -> dict[str, float | None]:
    """``cpu@52.968C`` / ``cpu@52.968C/52.968C``; -256 (off) becomes None."""
    out: dict[str, float | None] = {}
    for m in _TEMP.finditer(line):
        v = float(m.group(2))
        out[m.group(1)] = None if v <= -256 else v
    return out


def parse_rails(line: str) -> dict[str, Rail]:
    """``VDD_IN 5000mW/4800mW[/5100mW]`` or ``POM_5V_IN 933/933`` (mW)."""
    out = {}
    for m in _RAIL.finditer(line):
        name = m.group(1)
        if name in _NOT_RAILS or name == "NC":      # NC: channel not connected
            continue
        peak = float(m.group(4)) / 1000 if m.group(4) else None
        out[name] = Rail(float(m.group(2)) / 1000, float(m.group(3)) / 1000, peak)
    return out


def parse_engines(line: str) -> dict[str, float | None]:
    """``APE 150``, ``NVENC0 off``, ``VIC_FREQ 0%@115``: engine clock in Hz, None when off."""
    out: dict[str, float | None] = {}
    for m in _ENGINE.finditer(line):
        name, value = m.group(1), m.group(2)
        if name in _NOT_ENGINES:
            continue
        if value == "off":
            out[name] = None
        else:
            mhz = value.rpartition("@")[2]
            out[name] = float(mhz) * 1e6
    return out


def parse_line(line: str) -> TegraSample | None:
    """One tegrastats line; None for a line that has none of RAM, CPU or rails."""
    rails = parse_rails(line)
    ram = parse_ram(line)
    cpus = parse_cpus(line)
    if not (ram or cpus or rails):
        return None
    gr3d = parse_gr3d(line)
    iram = _IRAM.search(line)
    return TegraSample(
        time=parse_date(line), **ram, **parse_swap(line),
        iram_used_b=int(iram.group(1)) * _UNIT[iram.group(3)] if iram else None,
        cpus=cpus, **parse_emc(line),
        gpu_util=gr3d.get("gpu_util"), gpu_freq_hz=gr3d.get("gpu_freq_hz", ()),  # type: ignore[arg-type]
        engines=parse_engines(line), temps_c=parse_temps(line), rails=rails)


def total_power_w(sample: TegraSample) -> tuple[str, float] | None:
    """The board's input power: ``VDD_IN`` / ``POM_5V_IN`` (already totals, jetson_stats#51),
    AGX Orin's ``VIN_SYS_5V0`` (#344); else the sum of the other rails."""
    for name in ("VDD_IN", "POM_5V_IN", "VIN_SYS_5V0", "VIN"):
        if name in sample.rails:
            return name, sample.rails[name].now_w
    if sample.rails:
        return "sum of rails", sum(r.now_w for r in sample.rails.values())
    return None


def readings(sample: TegraSample) -> list[tuple[str, str, float | None, str]]:
    """(source, name, value, unit) rows of one sample, for the results store."""
    out: list[tuple[str, str, float | None, str]] = []
    for key in ("ram_used_b", "ram_total_b", "swap_used_b", "swap_total_b", "swap_cached_b"):
        v = getattr(sample, key)
        if v is not None:
            out.append(("memory", key[:-2], float(v), "B"))
    for i, cpu in enumerate(sample.cpus):
        out.append(("cpu", f"util.cpu{i}", cpu[0] if cpu else None, "fraction"))
        out.append(("cpu", f"freq.cpu{i}", cpu[1] if cpu else None, "Hz"))
    if sample.emc_freq_hz is not None or sample.emc_util is not None:
        out.append(("emc", "util", sample.emc_util, "fraction"))
        out.append(("emc", "freq", sample.emc_freq_hz, "Hz"))
    if sample.gpu_util is not None or sample.gpu_freq_hz:
        out.append(("gpu", "util", sample.gpu_util, "fraction"))
        for i, f in enumerate(sample.gpu_freq_hz):
            out.append(("gpu", "freq" if i == 0 else f"freq.gpc{i}", f, "Hz"))
    for name, f in sample.engines.items():
        out.append(("engine", name, f, "Hz"))
    for name, t in sample.temps_c.items():
        out.append(("thermal", name, t, "C"))
    for name, r in sample.rails.items():
        out.append(("power.rails", f"{name}.power_w", r.now_w, "W"))
        out.append(("power.rails", f"{name}.avg_w", r.avg_w, "W"))
    tot = total_power_w(sample)
    if tot:
        out.append(("power.rails", "total_w", tot[1], "W"))
    return out
