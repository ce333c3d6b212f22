"""The numba tile scheduler against its pure-Python twin, and its bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from npu_support import schedule_tiles_py

from sim.kernels.npu import schedule_tiles

tile = st.tuples(st.integers(0, 40_000), st.integers(0, 8_000), st.floats(1.0, 700.0))


@settings(max_examples=60, deadline=None)
@given(tiles=st.lists(tile, min_size=1, max_size=40), arrays=st.integers(1, 8),
       bw=st.floats(16.0, 1024.0), lat=st.integers(0, 100), window=st.integers(1, 6))
def test_kernel_matches_python_twin(tiles, arrays, bw, lat, window):
    load = np.array([t[0] for t in tiles], dtype=np.float64)
    write = np.array([t[1] for t in tiles], dtype=np.float64)
    comp = np.array([t[2] for t in tiles], dtype=np.float64)
    got = schedule_tiles(load, write, comp, arrays, bw, float(lat), window)
    want = schedule_tiles_py(load, write, comp, arrays, bw, float(lat), window)
    assert got == pytest.approx(want, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(tiles=st.lists(tile, min_size=1, max_size=60), arrays=st.integers(1, 8),
       bw=st.floats(16.0, 1024.0), window=st.integers(1, 64))
def test_end_is_at_least_both_rooflines(tiles, arrays, bw, window):
    load = np.array([t[0] for t in tiles], dtype=np.float64)
    write = np.array([t[1] for t in tiles], dtype=np.float64)
    comp = np.array([t[2] for t in tiles], dtype=np.float64)
    end, busy, hbm = schedule_tiles(load, write, comp, arrays, bw, 0.0, window)
    assert busy == pytest.approx(comp.sum())
    assert hbm == pytest.approx((load.sum() + write.sum()) / bw)
    # never faster than the compute bound or the bytes of the loads
    assert end >= comp.sum() / arrays - 1e-6
    assert end >= load.sum() / bw - 1e-6
    # never slower than doing everything one after the other
    assert end <= comp.sum() + hbm + 1e-6


def test_double_buffering_hides_loads_behind_compute():
    n = 64
    load = np.full(n, 1000.0)
    comp = np.full(n, 100.0)
    write = np.zeros(n)
    # one array, loads of 10 cycles, compute 100: with a window the loads overlap compute
    end_db, _, _ = schedule_tiles(load, write, comp, 1, 100.0, 0.0, 2)
    assert end_db == pytest.approx(10 + n * 100)
    # a memory-bound stream ends when the last load lands plus one tile of compute
    end_mem, _, _ = schedule_tiles(np.full(n, 20_000.0), write, comp, 1, 100.0, 0.0, 4)
    assert end_mem == pytest.approx(n * 200 + 100)
