"""Pareto fronts over chosen objectives (each maximised or minimised).

A point dominates another when it is at least as good in every objective and strictly
better in one. Points with an unavailable (None/NaN) objective take no part. Ties (equal
vectors) do not dominate each other, so both stay on the front.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_min(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    sign = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    return np.asarray(values, dtype=float) * sign


def pareto_mask(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n points x k objectives).

    Rows with a NaN are never on the front. Runs in O(n log n + n * front * k): points are
    visited in lexicographic order, so a point can only be dominated by one seen earlier.
    """
    v = _as_min(values, maximize)
    n = v.shape[0]
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    valid = ~np.isnan(v).any(axis=1)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return mask
    order = idx[np.lexsort(v[idx].T[::-1])]
    front: list[int] = []
    for i in order:
        if front:
            f = v[front]
            dominated = np.all(f <= v[i], axis=1) & np.any(f < v[i], axis=1)
            if dominated.any():
                continue
        front.append(int(i))
    mask[front] = True
    return mask


def pareto_ranks(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Non-dominated sorting: 1 for the front, 2 for the front of the rest, ...; 0 = no rank
    (an objective unavailable)."""
    v = np.asarray(values, dtype=float)
    ranks = np.zeros(v.shape[0], dtype=int)
    remaining = np.flatnonzero(~np.isnan(v).any(axis=1)) if v.size else np.array([], int)
    r = 0
    while remaining.size:
        r += 1
        m = pareto_mask(v[remaining], maximize)
        ranks[remaining[m]] = r
        remaining = remaining[~m]
    return ranks


def pareto_mask_slow(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Pure-Python O(n^2 k) twin of :func:`pareto_mask`, used by the tests."""
    v = _as_min(values, maximize).tolist()
    out = []
    for i, a in enumerate(v):
        if any(x != x for x in a):
            out.append(False)
            continue
        dom = False
        for j, b in enumerate(v):
            if j == i or any(x != x for x in b):
                continue
            if all(bj <= aj for aj, bj in zip(a, b)) and any(bj < aj for aj, bj in zip(a, b)):
                dom = True
                break
        out.append(not dom)
    return np.array(out, dtype=bool)
