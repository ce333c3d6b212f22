"""Find targets: ``get_device(name)`` and ``list_devices()``.

Names: ``local``; an adb serial (USB serial or ``host:port``, connected if needed);
``jetson`` (this board) or ``jetson:[user@]host`` (over the system ``ssh``);
``ios`` or ``ios:UDID`` (needs the ``ios`` extra and usbmuxd).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from devices.base import Device
from devices.errors import DeviceError

log = logging.getLogger(__name__)


def is_jetson(root: str = "/") -> bool:
    model = os.path.join(root, "proc/device-tree/model")
    try:
        with open(model, errors="replace") as fh:
            if "jetson" in fh.read().lower():
                return True
    except OSError:
        pass
    return os.path.exists(os.path.join(root, "etc/nv_tegra_release"))


def get_device(name: str, adb_port: int = 5037, **kw: Any) -> Device:
    """The target called ``name`` (see the module docstring)."""
    if name == "local":
        if is_jetson():
            from devices.jetson.device import JetsonDevice
            return JetsonDevice()
        from devices.local import LocalDevice
        return LocalDevice(**kw)
    if name == "jetson" or name.startswith("jetson:"):
        from devices.jetson.device import JetsonDevice
        host = name.partition(":")[2] or None
        return JetsonDevice(ssh_host=host, **kw)
    if name == "ios" or name.startswith("ios:"):
        from devices.ios.device import IOSDevice
        return IOSDevice(udid=name.partition(":")[2] or None)
    from devices.android.device import AndroidDevice
    return AndroidDevice(name, adb_port=adb_port, **kw)


def list_devices(adb_port: int = 5037, notes: list[str] | None = None) -> list[Device]:
    """The local host plus every adb device in state ``device`` and any iOS device.

    Transports that cannot be asked (no adb server, no usbmuxd) add a line to ``notes``.
    """
    notes = notes if notes is not None else []
    out: list[Device] = [get_device("local")]
    from devices.android import adb as adbhost
    if adbhost.server_running(adb_port):
        for serial, state, _tags in adbhost.list_serials(adb_port):
            if state != "device":
                notes.append(f"adb: {serial} is {state}")
                continue
            try:
                out.append(get_device(serial, adb_port=adb_port))
            except DeviceError as exc:
                notes.append(f"adb: {serial}: {exc}")
    else:
        notes.append(f"adb: no server on port {adb_port} (start one with "
                     f"`adb -P {adb_port} start-server` to list Android devices)")
    try:
        from devices.ios.device import list_udids
        for udid in list_udids():
            out.append(get_device(f"ios:{udid}"))
    except DeviceError as exc:
        notes.append(f"ios: {exc}")
    return out
