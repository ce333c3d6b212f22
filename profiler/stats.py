"""Summary statistics kept the way llama-bench keeps them: mean, sd, percentiles, samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (``q`` in 0..100, numpy's default method); None if empty."""
    xs = sorted(float(v) for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n-1); None values are skipped; sd None for n < 2."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def summary(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """n, mean, sd, min, p50, p90, p99, max of ``values`` (None values skipped)."""
    xs = [float(v) for v in values if v is not None]
    m, sd = mean_sd(xs)
    return {"n": len(xs), "mean": m, "sd": sd, "min": min(xs) if xs else None,
            "p50": percentile(xs, 50), "p90": percentile(xs, 90), "p99": percentile(xs, 99),
            "max": max(xs) if xs else None}
