"""Files on a target: where a path lives on it and pushing a file only when it changed.

Shared by the profile session and the runtimes that stage a model on a device
(``profiler.session``, ``profiler.runtimes.cli``); ``dev`` is any
:class:`~devices.base.Device`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any


def dpath(dev: Any, path: str) -> str:
    """``path`` on the device (under its root prefix where it has one)."""
    return dev.path(path) if hasattr(dev, "path") else path


def push_if_changed(dev: Any, local: Path, remote: str, sha: str) -> bool:
    """Push ``local`` to ``remote`` unless the device already has the same bytes (sha256)."""
    res = dev.run(["sh", "-c", f"sha256sum {shlex.quote(remote)} 2>/dev/null"], timeout=120.0)
    if res.returncode == 0 and res.stdout.split()[:1] == [sha]:
        return False
    dev.run(["mkdir", "-p", os.path.dirname(remote)], timeout=30.0)
    dev.push(str(local), remote)
    return True
