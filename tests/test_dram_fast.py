"""Fidelity ladder: the fast paths against command level on every regression trace/batch."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from dram_support import DATA, GPT3_7B_TP4

from sim.dram.engine import simulate_requests
from sim.dram.fast import ERROR_BOUND
from sim.dram.standard import load_standard
from sim.dram.trace import read_trace
from sim.kernels.pim import attention_fast_channel, attention_fast_channel_py
from sim.pim.attention import simulate_attention
from sim.pim.fast import ERROR_BOUND_MIXED, ERROR_BOUND_PIM

STANDARDS = [load_standard("hbm2-neupims"), load_standard("hbm3"),
             load_standard(DATA / "hbm2-2ch-fastref.yaml")]
TRACES = sorted(DATA.glob("*.trace"))
BATCHES = sorted(DATA.glob("pim_batch_*.csv"))


def _batch(path, channels=8):
    per = [[] for _ in range(channels)]
    with open(path) as fh:
        for row in csv.DictReader(fh):
            per[int(row["ch_idx"])].append(int(row["seq_len"]))
    return per


@pytest.mark.parametrize("std", STANDARDS, ids=lambda s: s.name)
@pytest.mark.parametrize("trace", TRACES, ids=lambda p: p.stem)
def test_stream_fast_path_within_bound(std, trace):
    tr = read_trace(trace)
    cmd = simulate_requests(std, tr.arrival, tr.address, tr.is_write)
    fast = simulate_requests(std, tr.arrival, tr.address, tr.is_write, fidelity="fast")
    assert fast.fidelity == "fast" and fast.error_bound == ERROR_BOUND == 0.02
    err = abs(fast.cycles - cmd.cycles) / cmd.cycles
    assert err <= ERROR_BOUND, (fast.cycles, cmd.cycles)
    assert fast.commands.get("REF", 0) == cmd.commands.get("REF", 0)
    if std.name == "hbm2-2ch-fastref":
        assert cmd.commands["REF"] > 4        # refresh is exercised


def test_fast_path_declines_irregular_traffic():
    std = STANDARDS[0]
    rng = np.random.default_rng(0)
    addr = rng.integers(0, 2**24, 500) // 64 * 64
    r = simulate_requests(std, np.zeros(500), addr, np.zeros(500, bool), fidelity="fast")
    assert r.fidelity == "command" and r.error_bound is None


@pytest.mark.parametrize("std", STANDARDS[:2], ids=lambda s: s.name)
@pytest.mark.parametrize("batch", BATCHES, ids=lambda p: p.stem)
@pytest.mark.parametrize("row_buffer", ["single", "dual"])
def test_pim_fast_path_within_bound(std, batch, row_buffer):
    per = _batch(batch)
    cmd = simulate_attention(std, per, GPT3_7B_TP4, row_buffer=row_buffer)
    fast = simulate_attention(std, per, GPT3_7B_TP4, row_buffer=row_buffer, fidelity="fast")
    assert fast.error_bound == ERROR_BOUND_PIM
    err = np.abs(fast.channel_phase_cycles - cmd.channel_phase_cycles)
    worst = (err / np.maximum(cmd.channel_phase_cycles, 1)).max()
    assert worst <= ERROR_BOUND_PIM
    for k in ("COMP", "READRES", "GWRITE", "G_ACT", "PIM_PRECHARGE"):
        assert fast.commands[k] == cmd.commands[k]


@pytest.mark.parametrize("std", STANDARDS[:2], ids=lambda s: s.name)
@pytest.mark.parametrize("row_buffer", ["single", "dual"])
@pytest.mark.parametrize("read_bytes", [300_000, 3_000_000])
def test_pim_fast_path_with_npu_reads_within_its_bound(std, row_buffer, read_bytes):
    per = _batch(BATCHES[0])
    reads = [read_bytes * (i % 3) // 2 for i in range(8)]
    cmd = simulate_attention(std, per, GPT3_7B_TP4, row_buffer=row_buffer,
                             npu_read_bytes_per_channel=reads)
    fast = simulate_attention(std, per, GPT3_7B_TP4, row_buffer=row_buffer, fidelity="fast",
                              npu_read_bytes_per_channel=reads)
    assert fast.error_bound == ERROR_BOUND_MIXED
    assert abs(fast.cycles - cmd.cycles) / cmd.cycles <= ERROR_BOUND_MIXED
    done_err = abs(fast.npu_reads_done_cycle - cmd.npu_reads_done_cycle)
    assert done_err / cmd.npu_reads_done_cycle <= 0.10
    assert abs(fast.commands["RD"] - cmd.commands["RD"]) <= 16   # per-phase rounding


def test_pim_fast_kernel_equals_its_twin():
    std = STANDARDS[0]
    o, t, p = std.org, std.timing, std.pim
    lens = np.array([5, 700, 2048, 33, 512], np.int64)
    for phase in (0, 1):
        args = (lens, phase, 8, 128, 1024, 2, o.pseudo_channels, o.bank_groups,
                o.banks_per_group, o.row_bytes, p.global_buffer_bytes, p.multipliers_per_bank,
                t.nRCDRD, t.nRAS, t.nRP, t.nRRD_S, t.nRRD_L, t.nFAW, 4, 4, p.nCOMP, p.comps_min,
                p.nGWRITE, t.nRFC, t.nREFI, 1)
        c1, c2 = np.zeros(15, np.int64), np.zeros(15, np.int64)
        a1, a2 = np.zeros(3, np.int64), np.zeros(3, np.int64)
        assert attention_fast_channel(*args, c1, a1, 18) == \
            attention_fast_channel_py(*args, c2, a2, 18)
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(a1, a2)
