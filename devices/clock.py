"""Host clock and host-device clock offsets (round-trip midpoint, best of N probes).

The host timeline is :func:`host_now` (``time.monotonic``, seconds; on Linux the system-wide
CLOCK_MONOTONIC, so other processes on this host share it). A probe reads the device clock
once; the offset is ``t_device - (t_send + t_recv) / 2`` for the probe with the smallest
round trip, whose uncertainty is at most ``rtt / 2``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from devices.base import ClockOffset


def host_now() -> float:
    """Host monotonic time in seconds: the one timeline every sample and event uses."""
    return time.monotonic()


def wall_offset() -> ClockOffset:
    """Offset of this host's realtime clock against :func:`host_now` (rtt ~ 0)."""
    t0 = host_now()
    wall = time.time()
    t1 = host_now()
    return ClockOffset(offset_s=wall - (t0 + t1) / 2, rtt_s=t1 - t0, t_host_s=(t0 + t1) / 2)


def estimate_offset(probe: Callable[[], float], n: int = 5) -> ClockOffset:
    """Call ``probe`` (returns device time in s) ``n`` times; keep the tightest round trip."""
    best: ClockOffset | None = None
    for _ in range(max(1, n)):
        t0 = host_now()
        t_dev = probe()
        t1 = host_now()
        mid = (t0 + t1) / 2
        cand = ClockOffset(offset_s=t_dev - mid, rtt_s=t1 - t0, t_host_s=mid)
        if best is None or cand.rtt_s < best.rtt_s:
            best = cand
    assert best is not None
    return best


def drift_ppm(start: ClockOffset, end: ClockOffset) -> float | None:
    """Device clock drift against the host between two offsets, parts per million."""
    span = end.t_host_s - start.t_host_s
    if span <= 0:
        return None
    return (end.offset_s - start.offset_s) / span * 1e6
