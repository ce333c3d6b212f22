"""Where points run: a Dask cluster (local or the user's) or a plain process pool.

Both backends take ``(key, config)`` tasks and yield one result dict per task as tasks
finish (order of completion), with the same semantics:

- each point is one task (``sim.sweep.task.evaluate_point``), which never raises: an
  exception inside a point comes back as a result with ``status`` "error";
- a worker process that dies (killed, out of memory) loses only the points it was running;
  they are evaluated again, and a point that keeps killing its worker is recorded as an
  error (Dask: ``distributed.scheduler.allowed-failures``, default 3, then KilledWorker;
  pool: the points in flight re-run one at a time, and a point that kills its process
  ``max_attempts`` times while running alone is recorded as an error);
- at most ``window`` points are in flight, so memory stays bounded on huge sweeps and an
  interrupt loses only those;
- workers share one numba cache directory (``NUMBA_CACHE_DIR``) and run the evaluator's
  ``warmup()`` once, after the parent compiled it, so they load kernels instead of
  compiling them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from neumelt.errors import InputError, RunError
from sim.sweep.task import evaluate_point, worker_setup

Task = tuple[str, dict[str, Any]]
TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def _lost(key: str, attempts: int, why: str) -> dict[str, Any]:
    return {"key": key, "status": "error", "metrics": {}, "wall_s": None, "worker": None,
            "error": f"{why}: the worker process died {attempts} times while evaluating "
                     "this point"}


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


class PoolBackend:
    """A ``concurrent.futures`` process pool (spawned processes) with Dask's semantics."""

    name = "pool"

    def __init__(self, workers: int, numba_cache_dir: str | None = None,
                 max_attempts: int = 3, window: int | None = None) -> None:
        if workers < 1:
            raise InputError("must be >= 1", key="--workers", expected="a positive integer")
        self.workers = workers
        self.numba_cache_dir = numba_cache_dir
        self.max_attempts = max_attempts
        self.window = window or 4 * workers
        self._executor: ProcessPoolExecutor | None = None
        self.restarts = 0

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": self.workers, "restarts": self.restarts}

    def __enter__(self) -> PoolBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self._shutdown(kill=exc[0] is not None)

    def _start(self, evaluator: str) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_setup, initargs=(self.numba_cache_dir, evaluator, True))

    def _shutdown(self, kill: bool = False) -> None:
        ex, self._executor = self._executor, None
        if ex is None:
            return
        if kill:  # interrupted: do not wait for points in flight
            for p in list(getattr(ex, "_processes", {}).values()):
                p.terminate()
        ex.shutdown(wait=not kill, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        ex = self._executor
        return [p.pid for p in getattr(ex, "_processes", {}).values()] if ex else []

    def results(self, evaluator: str, tasks: Sequence[Task],
                keep: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        """Yield one result per task as they finish.

        When a worker dies, the pool breaks and every point in flight fails with it; those
        points become suspects and are re-run one at a time, so a point that kills its
        worker while running alone is identified for sure and is charged an attempt (the
        others are not).
        """
        pending: deque[Task] = deque(tasks)
        suspects: deque[Task] = deque()
        attempts: Counter[str] = Counter()
        inflight: dict[Any, Task] = {}
        alone: set[Any] = set()
        while pending or suspects or inflight:
            if self._executor is None:
                self._executor = self._start(evaluator)
            broken = False
            try:
                if suspects:
                    if not inflight:
                        task = suspects.popleft()
                        fut = self._executor.submit(evaluate_point, evaluator, task[0],
                                                    task[1], keep)
                        inflight[fut] = task
                        alone.add(fut)
                else:
                    while pending and len(inflight) < self.window:
                        task = pending[0]
                        fut = self._executor.submit(evaluate_point, evaluator, task[0],
                                                    task[1], keep)
                        pending.popleft()
                        inflight[fut] = task
            except BrokenProcessPool:
                broken = True
            if inflight and not broken:
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in done:
                    task = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if fut in alone:
                            attempts[task[0]] += 1
                            if attempts[task[0]] >= self.max_attempts:
                                yield _lost(task[0], attempts[task[0]], "BrokenProcessPool")
                                continue
                        suspects.append(task)
                    finally:
                        alone.discard(fut)
            if broken:
                for fut in list(inflight):  # they all fail with the pool (or just finished)
                    task = inflight.pop(fut)
                    alone.discard(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        suspects.append(task)
                self._shutdown()
                self.restarts += 1
                logging.getLogger(__name__).warning(
                    "a pool worker died; restarted the pool (%d suspects re-run one at a "
                    "time, %d points left)", len(suspects), len(pending))


class DaskBackend:
    """Dask distributed: a LocalCluster of ``workers`` processes, or the cluster at
    ``address`` (``tcp://host:8786``; any scheduler, e.g. started by dask-jobqueue)."""

    name = "dask"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 numba_cache_dir: str | None = None, window: int | None = None,
                 connect_timeout_s: float = 20.0) -> None:
        if not dask_available():
            raise InputError("Dask is not installed; install the extra: pip install "
                             "'neumelt[cluster]' (or use --backend pool)",
                             key="--scheduler" if address else "--backend")
        if workers is not None and workers < 1:
            raise InputError("must be >= 1", key="--workers", expected="a positive integer")
        self.workers = workers
        self.address = address
        self.numba_cache_dir = numba_cache_dir
        self.window = window
        self.connect_timeout_s = connect_timeout_s
        self.cluster: Any = None
        self.client: Any = None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": self.name, "scheduler": self.address or "local"}
        if self.client is not None:
            info["scheduler_address"] = self.client.scheduler.address
            info["workers"] = len(self.client.scheduler_info().get("workers", {}))
        return info

    def __enter__(self) -> DaskBackend:
        from distributed import Client, LocalCluster

        if self.address:
            try:
                self.client = Client(self.address, timeout=self.connect_timeout_s)
            except OSError as exc:
                raise RunError(f"cannot reach the Dask scheduler at {self.address}: "
                               f"{exc}") from None
        else:
            import dask

            env = {"NUMBA_CACHE_DIR": self.numba_cache_dir} if self.numba_cache_dir else {}
            # Dask sets MALLOC_TRIM_THRESHOLD_=65536 in workers, which turns the simulator's
            # large temporary numpy arrays into an mmap/munmap per allocation: ~3x slower
            # points, measured. None unsets it (glibc's adaptive default comes back).
            with dask.config.set({TRIM_KEY: None}):
                self.cluster = LocalCluster(
                    n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=1,
                    processes=True, dashboard_address=None, silence_logs=logging.CRITICAL,
                    env=env)
            self.client = Client(self.cluster)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def worker_pids(self) -> list[int]:
        return list(self.client.run(os.getpid).values())

    def _setup_workers(self, evaluator: str) -> str:
        from distributed.diagnostics.plugin import WorkerPlugin

        class _Setup(WorkerPlugin):
            idempotent = True

            def __init__(self, cache: str | None, ev: str, own: bool) -> None:
                self.cache, self.ev, self.own = cache, ev, own

            def setup(self, worker: Any) -> None:
                worker_setup(self.cache, self.ev, ignore_sigint=self.own)

        plugin = _Setup(self.numba_cache_dir, evaluator, self.cluster is not None)
        name = f"neumelt-sweep-{evaluator}"
        if hasattr(self.client, "register_plugin"):
            self.client.register_plugin(plugin, name=name)
        else:  # older distributed
            self.client.register_worker_plugin(plugin, name=name)
        return name

    def results(self, evaluator: str, tasks: Sequence[Task],
                keep: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        from distributed import as_completed

        plugin = self._setup_workers(evaluator)
        nthreads = sum(self.client.nthreads().values()) or 1
        window = self.window or max(256, 16 * nthreads)
        pending: deque[Task] = deque(tasks)
        futures: dict[str, str] = {}
        ac = as_completed()

        def submit(n: int) -> None:
            """Submit up to ``n`` points in one message (one task per point)."""
            batch = [pending.popleft() for _ in range(min(n, len(pending)))]
            if not batch:
                return
            futs = self.client.map(
                evaluate_point, [evaluator] * len(batch), [k for k, _ in batch],
                [c for _, c in batch], [keep] * len(batch),
                key=[f"neumelt-point-{k}" for k, _ in batch], pure=False, retries=0)
            for (key, _), fut in zip(batch, futs):
                futures[fut.key] = key
            ac.update(futs)

        try:
            submit(window)
            for fut in ac:
                key = futures.pop(fut.key)
                try:
                    yield fut.result()
                except Exception as exc:  # KilledWorker and friends: the point is lost
                    yield {"key": key, "status": "error", "metrics": {}, "wall_s": None,
                           "worker": None, "error": f"{type(exc).__name__}: {exc}"}
                fut.release()
                if pending and len(futures) <= window // 2:
                    submit(window - len(futures))
        finally:
            ac.clear()
            if self.client is not None and self.client.status == "running":
                try:  # workers that start later need not warm this evaluator up
                    self.client.unregister_worker_plugin(plugin)
                except Exception:  # noqa: BLE001 - best effort (cluster may be going away)
                    pass
