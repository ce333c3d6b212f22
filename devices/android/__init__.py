"""Android targets over ADB (adbutils): commands, files, counters, hygiene."""

from devices.android.device import AndroidDevice

__all__ = ["AndroidDevice"]
