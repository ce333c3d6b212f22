"""Readers for what pymobiledevice3 prints, recorded or live, into store samples.

* ``developer dvt sysmon process monitor ... --output out.jsonl``: one JSON object per
  line, each a process snapshot (``pid``, ``name``, ``physFootprint`` bytes,
  ``memResidentSize`` bytes, ``memAnon``, ``cpuUsage`` %, ``cpuTotalUser``/``System`` ns,
  ``diskBytesRead``...), optionally with ``timestamp`` (epoch s or ISO 8601) or wrapped as
  ``{"timestamp": ..., "processes": [...]}``.
* ``diagnostics battery monitor`` / ``battery single``: dicts of the ``IOPMPowerSource``
  entry: ``InstantAmperage`` mA (negative = discharging), ``Voltage`` or
  ``AppleRawBatteryVoltage`` mV, ``Temperature`` centi-°C, ``IsCharging``, ``CurrentCapacity`` %.
* ``developer dvt energy PID``: ``energy.cost``, ``energy.cpu.cost``... Xcode energy-gauge
  scores: stored unitless (unit ``score``), never as joules.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from neumelt.errors import InputError
from neumelt.store import Sample

#: sysmon process attribute -> (sample name, unit, scale to base unit)
SYSMON_KEYS = {
    "physFootprint": ("phys_footprint", "B", 1.0),
    "memResidentSize": ("rss", "B", 1.0),
    "memAnon": ("anon", "B", 1.0),
    "memAnonPeak": ("anon_peak", "B", 1.0),
    "memCompressed": ("compressed", "B", 1.0),
    "cpuUsage": ("cpu_util", "fraction", 0.01),
    "cpuTotalUser": ("cpu_user_s", "s", 1e-9),
    "cpuTotalSystem": ("cpu_system_s", "s", 1e-9),
    "diskBytesRead": ("disk_read", "B", 1.0),
    "diskBytesWritten": ("disk_written", "B", 1.0),
    "faults": ("faults", "count", 1.0),
    "avgPowerScore": ("power_score", "score", 1.0),
}


def _time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _lines(text: str, file: str) -> list[tuple[int, Any]]:
    """JSON objects one after another: JSONL or pretty-printed (pymobiledevice3 prints
    indented dicts on a terminal); returns (line number, object)."""
    out = []
    dec = json.JSONDecoder()
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            return out
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc.msg}", file=file, line=line,
                             expected="JSON objects, one per line (JSONL) or indented") from None
        out.append((line, obj))


def read_sysmon(text: str, file: str = "<sysmon>", name: str | None = None,
                interval_s: float = 0.5) -> list[Sample]:
    """Samples (source ``ios.process.<pid>``) from sysmon JSONL; ``name`` filters processes.

    Lines without a timestamp are spaced ``interval_s`` apart (sysmon's default 500 ms);
    ``t_host_s`` is then the device time, to be aligned with a clock offset.
    """
    out: list[Sample] = []
    for i, (_no, obj) in enumerate(_lines(text, file)):
        t = _time(obj.get("timestamp") or obj.get("time")) if isinstance(obj, dict) else None
        procs = obj.get("processes") if isinstance(obj, dict) and "processes" in obj else [obj]
        if isinstance(procs, dict):
            procs = list(procs.values())
        t = t if t is not None else i * interval_s
        for p in procs:
            if not isinstance(p, dict) or (name and p.get("name") != name):
                continue
            src = f"ios.process.{p.get('pid', '?')}"
            for key, (sname, unit, scale) in SYSMON_KEYS.items():
                if key in p:
                    v = p[key]
                    out.append(Sample(src, sname, t, float(v) * scale if v is not None else None,
                                      unit, t))
    return out


def battery_readings(entry: dict[str, Any]) -> dict[str, float | None]:
    """One IOPMPowerSource dict -> current_a (positive = discharging), voltage_v, power_w,
    temp_c, level_pct, charging (1/0)."""
    amps = entry.get("InstantAmperage", entry.get("Amperage"))
    mv = entry.get("Voltage", entry.get("AppleRawBatteryVoltage"))
    temp = entry.get("Temperature")
    current = -float(amps) / 1000.0 if amps is not None else None      # negative = discharging
    volts = float(mv) / 1000.0 if mv is not None else None
    charging = entry.get("IsCharging")
    return {"current_a": current, "voltage_v": volts,
            "power_w": current * volts if current is not None and volts is not None else None,
            "temp_c": float(temp) / 100.0 if temp is not None else None,
            "level_pct": float(entry["CurrentCapacity"]) if "CurrentCapacity" in entry else None,
            "charging": (1.0 if charging else 0.0) if charging is not None else None}


UNITS = {"current_a": "A", "voltage_v": "V", "power_w": "W", "temp_c": "C", "level_pct": "%",
         "charging": "bool"}


def read_battery(text: str, file: str = "<battery>", interval_s: float = 1.0) -> list[Sample]:
    """Samples (source ``ios.battery``, fuel gauge) from battery monitor JSONL or one JSON dict."""
    entries = _lines(text, file)
    out = []
    for i, (_no, entry) in enumerate(entries):
        t = _time(entry.get("timestamp")) if isinstance(entry, dict) else None
        t = t if t is not None else i * interval_s
        for k, v in battery_readings(entry).items():
            out.append(Sample("ios.battery", k, t, v, UNITS[k], t))
    return out


def read_energy(text: str, file: str = "<energy>", interval_s: float = 1.0) -> list[Sample]:
    """Xcode energy-gauge scores from ``dvt energy`` JSONL: unit ``score``, never joules."""
    out = []
    for i, (_no, obj) in enumerate(_lines(text, file)):
        entries = obj.values() if isinstance(obj, dict) and all(
            isinstance(v, dict) for v in obj.values()) else [obj]
        t = i * interval_s
        for e in entries:
            pid = e.get("pid", "?") if isinstance(e, dict) else "?"
            for k, v in (e.items() if isinstance(e, dict) else []):
                if k.startswith("energy.") and isinstance(v, (int, float)):
                    out.append(Sample(f"ios.energy.{pid}", k, t, float(v), "score", t))
    return out
