"""A counter stream for targets read in-process: one thread, one drift-corrected
schedule per source group (``next_due += period``; a late tick resets the schedule and the
sampler records the gap).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from devices.base import CounterStream, Reading, Tick
from devices.clock import host_now

Reader = Callable[[], list[Reading]]


class PolledStream(CounterStream):
    """``groups`` maps a group name to (rate in Hz, reader)."""

    def __init__(self, groups: dict[str, tuple[float, Reader]],
                 device_clock: Callable[[], float] | None = time.time) -> None:
        self.groups = {g: (r, fn) for g, (r, fn) in groups.items() if r and r > 0}
        self.periods_s = {g: 1.0 / r for g, (r, _fn) in self.groups.items()}
        self.device_clock = device_clock
        self._closed = threading.Event()

    def ticks(self) -> Iterator[Tick]:
        now = host_now()
        due = dict.fromkeys(self.groups, now)
        while not self._closed.is_set():
            group = min(due, key=due.__getitem__) if due else None
            if group is None:
                return
            wait = due[group] - host_now()
            if wait > 0 and self._closed.wait(wait):
                return
            t = host_now()
            t_dev = self.device_clock() if self.device_clock else None
            readings = self.groups[group][1]()
            yield Tick(group, t, t_dev, tuple(readings))
            period = self.periods_s[group]
            due[group] += period
            if due[group] < host_now() - period:     # fell behind: restart the grid
                due[group] = host_now() + period

    def close(self) -> None:
        self._closed.set()


class MergedStream(CounterStream):
    """Several streams read on their own threads, yielded as one (e.g. a fast on-device
    loop plus a 1 Hz ``dumpsys`` poller). The first stream's error ends the merge."""

    def __init__(self, streams: list[CounterStream]) -> None:
        self.streams = streams
        self.periods_s = {}
        for s in streams:
            self.periods_s.update(s.periods_s)
        self.calibration = getattr(streams[0], "calibration", None)
        self._closed = threading.Event()

    def ticks(self) -> Iterator[Tick]:
        import queue
        q: queue.Queue[tuple[str, object]] = queue.Queue()

        def run(stream: CounterStream) -> None:
            try:
                for tick in stream.ticks():
                    q.put(("tick", tick))
            except BaseException as exc:  # handed to the consumer thread
                q.put(("error", exc))
            finally:
                q.put(("end", stream))

        threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in self.streams]
        for t in threads:
            t.start()
        live = len(threads)
        try:
            while live:
                kind, item = q.get()
                if kind == "tick":
                    yield item  # type: ignore[misc]
                elif kind == "error":
                    raise item  # type: ignore[misc]
                else:
                    live -= 1
                    if not self._closed.is_set() and item is self.streams[0]:
                        return
        finally:
            self.close()
            for t in threads:
                t.join(5)

    def close(self) -> None:
        self._closed.set()
        for s in self.streams:
            s.close()

    def device_overhead(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for s in self.streams:
            out.update(s.device_overhead())
        return out
