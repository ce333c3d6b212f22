"""Counters during a profile: the device's Sampler plus the runtime process's memory.

The device sampler (``devices.sampler.Sampler``) streams power, CPU, thermal and memory
counters into the store on the host timeline. The profiler adds a poller for the runtime
process (RSS, PSS, anonymous vs file-backed, swap, peak) and the device's free RAM
(``MemAvailable``), because the runtime's pid is known only once it is started.
Values a device cannot give are stored as None (unavailable), never 0.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Iterator
from typing import Any

from neumelt.store import Sample

MEM_SOURCE = "runtime.memory"
RAM_SOURCE = "device.meminfo"


def read_process_memory(dev: Any, pid: int) -> dict[str, int | None]:
    """Bytes: rss, pss, anon, file, swap, hwm of ``pid`` on ``dev`` (None: unavailable)."""
    if hasattr(dev, "process_memory"):
        try:
            return dict(dev.process_memory(pid))
        except NotImplementedError:
            pass
    from devices.procfs import process_memory

    status = dev.run(["cat", f"/proc/{pid}/status"], timeout=10.0)
    smaps = dev.run(["cat", f"/proc/{pid}/smaps_rollup"], timeout=10.0)
    return process_memory(status.stdout if status.returncode == 0 else None,
                          smaps.stdout if smaps.returncode == 0 else None)


def read_mem_available(dev: Any) -> int | None:
    """Device RAM still available to new allocations (``MemAvailable``), bytes."""
    res = dev.run(["cat", "/proc/meminfo"], timeout=10.0)
    for line in res.stdout.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def read_max_temp_c(dev: Any) -> float | None:
    """Hottest thermal zone (degC) or None when the device exposes none."""
    zones = dev.path("/sys/class/thermal") if hasattr(dev, "path") else "/sys/class/thermal"
    res = dev.run(["sh", "-c", f"cat {shlex.quote(zones)}/thermal_zone*/temp 2>/dev/null"],
                  timeout=10.0)
    temps = []
    for tok in res.stdout.split():
        try:
            v = float(tok)
        except ValueError:
            continue
        v = v / 1000.0 if abs(v) > 200 else v
        if -40.0 < v < 150.0:
            temps.append(v)
    return max(temps) if temps else None


class MemoryPoller:
    """Polls the runtime process and device RAM at ``hz`` into the store from a thread."""

    def __init__(self, dev: Any, store: Any, run_id: int, hz: float = 1.0) -> None:
        self.dev, self.store, self.run_id = dev, store, run_id
        self.period = 1.0 / max(hz, 0.01)
        self.pids: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-poller", daemon=True)

    def start(self) -> MemoryPoller:
        self._thread.start()
        return self

    def poll_once(self) -> None:
        t = time.monotonic()
        rows = []
        for pid in list(self.pids):
            mem = read_process_memory(self.dev, pid)
            for k, v in mem.items():
                rows.append(Sample(MEM_SOURCE, f"{k}_bytes", t, None if v is None else float(v),
                                   "bytes"))
        avail = read_mem_available(self.dev)
        rows.append(Sample(RAM_SOURCE, "mem_available_bytes", t,
                           None if avail is None else float(avail), "bytes"))
        self.store.add_samples(self.run_id, rows)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # a lost device ends polling; the session notices
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15.0)


@contextlib.contextmanager
def device_sampler(dev: Any, store: Any, run_id: int, rates: dict[str, float]
                   ) -> Iterator[Any]:
    """The device's Sampler when the devices package provides one, else None (noted)."""
    try:
        from devices.sampler import Sampler
    except ImportError:
        store.set_run_info(run_id, "sampler", "unavailable: devices.sampler not installed")
        yield None
        return
    with Sampler(dev, store, run_id, rates=rates) as s:
        yield s
