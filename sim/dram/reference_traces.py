"""The traces neumelt is held to DRAMsim3 and Ramulator 2 on (deterministic, seeded).

Five access patterns, each at a light and a near-saturation arrival rate (requests per
command-clock cycle for the whole device), 20 000 requests of one burst (64 B on
``hbm2-neupims``) each. The test (tests/test_dram_reference.py), the benchmark
(benchmarks/dram_fidelity.py) and the runs of the references stored under
tests/data/dram_reference/ all take their traces from :func:`reference_traces`, so the three
simulators see the same requests at the same cycles.

The arrival cycle of request ``i`` is ``floor(i / rate)`` (bursty: the same within a burst,
then an idle gap), so arrivals are evenly spaced and reproducible bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 20261203
N_REQUESTS = 20_000
BURST_BYTES = 64
CAPACITY_BYTES = 32 << 30       # hbm2-neupims: 32 channels x 1 GiB
MAPPING = "robabgrachco"       # the one scheme all three simulators can express (see README)


@dataclass(frozen=True)
class RefTrace:
    name: str
    pattern: str
    rate: float                 # requests per cycle while requests flow (device)
    arrival: np.ndarray         # int64 cycles
    address: np.ndarray         # int64 bytes
    is_write: np.ndarray        # bool

    def __len__(self) -> int:
        return len(self.address)


# pattern -> (light rate, near-saturation rate), requests per cycle (device). Saturation on
# hbm2-neupims: 16/cycle for streams (32 channels x one 64 B burst per nBL = 2 cycles); about
# 8/cycle for row misses (tFAW: 4 ACTs per 30 cycles per pseudo-channel, 64 pseudo-channels).
RATES = {
    "seq": (2.0, 14.0),
    "random": (1.0, 7.0),
    "mix64m": (1.0, 6.0),
    "stride4k": (0.5, 2.0),
    "bursty": (2.0, 12.0),
}
BURST_LEN = 1000             # bursty: requests per burst
GAP_CYCLES = 2000            # bursty: idle cycles between bursts


def _arrivals(n: int, rate: float) -> np.ndarray:
    return np.floor(np.arange(n) / rate).astype(np.int64)


def make_trace(pattern: str, level: str, n: int = N_REQUESTS, seed: int = SEED) -> RefTrace:
    """One trace: ``pattern`` in RATES, ``level`` 'light' or 'heavy'."""
    if pattern not in RATES or level not in ("light", "heavy"):
        raise ValueError(f"unknown trace {pattern}/{level}")
    rate = RATES[pattern][0 if level == "light" else 1]
    rng = np.random.default_rng([seed, list(RATES).index(pattern)])
    wr = np.zeros(n, dtype=bool)
    arr = _arrivals(n, rate)
    if pattern == "seq":
        addr = np.arange(n, dtype=np.int64) * BURST_BYTES
    elif pattern == "random":
        addr = rng.integers(0, CAPACITY_BYTES // BURST_BYTES, n, dtype=np.int64) * BURST_BYTES
    elif pattern == "mix64m":
        addr = rng.integers(0, (64 << 20) // BURST_BYTES, n, dtype=np.int64) * BURST_BYTES
        wr = np.arange(n) % 3 == 2                       # 2 reads : 1 write
    elif pattern == "stride4k":
        addr = (np.arange(n, dtype=np.int64) * 4096) % CAPACITY_BYTES
    else:  # bursty: sequential bursts of BURST_LEN at `rate`, then GAP_CYCLES idle
        addr = rng.integers(0, CAPACITY_BYTES // 4096, n // BURST_LEN + 1,
                            dtype=np.int64)[np.arange(n) // BURST_LEN] * 4096
        addr = addr + (np.arange(n) % BURST_LEN) * BURST_BYTES
        k = np.arange(n) // BURST_LEN
        span = int(np.ceil(BURST_LEN / rate))
        arr = k * (span + GAP_CYCLES) + _arrivals(n, rate) - _arrivals(n, rate)[k * BURST_LEN]
    return RefTrace(name=f"{pattern}_{level}", pattern=pattern, rate=rate,
                    arrival=np.asarray(arr, np.int64), address=addr % CAPACITY_BYTES,
                    is_write=wr)


def reference_traces(n: int = N_REQUESTS) -> list[RefTrace]:
    """All ten traces, light then heavy per pattern."""
    return [make_trace(p, lv, n) for p in RATES for lv in ("light", "heavy")]


def write_dramsim3(trace: RefTrace, path) -> None:
    """The trace in DRAMsim3's format (also read by the Ramulator 2 driver and neumelt)."""
    from sim.dram.trace import write_trace

    write_trace(path, trace.arrival, trace.address, trace.is_write, fmt="dramsim3")
