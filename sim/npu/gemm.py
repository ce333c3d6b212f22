"""Tile-level GEMM timing on weight-stationary systolic arrays.

A GEMM ``[M x K] @ [K x N]`` is cut into weight tiles of ``height`` (K) x ``width`` (N).
Each tile is loaded from HBM into SRAM (double-buffered), preloaded into an array
(``k`` cycles: one weight row per cycle), then the M activation rows stream through it
(one row per cycle; the first result leaves after ``height + width - 2`` cycles of fill
and drain, hidden for all but the last tile). A tile with fewer rows than the array still
pays its full preload: decode batches smaller than ``height`` run the arrays mostly idle,
which is the cost the model must show. Tiles are spread over the arrays round-robin, in
N-major order so each output column block finishes and is written once.

All results are in NPU cycles; bytes are HBM bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.npu.config import NpuHw


@dataclass(frozen=True)
class GemmTiming:
    """Timing and traffic of one GEMM on the NPU.

    cycles: wall cycles from the first load to the last result written.
    compute_cycles: cycles if HBM were infinitely fast (arrays only).
    memory_cycles: cycles the HBM bus is busy with this GEMM's traffic.
    macs: useful multiply-accumulates (M*K*N); pe_cycles: array cycles x PEs occupied.
    hbm_read_bytes / hbm_write_bytes / sram_bytes: traffic.
    tiles: weight tiles; bound: "compute" | "memory".
    """

    m: int
    k: int
    n: int
    cycles: int
    compute_cycles: int
    memory_cycles: int
    macs: int
    array_busy_cycles: float
    hbm_read_bytes: int
    hbm_write_bytes: int
    sram_bytes: int
    tiles: int
    bound: str


def row_cost_cycles(hw: NpuHw, rows: int) -> int:
    """Cycles ``rows`` activation rows occupy one array (partial tiles at their real cost,
    or charged as full ``height``-row tiles when ``charge_full_tile``)."""
    sa = hw.systolic
    if sa.charge_full_tile:
        return math.ceil(rows / sa.height) * sa.height
    return max(rows, sa.min_rows)


def tile_compute_cycles(hw: NpuHw, k_rows: int, rows: int) -> float:
    """Cycles one weight tile with ``k_rows`` weight rows occupies an array for ``rows``
    activation rows: per accumulator pass a preload (hidden when ``preload_overlap`` and
    the rows take longer) plus the rows, divided by ``stream_efficiency``."""
    sa = hw.systolic
    passes = max(1, math.ceil(rows / sa.accumulator_rows))
    per_pass_rows = math.ceil(rows / passes)
    rc = row_cost_cycles(hw, per_pass_rows)
    if sa.preload_overlap:
        per_pass = max(rc, k_rows)
    else:
        per_pass = k_rows + rc
    return passes * per_pass / sa.stream_efficiency


def load_window(hw: NpuHw, tile_bytes: int) -> int:
    """Tiles the loads may run ahead of compute: half the SRAM (double buffering) holds
    tiles in flight; at least one tile, at most 4096."""
    if not hw.sram.double_buffer:
        return 1
    half = hw.sram.size_bytes // 2
    return int(min(4096, max(1, half // max(1, tile_bytes))))


def fits_sram(hw: NpuHw, nbytes: int) -> bool:
    """Whether an activation tensor of ``nbytes`` can stay on chip (a quarter of SRAM; the
    rest holds weight tiles in flight); never when ``keep_activations`` is off."""
    return hw.sram.keep_activations and nbytes <= hw.sram.size_bytes // 4


def run_schedule(hw: NpuHw, load: np.ndarray, write: np.ndarray, comp: np.ndarray,
                 window: int) -> tuple[float, float, float]:
    """Schedule tiles (bytes to load, bytes to write, compute cycles each) on ``hw``'s arrays
    and HBM; returns (end_cycle, array_busy_cycles, hbm_busy_cycles)."""
    from sim.kernels.npu import schedule_tiles

    return schedule_tiles(load, write, comp, hw.systolic.count,
                          float(hw.hbm.sustained_bytes_per_cycle),
                          float(hw.hbm.latency_cycles), window)


@lru_cache(maxsize=4096)
def gemm_timing(hw: NpuHw, m: int, k: int, n: int, *, act_in_sram: bool | None = None,
                out_in_sram: bool | None = None, weights_in_hbm: bool = True) -> GemmTiming:
    """Time ``[m x k] @ [k x n]`` (weights ``k x n``) on the NPU ``hw``.

    act_in_sram / out_in_sram: whether the input / output activations stay on chip
    (None = decide from the SRAM size). weights_in_hbm: False when the "weights" are
    already on chip (never for model weights).
    """
    if m <= 0 or k <= 0 or n <= 0:
        raise ValueError(f"GEMM dims must be positive, got m={m} k={k} n={n}")
    sa = hw.systolic
    db = hw.dtype_bytes
    if act_in_sram is None:
        act_in_sram = fits_sram(hw, m * k * db)
    if out_in_sram is None:
        out_in_sram = fits_sram(hw, m * n * db)
    kt = math.ceil(k / sa.height)
    nt = math.ceil(n / sa.width)
    k_rows = np.full(kt, sa.height, dtype=np.int64)
    k_rows[-1] = k - sa.height * (kt - 1)
    n_cols = np.full(nt, sa.width, dtype=np.int64)
    n_cols[-1] = n - sa.width * (nt - 1)
    kk = np.tile(k_rows, nt)                      # tile t = (n_idx, k_idx), N-major
    nn = np.repeat(n_cols, kt)
    wbytes = kk * nn * db if weights_in_hbm else np.zeros(kt * nt, dtype=np.int64)
    load = wbytes.astype(np.float64)
    if not act_in_sram:
        load[:kt] += (m * k_rows * db).astype(np.float64)   # first column block loads A
    write = np.zeros(kt * nt, dtype=np.float64)
    if not out_in_sram:
        write[kt - 1::kt] = (m * n_cols * db).astype(np.float64)
    full = tile_compute_cycles(hw, sa.height, m)
    comp = np.full(kt * nt, full, dtype=np.float64)
    if k_rows[-1] != sa.height:
        comp[kt - 1::kt] = tile_compute_cycles(hw, int(k_rows[-1]), m)
    window = load_window(hw, sa.height * sa.width * db)
    end, busy, hbm_busy = run_schedule(hw, load, write, comp, window)
    end += sa.fill_drain_cycles
    compute_only = busy / sa.count + sa.fill_drain_cycles
    read_b = int(load.sum())
    write_b = int(write.sum())
    passes = max(1, math.ceil(m / sa.accumulator_rows))
    sram_b = int(2 * wbytes.sum() + passes * m * k * db * nt + m * n * db * kt)
    return GemmTiming(
        m=m, k=k, n=n, cycles=int(math.ceil(end)), compute_cycles=int(math.ceil(compute_only)),
        memory_cycles=int(math.ceil(hbm_busy)), macs=m * k * n, array_busy_cycles=busy,
        hbm_read_bytes=read_b, hbm_write_bytes=write_b, sram_bytes=sram_b, tiles=kt * nt,
        bound="memory" if hbm_busy > compute_only else "compute")
