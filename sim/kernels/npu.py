"""Numba kernel of the NPU: schedule a stream of weight tiles on systolic arrays and HBM.

One kernel, one job: given per-tile bytes and compute cycles, return when the last tile
finishes. Tiles are taken in order; tile ``t`` runs on array ``t % n_arrays``. HBM is one
FIFO server of ``bw_bytes_per_cycle``; a tile's weights (plus any activation slice it is
the first to use) must arrive, ``latency_cycles`` later, before the array starts it. SRAM
double buffering lets loads run ahead of compute by at most ``window`` tiles. Writes
(results leaving the accumulators) take their share of HBM bandwidth in stream order.

The pure-Python twin used by the tests is ``tests/npu_support.py::schedule_tiles_py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.cache import tie_caches


@njit(cache=True)
def schedule_tiles(load_bytes: np.ndarray, write_bytes: np.ndarray,
                   compute_cycles: np.ndarray, n_arrays: int, bw_bytes_per_cycle: float,
                   latency_cycles: float, window: int) -> tuple[float, float, float]:
    """Returns (end_cycle, array_busy_cycles summed over arrays, hbm_busy_cycles).

    load_bytes[t]: bytes read from HBM before tile t (weights + first-use activations).
    write_bytes[t]: bytes written to HBM once tile t and every tile since the previous
        write are done (the last K tile of an output column block; 0 for most tiles).
    compute_cycles[t]: cycles tile t occupies its array (preload + rows, efficiency applied).
    """
    n = load_bytes.shape[0]
    arr_free = np.zeros(n_arrays, dtype=np.float64)
    start = np.zeros(n, dtype=np.float64)
    hbm_free = 0.0
    hbm_busy = 0.0
    busy = 0.0
    end = 0.0
    group_done = 0.0
    for t in range(n):
        ready = 0.0
        if t >= window:
            ready = start[t - window]
        ls = hbm_free if hbm_free > ready else ready
        dur = load_bytes[t] / bw_bytes_per_cycle
        le = ls + dur
        hbm_free = le
        hbm_busy += dur
        a = t % n_arrays
        arrive = le + latency_cycles if load_bytes[t] > 0 else le
        cs = arr_free[a] if arr_free[a] > arrive else arrive
        start[t] = cs
        ce = cs + compute_cycles[t]
        arr_free[a] = ce
        busy += compute_cycles[t]
        if ce > end:
            end = ce
        if ce > group_done:
            group_done = ce
        if write_bytes[t] > 0:
            # a write takes its share of the bus in stream order; its data is ready when
            # every tile since the previous write (one output column block) is done
            wdur = write_bytes[t] / bw_bytes_per_cycle
            hbm_free += wdur
            hbm_busy += wdur
            we = group_done + wdur
            if we > end:
                end = we
            group_done = 0.0
    return end, busy, hbm_busy


tie_caches(globals())  # recompile when any kernel source changes (sim/kernels/cache.py)
