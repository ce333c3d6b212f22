"""Pareto fronts: the fast front equals its brute-force twin; ranks peel fronts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.sweep.pareto import pareto_mask, pareto_mask_slow, pareto_ranks
from sim.sweep.results import front_rows, ranked


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 40), st.integers(1, 4), st.integers(0, 2**31 - 1), st.booleans())
def test_front_matches_brute_force(n, k, seed, ties):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 4, size=(n, k)).astype(float) if ties else rng.normal(size=(n, k))
    if n and seed % 3 == 0:
        v[rng.integers(n), rng.integers(k)] = np.nan
    maximize = [bool(x) for x in rng.integers(0, 2, size=k)]
    assert (pareto_mask(v, maximize) == pareto_mask_slow(v, maximize)).all()


def test_hand_example_and_ranks():
    # throughput (max), energy (min)
    v = np.array([[10, 5], [8, 3], [10, 6], [6, 3], [12, 9], [np.nan, 1], [8, 3]])
    mask = pareto_mask(v, [True, False])
    assert mask.tolist() == [True, True, False, False, True, False, True]
    assert pareto_ranks(v, [True, False]).tolist() == [1, 1, 2, 2, 1, 0, 1]


def test_ranked_and_front_rows_from_point_records():
    def pt(key, tput, energy, status="ok"):
        return {"key": key, "status": status, "coords": {"k": key}, "metrics": {
            "tput": {"value": tput, "unit": "tokens/s", "provenance": "estimated", "source": "x"},
            "e": {"value": energy, "unit": "J/token", "provenance": "estimated", "source": "x"}}}

    points = {p["key"]: p for p in [pt("a", 10, 5), pt("b", 12, 9), pt("c", 6, 6),
                                    pt("d", None, 1), pt("f", 99, 0, status="error")]}
    objectives = [("tput", "max"), ("e", "min")]
    order = [(p["key"], p["pareto_rank"]) for p in ranked(points, objectives)]
    assert order == [("b", 1), ("a", 1), ("c", 2), ("d", 0)]
    front = front_rows(points, objectives)
    assert [r["key"] for r in front] == ["b", "a"]
    assert front[0]["objectives"]["tput"]["unit"] == "tokens/s"
