"""Run a sweep: expand, skip what the store already has, evaluate the rest, stream results.

Results stream into the store (run kind ``sweep``) as points finish: one record per point
in table ``point`` with its key, axis values (``coords``), full config, metrics (value,
unit, provenance, source) or its error. A crash or Ctrl-C loses only the points in flight.

- ``resume=RUN`` continues that run (same spec): points it already recorded are skipped;
  points that failed are retried only with ``retry_errors``; readers take the last record
  of a key (:func:`load_points`).
- A new run reuses (``use_cache``) every point whose key has a successful record in an
  earlier sweep run of the same store, copying it with ``cached_from``; keys hash the full
  config and the evaluator version, so a cached point is the same computation.

When the run ends, run-level metrics (points ok/failed/cached, wall time, points per hour;
provenance ``measured``, the host's wall clock) and the Pareto front over the spec's
objectives (table ``pareto``) are stored too.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from neumelt.config import Doc, config_hash, to_dict
from neumelt.errors import InputError
from neumelt.store import Metric, Store
from sim.sweep.evaluators import get_evaluator
from sim.sweep.spec import SweepSpec, expand

POINT_TABLE = "point"
PARETO_TABLE = "pareto"


@dataclass(frozen=True)
class SweepSummary:
    """What one ``run_sweep`` call did (counts are points)."""

    run_id: int
    total: int           # points after constraints and deduplication
    pruned: int          # removed by constraints
    skipped: int         # already in this run (resume)
    cached: int          # copied from earlier sweep runs
    evaluated: int       # evaluated now
    ok: int              # successful points in the run, all sources
    failed: int          # points whose latest record is an error
    wall_s: float        # wall time of the evaluation phase
    points_per_hour: float | None  # evaluated / wall time
    status: str


def spec_config(spec: SweepSpec) -> dict[str, Any]:
    """The spec as stored in the run's config (its hash identifies the sweep)."""
    return {"spec": to_dict(spec)}


def load_points(store: Store, run_id: int) -> dict[str, dict[str, Any]]:
    """Point records of a sweep run, key -> data; the last record of a key wins."""
    out: dict[str, dict[str, Any]] = {}
    for _, key, data in store.records(run_id, POINT_TABLE):
        out[key] = data
    return out


def _cached_points(store: Store, run_id: int, wanted: set[str]) -> dict[str, tuple[int, dict]]:
    found: dict[str, tuple[int, dict]] = {}
    for run in reversed(store.list_runs(kind="sweep")):
        if run.id == run_id or not wanted:
            continue
        for key, data in load_points(store, run.id).items():
            if key in wanted and data.get("status") == "ok":
                found[key] = (run.id, data)
                wanted.discard(key)
    return found


def run_sweep(spec: SweepSpec, store: Store, backend: Any, *, doc: Doc | None = None,
              resume: int | None = None, use_cache: bool = True, retry_errors: bool = False,
              on_result: Callable[[dict[str, Any]], None] | None = None,
              progress: Callable[[int], Any] | None = None) -> SweepSummary:
    """Evaluate ``spec`` on ``backend`` (an entered :mod:`sim.sweep.backends` backend).

    ``on_result`` is called with each point record after it is stored; ``progress`` makes a
    :class:`neumelt.output.Progress`-like bar (``update()``, ``close()``) from a point count.
    """
    ev = get_evaluator(spec.evaluator)
    expansion = expand(spec, doc)
    cfg = spec_config(spec)
    points = {p.key: p for p in expansion.points}
    if not points:
        raise InputError(f"the constraints prune all {expansion.generated} points",
                         file=doc.file if doc else None, key="constraints",
                         line=doc.line("constraints") if doc else None,
                         expected="at least one point that satisfies every constraint")
    bar = progress(len(points)) if progress is not None else None
    if resume is not None:
        check_resume(store, resume, spec)
        run_id = resume
        store.reopen_run(run_id)
    else:
        run_id = store.start_run("sweep", cfg, name=spec.name)
    store.set_run_info(run_id, "evaluator", {"name": ev.name, "version": ev.version,
                                             "key_version": ev.key_version()})
    store.set_run_info(run_id, "backend", backend.describe())
    store.set_run_info(run_id, "objectives", [to_dict(o) for o in spec.objectives])
    store.set_run_info(run_id, "expansion", {"generated": expansion.generated,
                                             "pruned": expansion.pruned,
                                             "duplicates": expansion.duplicates,
                                             "points": len(points)})
    status = "failed"
    t0 = time.perf_counter()
    evaluated = cached = skipped = 0
    try:
        existing = load_points(store, run_id) if resume is not None else {}
        todo = []
        for key in points:
            old = existing.get(key)
            if old is not None and (old.get("status") == "ok" or not retry_errors):
                skipped += 1
                continue
            todo.append(key)
        if use_cache and todo:
            hits = _cached_points(store, run_id, set(todo))
            rows = []
            for key, (src_run, data) in hits.items():
                p = points[key]
                rows.append((key, {**_record(p, data), "cached_from": src_run}))
            store.add_records(run_id, POINT_TABLE, rows)
            cached = len(rows)
            todo = [k for k in todo if k not in hits]
        if bar is not None:
            bar.update(skipped + cached)
        if todo:
            ev.warmup()  # compile once here; workers then load from the numba cache
            t0 = time.perf_counter()
            keep = tuple(spec.metrics)
            tasks = [(k, points[k].config) for k in todo]
            seen: set[str] = set()
            results = backend.results(ev.name, tasks, keep)
            try:
                for res in results:
                    key = res["key"]
                    if key in seen:  # defensive: a backend must not return a point twice
                        continue
                    seen.add(key)
                    rec = _record(points[key], res)
                    store.add_record(run_id, POINT_TABLE, key, rec)
                    evaluated += 1
                    if on_result is not None:
                        on_result(rec)
                    if bar is not None:
                        bar.update()
            finally:
                results.close()  # release what is in flight while the backend still runs
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        with _no_sigint():  # a second Ctrl-C must not leave the run marked 'running'
            summary = _finish(store, run_id, spec, points, expansion.pruned, status,
                              time.perf_counter() - t0, evaluated, cached, skipped, bar)
    return summary


@contextmanager
def _no_sigint() -> Iterator[None]:
    """Ignore SIGINT while the run's bookkeeping is written (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _finish(store: Store, run_id: int, spec: SweepSpec, points: dict[str, Any], pruned: int,
            status: str, wall: float, evaluated: int, cached: int, skipped: int,
            bar: Any) -> SweepSummary:
    """Run-level metrics, the Pareto front and the final status of a sweep run."""
    if bar is not None:
        bar.close()
    final = load_points(store, run_id)
    ok = sum(1 for k in points if final.get(k, {}).get("status") == "ok")
    failed = sum(1 for k in points if final.get(k, {}).get("status") == "error")
    pph = evaluated / wall * 3600.0 if evaluated and wall > 0 else None
    src = "sweep/host wall clock"
    store.add_metrics(run_id, [
        Metric("points_total", len(points), "points", "measured", src),
        Metric("points_ok", ok, "points", "measured", src),
        Metric("points_failed", failed, "points", "measured", src),
        Metric("points_cached", cached, "points", "measured", src),
        Metric("points_evaluated", evaluated, "points", "measured", src),
        Metric("points_pruned", pruned, "points", "measured", src),
        Metric("wall_s", wall, "s", "measured", src),
        Metric("points_per_hour", pph, "points/h", "measured", src),
    ])
    if status == "done" and spec.objectives:
        store_front(store, run_id, spec, final)
    store.finish_run(run_id, status,
                     None if status == "done" else "interrupted" if status == "interrupted"
                     else "sweep aborted")
    return SweepSummary(run_id=run_id, total=len(points), pruned=pruned,
                        skipped=skipped, cached=cached, evaluated=evaluated, ok=ok,
                        failed=failed, wall_s=wall, points_per_hour=pph, status=status)


def check_resume(store: Store, run_id: int, spec: SweepSpec) -> None:
    """InputError unless ``run_id`` is a sweep run started from this very spec."""
    run = store.get_run(run_id)
    if run.kind != "sweep":
        raise InputError(f"run {run_id} is a '{run.kind}' run, not a sweep", key="--resume")
    if run.status == "running":  # its owner is alive (the store reaps dead ones)
        raise InputError(f"run {run_id} is still running in another process (host "
                         f"{run.host}); wait for it or stop it first", key="--resume")
    if run.config_hash != config_hash(spec_config(spec)):
        raise InputError(f"run {run_id} was started from a different spec; run the spec "
                         "again without --resume (finished points are reused from the "
                         "store)", key="--resume")
    old = (run.info.get("evaluator") or {}).get("key_version")
    new = get_evaluator(spec.evaluator).key_version()
    if old is not None and old != new:
        raise InputError(f"the simulator code changed since run {run_id} started (evaluator "
                         f"{old} -> {new}), so its points are not comparable with new ones; "
                         "run the spec again without --resume", key="--resume")


def _record(p: Any, res: dict[str, Any]) -> dict[str, Any]:
    rec = {"key": p.key, "index": p.index, "coords": p.coords, "config": p.config,
           "status": res.get("status"), "metrics": res.get("metrics") or {},
           "error": res.get("error"), "wall_s": res.get("wall_s"), "cpu_s": res.get("cpu_s"),
           "worker": res.get("worker")}
    if res.get("where"):
        rec["where"] = res["where"]
    return rec


def store_front(store: Store, run_id: int, spec: SweepSpec,
                points: dict[str, dict[str, Any]]) -> None:
    """Store the Pareto front over the spec's objectives: one record in table ``pareto``
    (key ``front-<n>``; a resumed run appends a newer one, readers take the last) holding
    ``objectives`` and ``points`` (key, coords, objective values with units)."""
    from sim.sweep.results import front_rows

    objectives = [(o.metric, o.goal) for o in spec.objectives]
    n = len(store.records(run_id, PARETO_TABLE)) + 1
    store.add_record(run_id, PARETO_TABLE, f"front-{n}",
                     {"objectives": [{"metric": m, "goal": g} for m, g in objectives],
                      "points": front_rows(points, objectives)})
