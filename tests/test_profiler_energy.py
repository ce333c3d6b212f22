"""Energy attribution on synthetic power traces with known integrals (to 0.1 %)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiler.energy import PowerTrace, Window, attribute, energy_j, idle_power_w

REL = 1e-3  # 0.1 %


def test_constant_power():
    t = np.arange(0, 10.0001, 0.1)
    tr = PowerTrace.of(t, np.full_like(t, 2.5))
    assert energy_j(tr, 1.03, 7.77) == pytest.approx(2.5 * 6.74, rel=REL)
    (w,) = attribute(tr, [Window("decode", 1.03, 7.77)], idle_w=1.0)
    assert w.gross_j == pytest.approx(16.85, rel=REL)
    assert w.net_j == pytest.approx(1.5 * 6.74, rel=REL)
    assert w.mean_w == pytest.approx(2.5, rel=REL)


def test_ramp_windows_cut_between_samples():
    t = np.arange(0, 10.0001, 0.25)
    tr = PowerTrace.of(t, 1.0 + 0.5 * t)   # P = 1 + t/2 W -> E(a,b) = (b-a) + (b^2-a^2)/4
    def exact(a, b):
        return (b - a) + (b * b - a * a) / 4
    ws = attribute(tr, [Window("load", 0.1, 2.33), Window("prefill", 2.33, 2.41),
                        Window("decode", 2.41, 9.9)])
    for w in ws:
        assert w.gross_j == pytest.approx(exact(w.t0, w.t1), rel=REL)
    assert sum(w.gross_j for w in ws) == pytest.approx(exact(0.1, 9.9), rel=1e-9)


def test_step_at_phase_boundary():
    # 0.8 W idle-like until t=3 s, 4.2 W after: a step is two samples at the same time
    t = [0.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0]
    p = [0.8, 0.8, 0.8, 0.8, 4.2, 4.2, 4.2, 4.2]
    tr = PowerTrace.of(t, p)
    pre, dec = attribute(tr, [Window("prefill", 0.5, 3.0), Window("decode", 3.0, 5.5)])
    assert pre.gross_j == pytest.approx(0.8 * 2.5, rel=REL)
    assert dec.gross_j == pytest.approx(4.2 * 2.5, rel=REL)


def test_step_sampled_at_1khz():
    t = np.arange(0, 4.0005, 0.001)
    p = np.where(t < 2.0, 1.0, 3.0)
    tr = PowerTrace.of(t, p)
    a, b = attribute(tr, [Window("prefill", 0.0, 2.0), Window("decode", 2.0, 4.0)])
    assert a.gross_j == pytest.approx(2.0, rel=REL)
    assert b.gross_j == pytest.approx(6.0, rel=REL)


def test_overlapping_windows_share_power_and_sum_to_union():
    t = np.arange(0, 10.0001, 0.5)
    tr = PowerTrace.of(t, np.full_like(t, 3.0))
    ws = attribute(tr, [Window("c1", 1.0, 5.0), Window("c2", 3.0, 7.0)], idle_w=1.0)
    # c1: alone 1-3 (6 J), shared 3-5 (3 J); c2: shared 3-5 (3 J), alone 5-7 (6 J)
    assert ws[0].gross_j == pytest.approx(9.0, rel=1e-9)
    assert ws[1].gross_j == pytest.approx(9.0, rel=1e-9)
    assert ws[0].share_s == pytest.approx(3.0) and ws[1].share_s == pytest.approx(3.0)
    assert ws[0].net_j == pytest.approx(9.0 - 3.0)
    assert sum(w.gross_j for w in ws) == pytest.approx(energy_j(tr, 1.0, 7.0))


def test_no_power_source_gives_none_never_zero():
    (w,) = attribute(None, [Window("decode", 0.0, 1.0)], idle_w=None)
    assert w.gross_j is None and w.net_j is None and w.mean_w is None
    tr = PowerTrace.of([0.0, 1.0], [1.0, 1.0])
    (w,) = attribute(tr, [Window("decode", 0.5, 2.0)])
    assert w.gross_j is None  # trace does not cover the window
    assert idle_power_w(None, 0, 1) is None
    assert idle_power_w(tr, 0.0, 1.0) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 0.99), min_size=1, max_size=6, unique=True),
       st.lists(st.floats(0.0, 10.0), min_size=3, max_size=30))
def test_adjacent_windows_partition_the_union(cuts, powers):
    t = np.linspace(0.0, 1.0, len(powers))
    tr = PowerTrace.of(t, powers)
    edges = [0.0] + sorted(cuts) + [1.0]
    ws = attribute(tr, [Window(f"w{i}", a, b) for i, (a, b) in enumerate(zip(edges, edges[1:]))])
    assert sum(w.gross_j for w in ws) == pytest.approx(energy_j(tr, 0.0, 1.0), rel=1e-9, abs=1e-12)


def test_throttling_flagged_when_clocks_sag_under_load(tmp_path):
    from neumelt.store import Sample, Store
    from profiler.session import _throttling

    store = Store(tmp_path / "t.db")
    run = store.start_run("profile", {})
    t = np.arange(0.0, 20.0, 0.1)
    big = np.where(t < 8.0, 2.8e9, 1.9e9)      # sustained load, then the governor caps it
    little = np.full_like(t, 1.8e9)
    store.add_samples(run, [Sample("cpu", "freq.cpu4", float(a), float(b), "Hz")
                            for a, b in zip(t, big)])
    store.add_samples(run, [Sample("cpu", "freq.cpu0", float(a), float(b), "Hz")
                            for a, b in zip(t, little)])
    out = _throttling(store, run, 0.0, 20.0)
    assert out["cpu.freq.cpu4"]["throttled"] is True
    assert out["cpu.freq.cpu0"]["throttled"] is False
    assert _throttling(store, run, 0.0, 0.5) == {}   # too few samples to judge
    store.close()
