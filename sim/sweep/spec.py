"""Sweep specs: YAML -> frozen dataclasses, and their expansion into design points.

A spec names an evaluator (``sim.sweep.evaluators``), a ``base`` config for it, and
axes that vary that config:

- ``grid``: ``key: [v1, v2, ...]``; every combination is a point. Keys are dotted paths
  into the config (``area.pim_logic_area_pct``). Linked axes share one key made of names
  joined by commas, each value a list with one entry per name (``"model,tp": [[gpt3-7b, 4],
  [gpt3-175b, 8]]``): they vary together, not as a product.
- ``random``: ``samples`` draws (numpy PCG64 from ``seed``) of ``axes`` given as ``choice``,
  ``uniform``, ``log_uniform`` or ``int_uniform``. With a grid too, every random draw is
  crossed with every grid point (the same draws for each, so grid points stay comparable).

``constraints`` (see :mod:`sim.sweep.expr`) prune points; ``metrics`` lists the metrics to
keep (empty keeps all); ``objectives`` name the metrics and goals (``max``/``min``) of
the Pareto front. A point's key is the hash of its evaluator name and version and its
full config (defaults filled in), and of the simulator code (a fingerprint of its source
files), so equal configs on equal code share a key across sweeps.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from neumelt.config import Doc, build, config_hash, load_yaml, to_dict
from neumelt.errors import InputError
from sim.sweep.expr import Expr, ExprError


@dataclass(frozen=True)
class RandomAxis:
    """One randomly drawn axis; exactly one of the distributions is set.

    ``choice``: a list of values, drawn uniformly. ``uniform``: ``[low, high]`` floats.
    ``log_uniform``: ``[low, high]`` floats > 0, uniform in log space. ``int_uniform``:
    ``[low, high]`` integers, both ends included. ``round``: decimals kept for float draws.
    """

    choice: list[Any] | None = None
    uniform: list[float] | None = None
    log_uniform: list[float] | None = None
    int_uniform: list[int] | None = None
    round: int | None = None

    def __post_init__(self) -> None:
        set_ = [n for n in ("choice", "uniform", "log_uniform", "int_uniform")
                if getattr(self, n) is not None]
        if len(set_) != 1:
            raise ValueError("give exactly one of choice, uniform, log_uniform, int_uniform")
        kind = set_[0]
        vals = getattr(self, kind)
        if kind == "choice":
            if not vals:
                raise ValueError("choice needs at least one value")
            return
        if len(vals) != 2 or vals[0] > vals[1]:
            raise ValueError(f"{kind} needs [low, high] with low <= high")
        if kind == "log_uniform" and vals[0] <= 0:
            raise ValueError("log_uniform needs low > 0")

    @property
    def kind(self) -> str:
        for n in ("choice", "uniform", "log_uniform", "int_uniform"):
            if getattr(self, n) is not None:
                return n
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class RandomAxes:
    """``samples`` seeded draws of ``axes`` (axis key -> distribution)."""

    samples: int
    seed: int
    axes: dict[str, RandomAxis]

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("samples must be >= 1")
        if not self.axes:
            raise ValueError("random needs at least one axis")


@dataclass(frozen=True)
class Objective:
    """A Pareto objective: a point metric and whether larger (``max``) or smaller is better."""

    metric: str
    goal: Literal["max", "min"]


@dataclass(frozen=True)
class SweepSpec:
    """A design-space sweep; see the module docstring for each field."""

    name: str
    evaluator: str
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    random: RandomAxes | None = None
    constraints: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    objectives: list[Objective] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name must not be empty")


@dataclass(frozen=True)
class Point:
    """One design point: ``key`` (hash of evaluator + full config), its axis values
    (``coords``) and the evaluator's full ``config`` as plain data."""

    key: str
    index: int
    coords: dict[str, Any]
    config: dict[str, Any]


@dataclass(frozen=True)
class Expansion:
    """The points of a spec plus how many were pruned by constraints or were duplicates."""

    points: list[Point]
    generated: int
    pruned: int
    duplicates: int


EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_POINTS = 1_000_000   # points one spec may generate (grid x random samples)


def list_examples() -> list[str]:
    """Names of the shipped example specs (``decode-grid``, ``roofline-grid``, ...)."""
    return sorted(p.stem.replace("_", "-") for p in EXAMPLES_DIR.glob("*.yaml"))


def resolve_spec(name_or_path: str | Path) -> Path:
    """A spec file path, or the shipped example of that name (``decode-grid``)."""
    p = Path(name_or_path)
    if p.exists() or p.suffix in (".yaml", ".yml"):
        return p
    example = EXAMPLES_DIR / f"{str(name_or_path).replace('-', '_')}.yaml"
    if example.is_file():
        return example
    raise InputError("no such spec file or example", file=str(name_or_path),
                     expected="a YAML file or one of " + ", ".join(list_examples()))


def load_spec(path: str | Path) -> tuple[SweepSpec, Doc]:
    """Read and validate a spec file (or a shipped example by name); bad input raises
    :class:`InputError` with key and line."""
    doc = load_yaml(resolve_spec(path))
    assert isinstance(doc, Doc)
    return spec_from_doc(doc), doc


def spec_from_doc(doc: Doc) -> SweepSpec:
    spec = build(SweepSpec, doc.data, doc=doc)
    from sim.sweep.evaluators import evaluator_names, get_evaluator

    try:
        ev = get_evaluator(spec.evaluator)
    except KeyError:
        raise doc.error("evaluator", f"unknown evaluator '{spec.evaluator}'",
                        "one of " + ", ".join(evaluator_names()) + " or 'module:attribute'"
                        ) from None
    for axis, values in spec.grid.items():
        names = _axis_names(axis)
        if not values:
            raise doc.error(f"grid.{axis}", "an axis needs at least one value")
        if len(names) > 1:
            for i, v in enumerate(values):
                if not isinstance(v, list) or len(v) != len(names):
                    raise doc.error(f"grid.{axis}[{i}]", f"got {v!r}",
                                    f"a list of {len(names)} values ({', '.join(names)})")
    if spec.random:
        for axis in spec.random.axes:
            if axis in _grid_names(spec):
                raise doc.error(f"random.axes.{axis}", "axis is also a grid axis")
    for i, text in enumerate(spec.constraints):
        try:
            Expr(text)
        except ExprError as exc:
            raise doc.error(f"constraints[{i}]", str(exc)) from None
    known = ev.metric_units()
    for i, m in enumerate(spec.metrics):
        if m not in known:
            raise doc.error(f"metrics[{i}]", f"evaluator '{ev.name}' gives no metric '{m}'",
                            "one of " + ", ".join(sorted(known)))
    for i, o in enumerate(spec.objectives):
        if o.metric not in known:
            raise doc.error(f"objectives[{i}].metric",
                            f"evaluator '{ev.name}' gives no metric '{o.metric}'",
                            "one of " + ", ".join(sorted(known)))
        if spec.metrics and o.metric not in spec.metrics:
            raise doc.error(f"objectives[{i}].metric",
                            f"objective '{o.metric}' is not among the kept metrics")
    return spec


def _axis_names(axis: str) -> list[str]:
    return [n.strip() for n in axis.split(",")]


def _grid_names(spec: SweepSpec) -> set[str]:
    return {n for axis in spec.grid for n in _axis_names(axis)}


def set_path(cfg: dict[str, Any], path: str, value: Any) -> None:
    """Set dotted ``path`` in nested dict ``cfg``, creating mappings on the way."""
    parts = path.split(".")
    cur = cfg
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[parts[-1]] = value


def random_draws(rnd: RandomAxes) -> list[dict[str, Any]]:
    """The seeded random draws, in order: one dict (axis -> value) per sample."""
    import numpy as np

    rng = np.random.default_rng(rnd.seed)
    draws = []
    for _ in range(rnd.samples):
        d: dict[str, Any] = {}
        for axis, dist in rnd.axes.items():
            kind = dist.kind
            if kind == "choice":
                v: Any = dist.choice[int(rng.integers(len(dist.choice)))]  # type: ignore[index]
            elif kind == "int_uniform":
                lo, hi = dist.int_uniform  # type: ignore[misc]
                v = int(rng.integers(lo, hi + 1))
            elif kind == "uniform":
                lo, hi = dist.uniform  # type: ignore[misc]
                v = float(rng.uniform(lo, hi))
            else:
                lo, hi = dist.log_uniform  # type: ignore[misc]
                v = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            if isinstance(v, float) and dist.round is not None:
                v = round(v, dist.round)
            d[axis] = v
        draws.append(d)
    return draws


def grid_coords(spec: SweepSpec) -> list[dict[str, Any]]:
    """Cartesian product of the grid axes (linked axes vary together), in spec order."""
    axes = list(spec.grid.items())
    out = []
    for combo in itertools.product(*[values for _, values in axes]):
        d: dict[str, Any] = {}
        for (axis, _), v in zip(axes, combo):
            names = _axis_names(axis)
            if len(names) == 1:
                d[names[0]] = v
            else:
                d.update(zip(names, v))
        out.append(d)
    return out


def expand(spec: SweepSpec, doc: Doc | None = None) -> Expansion:
    """All points of ``spec``: grid x random draws, built and validated, pruned, deduplicated."""
    from sim.sweep.evaluators import get_evaluator

    doc = doc or Doc(data=to_dict(spec))
    ev = get_evaluator(spec.evaluator)
    n_grid = math.prod(len(v) for v in spec.grid.values()) if spec.grid else 1
    n_random = spec.random.samples if spec.random else 1
    if n_grid * n_random > MAX_POINTS:
        key = "random.samples" if n_random > MAX_POINTS // max(n_grid, 1) else "grid"
        raise doc.error(key, f"the spec makes {n_grid} grid points x {n_random} random "
                        f"samples = {n_grid * n_random:,} points, more than {MAX_POINTS:,}",
                        expected=f"at most {MAX_POINTS:,} points (split the sweep)")
    grid = grid_coords(spec) if spec.grid else [{}]
    draws = random_draws(spec.random) if spec.random else [{}]
    constraints = [Expr(c) for c in spec.constraints]
    kv = ev.key_version()
    points: list[Point] = []
    seen: set[str] = set()
    generated = pruned = duplicates = 0
    for g in grid:
        for r in draws:
            generated += 1
            coords = {**g, **r}
            raw = copy.deepcopy(spec.base)
            for k, v in coords.items():
                set_path(raw, k, v)
            cfg = _build_point(ev.config_cls, raw, coords, spec, doc)
            full = to_dict(cfg)
            keep = True
            for i, c in enumerate(constraints):
                try:
                    ok = c(full)
                except ExprError as exc:
                    raise doc.error(f"constraints[{i}]", str(exc)) from None
                except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
                    raise doc.error(f"constraints[{i}]",
                                    f"fails on point {coords}: {type(exc).__name__}: {exc}"
                                    ) from None
                if not ok:
                    keep = False
                    break
            if not keep:
                pruned += 1
                continue
            key = point_key(ev.name, kv, full)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            points.append(Point(key=key, index=len(points), coords=coords, config=full))
    return Expansion(points=points, generated=generated, pruned=pruned, duplicates=duplicates)


def point_key(evaluator: str, version: str, config: dict[str, Any]) -> str:
    """Hash of the evaluator name, its key version (version + code fingerprint) and the
    full point config."""
    return config_hash({"evaluator": evaluator, "version": version, "config": config})


def _build_point(cls: type, raw: dict[str, Any], coords: dict[str, Any], spec: SweepSpec,
                 doc: Doc) -> Any:
    try:
        return build(cls, raw, doc=Doc(data=raw, file=doc.file), path="")
    except InputError as exc:
        key = exc.key or ""
        for axis in list(spec.grid) + list(spec.random.axes if spec.random else []):
            for name in _axis_names(axis):
                if key == name or key.startswith(name + ".") or key.startswith(name + "["):
                    where = f"grid.{axis}" if axis in spec.grid else f"random.axes.{axis}"
                    raise InputError(f"{exc.detail} (value {coords.get(name)!r})",
                                     file=doc.file, key=where, line=doc.line(where),
                                     expected=exc.expected) from None
        path = f"base.{key}" if key else "base"
        raise InputError(exc.detail, file=doc.file, key=path, line=doc.line(path),
                         expected=exc.expected) from None
