"""The task every worker runs: evaluate one point, never raise.

Kept small and import-light: Dask workers and pool processes import this module, and
the evaluator by name, so nothing but plain data crosses process boundaries.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import traceback
from typing import Any

from neumelt.config import build


def worker_setup(numba_cache_dir: str | None = None, evaluator: str | None = None,
                 ignore_sigint: bool = False) -> str:
    """Per-worker initialisation: share the numba cache, optionally warm the evaluator.

    ``NUMBA_CACHE_DIR`` only takes effect if numba is not imported yet in this process,
    so pools call this as their initializer and Dask runs it before the first task.
    ``ignore_sigint``: for workers the sweep itself started (they share the terminal's
    process group), so Ctrl-C stops the sweep in the parent, which then shuts them down,
    instead of every worker printing its own traceback; such workers also get one BLAS /
    OpenMP thread (set before numpy loads), like Dask's.
    """
    if ignore_sigint and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if ignore_sigint:  # our own workers: one compute thread each, as Dask's workers have
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    if numba_cache_dir:
        os.environ["NUMBA_CACHE_DIR"] = numba_cache_dir
    if evaluator:
        from sim.sweep.evaluators import get_evaluator

        get_evaluator(evaluator).warmup()
    return f"{socket.gethostname()}:{os.getpid()}"


def evaluate_point(evaluator: str, key: str, config: dict[str, Any],
                   keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Evaluate one point; errors come back as data (``status`` "error") with the message.

    Returns ``{key, status, metrics: {name: {value, unit, provenance, source}}, error,
    wall_s, cpu_s (CPU time of the worker process during the point), worker}``.
    """
    t0 = time.perf_counter()
    c0 = time.process_time()
    out: dict[str, Any] = {"key": key, "status": "ok", "metrics": {}, "error": None}
    try:
        from sim.sweep.evaluators import get_evaluator

        ev = get_evaluator(evaluator)
        cfg = build(ev.config_cls, config)
        for m in ev.evaluate(cfg):
            if keep and m.name not in keep:
                continue
            value = None if m.value is None else float(m.value)
            out["metrics"][m.name] = {"value": value, "unit": m.unit,
                                      "provenance": m.provenance, "source": m.source}
    except Exception as exc:  # a crashing point is recorded, the sweep goes on
        tb = traceback.extract_tb(exc.__traceback__)[-3:]
        where = "; ".join(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in tb)
        out.update(status="error", metrics={}, error=f"{type(exc).__name__}: {exc}",
                   where=where)
    out["wall_s"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0
    out["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return out
