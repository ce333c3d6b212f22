"""Request latency statistics from what the engine returns (pure numpy).

Latency of a request = its completion cycle (last data beat on the bus: column command +
nCL + nBL for a read, + nCWL + nBL for a write) minus its arrival cycle in the trace. It
therefore includes the time a request is held back by a full queue, as DRAMsim3's and
Ramulator 2's figures do when the frontend time-stamps requests at their trace arrival
(their own counters start at acceptance; see tests/data/dram_reference/README.md).

Queue occupancy is Little's law: the average number of requests inside the memory system
(arrived, data not yet transferred) = sum of latencies / simulated cycles, per channel and
for the whole device.

Histogram bins are in cycles of the standard's command clock, fixed width (like DRAMsim3's
``read_latency`` histogram and Ramulator 2's latency buckets); the last bin collects
everything at or above its lower edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class LatencySummary:
    """Latency of one request class (reads or writes) in one scope (a channel or total)."""

    count: int
    avg_cycles: float
    p50_cycles: float
    p95_cycles: float
    p99_cycles: float
    max_cycles: int

    @classmethod
    def of(cls, lat: np.ndarray) -> LatencySummary:
        if len(lat) == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0)
        p = np.percentile(lat, PERCENTILES, method="lower")
        return cls(int(len(lat)), float(lat.mean()), float(p[0]), float(p[1]), float(p[2]),
                   int(lat.max()))


@dataclass(frozen=True)
class LatencyStats:
    """Read/write latency (cycles and ns), histogram and queue occupancy of a run."""

    tck_ns: float
    read: LatencySummary
    write: LatencySummary
    avg_queue_occupancy_requests: float
    per_channel: list[dict] = field(repr=False)
    hist_bin_cycles: int = 10
    read_histogram: list[int] = field(default_factory=list, repr=False)
    write_histogram: list[int] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        """Flat keys (``avg_read_latency_cycles``, ``p99_read_latency_ns``, ...)."""
        out = _flat(self.read, self.write, self.tck_ns)
        out["avg_queue_occupancy_requests"] = self.avg_queue_occupancy_requests
        out["latency_histogram"] = {
            "bin_cycles": self.hist_bin_cycles,
            "bin_lower_edges_cycles": [i * self.hist_bin_cycles
                                       for i in range(len(self.read_histogram))],
            "reads": self.read_histogram, "writes": self.write_histogram}
        out["latency_per_channel"] = self.per_channel
        return out


def _flat(read: LatencySummary, write: LatencySummary, tck_ns: float) -> dict:
    out: dict = {}
    for kind, s in (("read", read), ("write", write)):
        out[f"{kind}_requests_measured"] = s.count
        for name in ("avg", "p50", "p95", "p99", "max"):
            v = getattr(s, f"{name}_cycles")
            out[f"{name}_{kind}_latency_cycles"] = v
            out[f"{name}_{kind}_latency_ns"] = v * tck_ns
    return out


def histogram(lat: np.ndarray, bin_cycles: int, nbins: int) -> list[int]:
    """Counts per bin [i*bin, (i+1)*bin); the last bin is open-ended."""
    if len(lat) == 0:
        return [0] * nbins
    idx = np.minimum(np.asarray(lat, np.int64) // bin_cycles, nbins - 1)
    return np.bincount(idx, minlength=nbins).astype(int).tolist()


def latency_stats(arrival, completion, is_write, channel, nchannels: int, cycles: int,
                  tck_ns: float, *, channel_cycles=None, bin_cycles: int = 10,
                  nbins: int = 50) -> LatencyStats:
    """Latency statistics of a run.

    ``arrival``/``completion``: cycles per request (input order); ``channel``: channel index of
    each request; ``cycles``: simulated cycles of the run (device), ``channel_cycles`` per
    channel (defaults to ``cycles``). Requests with a negative completion (never served) are
    left out.
    """
    arr = np.asarray(arrival, np.int64)
    done = np.asarray(completion, np.int64)
    wr = np.asarray(is_write, bool)
    ch = np.asarray(channel, np.int64)
    ok = done >= 0
    lat = done - arr
    rd_m, wr_m = ok & ~wr, ok & wr
    per = []
    ch_cyc = (np.full(nchannels, cycles, np.int64) if channel_cycles is None
              else np.asarray(channel_cycles, np.int64))
    # one sort by channel, then slices (no Python work per request)
    order = np.argsort(ch, kind="stable")
    bounds = np.searchsorted(ch[order], np.arange(nchannels + 1))
    for c in range(nchannels):
        sel = order[bounds[c]:bounds[c + 1]]
        if len(sel) == 0:
            continue
        lsel, wsel, osel = lat[sel], wr[sel], ok[sel]
        r = LatencySummary.of(lsel[osel & ~wsel])
        w = LatencySummary.of(lsel[osel & wsel])
        row = {"channel": c, **_flat(r, w, tck_ns)}
        cc = int(ch_cyc[c])
        row["avg_queue_occupancy_requests"] = float(lsel[osel].sum() / cc) if cc > 0 else 0.0
        per.append(row)
    occ = float(lat[ok].sum() / (cycles * nchannels)) if cycles > 0 and nchannels else 0.0
    return LatencyStats(
        tck_ns=tck_ns, read=LatencySummary.of(lat[rd_m]), write=LatencySummary.of(lat[wr_m]),
        avg_queue_occupancy_requests=occ, per_channel=per, hist_bin_cycles=bin_cycles,
        read_histogram=histogram(lat[rd_m], bin_cycles, nbins),
        write_histogram=histogram(lat[wr_m], bin_cycles, nbins))


def of_result(std, res, arrival, addresses, is_write, mapping: str | None = None,
              **kw) -> LatencyStats:
    """:func:`latency_stats` of a :class:`sim.dram.engine.DramResult` and its request arrays."""
    from sim.dram.mapping import AddressMapping

    amap = AddressMapping.of(std, mapping or std.address_mapping)
    ch = amap.decode(np.asarray(addresses, np.int64)).channel
    return latency_stats(arrival, res.completion_cycles, is_write, ch, std.org.channels,
                         res.cycles, std.tck_ps / 1000.0, channel_cycles=res.channel_cycles,
                         **kw)
