"""Test support for devices/: a real adb server talking to the test adbd over TCP.

Reusable from any test module (``from devices_support import adb_server, adbd``):

* ``adb_server`` (session fixture) -> :class:`AdbServer`: a private adb server
  (``adb -P <port>``, its own ``HOME`` so ``~/.android/adbkey`` stays in a temp dir),
  killed at the end of the session. ``.port``, ``.adb`` (binary), ``.env``, ``.run(*args)``.
* ``adbd`` (function fixture) -> :class:`TestAdbd`: a fresh Android-like root
  (``tests/adbd/android_root.py``, vendor ``pixel``) and the stdlib adbd (``tests/adbd/adbd.py``)
  as a child process on 127.0.0.1, on a port outside 5555-5585, connected with
  ``adb connect``. ``.serial`` ("127.0.0.1:PORT"), ``.port``, ``.root`` (Path),
  ``.adb_port``, ``.device()`` -> :class:`devices.android.AndroidDevice`, ``.kill()``
  (SIGKILL, as if the phone vanished), ``.restart()`` (same root and port), ``.stop()``.

Commands run on this host under ``bash`` with ``ROOT/system/bin`` first on PATH; build
device paths with ``dev.path("/data/local/tmp/x")`` (prefixes the root). Which adb: the
``NEUMELT_TEST_ADB`` variable, else Debian's ``/usr/bin/adb``, else adbutils' bundled one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "adbd"))

from android_root import make_root  # noqa: E402

ADBD = HERE / "adbd" / "adbd.py"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 outside adb's emulator scan range 5555-5585."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 5554 <= port <= 5586:
            return port


def find_adb() -> str:
    env = os.environ.get("NEUMELT_TEST_ADB")
    if env:
        return env
    if os.path.exists("/usr/bin/adb"):
        return "/usr/bin/adb"
    found = shutil.which("adb")
    if found:
        return found
    import adbutils
    return adbutils.adb_path()


class AdbServer:
    """A private adb server on its own port with its own HOME."""

    def __init__(self, base: Path, adb: str | None = None) -> None:
        self.adb = adb or find_adb()
        self.port = free_port()
        self.home = base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, HOME=str(self.home), ANDROID_USER_HOME=str(self.home / ".android"))

    def run(self, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.adb, "-P", str(self.port), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        r = self.run("start-server")
        if r.returncode != 0:
            raise RuntimeError(f"adb start-server failed: {r.stderr}")

    def stop(self) -> None:
        try:
            self.run("kill-server", timeout=10)
        except subprocess.TimeoutExpired:
            pass


class TestAdbd:
    """The stdlib adbd in a child process, over an Android-like root."""

    __test__ = False

    def __init__(self, server: AdbServer, base: Path, vendor: str = "pixel",
                 port: int | None = None) -> None:
        self.server = server
        self.adb_port = server.port
        self.base = base
        self.root = make_root(base / "root", vendor=vendor)
        self.port = port or free_port()
        self.serial = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.hygiene_dir = base / "hygiene"

    def start(self, connect: bool = True) -> None:
        ready = self.base / "adbd.ready"
        ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(ADBD), "--port", str(self.port), "--root", str(self.root),
             "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"adbd exited: {self.proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("adbd did not start within 15 s")
            time.sleep(0.02)
        if connect:
            self.connect()

    def connect(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.server.run("connect", self.serial)
            r = self.server.run("-s", self.serial, "get-state")
            if r.stdout.strip() == "device":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.serial} not online: {r.stdout} {r.stderr}")
            self.server.run("disconnect", self.serial)   # stale transport of a killed daemon
            time.sleep(0.1)

    def device(self, **kw):  # noqa: ANN201 - AndroidDevice
        from devices.android import AndroidDevice
        kw.setdefault("hygiene_dir", self.hygiene_dir)
        return AndroidDevice(self.serial, adb_port=self.adb_port, root=str(self.root), **kw)

    def kill(self) -> None:
        """SIGKILL the daemon (the phone 'vanishes'); its children die on their next write."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start(connect=True)

    def stop(self) -> None:
        self.server.run("disconnect", self.serial)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture(scope="session")
def adb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdbServer]:
    server = AdbServer(tmp_path_factory.mktemp("adb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def adbd(adb_server: AdbServer, tmp_path: Path) -> Iterator[TestAdbd]:
    daemon = TestAdbd(adb_server, tmp_path)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
