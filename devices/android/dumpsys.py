"""Parsers for Android command output: ``getprop``, ``dumpsys battery``, ``dumpsys meminfo``,
``dumpsys thermalservice``. Each returns base units (bytes, volts, °C); absent -> None.
"""

from __future__ import annotations

import re

_PROP = re.compile(r"^\[(?P<k>[^\]]*)\]: \[(?P<v>.*)\]$")
_TEMP = re.compile(r"Temperature\{mValue=(?P<v>[-0-9.eE]+), mType=(?P<t>-?\d+), "
                   r"mName=(?P<n>[^,]*), mStatus=(?P<s>-?\d+)\}")

#: BatteryManager.BATTERY_STATUS_* codes
BATTERY_STATUS = {1: "Unknown", 2: "Charging", 3: "Discharging", 4: "Not charging", 5: "Full"}
#: PowerManager thermal status 0..6
THERMAL_STATUS = ("none", "light", "moderate", "severe", "critical", "emergency", "shutdown")


def parse_getprop(text: str) -> dict[str, str]:
    """``[ro.product.model]: [Pixel 7]`` lines -> dict."""
    out = {}
    for line in text.splitlines():
        m = _PROP.match(line.strip())
        if m:
            out[m["k"]] = m["v"]
    return out


def parse_battery(text: str) -> dict[str, object]:
    """``dumpsys battery`` -> level %, voltage_v, temperature_c, status text, plugged flags."""
    raw: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            raw[key.strip().lower()] = value.strip()

    def num(key: str) -> float | None:
        try:
            return float(raw[key])
        except (KeyError, ValueError):
            return None

    status_code = num("status")
    voltage = num("voltage")
    temp = num("temperature")
    plugged = [k.split()[0] for k in ("ac powered", "usb powered", "wireless powered",
                                      "dock powered") if raw.get(k) == "true"]
    charge = num("charge counter")
    return {
        "level_pct": num("level"),
        "voltage_v": voltage / 1000.0 if voltage is not None else None,   # mV
        "temperature_c": temp / 10.0 if temp is not None else None,        # tenths of °C
        "status": BATTERY_STATUS.get(int(status_code)) if status_code is not None else None,
        "plugged": plugged,
        "charge_counter_uah": charge,
    }


def parse_thermalservice(text: str) -> dict[str, object]:
    """``dumpsys thermalservice`` -> status (0..6 and name) and HAL temperatures in °C."""
    status = None
    m = re.search(r"Thermal Status:\s*(\d+)", text)
    if m:
        status = int(m.group(1))
    section = text
    cut = text.find("Current temperatures from HAL:")
    if cut >= 0:
        section = text[cut:]
        end = section.find("Current cooling devices")
        section = section[:end] if end > 0 else section
    temps = {}
    for t in _TEMP.finditer(section):
        temps[t["n"]] = {"temp_c": float(t["v"]), "type": int(t["t"]), "status": int(t["s"])}
    return {"status": status,
            "status_name": THERMAL_STATUS[status] if status is not None and status < 7 else None,
            "temperatures": temps}


def parse_meminfo(text: str) -> dict[str, int | None]:
    """``dumpsys meminfo <pid|pkg>`` -> bytes: total_pss, total_rss, swap_pss, and per-row
    Pss of the category table (``native_heap``, ``dalvik_heap``, ``so_mmap``, ``gfx_dev``...).
    """
    out: dict[str, int | None] = {"total_pss": None, "total_rss": None, "total_swap_pss": None}
    m = re.search(r"TOTAL PSS:\s*(\d+)", text)
    if m:
        out["total_pss"] = int(m.group(1)) * 1024
    m = re.search(r"TOTAL RSS:\s*(\d+)", text)
    if m:
        out["total_rss"] = int(m.group(1)) * 1024
    m = re.search(r"TOTAL SWAP(?: PSS)?(?: \(KB\))?:\s*(\d+)", text)
    if m:
        out["total_swap_pss"] = int(m.group(1)) * 1024
    in_table = False
    for line in text.splitlines():
        if "MEMINFO in pid" in line:
            in_table = True
            continue
        if "App Summary" in line:
            break
        if not in_table:
            continue
        m = re.match(r"^\s*([A-Za-z.][A-Za-z .]*?)\s+(\d+)(\s+\d+)*\s*$", line)
        if m:
            label = m.group(1).strip().lower().replace(" ", "_").replace(".", "")
            out[label] = int(m.group(2)) * 1024
    if out["total_pss"] is None and "total" in out:
        out["total_pss"] = out["total"]
    return out
