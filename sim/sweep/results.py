"""Reading a sweep back: ranking points and their Pareto front over chosen objectives."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.sweep.pareto import pareto_ranks


def metric_value(point: dict[str, Any], name: str) -> float | None:
    m = point.get("metrics", {}).get(name)
    if not m or m.get("value") is None:
        return None
    v = float(m["value"])
    return None if math.isnan(v) else v


def objective_matrix(points: Sequence[dict[str, Any]],
                     objectives: Sequence[tuple[str, str]]) -> np.ndarray:
    """n points x k objectives; NaN where a metric is unavailable."""
    out = np.full((len(points), len(objectives)), np.nan)
    for i, p in enumerate(points):
        for j, (name, _) in enumerate(objectives):
            v = metric_value(p, name)
            if v is not None:
                out[i, j] = v
    return out


def ranked(points: dict[str, dict[str, Any]],
           objectives: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Successful points with their Pareto rank (1 = front, 0 = an objective unavailable),
    sorted by rank, then by the first objective (best first), then by key."""
    ok = [p for p in points.values() if p.get("status") == "ok"]
    if not objectives:
        return [{**p, "pareto_rank": 0} for p in sorted(ok, key=lambda p: p["key"])]
    vals = objective_matrix(ok, objectives)
    ranks = pareto_ranks(vals, [g == "max" for _, g in objectives])
    sign = -1.0 if objectives[0][1] == "max" else 1.0
    rows = [{**p, "pareto_rank": int(r)} for p, r in zip(ok, ranks)]
    order = sorted(range(len(rows)), key=lambda i: (
        rows[i]["pareto_rank"] == 0, rows[i]["pareto_rank"],
        math.inf if np.isnan(vals[i, 0]) else sign * vals[i, 0], rows[i]["key"]))
    return [rows[i] for i in order]


def front_rows(points: dict[str, dict[str, Any]],
               objectives: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The Pareto front: key, coords and each objective as {value, unit, provenance}."""
    out = []
    for p in ranked(points, objectives):
        if p["pareto_rank"] != 1:
            continue
        out.append({"key": p["key"], "coords": p.get("coords", {}),
                    "objectives": {m: p["metrics"].get(m) for m, _ in objectives}})
    return out
