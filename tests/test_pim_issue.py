"""The NPU's PIM command port with requests handed out in order (sim.pim.issue)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.dram.standard import load_standard
from sim.pim.attention import AttentionShape
from sim.pim.fast import pim_channel_cycles
from sim.pim.issue import ordered_port_timing, phase_commands

STD = load_standard("hbm2-neupims")
SHAPE = AttentionShape(heads=8, d_k=128, e_tp=1024, dtype_bytes=2)


def _alone(seq_len: int, phase: int, command_set: str = "newton") -> tuple[int, int]:
    """(channel cycles, commands) of one request alone."""
    svc = pim_channel_cycles(STD, [seq_len], SHAPE, phase, refresh=False)[0]
    n = phase_commands(STD, [[seq_len]], SHAPE, [phase], command_set)[0]
    return int(svc), int(n)


def test_two_channels_by_hand():
    svc, n = _alone(700, 0)
    one = ordered_port_timing(STD, [(700, 0)], SHAPE, (0,), "newton", 1.0, refresh=False)
    assert one.cycles == (max(1 + svc, n),) and one.commands == (n,)
    two = ordered_port_timing(STD, [(700, 0), (700, 1)], SHAPE, (0,), "newton", 1.0, refresh=False)
    # the second channel's first command leaves the port after all n of the first request
    assert two.cycles == (max(n + 1 + svc, 2 * n),)
    assert two.port_cycles == (2 * n,)
    # a port twice as fast halves the wait; the channels' own time stays
    fast = ordered_port_timing(STD, [(700, 0), (700, 1)], SHAPE, (0,), "newton", 2.0, refresh=False)
    assert fast.cycles == (math.ceil(max(n / 2 + 0.5 + svc, n)),)


def test_same_channel_requests_queue_behind_each_other():
    (s1, n1), (s2, n2) = _alone(300, 1), _alone(900, 1)
    t = ordered_port_timing(STD, [(300, 3), (900, 3)], SHAPE, (1,), "newton", 1.0, refresh=False)
    end1 = max(1 + s1, n1)
    assert t.cycles == (max(max(end1, n1 + 1) + s2, n1 + n2),)


batches = st.lists(st.tuples(st.integers(1, 1500), st.integers(0, 3)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(batches, st.sampled_from(["newton", "composite"]), st.sampled_from([0, 1]))
def test_bounds_whatever_the_order(reqs, command_set, phase):
    """A phase never beats the port or its busiest channel, and never exceeds the two one
    after the other; its commands are the whole batch's (phase_commands)."""
    t = ordered_port_timing(STD, reqs, SHAPE, (phase,), command_set, 1.0,
                              refresh=False)
    per = [[s for s, c in reqs if c == ch] for ch in range(4)]
    busiest = max(sum(_alone(s, phase, command_set)[0] for s in lens) for lens in per)
    assert t.commands[0] == phase_commands(STD, per, SHAPE, [phase], command_set)[0]
    assert t.cycles[0] >= max(t.port_cycles[0], busiest)
    assert t.cycles[0] <= t.port_cycles[0] + busiest + 1
    by_channel = sorted(reqs, key=lambda r: r[1])
    t2 = ordered_port_timing(STD, by_channel, SHAPE, (phase,), command_set, 1.0,
                              refresh=False)
    assert t2.commands == t.commands and t2.port_cycles == t.port_cycles


@settings(max_examples=30, deadline=None)
@given(batches, st.sampled_from([0, 1]))
def test_refresh_is_charged_where_the_channel_is_busy(reqs, phase):
    """With refresh, a request's channel time is what it adds to its channel's fast-path
    cycles so far: with a port that never makes a channel wait, the phase is the busiest
    channel's own cycles with refresh (pim_channel_cycles of its requests in batch order),
    and refresh never shortens a phase."""
    fast = ordered_port_timing(STD, reqs, SHAPE, (phase,), "newton", 1e9)
    per = [[s for s, c in reqs if c == ch] for ch in range(4)]
    own = max(pim_channel_cycles(STD, lens, SHAPE, phase, refresh=True)[0] if lens else 0
              for lens in per)
    assert own <= fast.cycles[0] <= own + 1
    on = ordered_port_timing(STD, reqs, SHAPE, (phase,), "newton", 1.0)
    off = ordered_port_timing(STD, reqs, SHAPE, (phase,), "newton", 1.0, refresh=False)
    assert on.cycles[0] >= off.cycles[0] and on.commands == off.commands
