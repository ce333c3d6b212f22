"""Stream a device's counters into the results store on one host timeline.

::

    with Sampler(dev, store, run_id, rates={"power": 10, "cpu": 10, "thermal": 10,
                                            "memory": 1}, pids=[pid]) as s:
        ...                     # the workload; s.lost turns True if the device vanishes

* ``rates`` keys: ``power``, ``cpu``, ``thermal`` (default 10 Hz), ``memory`` (1 Hz:
  /proc/<pid>/status and smaps_rollup of ``pids``), ``meminfo`` (Android only, off by
  default: ``dumpsys meminfo <pid>``, capped at 1 Hz); a rate of 0 turns a group off;
* samples reach the store as they arrive (flushed every ``flush_s``, 0.5 s by default, so
  a crash loses at most that);
* each sample has host monotonic time (device time mapped through the clock offset
  measured at the start) and the device's own timestamp;
* the clock offset is measured at start and end and stored (``clock_offset_start``,
  ``clock_offset_end``, ``clock_drift_ppm`` in the run's info);
* gaps (a tick later than 1.5 periods) become ``sampler`` events with their length;
* the sampler's own host CPU time (thread CPU time of its reader thread) and, where the
  device reports it, the on-device loop's CPU time become ``measured`` metrics;
* if the store takes no more samples (full disk, file size limit, read-only file) the
  reader stops and :meth:`stop` raises that error (naming the file) in the caller;
* if the device goes away the run is marked ``interrupted`` at once (every sample already
  received stays) and ``s.lost`` is True; the caller must then not mark the run done
  (do not wrap a Sampler in ``store.run()``; use ``start_run``/``finish_run``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from devices.base import ClockOffset, CounterStream, Device, Tick
from devices.clock import drift_ppm, host_now
from devices.errors import DeviceError, DeviceGone
from neumelt.errors import InputError
from neumelt.store import Event, Metric, Sample, Store, StoreError

_STORE_ERRORS = (StoreError, InputError)  # what the store raises when it takes no more

log = logging.getLogger(__name__)

DEFAULT_RATES = {"power": 10.0, "cpu": 10.0, "thermal": 10.0, "memory": 1.0}
GAP_FACTOR = 1.5


def _offset_dict(off: ClockOffset | None) -> dict[str, float] | None:
    if off is None:
        return None
    return {"offset_s": off.offset_s, "rtt_s": off.rtt_s, "t_host_s": off.t_host_s}


class Sampler:
    """Reads ``dev.open_counters(rates, pids)`` on a thread and writes samples to ``store``."""

    def __init__(self, dev: Device, store: Store, run_id: int,
                 rates: dict[str, float] | None = None, pids: Sequence[int] = (),
                 flush_s: float = 0.5, on_lost: Callable[[str], None] | None = None,
                 on_tick: Callable[[Tick], None] | None = None) -> None:
        self.dev = dev
        self.store = store
        self.run_id = run_id
        self.rates = dict(DEFAULT_RATES if rates is None else rates)
        self.pids = tuple(pids)
        self.flush_s = flush_s
        self.on_lost = on_lost
        self.on_tick = on_tick
        self.lost = False
        self.error: str | None = None
        self.failure: Exception | None = None  # a store error that stopped the reader
        self.n_samples = 0
        self.n_ticks: dict[str, int] = {}
        self.gaps: list[tuple[str, float, float]] = []     # (group, t_start_s, dur_s)
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.offset_start: ClockOffset | None = None
        self.offset_end: ClockOffset | None = None
        self._stream: CounterStream | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> Sampler:
        self.offset_start = self.dev.clock_offset()
        self.store.set_run_info(self.run_id, "clock_offset_start", _offset_dict(self.offset_start))
        self._stream = self.dev.open_counters(self.rates, self.pids)
        self.store.set_run_info(self.run_id, "sampler", {
            "device": getattr(self.dev, "serial", "?"), "kind": self.dev.kind,
            "rates_hz": self.rates, "pids": list(self.pids),
            "periods_s": self._stream.periods_s,
            "calibration": (getattr(self._stream, "calibration", None).as_dict()
                            if getattr(self._stream, "calibration", None) else None)})
        self._thread = threading.Thread(target=self._loop, name="neumelt-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._stopped.set()
        if not self.lost:
            try:
                self.offset_end = self.dev.clock_offset()
            except DeviceError as exc:
                log.warning("clock offset at the end not measured: %s", exc)
        self._finish_info()
        if self.failure is not None:  # the store failed under the reader: the run did too
            raise self.failure

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reader thread ------------------------------------------------------------------
    def _loop(self) -> None:
        assert self._stream is not None
        cpu0 = time.thread_time()
        wall0 = host_now()
        batch: list[Sample] = []
        events: list[Event] = []
        last: dict[str, float] = {}
        last_flush = host_now()
        periods = self._stream.periods_s
        try:
            for tick in self._stream.ticks():
                self._account(tick, last, periods, events)
                if self.on_tick:
                    self.on_tick(tick)
                for r in tick.readings:
                    batch.append(Sample(r.source, r.name, tick.t_host_s, r.value, r.unit,
                                        tick.t_device_s))
                now = host_now()
                if now - last_flush >= self.flush_s:
                    self._flush(batch, events)
                    batch, events = [], []
                    last_flush = now
        except DeviceGone as exc:
            self._flush(batch, events)
            batch, events = [], []
            self._mark_lost(str(exc))
        except _STORE_ERRORS as exc:  # the store takes no more (full disk, read-only)
            self.failure = exc
            self.error = str(exc)
            log.error("sampler stopped: %s", self.error)
        except Exception as exc:  # a reader bug must not hang the session: record it
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("sampler stopped: %s", self.error)
        finally:
            try:
                self._flush(batch, events)
            except _STORE_ERRORS as exc:
                self.failure = self.failure or exc
                self.error = self.error or str(exc)
            self.cpu_s = time.thread_time() - cpu0
            self.wall_s = host_now() - wall0

    def _account(self, tick: Tick, last: dict[str, float], periods: dict[str, float],
                 events: list[Event]) -> None:
        self.n_ticks[tick.group] = self.n_ticks.get(tick.group, 0) + 1
        prev = last.get(tick.group)
        period = periods.get(tick.group)
        if prev is not None and period:
            dt = tick.t_host_s - prev
            if dt > GAP_FACTOR * period:
                self.gaps.append((tick.group, prev, dt))
                events.append(Event("sampler", f"gap {tick.group}", prev, dt,
                                    {"group": tick.group, "expected_s": period,
                                     "missed": max(0, round(dt / period) - 1)}))
        last[tick.group] = tick.t_host_s

    def _flush(self, batch: list[Sample], events: list[Event]) -> None:
        if batch:
            self.store.add_samples(self.run_id, batch)
            self.n_samples += len(batch)
        if events:
            self.store.add_events(self.run_id, events)

    def _mark_lost(self, why: str) -> None:
        self.lost = True
        self.error = why
        log.warning("device lost: %s", why)
        self.store.add_events(self.run_id, [Event("sampler", "device lost", host_now(), None,
                                                  {"error": why})])
        self.store.finish_run(self.run_id, "interrupted", f"device lost: {why}")
        if self.on_lost:
            self.on_lost(why)

    # -- summary -------------------------------------------------------------------------
    def overhead(self) -> dict[str, Any]:
        """Host CPU of the reader thread as a share of one core, plus the device's own."""
        out: dict[str, Any] = {"host_cpu_s": self.cpu_s, "wall_s": self.wall_s,
                               "host_cpu_fraction": self.cpu_s / self.wall_s
                               if self.wall_s > 0 else None}
        if self._stream is not None:
            out.update(self._stream.device_overhead())
        return out

    def _finish_info(self) -> None:
        over = self.overhead()
        info = {"samples": self.n_samples, "ticks": self.n_ticks, "gaps": len(self.gaps),
                "gap_s": sum(g[2] for g in self.gaps), "lost": self.lost, "error": self.error,
                "overhead": over}
        self.store.set_run_info(self.run_id, "sampler_summary", info)
        if self.offset_end is not None:
            self.store.set_run_info(self.run_id, "clock_offset_end", _offset_dict(self.offset_end))
            if self.offset_start is not None:
                self.store.set_run_info(self.run_id, "clock_drift_ppm",
                                        drift_ppm(self.offset_start, self.offset_end))
        src = f"thread CPU time of the sampler reader ({self.dev.kind})"
        metrics = [Metric("sampler_host_cpu", _pct(over.get("host_cpu_fraction")),
                          "% of one core", "measured", src)]
        if "device_cpu_fraction" in over:
            metrics.append(Metric("sampler_device_cpu", _pct(over.get("device_cpu_fraction")),
                                  "% of one core", "measured",
                                  "/proc/<loop pid>/stat utime+stime+cutime+cstime on the device"))
        metrics.append(Metric("sampler_gaps", float(len(self.gaps)), "count", "measured",
                              "ticks later than 1.5 periods"))
        self.store.add_metrics(self.run_id, metrics)


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100.0
