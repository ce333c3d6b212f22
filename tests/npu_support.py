"""Pure-Python twins of the NPU numba kernels (sim/kernels/npu.py), for the tests."""

from __future__ import annotations


def schedule_tiles_py(load_bytes, write_bytes, compute_cycles, n_arrays: int,
                      bw_bytes_per_cycle: float, latency_cycles: float,
                      window: int) -> tuple[float, float, float]:
    """Slow twin of ``sim.kernels.npu.schedule_tiles`` written from its docstring:
    tiles in order, tile t on array t % n_arrays, one FIFO HBM server, loads at most
    ``window`` tiles ahead of compute, writes take bus time in stream order and leave when
    every tile since the previous write has finished."""
    arr_free = [0.0] * n_arrays
    starts: list[float] = []
    hbm_free = 0.0
    hbm_busy = 0.0
    busy = 0.0
    end = 0.0
    group: list[float] = []
    for t, (lb, wb, cc) in enumerate(zip(load_bytes, write_bytes, compute_cycles)):
        ready = starts[t - window] if t >= window else 0.0
        load_start = max(hbm_free, ready)
        load_end = load_start + lb / bw_bytes_per_cycle
        hbm_free = load_end
        hbm_busy += lb / bw_bytes_per_cycle
        arrive = load_end + latency_cycles if lb > 0 else load_end
        a = t % n_arrays
        start = max(arr_free[a], arrive)
        starts.append(start)
        arr_free[a] = start + cc
        busy += cc
        end = max(end, arr_free[a])
        group.append(arr_free[a])
        if wb > 0:   # the output block is ready when all its tiles are
            hbm_free += wb / bw_bytes_per_cycle
            hbm_busy += wb / bw_bytes_per_cycle
            end = max(end, max(group) + wb / bw_bytes_per_cycle)
            group = []
    return end, busy, hbm_busy
