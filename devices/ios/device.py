"""An iOS device through pymobiledevice3 (extra ``ios``) and usbmuxd.

Without pymobiledevice3, or without usbmuxd / a device, every entry point raises
:class:`~devices.errors.DeviceUnavailable` with what to install or start. Live sampling
and commands need iOS 17+ developer services (a tunnel: ``pymobiledevice3 remote
tunneld``); this class describes the device and points to recorded readers in
:mod:`devices.ios.readers` for sysmon, battery and energy output.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any

from devices.base import ClockOffset, CounterSource, CounterStream, Device, DeviceInfo, RunResult
from devices.errors import DeviceUnavailable

INSTALL = ("pymobiledevice3 is not installed: pip install 'neumelt[ios]' "
           "(and run usbmuxd on Linux)")


def _usbmux() -> Any:
    try:
        from pymobiledevice3 import usbmux
    except ImportError:
        raise DeviceUnavailable(INSTALL) from None
    return usbmux


def list_udids() -> list[str]:
    """UDIDs usbmuxd knows; raises DeviceUnavailable with the fix when it cannot be asked."""
    usbmux = _usbmux()
    try:
        result = usbmux.list_devices()
        if inspect.isawaitable(result):      # a coroutine since pymobiledevice3 11
            result = asyncio.run(result)
    except Exception as exc:
        raise DeviceUnavailable(f"cannot reach usbmuxd ({exc}); on Linux start it "
                                "(`usbmuxd -f`) and plug in an unlocked, trusted iPhone") from None
    return [d.serial for d in result]


class IOSDevice(Device):
    """An iPhone or iPad; readers for recorded output work without one."""

    kind = "ios"

    def __init__(self, udid: str | None = None) -> None:
        udids = list_udids()
        if not udids:
            raise DeviceUnavailable("usbmuxd lists no iOS device: plug one in, unlock it and "
                                    "trust this host")
        if udid and udid not in udids:
            raise DeviceUnavailable(f"iOS device {udid} not found; usbmuxd lists "
                                    f"{', '.join(udids)}")
        self.serial = udid or udids[0]

    def info(self) -> DeviceInfo:
        from pymobiledevice3.lockdown import create_using_usbmux
        ld = create_using_usbmux(serial=self.serial)
        values = ld.all_values
        return DeviceInfo("ios", values.get("ProductType"), values.get("HardwareModel"), None,
                          None, f"iOS {values.get('ProductVersion')}", self.serial)

    def _needs_tunnel(self, what: str) -> DeviceUnavailable:
        return DeviceUnavailable(f"{what} on iOS needs developer services through a tunnel "
                                 "(`sudo pymobiledevice3 remote tunneld`); record with "
                                 "`pymobiledevice3 developer dvt sysmon process monitor` and "
                                 "import the JSONL instead")

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> RunResult:
        raise self._needs_tunnel("running commands")

    def push(self, local: str, remote: str) -> None:
        raise self._needs_tunnel("copying files")

    def pull(self, remote: str, local: str) -> None:
        raise self._needs_tunnel("copying files")

    def sources(self) -> list[CounterSource]:
        return [CounterSource("ios.battery", "power", 1.0, True, quality="fuel gauge",
                              counters=("current_a", "voltage_v", "power_w", "temp_c")),
                CounterSource("ios.sysmon", "memory", 2.0, True,
                              counters=("phys_footprint", "rss", "cpu_util")),
                CounterSource("ios.energy", "power", 1.0, True, quality="model estimate",
                              why="Xcode energy-gauge scores are unitless, never joules")]

    def clock_offset(self) -> ClockOffset:
        raise self._needs_tunnel("clock offset")

    def process_memory(self, pid: int) -> dict[str, int | None]:
        raise self._needs_tunnel("process memory")

    def open_counters(self, rates: dict[str, float], pids: Sequence[int] = ()) -> CounterStream:
        raise self._needs_tunnel("live sampling")
