"""Targets neumelt can measure: the local host, Android over ADB, Jetson boards, iOS.

``get_device("local")`` or ``get_device(serial, adb_port=...)`` returns a
:class:`~devices.base.Device`; ``list_devices()`` lists every reachable one.
Nothing in this package knows about LLMs.
"""

from __future__ import annotations

from devices.base import (
    ClockOffset,
    CounterSource,
    Device,
    DeviceInfo,
    RunResult,
)
from devices.errors import (
    CommandFailed,
    DeviceError,
    DeviceGone,
    DeviceTimeout,
    DeviceUnavailable,
)
from devices.registry import get_device, list_devices

__all__ = ["ClockOffset", "CommandFailed", "CounterSource", "Device", "DeviceError",
           "DeviceGone", "DeviceInfo", "DeviceTimeout", "DeviceUnavailable", "RunResult",
           "get_device", "list_devices"]
