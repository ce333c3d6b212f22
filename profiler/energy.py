"""Energy attribution: trapezoidal integration of a power trace over phase windows.

A power trace is a time series ``(t_s, p_w)`` on the host timeline (seconds, watts),
taken as piecewise linear between samples (the trapezoid rule); a step is two samples at
the same time. Windows are cut exactly at their edges by interpolation, so the energy of
adjacent windows adds up to the energy of their union.

Windows that overlap (calls running concurrently in several slots) share power equally
while they overlap: at every instant the power is divided by the number of windows open
then, so the per-window energies add up to the energy of the union and nothing is
counted twice. ``net`` subtracts the idle baseline power (measured before the run) times
the window's share of time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerTrace:
    """Power samples, sorted by time: ``t_s`` (s, host timeline) and ``p_w`` (W)."""

    t_s: tuple[float, ...]
    p_w: tuple[float, ...]
    source: str = ""
    tier: str = ""
    edge_s: float = 0.0   # a window may start/end this far outside the samples (held value)

    @staticmethod
    def of(t_s, p_w, source: str = "", tier: str = "", edge_s: float = 0.0) -> PowerTrace:
        pairs = sorted(zip((float(t) for t in t_s), (float(p) for p in p_w)),
                       key=lambda x: x[0])
        return PowerTrace(tuple(t for t, _ in pairs), tuple(p for _, p in pairs), source, tier,
                          edge_s)

    def __len__(self) -> int:
        return len(self.t_s)

    def power_at(self, t: float, side: str = "right") -> float:
        """Linearly interpolated power at ``t``; at a step, ``side`` picks which value."""
        ts = self.t_s
        if not ts:
            raise ValueError("empty power trace")
        if t <= ts[0]:
            return self.p_w[0]
        if t >= ts[-1]:
            return self.p_w[-1]
        if side == "right":
            i = bisect.bisect_right(ts, t)
            j = i - 1
            if ts[j] == t:
                return self.p_w[j]
        else:
            i = bisect.bisect_left(ts, t)
            if ts[i] == t:
                return self.p_w[i]
            j = i - 1
        t0, t1, p0, p1 = ts[j], ts[i], self.p_w[j], self.p_w[i]
        return p0 + (p1 - p0) * (t - t0) / (t1 - t0)

    def covers(self, t0: float, t1: float) -> bool:
        """True when samples exist at or before ``t0`` and at or after ``t1`` (± ``edge_s``)."""
        return (bool(self.t_s) and self.t_s[0] <= t0 + self.edge_s
                and self.t_s[-1] >= t1 - self.edge_s)


def energy_j(trace: PowerTrace, t0: float, t1: float) -> float:
    """Energy (J) of ``trace`` over ``[t0, t1]`` by the trapezoid rule, cut exactly at edges."""
    if t1 <= t0:
        return 0.0
    ts = trace.t_s
    lo = bisect.bisect_right(ts, t0)
    hi = bisect.bisect_left(ts, t1)
    pts_t = [t0] + list(ts[lo:hi]) + [t1]
    pts_p = [trace.power_at(t0, "right")] + list(trace.p_w[lo:hi]) + [trace.power_at(t1, "left")]
    return float(np.trapezoid(pts_p, pts_t)) if hasattr(np, "trapezoid") else float(
        np.trapz(pts_p, pts_t))


@dataclass(frozen=True)
class Window:
    """A named span on the host timeline (s); ``group`` ties windows together (a call)."""

    name: str
    t0: float
    t1: float
    group: str = ""


@dataclass(frozen=True)
class WindowEnergy:
    """Energy of one window: gross (J), net of idle (J), its time share (s), mean power (W)."""

    name: str
    group: str
    t0: float
    t1: float
    share_s: float
    gross_j: float | None
    net_j: float | None

    @property
    def mean_w(self) -> float | None:
        if self.gross_j is None or self.share_s <= 0:
            return None
        return self.gross_j / self.share_s


def attribute(trace: PowerTrace | None, windows: list[Window],
              idle_w: float | None = None) -> list[WindowEnergy]:
    """Split the energy of ``trace`` among ``windows``, sharing overlaps equally.

    Without a trace (no power source) every energy is ``None``; never zero.
    A window the trace does not cover also gets ``None``.
    """
    if not windows:
        return []
    edges = sorted({w.t0 for w in windows} | {w.t1 for w in windows})
    # Number of windows open on each elementary interval [edges[k], edges[k+1]].
    n_open = [0] * max(len(edges) - 1, 0)
    idx = {t: k for k, t in enumerate(edges)}
    for w in windows:
        for k in range(idx[w.t0], idx[w.t1]):
            n_open[k] += 1
    seg_e: list[float | None] = []
    for k in range(len(edges) - 1):
        a, b = edges[k], edges[k + 1]
        if trace is None or not trace.covers(a, b) or n_open[k] == 0:
            seg_e.append(None)
        else:
            seg_e.append(energy_j(trace, a, b))
    out = []
    for w in windows:
        share_s = 0.0
        gross: float | None = 0.0
        for k in range(idx[w.t0], idx[w.t1]):
            dt = (edges[k + 1] - edges[k]) / n_open[k]
            share_s += dt
            if seg_e[k] is None:
                gross = None
            elif gross is not None:
                gross += seg_e[k] / n_open[k]
        if trace is None or not trace.covers(w.t0, w.t1):
            gross = None
        net = None if gross is None or idle_w is None else gross - idle_w * share_s
        out.append(WindowEnergy(w.name, w.group, w.t0, w.t1, share_s, gross, net))
    return out


def idle_power_w(trace: PowerTrace | None, t0: float, t1: float) -> float | None:
    """Mean power (W) over the idle baseline window, or None without a covering trace."""
    if trace is None or t1 <= t0 or not trace.covers(t0, t1):
        return None
    return energy_j(trace, t0, t1) / (t1 - t0)
