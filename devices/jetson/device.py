"""A Jetson board, on the board itself or from a host through the system ``ssh`` client.

On the board: everything :class:`~devices.local.LocalDevice` reads, plus INA3221 rails from
hwmon (labels discovered, ``NC`` skipped; quality "on-device rails") and thermal zones
without the -256 °C sentinels. Over ssh: commands and files through ``ssh``/``scp`` with
argument lists, and counters from one long-running ``tegrastats --interval MS`` parsed
line by line.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator, Sequence

from devices import sysfs
from devices.base import (
    POWER_QUALITY,
    ClockOffset,
    CounterSource,
    CounterStream,
    DeviceInfo,
    Reading,
    RunResult,
    Tick,
    quote_argv,
)
from devices.clock import estimate_offset, host_now
from devices.errors import DeviceGone, DeviceTimeout, DeviceUnavailable
from devices.jetson import tegrastats
from devices.local import LocalDevice
from devices.polling import PolledStream
from devices.procfs import process_memory


class JetsonDevice(LocalDevice):
    """This board (``ssh_host`` None) or a board reached with ``ssh ssh_host``."""

    kind = "jetson"

    def __init__(self, ssh_host: str | None = None, sysfs_root: str = "/",
                 ssh_options: Sequence[str] = ("-o", "BatchMode=yes", "-o",
                                               "ConnectTimeout=10")) -> None:
        super().__init__(sysfs_root=sysfs_root, nvml=False)
        self.ssh_host = ssh_host
        self.ssh_options = list(ssh_options)
        self.serial = f"jetson:{ssh_host}" if ssh_host else "jetson"
        self._rails = [] if ssh_host else sysfs.ina3221_rails(sysfs_root)
        if ssh_host:
            r = self.run(["true"], timeout=20)
            if r.returncode != 0:
                raise DeviceUnavailable(f"ssh {ssh_host} failed ({r.stderr.strip()}); set up "
                                        "key-based login (ssh-copy-id) first")

    # -- transport -----------------------------------------------------------------------
    def _ssh(self, argv: Sequence[str]) -> list[str]:
        return ["ssh", *self.ssh_options, self.ssh_host or "", quote_argv(argv)]

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> RunResult:
        if not self.ssh_host:
            return super().run(argv, timeout)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(self._ssh(argv), capture_output=True, text=True,
                               timeout=timeout, errors="replace")
        except subprocess.TimeoutExpired as exc:
            raise DeviceTimeout(f"ssh {self.ssh_host} {argv[0]}", timeout) from exc
        if p.returncode == 255:
            raise DeviceGone(f"ssh {self.ssh_host}: {p.stderr.strip()}")
        return RunResult(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)

    def push(self, local: str, remote: str) -> None:
        if not self.ssh_host:
            return super().push(local, remote)
        subprocess.run(["scp", "-q", *self.ssh_options, local, f"{self.ssh_host}:{remote}"],
                       check=True, timeout=3600)

    def pull(self, remote: str, local: str) -> None:
        if not self.ssh_host:
            return super().pull(remote, local)
        subprocess.run(["scp", "-q", *self.ssh_options, f"{self.ssh_host}:{remote}", local],
                       check=True, timeout=3600)

    def forward(self, remote_port: int) -> int:
        if not self.ssh_host:
            return remote_port
        raise DeviceUnavailable("use `ssh -L PORT:127.0.0.1:PORT` for port forwarding to a "
                                "Jetson over ssh")

    # -- description --------------------------------------------------------------------
    def info(self) -> DeviceInfo:
        if not self.ssh_host:
            base = super().info()
            model = sysfs.read_text("/proc/device-tree/model") or base.model
            rel = sysfs.read_text("/etc/nv_tegra_release")
            return DeviceInfo("jetson", (model or "").strip("\x00"), base.soc, base.cores,
                              base.ram_bytes, rel.splitlines()[0] if rel else base.os,
                              self.serial)
        out = self.run(["sh", "-c", "tr -d '\\0' </proc/device-tree/model; echo; nproc; "
                        "head -1 /proc/meminfo; head -1 /etc/nv_tegra_release"]).stdout
        lines = out.splitlines() + [""] * 4
        ram = int(lines[2].split()[1]) * 1024 if lines[2].startswith("MemTotal") else None
        return DeviceInfo("jetson", lines[0] or None, "tegra", int(lines[1]) if
                          lines[1].isdigit() else None, ram, lines[3] or None, self.serial)

    def sources(self) -> list[CounterSource]:
        if self.ssh_host:
            return [CounterSource("tegrastats", "power", 10.0, True,
                                  quality=POWER_QUALITY[1],
                                  counters=("rails", "cpu", "gpu", "emc", "thermal", "memory"))]
        out = [s for s in super().sources() if s.name not in ("power.nvml", "gpu")]
        out.insert(0, CounterSource("power.ina3221", "power", 10.0, bool(self._rails),
                                    "" if self._rails else "no INA3221 hwmon channels",
                                    quality=POWER_QUALITY[1],
                                    counters=tuple(r.label for r in self._rails)))
        return out

    def clock_offset(self) -> ClockOffset:
        if not self.ssh_host:
            return super().clock_offset()
        return estimate_offset(lambda: float(self.run(["date", "+%s.%N"], timeout=15).stdout))

    def process_memory(self, pid: int) -> dict[str, int | None]:
        if not self.ssh_host:
            return super().process_memory(pid)
        r = self.run(["sh", "-c", f"cat /proc/{int(pid)}/status; echo @@SPLIT@@; "
                      f"cat /proc/{int(pid)}/smaps_rollup 2>/dev/null"])
        status, _, smaps = r.stdout.partition("@@SPLIT@@")
        return process_memory(status, smaps)

    # -- counters -----------------------------------------------------------------------
    def rails_reader(self) -> list[Reading]:
        out = []
        for rail in self._rails:
            v, a, w = sysfs.read_rail(rail)
            out += [Reading("power.ina3221", f"{rail.label}.voltage_v", v, "V"),
                    Reading("power.ina3221", f"{rail.label}.current_a", a, "A"),
                    Reading("power.ina3221", f"{rail.label}.power_w", w, "W")]
        return out

    def open_counters(self, rates: dict[str, float], pids: Sequence[int] = ()) -> CounterStream:
        if self.ssh_host:
            hz = max([r for r in rates.values() if r] or [1.0])
            return TegrastatsStream(self._ssh(["tegrastats", "--interval",
                                               str(max(10, round(1000 / hz)))]),
                                    self.clock_offset(), 1.0 / hz)
        stream = super().open_counters({k: v for k, v in rates.items() if k != "power"}, pids)
        assert isinstance(stream, PolledStream)
        if rates.get("power") and self._rails:
            stream.groups["power"] = (rates["power"], self.rails_reader)
            stream.periods_s["power"] = 1.0 / rates["power"]
        return stream


class TegrastatsStream(CounterStream):
    """Ticks from a running ``tegrastats`` (here or over ssh), one per line."""

    def __init__(self, argv: list[str], offset: ClockOffset, period_s: float) -> None:
        self.argv = argv
        self.offset = offset
        self.periods_s = {"tegrastats": period_s}
        self._proc: subprocess.Popen[str] | None = None
        self._closed = threading.Event()

    def ticks(self) -> Iterator[Tick]:
        self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            t = host_now()
            s = tegrastats.parse_line(line)
            if s is None:
                continue
            yield Tick("tegrastats", t, t + self.offset.offset_s,
                       tuple(Reading(*r) for r in tegrastats.readings(s)))
        if not self._closed.is_set():
            raise DeviceGone(f"tegrastats ended (exit {self._proc.wait()})")

    def close(self) -> None:
        self._closed.set()
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
