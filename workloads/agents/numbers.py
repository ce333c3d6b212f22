"""NumberSpec: how a template says "a number", constant or drawn (agentwl/v1 §2.2).

Forms::

    1200                                      # constant
    $steps                                    # a variable (also iter, first, branch)
    {dist: const, value: 5}
    {dist: uniform, min: 3, max: 10}          # integers inclusive when the target is integer
    {dist: normal, mean: 130, sd: 30}
    {dist: lognormal, mean: 151, sd: 139}     # arithmetic mean / sd, converted to mu / sigma
    {dist: choice, values: [2, 3, 4], weights: [8, 42, 42]}
    {dist: lookup, index: $app, values: [1176, 3289, 2258]}
    {dist: empirical, values: [506, 822, 229]}
    {dist: empirical, file: data/steps.csv, column: steps}   # path relative to the template
    {base: 646, per: {n_text: 13, iter: 21}}
    {base: 1334, per: [{var: iter, coef: 33, max: 5}], noise: {dist: normal, mean: 0, sd: 40}}

Modifiers on any mapping form: ``min``, ``max`` (clamps; for ``uniform`` also the range) and
``round`` (default true for token counts and loop counts). No expression language.

:func:`check` validates a spec statically (types, known keys, variables in scope, constant
token counts non-negative integers); :func:`evaluate` draws a value with a given generator.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neumelt.config import Doc

DISTS = ("const", "uniform", "normal", "lognormal", "choice", "lookup", "empirical")
_DIST_KEYS = {
    "const": {"value"},
    "uniform": set(),
    "normal": {"mean", "sd"},
    "lognormal": {"mean", "sd"},
    "choice": {"values", "weights"},
    "lookup": {"index", "values"},
    "empirical": {"values", "file", "column"},
}
_MODIFIERS = {"min", "max", "round"}

#: What a number is used for: decides rounding and the static sign/integer checks.
KINDS = ("tokens", "count", "seconds", "prob", "number")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _expected(kind: str) -> str:
    return {
        "tokens": "a non-negative integer token count, a $variable or a distribution mapping",
        "count": "a non-negative integer count, a $variable or a distribution mapping",
        "seconds": "a non-negative number of seconds, a $variable or a distribution mapping",
        "prob": "a probability between 0 and 1",
        "number": "a number, a $variable or a distribution mapping",
    }[kind]


def check(spec: Any, path: str, doc: Doc, kind: str, var_names: set[str],
          base_dir: Path | None = None) -> None:
    """Raise :class:`InputError` (file, key path, line) if ``spec`` is not a valid NumberSpec."""
    if _is_num(spec):
        if kind in ("tokens", "count") and float(spec) != int(spec):
            raise doc.error(path, f"got non-integer {spec!r}", _expected(kind))
        if kind in ("tokens", "count", "seconds") and spec < 0:
            raise doc.error(path, f"got negative {spec!r}", _expected(kind))
        if kind == "prob" and not 0.0 <= spec <= 1.0:
            raise doc.error(path, f"got {spec!r}", _expected(kind))
        return
    if isinstance(spec, str):
        name = spec[1:] if spec.startswith("$") else None
        if not name:
            try:
                float(spec)
                hint = " (YAML reads exponent notation without a '.' as text: write 1.0e-3)"
            except ValueError:
                hint = ""
            raise doc.error(path, f"got string {spec!r}{hint}", _expected(kind))
        if name not in var_names:
            raise doc.error(path, f"undefined variable '${name}'",
                            "one of " + ", ".join("$" + v for v in sorted(var_names))
                            if var_names else "a variable defined under vars")
        return
    if not isinstance(spec, dict):
        raise doc.error(path, f"got {type(spec).__name__} {spec!r}", _expected(kind))
    sub_kind = "number"
    for m in ("min", "max"):
        if m in spec and not _is_num(spec[m]):
            raise doc.error(f"{path}.{m}", f"got {spec[m]!r}", "a number")
    if "round" in spec and not isinstance(spec["round"], bool):
        raise doc.error(f"{path}.round", f"got {spec['round']!r}", "true or false")
    if "dist" in spec:
        dist = spec["dist"]
        if dist not in DISTS:
            raise doc.error(f"{path}.dist", f"unknown distribution {dist!r}",
                            "one of " + ", ".join(DISTS))
        allowed = {"dist"} | _DIST_KEYS[dist] | _MODIFIERS
        _unknown(spec, allowed, path, doc)
        if dist == "const":
            _need(spec, "value", path, doc)
            check(spec["value"], f"{path}.value", doc, kind, var_names, base_dir)
        elif dist == "uniform":
            _need(spec, "min", path, doc)
            _need(spec, "max", path, doc)
            if spec["min"] > spec["max"]:
                raise doc.error(path, f"min {spec['min']} > max {spec['max']}", "min <= max")
        elif dist in ("normal", "lognormal"):
            for k in ("mean", "sd"):
                _need(spec, k, path, doc)
                check(spec[k], f"{path}.{k}", doc, sub_kind, var_names, base_dir)
            if _is_num(spec["sd"]) and spec["sd"] < 0:
                raise doc.error(f"{path}.sd", f"got {spec['sd']!r}", "sd >= 0")
            if dist == "lognormal" and _is_num(spec["mean"]) and spec["mean"] <= 0:
                raise doc.error(f"{path}.mean", f"got {spec['mean']!r}", "mean > 0")
        elif dist == "choice":
            _need(spec, "values", path, doc)
            _num_list(spec["values"], f"{path}.values", doc, kind)
            if "weights" in spec:
                _num_list(spec["weights"], f"{path}.weights", doc, "seconds")
                if len(spec["weights"]) != len(spec["values"]):
                    raise doc.error(f"{path}.weights", "length differs from values",
                                    f"{len(spec['values'])} weights")
                if sum(spec["weights"]) <= 0:
                    raise doc.error(f"{path}.weights", "weights sum to 0", "a positive sum")
        elif dist == "lookup":
            _need(spec, "index", path, doc)
            _need(spec, "values", path, doc)
            check(spec["index"], f"{path}.index", doc, "count", var_names, base_dir)
            _num_list(spec["values"], f"{path}.values", doc, kind)
        elif dist == "empirical":
            if "values" in spec:
                _num_list(spec["values"], f"{path}.values", doc, kind)
            elif "file" in spec:
                _need(spec, "column", path, doc)
                load_column(spec["file"], spec["column"], f"{path}.file", doc, base_dir)
            else:
                raise doc.error(path, "empirical needs 'values' or 'file' + 'column'",
                                "values: [..] or file: PATH, column: NAME")
        return
    if "base" in spec:
        _unknown(spec, {"base", "per", "noise"} | _MODIFIERS, path, doc)
        check(spec["base"], f"{path}.base", doc, kind if kind != "count" else "count",
              var_names, base_dir)
        per = spec.get("per")
        if per is not None:
            if isinstance(per, dict):
                for var, coef in per.items():
                    if var not in var_names:
                        raise doc.error(f"{path}.per.{var}", f"undefined variable '{var}'",
                                        "one of " + ", ".join(sorted(var_names)))
                    if not _is_num(coef):
                        raise doc.error(f"{path}.per.{var}", f"got {coef!r}", "a number")
            elif isinstance(per, list):
                for i, term in enumerate(per):
                    tp = f"{path}.per[{i}]"
                    if not isinstance(term, dict):
                        raise doc.error(tp, f"got {term!r}", "a mapping {var, coef, max}")
                    _unknown(term, {"var", "coef", "max", "min"}, tp, doc)
                    _need(term, "var", tp, doc)
                    if term["var"] not in var_names:
                        raise doc.error(f"{tp}.var", f"undefined variable '{term['var']}'",
                                        "one of " + ", ".join(sorted(var_names)))
                    for k in ("coef", "max", "min"):
                        if k in term and not _is_num(term[k]):
                            raise doc.error(f"{tp}.{k}", f"got {term[k]!r}", "a number")
            else:
                raise doc.error(f"{path}.per", f"got {per!r}",
                                "a mapping var: coef or a list of {var, coef, max}")
        if "noise" in spec:
            check(spec["noise"], f"{path}.noise", doc, "number", var_names, base_dir)
        return
    raise doc.error(path, "a number mapping needs 'dist' or 'base'",
                    "{dist: ...} or {base: ..., per: ...}")


def _unknown(spec: dict, allowed: set[str], path: str, doc: Doc) -> None:
    for k in spec:
        if k not in allowed:
            raise doc.error(f"{path}.{k}", f"unknown key '{k}'",
                            "one of " + ", ".join(sorted(allowed)))


def _need(spec: dict, key: str, path: str, doc: Doc) -> None:
    if key not in spec:
        raise doc.error(path, f"missing required key '{key}'")


def _num_list(values: Any, path: str, doc: Doc, kind: str) -> None:
    if not isinstance(values, list) or not values:
        raise doc.error(path, f"got {values!r}", "a non-empty list of numbers")
    for i, v in enumerate(values):
        if not _is_num(v):
            raise doc.error(f"{path}[{i}]", f"got {v!r}", "a number")
        if kind in ("tokens", "count", "seconds") and v < 0:
            raise doc.error(f"{path}[{i}]", f"got negative {v!r}", "a non-negative number")
        if kind in ("tokens", "count") and float(v) != int(v):
            raise doc.error(f"{path}[{i}]", f"got non-integer {v!r}", _expected(kind))


_COLUMN_CACHE: dict[tuple[str, str], tuple[float, ...]] = {}


def load_column(file: Any, column: Any, path: str, doc: Doc,
                base_dir: Path | None) -> tuple[float, ...]:
    """Numbers of ``column`` in CSV/TSV ``file`` (relative to the template's folder)."""
    if not isinstance(file, str) or not isinstance(column, str):
        raise doc.error(path, f"got {file!r}", "a file path and a column name (strings)")
    p = Path(file)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    key = (str(p), column)
    if key in _COLUMN_CACHE:
        return _COLUMN_CACHE[key]
    try:
        text = p.read_text(encoding="utf-8")
    except OSError:
        raise doc.error(path, f"file not found: {p}", "an existing CSV/TSV file") from None
    delim = "\t" if "\t" in text.splitlines()[0] else ","
    rows = list(csv.DictReader(text.splitlines(), delimiter=delim))
    if not rows or column not in rows[0]:
        cols = ", ".join(rows[0].keys()) if rows else "none"
        raise doc.error(path, f"no column '{column}' in {p}", f"one of {cols}")
    try:
        vals = tuple(float(r[column]) for r in rows)
    except ValueError as exc:
        raise doc.error(path, f"non-numeric value in column '{column}': {exc}") from None
    _COLUMN_CACHE[key] = vals
    return vals


def evaluate(spec: Any, rng: np.random.Generator, var: Callable[[str], float],
             integer: bool, path: str, doc: Doc, base_dir: Path | None = None) -> float:
    """Draw a value of ``spec``; ``var(name)`` resolves variables. Rounds when ``integer``."""
    x = _eval(spec, rng, var, integer, path, doc, base_dir)
    if isinstance(spec, dict):
        if "min" in spec:
            x = max(x, float(spec["min"]))
        if "max" in spec:
            x = min(x, float(spec["max"]))
        if spec.get("round", integer):
            x = float(math.floor(x + 0.5))
    elif integer:
        x = float(math.floor(x + 0.5))
    return x


def _eval(spec: Any, rng: np.random.Generator, var: Callable[[str], float], integer: bool,
          path: str, doc: Doc, base_dir: Path | None) -> float:
    if _is_num(spec):
        return float(spec)
    if isinstance(spec, str):
        return float(var(spec[1:]))
    if "dist" not in spec:
        x = evaluate(spec["base"], rng, var, False, f"{path}.base", doc, base_dir)
        per = spec.get("per") or {}
        terms = ([{"var": k, "coef": v} for k, v in per.items()] if isinstance(per, dict)
                 else per)
        for term in terms:
            v = float(var(term["var"]))
            if "max" in term:
                v = min(v, float(term["max"]))
            if "min" in term:
                v = max(v, float(term["min"]))
            x += float(term.get("coef", 1.0)) * v
        if "noise" in spec:
            x += evaluate(spec["noise"], rng, var, False, f"{path}.noise", doc, base_dir)
        return x
    dist = spec["dist"]
    if dist == "const":
        return evaluate(spec["value"], rng, var, False, f"{path}.value", doc, base_dir)
    if dist == "uniform":
        lo, hi = float(spec["min"]), float(spec["max"])
        if integer and lo.is_integer() and hi.is_integer():
            return float(rng.integers(int(lo), int(hi) + 1))
        return float(rng.uniform(lo, hi))
    if dist in ("normal", "lognormal"):
        mean = evaluate(spec["mean"], rng, var, False, f"{path}.mean", doc, base_dir)
        sd = evaluate(spec["sd"], rng, var, False, f"{path}.sd", doc, base_dir)
        if dist == "normal":
            return float(rng.normal(mean, sd)) if sd > 0 else mean
        if mean <= 0:
            raise doc.error(f"{path}.mean", f"lognormal mean evaluated to {mean}", "mean > 0")
        sigma2 = math.log1p((sd / mean) ** 2)
        mu = math.log(mean) - sigma2 / 2
        return float(rng.lognormal(mu, math.sqrt(sigma2)))
    if dist == "choice":
        values = spec["values"]
        w = np.asarray(spec.get("weights", [1.0] * len(values)), dtype=float)
        return float(values[int(rng.choice(len(values), p=w / w.sum()))])
    if dist == "lookup":
        idx = int(evaluate(spec["index"], rng, var, True, f"{path}.index", doc, base_dir))
        values = spec["values"]
        if not 0 <= idx < len(values):
            raise doc.error(f"{path}.index", f"index {idx} out of range",
                            f"0 <= index < {len(values)}")
        return float(values[idx])
    # empirical
    if "values" in spec:
        values = spec["values"]
    else:
        values = load_column(spec["file"], spec["column"], f"{path}.file", doc, base_dir)
    return float(values[int(rng.integers(len(values)))])
