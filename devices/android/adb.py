"""The host side of ADB: which ``adb`` binary, a server on a chosen port, an adbutils client.

Nothing here starts a background server silently: :func:`start_server` is explicit and
logs what it runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess

import adbutils

from devices.errors import DeviceTimeout, DeviceUnavailable

log = logging.getLogger(__name__)
DEFAULT_PORT = 5037


def adb_binary() -> str:
    """``$ADBUTILS_ADB_PATH``, then ``adb`` on PATH, then the binary shipped in adbutils."""
    path = os.environ.get("ADBUTILS_ADB_PATH") or shutil.which("adb")
    if path:
        return path
    try:
        return adbutils.adb_path()
    except Exception as exc:  # adbutils raises its own error when it has no binary
        raise DeviceUnavailable("no adb binary: install Android platform-tools "
                                "(Debian: apt install adb) or adbutils with its wheel") from exc


def client(port: int = DEFAULT_PORT, timeout: float = 10.0) -> adbutils.AdbClient:
    return adbutils.AdbClient(host="127.0.0.1", port=port, socket_timeout=timeout)


def server_running(port: int = DEFAULT_PORT) -> bool:
    """Whether something listens on the adb server port (never starts a server)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def start_server(port: int = DEFAULT_PORT, adb: str | None = None, timeout: float = 20.0,
                 env: dict[str, str] | None = None) -> None:
    """Run ``adb -P PORT start-server`` (logged) and wait for it."""
    adb = adb or adb_binary()
    log.info("starting adb server: %s -P %d start-server", adb, port)
    try:
        subprocess.run([adb, "-P", str(port), "start-server"], check=True, timeout=timeout,
                       capture_output=True, env=env)
    except subprocess.TimeoutExpired as exc:
        raise DeviceTimeout(f"adb -P {port} start-server", timeout) from exc
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DeviceUnavailable(f"cannot start the adb server on port {port}: {exc}") from exc


def connect(addr: str, port: int = DEFAULT_PORT, timeout: float = 10.0) -> None:
    """``adb connect host:port`` through the server; raises DeviceUnavailable on refusal."""
    try:
        out = client(port, timeout).connect(addr, timeout=timeout)
    except adbutils.AdbTimeout as exc:
        raise DeviceTimeout(f"adb connect {addr}", timeout) from exc
    except adbutils.AdbError as exc:
        raise DeviceUnavailable(f"adb connect {addr} failed: {exc}") from exc
    if "connected" not in out:
        raise DeviceUnavailable(f"adb connect {addr}: {out.strip()}")


def list_serials(port: int = DEFAULT_PORT) -> list[tuple[str, str, dict[str, str]]]:
    """(serial, state, tags) of every device the server on ``port`` knows."""
    return [(d.serial, d.state, d.tags) for d in client(port, 5.0).list(extended=True)]
