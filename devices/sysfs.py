"""Readers of Linux sysfs trees under an injectable root (``/`` on a real host).

Thermal zones, RAPL powercap domains (with counter wrap-around), cpufreq, power_supply
batteries and INA3221 hwmon rails. Each discovery function returns what exists; a
missing tree gives an empty list and the caller reports the source as unavailable.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from devices.procfs import temp_c


def read_text(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def read_int(path: str) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def _join(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


# -- thermal ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ThermalZone:
    index: int
    type: str
    temp_path: str


def thermal_zones(root: str = "/") -> list[ThermalZone]:
    out = []
    for d in glob.glob(_join(root, "/sys/class/thermal/thermal_zone*")):
        try:
            idx = int(d.rsplit("thermal_zone", 1)[1])
        except ValueError:
            continue
        if not os.path.exists(os.path.join(d, "temp")):
            continue
        out.append(ThermalZone(idx, read_text(os.path.join(d, "type")) or f"zone{idx}",
                               os.path.join(d, "temp")))
    return sorted(out, key=lambda z: z.index)


def read_zone(zone: ThermalZone) -> float | None:
    """°C, or None when unreadable or the zone reads the -256 °C 'off' sentinel."""
    raw = read_text(zone.temp_path)
    return temp_c(raw) if raw is not None else None


# -- RAPL ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RaplDomain:
    name: str                 # package-0, core, uncore, dram, psys
    energy_path: str
    max_range_uj: int | None


def rapl_domains(root: str = "/") -> list[RaplDomain]:
    out = []
    for d in sorted(glob.glob(_join(root, "/sys/class/powercap/intel-rapl:*"))):
        energy = os.path.join(d, "energy_uj")
        if not os.path.exists(energy):
            continue
        name = read_text(os.path.join(d, "name")) or os.path.basename(d)
        sub = os.path.basename(d)
        if sub.count(":") > 1:                      # intel-rapl:0:1 -> package-0/core
            parent = read_text(os.path.join(os.path.dirname(d), sub.rsplit(":", 1)[0], "name"))
            name = f"{parent}/{name}" if parent else name
        out.append(RaplDomain(name, energy, read_int(os.path.join(d, "max_energy_range_uj"))))
    return out


def rapl_delta_uj(prev: int, cur: int, max_range_uj: int | None) -> int | None:
    """Energy between two ``energy_uj`` reads, across one wrap-around of the counter."""
    if cur >= prev:
        return cur - prev
    if not max_range_uj:
        return None
    return cur + max_range_uj - prev


# -- cpufreq ---------------------------------------------------------------------------
def cpufreq_paths(root: str = "/") -> list[tuple[int, str]]:
    out = []
    for d in glob.glob(_join(root, "/sys/devices/system/cpu/cpu[0-9]*")):
        path = os.path.join(d, "cpufreq", "scaling_cur_freq")
        if os.path.exists(path):
            out.append((int(d.rsplit("cpu", 1)[1]), path))
    return sorted(out)


# -- batteries -------------------------------------------------------------------------
def batteries(root: str = "/") -> list[str]:
    return sorted(d for d in glob.glob(_join(root, "/sys/class/power_supply/*"))
                  if (read_text(os.path.join(d, "type")) or "").lower() == "battery")


def battery_power_w(supply_dir: str) -> float | None:
    """Laptop-style battery draw in W (``power_now`` µW, else current×voltage), >0 discharging."""
    status = (read_text(os.path.join(supply_dir, "status")) or "").lower()
    p = read_int(os.path.join(supply_dir, "power_now"))
    if p is None:
        i = read_int(os.path.join(supply_dir, "current_now"))
        v = read_int(os.path.join(supply_dir, "voltage_now"))
        if i is None or v is None:
            return None
        p = abs(i) * v / 1e6
    watts = abs(p) / 1e6
    return -watts if status == "charging" else watts


# -- INA3221 hwmon rails -----------------------------------------------------------------
@dataclass(frozen=True)
class Rail:
    """One INA3221 channel: ``in<N>_input`` mV and ``curr<N>_input`` mA, named by its label."""

    label: str
    voltage_path: str
    current_path: str
    hwmon: str


def ina3221_rails(root: str = "/") -> list[Rail]:
    """Every labelled INA3221 channel; labels are discovered (``NC`` = not connected)."""
    rails = []
    for hw in sorted(glob.glob(_join(root, "/sys/class/hwmon/hwmon*")) +
                     glob.glob(_join(root, "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*"))):
        name = read_text(os.path.join(hw, "name")) or ""
        if "ina3221" not in name.lower():
            continue
        for label_path in sorted(glob.glob(os.path.join(hw, "in*_label"))):
            chan = os.path.basename(label_path)[2:-6]
            label = read_text(label_path) or ""
            if not label or label.upper() == "NC" or not chan.isdigit():
                continue
            v = os.path.join(hw, f"in{chan}_input")
            c = os.path.join(hw, f"curr{chan}_input")
            if os.path.exists(v) and os.path.exists(c):
                rails.append(Rail(label, v, c, os.path.realpath(hw)))
    seen = set()
    unique = []
    for r in rails:                       # the same hwmon may be reached by two paths
        key = (r.hwmon, r.label)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def read_rail(rail: Rail) -> tuple[float | None, float | None, float | None]:
    """(voltage_v, current_a, power_w) of one rail."""
    mv = read_int(rail.voltage_path)
    ma = read_int(rail.current_path)
    v = mv / 1000.0 if mv is not None else None
    a = ma / 1000.0 if ma is not None else None
    return v, a, (v * a if v is not None and a is not None else None)
