"""Device hygiene for Android measurements, restored even after a crash.

Before a session: brightness in manual mode at a fixed level, the screen never times
out, heads-up notifications off; the charging state is recorded and warned about
(a phone on USB measures the charger, not itself). The original values are written to a
host-side JSON file *before* anything changes, so a crashed session (killed host,
vanished phone) is repaired by :func:`restore_pending` on the next connection;
:class:`Hygiene` restores in ``__exit__`` on success, error and Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: (namespace, key, value during measurement); brightness is filled in per session
SETTINGS: tuple[tuple[str, str, str | None], ...] = (
    ("system", "screen_brightness_mode", "0"),          # 0 = manual
    ("system", "screen_brightness", None),              # fixed level (0..255)
    ("system", "screen_off_timeout", "2147483647"),     # ms: never
    ("global", "heads_up_notifications_enabled", "0"),
)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return Path(base) / "neumelt" / "hygiene"


def _state_file(state_dir: str | Path | None, serial: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", serial)
    return Path(state_dir or default_state_dir()) / f"{safe}.json"


@dataclass(frozen=True)
class HygieneReport:
    """What was changed and the charging state seen at the start."""

    saved: dict[str, str]
    applied: dict[str, str]
    charging: bool | None
    plugged: tuple[str, ...]
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"saved": self.saved, "applied": self.applied, "charging": self.charging,
                "plugged": list(self.plugged), "warnings": list(self.warnings)}


def _get(dev: Any, ns: str, key: str) -> str:
    return dev.run(["settings", "get", ns, key], timeout=15).check(
        ["settings", "get", ns, key]).stdout.strip()


def _put(dev: Any, ns: str, key: str, value: str) -> None:
    if value == "null":
        dev.run(["settings", "delete", ns, key], timeout=15)
    else:
        argv = ["settings", "put", ns, key, value]
        dev.run(argv, timeout=15).check(argv)


class Hygiene:
    """``with Hygiene(dev) as report:`` applies the settings and always restores them."""

    def __init__(self, dev: Any, state_dir: str | Path | None = None, brightness: int = 102,
                 allow_charging: bool = True) -> None:
        self.dev = dev
        self.state_file = _state_file(state_dir or getattr(dev, "hygiene_dir", None), dev.serial)
        self.brightness = brightness
        self.allow_charging = allow_charging
        self.report: HygieneReport | None = None

    def apply(self) -> HygieneReport:
        restore_pending(self.dev, self.state_file.parent)   # a crashed session first
        saved = {f"{ns}/{key}": _get(self.dev, ns, key) for ns, key, _ in SETTINGS}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"serial": self.dev.serial, "saved": saved}, indent=1))
        tmp.replace(self.state_file)
        applied = {}
        for ns, key, value in SETTINGS:
            value = value if value is not None else str(self.brightness)
            _put(self.dev, ns, key, value)
            applied[f"{ns}/{key}"] = value
        warnings = []
        charging = None
        plugged: tuple[str, ...] = ()
        try:
            bat = self.dev.battery()
            plugged = tuple(bat.get("plugged") or ())
            charging = bool(plugged) or bat.get("status") == "Charging"
        except Exception as exc:  # a device without dumpsys battery: record, don't fail
            warnings.append(f"charging state unknown: {exc}")
        if charging:
            msg = (f"{self.dev.serial} is charging (plugged: {', '.join(plugged) or '?'}): the "
                   "fuel gauge then shows net battery current, not device power")
            warnings.append(msg)
            log.warning(msg)
        self.report = HygieneReport(saved, applied, charging, plugged, tuple(warnings))
        return self.report

    def restore(self) -> bool:
        return restore_pending(self.dev, self.state_file.parent)

    def __enter__(self) -> HygieneReport:
        return self.apply()

    def __exit__(self, *exc: object) -> None:
        try:
            self.restore()
        except Exception as err:  # device gone: the state file stays for the next connection
            log.warning("hygiene not restored now (%s); it will be on the next connection", err)


def restore_pending(dev: Any, state_dir: str | Path | None = None) -> bool:
    """Restore settings saved by an unfinished session on ``dev``; True if there were any."""
    path = _state_file(state_dir, dev.serial)
    if not path.exists():
        return False
    try:
        saved = json.loads(path.read_text())["saved"]
    except (ValueError, KeyError, OSError):
        log.warning("unreadable hygiene state %s; removed", path)
        path.unlink(missing_ok=True)
        return False
    for item, value in saved.items():
        ns, _, key = item.partition("/")
        _put(dev, ns, key, value)
    path.unlink(missing_ok=True)
    log.info("restored settings on %s from %s", dev.serial, path)
    return True


def pending(serial: str, state_dir: str | Path | None = None) -> dict[str, str] | None:
    """Saved settings waiting to be restored on ``serial``, if any."""
    path = _state_file(state_dir, serial)
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("saved")
