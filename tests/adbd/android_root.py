"""Build a temporary Android-like root for the test adbd.

``make_root(path, vendor=...)`` writes the sysfs trees the Android reader looks for
(``sys/class/power_supply``, ``sys/class/thermal``, ``sys/devices/system/cpu/*/cpufreq``,
``sys/class/kgsl``), ``data/local/tmp``, property and settings stores, and the stub
``getprop``/``dumpsys``/``settings`` commands in ``system/bin``.

Vendor profiles are the fuel-gauge conventions seen on real phones (the numbers follow
each convention; the device discharges at about 0.41 A at 3.87 V):

* ``pixel``: µA, negative while discharging (the kernel's documented convention)
* ``xiaomi``: µA, positive while discharging (Mi 8 / Poco F1 / OnePlus 6 family)
* ``samsung``: mA, negative while discharging (S20 FE / S21 / A52s)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

VENDORS = {
    "pixel": {"current_now": -412345, "model": "Pixel 7", "platform": "gs201",
              "manufacturer": "Google", "device": "panther"},
    "xiaomi": {"current_now": 412345, "model": "MI 8", "platform": "sdm845",
               "manufacturer": "Xiaomi", "device": "dipper"},
    "samsung": {"current_now": -412, "model": "SM-G991B", "platform": "exynos2100",
                "manufacturer": "samsung", "device": "o1s"},
}

THERMAL_ZONES = [("cpu0-silver-usr", 41200), ("cpu4-gold-usr", 45300), ("gpu-usr", 39800),
                 ("battery", 30100), ("skin-therm", 33400)]

DEFAULT_SETTINGS = {
    "system": {"screen_brightness": "143", "screen_brightness_mode": "1",
               "screen_off_timeout": "30000"},
    "global": {"heads_up_notifications_enabled": "1", "stay_on_while_plugged_in": "0"},
    "secure": {},
}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_root(path: str | Path, vendor: str = "pixel", status: str = "Discharging",
              usb_online: bool = False, serial: str = "neumelt-test") -> Path:
    """Create (or refresh the sysfs of) an Android-like tree at ``path``; returns it."""
    root = Path(path)
    v = VENDORS[vendor]
    bat = root / "sys/class/power_supply/battery"
    for name, value in {"type": "Battery", "status": status, "present": "1",
                        "current_now": str(v["current_now"]), "voltage_now": "3870000",
                        "charge_counter": "3125000", "capacity": "85", "temp": "301",
                        "technology": "Li-ion"}.items():
        _write(bat / name, value + "\n")
    _write(root / "sys/class/power_supply/usb/type", "USB\n")
    _write(root / "sys/class/power_supply/usb/online", ("1" if usb_online else "0") + "\n")
    for i, (typ, temp) in enumerate(THERMAL_ZONES):
        _write(root / f"sys/class/thermal/thermal_zone{i}/type", typ + "\n")
        _write(root / f"sys/class/thermal/thermal_zone{i}/temp", f"{temp}\n")
    for cpu in range(8):
        d = root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
        khz = 1804800 if cpu < 4 else 2419200
        _write(d / "scaling_cur_freq", f"{khz}\n")
        _write(d / "cpuinfo_max_freq", f"{khz}\n")
        _write(d / "scaling_governor", "schedutil\n")
    _write(root / "sys/class/kgsl/kgsl-3d0/gpuclk", "585000000\n")
    _write(root / "sys/class/kgsl/kgsl-3d0/gpu_busy_percentage", "23 %\n")
    (root / "data/local/tmp").mkdir(parents=True, exist_ok=True)
    (root / "sdcard").mkdir(parents=True, exist_ok=True)
    props = {"ro.product.model": v["model"], "ro.product.manufacturer": v["manufacturer"],
             "ro.product.device": v["device"], "ro.board.platform": v["platform"],
             "ro.hardware": v["platform"], "ro.build.version.release": "14",
             "ro.build.version.sdk": "34", "ro.serialno": serial,
             "ro.product.cpu.abi": "arm64-v8a", "ro.build.fingerprint":
             f"{v['manufacturer']}/{v['device']}/{v['device']}:14/UQ1A.240205.004/1:user/release-keys"}
    _write(root / "data/props.json", json.dumps(props, indent=1))
    settings = root / "data/system/settings.json"
    if not settings.exists():
        _write(settings, json.dumps(DEFAULT_SETTINGS, indent=1))
    for stub in ("getprop", "settings", "dumpsys"):
        target = root / "system/bin" / stub
        _write(target, f"#!{sys.executable}\n" + (HERE / "stubs" / f"{stub}.py").read_text())
        target.chmod(0o755)
    return root


def settings(root: str | Path) -> dict[str, dict[str, str]]:
    """The settings store as the device sees it now."""
    return json.loads((Path(root) / "data/system/settings.json").read_text())
