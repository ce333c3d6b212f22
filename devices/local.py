"""The host this runs on: psutil (CPU, memory, processes), RAPL powercap energy, NVIDIA GPUs
through NVML, thermal zones, cpufreq and a laptop battery, each only where it exists.

``sysfs_root`` (default ``/``) is where sysfs is read, so tests can point it at a recorded
tree. A counter that does not exist here is a source with ``available=False`` and a reason;
its values are never reported as 0.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import psutil

from devices import sysfs
from devices.base import (
    POWER_QUALITY,
    ClockOffset,
    CounterSource,
    CounterStream,
    Device,
    DeviceInfo,
    Reading,
    RunResult,
    quote_argv,
)
from devices.clock import wall_offset
from devices.errors import DeviceTimeout
from devices.polling import PolledStream
from devices.procfs import process_memory

RAILS = POWER_QUALITY[1]


class Nvml:
    """NVML (nvidia-ml-py) if a driver is there; ``why`` says why not."""

    def __init__(self) -> None:
        self.handles: list[object] = []
        self.names: list[str] = []
        self.why = ""
        try:
            import pynvml
        except ImportError:
            self.why = "nvidia-ml-py not installed (extra 'nvidia')"
            return
        self.nv = pynvml
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # pynvml.NVMLError_LibraryNotFound, DriverNotLoaded...
            self.why = f"NVML: {exc}"
            return
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            self.handles.append(h)
            name = pynvml.nvmlDeviceGetName(h)
            self.names.append(name.decode() if isinstance(name, bytes) else name)
        if not self.handles:
            self.why = "NVML: no GPU"

    def _try(self, fn, *args):  # noqa: ANN001, ANN202
        try:
            return fn(*args)
        except Exception:
            return None

    def read(self) -> list[Reading]:
        out = []
        nv = self.nv
        for i, h in enumerate(self.handles):
            src = f"gpu{i}"
            mw = self._try(nv.nvmlDeviceGetPowerUsage, h)
            mj = self._try(nv.nvmlDeviceGetTotalEnergyConsumption, h)
            mem = self._try(nv.nvmlDeviceGetMemoryInfo, h)
            sm = self._try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_SM)
            memclk = self._try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_MEM)
            temp = self._try(nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU)
            util = self._try(nv.nvmlDeviceGetUtilizationRates, h)
            out += [Reading(src, "power_w", mw / 1000.0 if mw is not None else None, "W"),
                    Reading(src, "energy_j", mj / 1000.0 if mj is not None else None, "J"),
                    Reading(src, "mem_used_b", float(mem.used) if mem else None, "B"),
                    Reading(src, "sm_clock_hz", sm * 1e6 if sm is not None else None, "Hz"),
                    Reading(src, "mem_clock_hz", memclk * 1e6 if memclk is not None else None,
                            "Hz"),
                    Reading(src, "temp_c", float(temp) if temp is not None else None, "C"),
                    Reading(src, "util", util.gpu / 100.0 if util else None, "fraction")]
        return out


class LocalDevice(Device):
    """This host."""

    kind = "local"

    def __init__(self, sysfs_root: str = "/", nvml: bool = True) -> None:
        self.serial = "local"
        self.sysfs_root = sysfs_root
        self._zones = sysfs.thermal_zones(sysfs_root)
        found = sysfs.rapl_domains(sysfs_root)
        self._rapl = [d for d in found if sysfs.read_int(d.energy_path) is not None]
        self._rapl_why = ("" if self._rapl else
                          "intel-rapl energy_uj not readable (root-only since Linux 5.10: run "
                          "as root or grant read access)" if found else
                          "no /sys/class/powercap/intel-rapl:* (no RAPL on this CPU or VM)")
        self._freq = sysfs.cpufreq_paths(sysfs_root)
        self._bats = sysfs.batteries(sysfs_root)
        self._nvml = Nvml() if nvml else None

    # -- commands and files ------------------------------------------------------------
    def run(self, argv: Sequence[str], timeout: float = 60.0) -> RunResult:
        t0 = time.perf_counter()
        try:
            p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                               errors="replace")
        except subprocess.TimeoutExpired as exc:
            raise DeviceTimeout(f"{argv[0]} on the local host", timeout) from exc
        except OSError as exc:
            return RunResult(127, "", str(exc), time.perf_counter() - t0)
        return RunResult(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)

    def spawn(self, argv: Sequence[str]) -> Any:
        from devices.spawn import LocalSpawned
        if getattr(self, "ssh_host", None):
            return LocalSpawned(["ssh", *self.ssh_options, self.ssh_host,  # type: ignore[attr-defined]
                                 quote_argv(argv)])
        return LocalSpawned(list(argv))

    def push(self, local: str, remote: str) -> None:
        if os.path.abspath(local) != os.path.abspath(remote):
            shutil.copyfile(local, remote)

    def pull(self, remote: str, local: str) -> None:
        self.push(remote, local)

    # -- description -----------------------------------------------------------------
    def info(self) -> DeviceInfo:
        model = None
        soc = None
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    if line.startswith(("model name", "Hardware", "Model")):
                        soc = soc or line.split(":", 1)[1].strip()
        except OSError:
            pass
        dmi = sysfs.read_text(os.path.join(self.sysfs_root, "sys/class/dmi/id/product_name"))
        model = dmi or platform.machine()
        return DeviceInfo(kind="local", model=model, soc=soc or platform.processor() or None,
                          cores=psutil.cpu_count(logical=True),
                          ram_bytes=psutil.virtual_memory().total,
                          os=f"{platform.system()} {platform.release()}",
                          serial=socket.gethostname())

    def sources(self) -> list[CounterSource]:
        nv = self._nvml
        gpus = nv.names if nv else []
        out = [
            CounterSource("power.rapl", "power", 10.0, bool(self._rapl), self._rapl_why,
                          quality=RAILS,
                          counters=tuple(d.name for d in self._rapl)),
            CounterSource("power.nvml", "power", 10.0, bool(gpus),
                          "" if gpus else (nv.why if nv else "NVML disabled"), quality=RAILS,
                          counters=tuple(gpus)),
            CounterSource("battery", "power", 10.0, bool(self._bats),
                          "" if self._bats else "no power_supply of type Battery",
                          quality=POWER_QUALITY[2]),
            CounterSource("cpu", "cpu", 10.0, True, counters=("util", "util.cpuN")),
            CounterSource("cpu.freq", "cpu", 10.0, bool(self._freq),
                          "" if self._freq else "no cpufreq/scaling_cur_freq in sysfs (a VM?)"),
            CounterSource("thermal", "thermal", 10.0, bool(self._zones),
                          "" if self._zones else "no /sys/class/thermal/thermal_zone*",
                          counters=tuple(z.type for z in self._zones)),
            CounterSource("gpu", "gpu", 10.0, bool(gpus),
                          "" if gpus else (nv.why if nv else "NVML disabled"),
                          counters=tuple(gpus)),
            CounterSource("memory", "memory", 1.0, True,
                          counters=("total", "available", "rss", "pss", "uss", "anon", "file", "swap",
                                    "hwm")),
        ]
        return out

    def clock_offset(self) -> ClockOffset:
        return wall_offset()

    def process_memory(self, pid: int) -> dict[str, int | None]:
        return process_memory(sysfs.read_text(f"/proc/{int(pid)}/status"),
                              sysfs.read_text(f"/proc/{int(pid)}/smaps_rollup"))

    # -- counters ----------------------------------------------------------------------
    def open_counters(self, rates: dict[str, float], pids: Sequence[int] = ()) -> CounterStream:
        groups = {}
        has_power = self._rapl or self._bats or (self._nvml and self._nvml.handles)
        if rates.get("power") and has_power:
            groups["power"] = (rates["power"], self._power_reader())
        if rates.get("cpu"):
            groups["cpu"] = (rates["cpu"], self._cpu_reader())
        if rates.get("thermal") and self._zones:
            groups["thermal"] = (rates["thermal"], self._thermal_reader)
        if rates.get("memory"):
            groups["memory"] = (rates["memory"], self._memory_reader(pids))
        return PolledStream(groups)

    def _thermal_reader(self) -> list[Reading]:
        return [Reading("thermal", z.type, sysfs.read_zone(z), "C") for z in self._zones]

    def _cpu_reader(self):  # noqa: ANN202
        prev: dict[str, tuple[float, float]] = {}
        freq = self._freq

        def times() -> dict[str, tuple[float, float]]:
            out = {}
            all_ = [psutil.cpu_times()] + list(psutil.cpu_times(percpu=True))
            for i, t in enumerate(all_):
                idle = t.idle + getattr(t, "iowait", 0.0)
                out["util" if i == 0 else f"util.cpu{i - 1}"] = (idle, sum(t))
            return out

        def read() -> list[Reading]:
            cur = times()
            out = []
            for key, (idle, total) in cur.items():
                p = prev.get(key)
                if p is not None and total > p[1]:
                    out.append(Reading("cpu", key, max(0.0, min(1.0, 1 - (idle - p[0]) /
                                                                 (total - p[1]))), "fraction"))
            prev.update(cur)
            for cpu, path in freq:
                khz = sysfs.read_int(path)
                out.append(Reading("cpu", f"freq.cpu{cpu}", khz * 1e3 if khz is not None
                                   else None, "Hz"))
            return out
        return read

    def _power_reader(self):  # noqa: ANN202
        last: dict[str, tuple[int, float]] = {}
        total: dict[str, float] = {}
        rapl = self._rapl
        bats = self._bats
        nv = self._nvml if self._nvml and self._nvml.handles else None

        def read() -> list[Reading]:
            out = []
            now = time.monotonic()
            for d in rapl:
                cur = sysfs.read_int(d.energy_path)
                if cur is None:
                    out.append(Reading("power.rapl", f"{d.name}.power_w", None, "W"))
                    continue
                p = last.get(d.name)
                last[d.name] = (cur, now)
                if p is None:
                    total[d.name] = 0.0
                    continue
                delta = sysfs.rapl_delta_uj(p[0], cur, d.max_range_uj)
                if delta is None:
                    out.append(Reading("power.rapl", f"{d.name}.power_w", None, "W"))
                    continue
                total[d.name] += delta / 1e6
                dt = now - p[1]
                out.append(Reading("power.rapl", f"{d.name}.energy_j", total[d.name], "J"))
                out.append(Reading("power.rapl", f"{d.name}.power_w",
                                   delta / 1e6 / dt if dt > 0 else None, "W"))
            for b in bats:
                out.append(Reading("battery", f"{os.path.basename(b)}.power_w",
                                   sysfs.battery_power_w(b), "W"))
            if nv:
                out += nv.read()
            return out
        return read

    def _memory_reader(self, pids: Sequence[int]):  # noqa: ANN202
        def read() -> list[Reading]:
            vm = psutil.virtual_memory()
            out = [Reading("memory", "total", float(vm.total), "B"),
                   Reading("memory", "available", float(vm.available), "B")]
            for pid in pids:
                mem = self.process_memory(pid)
                out += [Reading(f"process.{pid}", k, float(v) if v is not None else None, "B")
                        for k, v in mem.items()]
            return out
        return read
