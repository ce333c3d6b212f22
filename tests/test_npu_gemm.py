"""Tile-level GEMM and vector-unit timing on the NPU: physics the model must show."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.designs.hw import load_hw
from sim.npu.gemm import gemm_timing, tile_compute_cycles
from sim.npu.vector import VECTOR_PASSES, vector_timing


@pytest.fixture(scope="module")
def preset():
    return load_hw("npu-neupims")


@pytest.fixture(scope="module")
def hw(preset):
    """The preset with activations kept on chip (the weight stream alone)."""
    return dataclasses.replace(preset, sram=dataclasses.replace(preset.sram,
                                                                keep_activations=True))


def _with(hw, **systolic):
    return dataclasses.replace(hw, systolic=dataclasses.replace(hw.systolic, **systolic))


def test_preset_is_the_issue_npu(preset):
    hw = preset
    sa = hw.systolic
    assert (sa.count, sa.height, sa.width) == (8, 128, 128)
    assert hw.clock_hz == 1e9 and hw.dtype_bytes == 2
    assert (hw.vector.count, hw.vector.width) == (8, 128)
    assert hw.hbm.peak_bytes_per_cycle == 1024          # 32 channels x 32 B at 1 GHz


def test_full_batch_gemm_is_compute_bound_per_tile(hw):
    # 512 rows: every 128x128 weight tile costs (preload 128 + 512 rows) / efficiency on
    # one of 8 arrays; the HBM has time to spare.
    g = gemm_timing(hw, 512, 4096, 4096)
    tiles = 32 * 32
    per_tile = (128 + 512) / hw.systolic.stream_efficiency
    assert g.bound == "compute"
    assert g.cycles == pytest.approx(tiles * per_tile / 8, rel=0.01)
    assert g.macs == 512 * 4096 * 4096
    assert g.hbm_read_bytes >= 4096 * 4096 * 2


def test_small_decode_batch_is_weight_bandwidth_bound(hw):
    g = gemm_timing(hw, 4, 4096, 4096)
    weight_cycles = 4096 * 4096 * 2 / hw.hbm.sustained_bytes_per_cycle
    assert g.bound == "memory"
    assert g.cycles == pytest.approx(weight_cycles, rel=0.03)
    # halving the rows of a weight-bound GEMM saves nothing
    assert gemm_timing(hw, 2, 4096, 4096).cycles == pytest.approx(g.cycles, rel=0.01)


def test_partly_filled_tiles_pay_the_preload(hw):
    # rows < array height: the real cost is preload + rows, so utilisation collapses
    real = tile_compute_cycles(hw, 128, 16)
    assert real == pytest.approx((128 + 16) / hw.systolic.stream_efficiency)
    full = tile_compute_cycles(_with(hw, charge_full_tile=True), 128, 16)
    assert full == pytest.approx((128 + 128) / hw.systolic.stream_efficiency)
    assert tile_compute_cycles(hw, 128, 1) == pytest.approx(
        (128 + hw.systolic.min_rows) / hw.systolic.stream_efficiency)


def test_preload_overlap_hides_the_preload_behind_long_row_streams(hw):
    over = _with(hw, preload_overlap=True)
    assert tile_compute_cycles(over, 128, 512) == pytest.approx(
        512 / hw.systolic.stream_efficiency)
    assert tile_compute_cycles(over, 128, 16) == pytest.approx(
        128 / hw.systolic.stream_efficiency)
    assert gemm_timing(over, 512, 4096, 4096).cycles < gemm_timing(hw, 512, 4096, 4096).cycles


def test_accumulator_passes_repeat_the_preload(hw):
    one = tile_compute_cycles(hw, 128, 1024)
    two = tile_compute_cycles(hw, 128, 2048)
    assert two == pytest.approx(2 * one)


def test_cycles_grow_with_rows_and_partial_tiles_round_up(hw):
    a = gemm_timing(hw, 256, 4096, 3072).cycles
    b = gemm_timing(hw, 512, 4096, 3072).cycles
    assert a < b < 2 * a
    # one extra output column costs a whole column of weight tiles
    c = gemm_timing(hw, 512, 4096, 3072 + 1)
    assert c.tiles == 32 * 25
    assert c.cycles > b


def test_activation_spill_adds_hbm_traffic(hw, preset):
    tiny = dataclasses.replace(hw, sram=dataclasses.replace(hw.sram, size_kib=1024))
    on_chip = gemm_timing(hw, 512, 4096, 4096)
    spilled = gemm_timing(tiny, 512, 4096, 4096)
    assert spilled.hbm_read_bytes == on_chip.hbm_read_bytes + 512 * 4096 * 2
    assert spilled.hbm_write_bytes == 512 * 4096 * 2
    assert spilled.cycles >= on_chip.cycles
    # the preset runs operator by operator through HBM, like the reference
    roundtrip = gemm_timing(preset, 512, 4096, 4096)
    assert roundtrip.hbm_read_bytes == spilled.hbm_read_bytes
    assert roundtrip.hbm_write_bytes == spilled.hbm_write_bytes


@pytest.mark.parametrize("op", sorted(VECTOR_PASSES))
def test_vector_ops_pass_counts(hw, op):
    elems = 512 * 4096
    v = vector_timing(hw, op, elems)
    passes = VECTOR_PASSES[op]
    assert v.cycles == passes * (math.ceil(elems / 1024) + hw.vector.latency_cycles)
    assert v.element_ops == passes * elems
    assert vector_timing(hw, op, 0).cycles == 0


def test_unknown_vector_op_is_rejected(hw):
    with pytest.raises(ValueError):
        vector_timing(hw, "tanhshrink", 10)


def test_hbm_preset_agrees_with_the_dram_engine(preset):
    """The NPU's view of HBM (peak, sustained streaming fraction) against helper A's engine:
    a sequential 8 MiB read stream over all channels, refresh included."""
    import numpy as np

    from sim.dram.engine import simulate_requests
    from sim.dram.standard import load_standard

    std = load_standard(preset.hbm.standard)
    assert std.org.channels == preset.hbm.channels
    peak_per_cycle = std.peak_bandwidth_bytes_per_s / preset.clock_hz
    assert preset.hbm.peak_bytes_per_cycle == pytest.approx(peak_per_cycle)
    n = (8 << 20) // 64
    r = simulate_requests(std, np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64) * 64,
                          np.zeros(n, dtype=bool), fidelity="fast")
    # the preset's sustained fraction is what a stream achieves, less refresh and slack
    assert 0.85 <= preset.hbm.efficiency <= r.peak_fraction


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 700), k=st.integers(1, 2000), n=st.integers(1, 2000),
       dm=st.integers(1, 300), dk=st.integers(1, 300), dn=st.integers(1, 300))
def test_gemm_cycles_are_monotone_and_bounded(m, k, n, dm, dk, dn):
    hw = load_hw("npu-neupims")
    g = gemm_timing(hw, m, k, n)
    assert gemm_timing(hw, m + dm, k, n).cycles >= g.cycles
    assert gemm_timing(hw, m, k + dk, n).cycles >= g.cycles
    assert gemm_timing(hw, m, k, n + dn).cycles >= g.cycles
    # never faster than the peak MAC rate or the weight bytes at peak bandwidth
    assert g.cycles >= m * k * n / hw.systolic.peak_macs_per_cycle
    assert g.cycles >= k * n * hw.dtype_bytes / hw.hbm.peak_bytes_per_cycle
    assert g.tiles == math.ceil(k / 128) * math.ceil(n / 128)
