"""Controller + engine: bandwidth bounds, worked timing calculations, twin equality."""

from __future__ import annotations

import numpy as np
import pytest
from dram_support import random_channel_requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neumelt.errors import InputError
from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.engine import simulate_requests
from sim.dram.mapping import AddressMapping
from sim.dram.standard import load_standard

HBM2 = load_standard("hbm2-neupims")
HBM3 = load_standard("hbm3")
NO_REF = ControllerConfig(refresh=False)


@pytest.mark.parametrize("std", [HBM2, HBM3], ids=["hbm2-neupims", "hbm3"])
def test_sequential_reads_reach_90_percent_of_peak_net_of_refresh(std):
    n = 400_000  # ~25 k cycles per channel: several refresh intervals
    addr = np.arange(n, dtype=np.int64) * std.org.burst_bytes
    r = simulate_requests(std, np.zeros(n), addr, np.zeros(n, bool))
    net_peak = std.peak_bandwidth_bytes_per_s * std.refresh_availability
    assert r.commands["REF"] > 0
    assert r.bandwidth_bytes_per_s >= 0.90 * net_peak, (r.bandwidth_bytes_per_s, net_peak)
    assert r.bandwidth_bytes_per_s <= std.peak_bandwidth_bytes_per_s
    assert r.row_hit_rate > 0.9
    assert (r.completion_cycles > 0).all()


def _one_channel(std, banks, rows, ctrl=NO_REF):
    n = len(banks)
    return run_channel(std, ctrl, "dual", np.zeros(n, np.int64), np.zeros(n, bool),
                       np.asarray(banks, np.int64), np.asarray(rows, np.int64),
                       np.zeros(n, np.int64))


def test_single_bank_row_misses_are_paced_by_tRC():
    """Worked calculation, hbm2-neupims: every read opens a new row in bank 0.
    ACT(i) at i*nRC: RD at +nRCDRD = 14; PRE at max(ACT + nRAS, RD + nRTP_L) = 34;
    next ACT at max(PRE + nRP, ACT + nRC) = max(48, 48) = 48. The last data beat is at
    (n-1)*48 + nRCDRD + nCL + nBL = (n-1)*48 + 30."""
    t = HBM2.timing
    n = 50
    out = _one_channel(HBM2, [0] * n, list(range(n)))
    assert max(t.nRAS + t.nRP, t.nRC) == 48
    assert out.final_cycle == (n - 1) * 48 + t.nRCDRD + t.nCL + t.nBL
    assert out.counts[0] == n and out.row_hits == 0        # one ACT per read
    np.testing.assert_array_equal(np.diff(out.done), np.full(n - 1, t.nRC))


def test_random_bank_row_misses_are_paced_by_tRRD_and_tFAW():
    """Worked calculation: reads rotate over the 4 bank groups and 4 banks of pseudo-channel 0
    (bg0b0, bg1b0, bg2b0, bg3b0, bg0b1, ...), each to a new row. Successive ACTs go to
    different bank groups, so nRRD_S = 4 spaces them, and at most 4 ACTs fit in nFAW = 30:
    ACT(k) = (k // 4) * 30 + (k % 4) * 4. Each bank is reused every 16 ACTs = 120 cycles
    > nRC, so nRC never binds. Read k's data ends at ACT(k) + nRCDRD + nCL + nBL."""
    t = HBM2.timing
    n = 64
    k = np.arange(n)
    bg, ba = k % 4, (k // 4) % 4
    banks = bg * 4 + ba                      # rank 0
    out = _one_channel(HBM2, banks, k)
    act = (k // 4) * t.nFAW + (k % 4) * t.nRRD_S
    np.testing.assert_array_equal(out.done, act + t.nRCDRD + t.nCL + t.nBL)
    # bound: 4 activations per nFAW, i.e. 7.5 cycles per read
    assert out.final_cycle == (n // 4 - 1) * 30 + 12 + 30


def test_closed_page_uses_auto_precharge():
    std = HBM2
    n = 3000
    rng = np.random.default_rng(0)
    addr = rng.integers(0, 2**26, n) // 64 * 64
    arr = np.arange(n) * 2
    w = rng.random(n) < 0.3
    opened = simulate_requests(std, arr, addr, w)
    closed = simulate_requests(std, arr, addr, w, controller=ControllerConfig(page_policy="closed"))
    assert closed.commands.get("RDA", 0) + closed.commands.get("WRA", 0) > 0.5 * n
    assert closed.commands.get("PRE", 0) < opened.commands.get("PRE", 0)
    for r in (opened, closed):
        assert (r.completion_cycles >= arr).all()
        assert r.reads + r.writes == n


def test_write_drain_and_queue_backpressure_complete_everything():
    std = HBM2
    n = 5000
    rng = np.random.default_rng(1)
    addr = (rng.integers(0, 64, n) * 64).astype(np.int64)   # one channel, few rows: contention
    w = rng.random(n) < 0.5
    ctrl = ControllerConfig(read_queue=8, write_queue=8, write_high=6, write_low=2)
    r = simulate_requests(std, np.zeros(n), addr, w, controller=ctrl)
    assert (r.completion_cycles > 0).all()
    assert r.commands["RD"] + r.commands.get("RDA", 0) == (~w).sum()
    assert r.commands["WR"] + r.commands.get("WRA", 0) == w.sum()


def test_addresses_beyond_capacity_are_bad_input():
    with pytest.raises(InputError, match="beyond the capacity"):
        simulate_requests(HBM2, [0], [HBM2.org.capacity_bytes], [False])


def test_mapping_round_trip_and_validation():
    m = AddressMapping.of(HBM2, "rorabgbachco")
    assert m.address_bits == 35
    a = m.encode(channel=5, rank=1, bank_group=2, bank=3, row=777, column=9)
    d = m.decode(np.array([a]))
    assert (d.channel[0], d.rank[0], d.bank_group[0], d.bank[0], d.row[0], d.column[0]) == \
        (5, 1, 2, 3, 777, 9)
    with pytest.raises(InputError, match="invalid address mapping"):
        AddressMapping.of(HBM2, "rorabgbachxx")


@pytest.mark.parametrize("scheme", ["rorabgbachco", "rorabachcobg", "chrobabgraco"])
def test_numba_decode_partition_matches_the_mapping(scheme):
    from sim.kernels.dram import decode_partition

    m = AddressMapping.of(HBM2, scheme)
    rng = np.random.default_rng(2)
    addr = rng.integers(0, HBM2.org.capacity_bytes, 5000)
    arr = np.sort(rng.integers(0, 100, 5000))
    wr = rng.random(5000) < 0.5
    sh, mk = m.shifts_masks()
    order, bounds, s_arr, s_wr, s_bank, s_row, s_col = decode_partition(
        addr, arr, wr, sh, mk, 4, 4, 32)
    d = m.decode(addr)
    flat = d.flat_bank(4, 4)
    np.testing.assert_array_equal(s_bank, flat[order])
    np.testing.assert_array_equal(s_row, d.row[order])
    np.testing.assert_array_equal(s_col, d.column[order])
    np.testing.assert_array_equal(s_arr, arr[order])
    np.testing.assert_array_equal(s_wr.astype(bool), wr[order])
    for c in range(32):
        seg = order[bounds[c]:bounds[c + 1]]
        assert (d.channel[seg] == c).all() and (np.diff(seg) > 0).all()   # stable


def _compare_twin(std, n, seed, policy, write_frac, gap):
    a, w, b, r, c = random_channel_requests(std, n, seed, write_frac=write_frac, gap=gap)
    ctrl = ControllerConfig(page_policy=policy, read_queue=8, write_queue=8, write_high=6,
                            write_low=2)
    fast = run_channel(std, ctrl, "dual", a, w, b, r, c, log_capacity=10 * n)
    slow = run_channel(std, ctrl, "dual", a, w, b, r, c, log_capacity=10 * n, twin=True)
    np.testing.assert_array_equal(fast.done, slow.done)
    np.testing.assert_array_equal(fast.counts, slow.counts)
    np.testing.assert_array_equal(fast.log, slow.log)
    assert (fast.final_cycle, fast.row_hits, fast.active_rank_cycles) == \
        (slow.final_cycle, slow.row_hits, slow.active_rank_cycles)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 60), seed=st.integers(0, 2**31), policy=st.sampled_from(["open", "closed"]),
       write_frac=st.floats(0, 1), gap=st.integers(0, 40),
       std=st.sampled_from([HBM2, HBM3]))
def test_numba_kernel_equals_pure_python_twin(n, seed, policy, write_frac, gap, std):
    _compare_twin(std, n, seed, policy, write_frac, gap)


def test_twin_equality_through_refresh():
    # long enough to cross several nREFI deadlines
    _compare_twin(HBM2, 400, 3, "open", 0.3, 25)


def test_controller_config_rejects_watermarks_that_starve_reads():
    with pytest.raises(ValueError):
        ControllerConfig(write_high=0, write_low=0)
    with pytest.raises(ValueError):
        ControllerConfig(write_high=8, write_low=8)
