"""Long-running commands whose output is read while they run (a runtime, a server).

``proc = dev.spawn(argv)``; ``proc.lines(timeout)`` yields output lines (stdout and stderr
merged) until the command ends; ``proc.close()`` stops it (on Android: closing the adb
stream ends the remote shell).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from typing import Any

from devices.errors import DeviceTimeout


class Spawned:
    """Base: a running command on some target."""

    def lines(self, idle_timeout: float = 60.0) -> Iterator[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Spawned:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalSpawned(Spawned):
    def __init__(self, argv: list[str], **popen: Any) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, errors="replace",
                                     start_new_session=True, **popen)

    def lines(self, idle_timeout: float = 60.0) -> Iterator[str]:
        assert self.proc.stdout is not None
        out: list[str | None] = []
        ready = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:         # type: ignore[union-attr]
                out.append(line)
                ready.set()
            out.append(None)
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        while True:
            if not out and not ready.wait(idle_timeout):
                raise DeviceTimeout("spawned command (no output)", idle_timeout)
            ready.clear()
            while out:
                item = out.pop(0)
                if item is None:
                    return
                yield item.rstrip("\n")

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class AdbSpawned(Spawned):
    """A shell stream over adb (``shell:`` v1: stdout and stderr merged)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def lines(self, idle_timeout: float = 60.0) -> Iterator[str]:
        sock = self.conn.conn
        sock.settimeout(idle_timeout)
        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise DeviceTimeout("spawned command over adb (no output)", idle_timeout) from None
            except OSError:
                chunk = b""
            if not chunk:
                if buf:
                    yield buf.decode("utf-8", "replace")
                return
            buf += chunk
            *done, buf = buf.split(b"\n")
            for line in done:
                yield line.decode("utf-8", "replace").rstrip("\r")

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass
