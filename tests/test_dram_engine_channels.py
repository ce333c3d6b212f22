"""``simulate_requests`` runs every channel in one compiled call (``simulate_channels``): it must
give exactly what one ``run_channel`` call per channel gives, and what the pure-Python twin
gives, request by request, command by command."""

from __future__ import annotations

import numpy as np
import pytest
from dram_support import DATA

from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.engine import simulate_requests
from sim.dram.mapping import AddressMapping
from sim.dram.standard import load_standard


def _requests(std, n: int, seed: int, sequential: bool):
    rng = np.random.default_rng(seed)
    bb = std.org.burst_bytes
    if sequential:
        addr = np.arange(n, dtype=np.int64) * bb
    else:
        addr = rng.integers(0, std.org.capacity_bytes // bb, n) * bb
    arrival = np.cumsum(rng.integers(0, 3, n)).astype(np.int64)
    return arrival, addr, rng.random(n) < 0.3


def _per_channel(std, ctrl, arrival, addr, wr):
    """The reference: decode in Python, one run_channel call per channel."""
    d = AddressMapping.of(std, std.address_mapping).decode(addr)
    flat = d.flat_bank(std.org.bank_groups, std.org.banks_per_group)
    done = np.full(len(addr), -1, dtype=np.int64)
    counts = np.zeros(15, dtype=np.int64)
    finals = np.zeros(std.org.channels, dtype=np.int64)
    for ch in range(std.org.channels):
        idx = np.flatnonzero(d.channel == ch)
        if not len(idx):
            continue
        out = run_channel(std, ctrl, "dual", arrival[idx], wr[idx], flat[idx], d.row[idx],
                          d.column[idx])
        done[idx] = out.done
        counts += out.counts
        finals[ch] = out.final_cycle
    return done, counts, finals


@pytest.mark.parametrize("name", ["hbm2-neupims", "hbm3"])
@pytest.mark.parametrize("sequential", [True, False])
def test_one_call_equals_one_call_per_channel(name, sequential):
    std = load_standard(name)
    ctrl = ControllerConfig()
    arrival, addr, wr = _requests(std, 6_000, 3, sequential)
    res = simulate_requests(std, arrival, addr, wr, controller=ctrl)
    done, counts, finals = _per_channel(std, ctrl, arrival, addr, wr)
    assert np.array_equal(res.completion_cycles, done) and (done > 0).all()
    assert np.array_equal(res.channel_cycles, finals)
    assert res.commands_issued == int(counts.sum() - counts[10] - counts[11])
    assert res.reads + res.writes == len(addr) and res.writes == int(wr.sum())


def test_one_call_equals_the_twin_with_logs():
    std = load_standard(DATA / "hbm2-2ch-fastref.yaml")   # refreshes inside the run
    arrival, addr, wr = _requests(std, 1_500, 5, False)
    ctrl = ControllerConfig(page_policy="closed")
    fast = simulate_requests(std, arrival, addr, wr, controller=ctrl, log_capacity=8_000)
    slow = simulate_requests(std, arrival, addr, wr, controller=ctrl, log_capacity=8_000,
                             twin=True)
    assert np.array_equal(fast.completion_cycles, slow.completion_cycles)
    assert fast.commands == slow.commands and fast.commands.get("REF", 0) > 0
    assert np.array_equal(fast.channel_cycles, slow.channel_cycles)
    assert fast.row_hits == slow.row_hits and fast.energy_j == slow.energy_j
    assert np.array_equal(fast.command_log, slow.command_log)
    assert set(np.unique(fast.command_log[:, 7])) == {0, 1}
