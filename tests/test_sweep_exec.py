"""Sweep execution: LocalCluster vs process pool, killed workers, resume, cache, errors.

One Dask LocalCluster (2 worker processes) serves the roofline tests; the simulator sweep
gets fresh workers of its own (it leaves large memo caches behind in its workers).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml
from sweep_support import write_spec

from neumelt.store import Store
from sim.sweep.backends import DaskBackend, PoolBackend
from sim.sweep.execute import PARETO_TABLE, POINT_TABLE, load_points, run_sweep
from sim.sweep.spec import expand, load_spec
from sim.sweep.task import evaluate_point

GRID_80 = {"batch": [64, 128, 256, 384, 512], "pim": [True, False], "channels": [16, 32],
           "model": ["gpt3-7b", "gpt3-13b", "llama2-7b", "llama2-13b"]}
EXAMPLES = Path(__file__).resolve().parent.parent / "sim" / "sweep" / "examples"


@pytest.fixture(scope="module")
def cluster():
    with DaskBackend(workers=2) as backend:
        yield backend


def _metrics(store, run_id):
    return {k: v["metrics"] for k, v in load_points(store, run_id).items()}


def _records_unique(store, run_id, n):
    keys = [k for _, k, _ in store.records(run_id, POINT_TABLE)]
    assert len(keys) == n and len(set(keys)) == n


def test_localcluster_and_pool_give_identical_results(tmp_path):
    # the must-show sweep: batch x PIM off/on x HBM channels x model, simulator fast path;
    # the shipped example's grid with sub-batch interleaving off (interleaving makes the
    # fast path price concurrent NPU reads request by request, ~40x slower per point)
    data = yaml.safe_load((EXAMPLES / "decode_grid.yaml").read_text())
    data["base"]["sub_batch"] = False
    path = tmp_path / "decode_grid.yaml"
    path.write_text(yaml.safe_dump(data))
    spec, doc = load_spec(path)
    store = Store(tmp_path / "r.db")
    with DaskBackend(workers=2) as cluster:
        a = run_sweep(spec, store, cluster, doc=doc, use_cache=False)
        info = cluster.describe()
    # points whose KV cache and weights do not fit the (channel-scaled) HBM fail with the
    # designs' capacity error (sim.designs.capacity); every other point runs
    assert (a.total, a.evaluated, a.status) == (200, 200, "done")
    assert a.ok + a.failed == 200 and 0 < a.failed < 100
    pts = load_points(store, a.run_id)
    failed = {k: v for k, v in pts.items() if v["status"] == "error"}
    assert len(failed) == a.failed
    assert all("GB of KV cache" in v["error"] and "holds" in v["error"] for v in failed.values())
    with PoolBackend(workers=2) as pool:
        b = run_sweep(spec, store, pool, doc=doc, use_cache=False)
    assert (b.evaluated, b.ok, b.failed) == (200, a.ok, a.failed)
    _records_unique(store, a.run_id, 200)
    _records_unique(store, b.run_id, 200)
    ma, mb = _metrics(store, a.run_id), _metrics(store, b.run_id)
    assert ma == mb and len(ma) == 200
    # what the store holds is what one point computes in this process
    p = expand(spec, doc).points[117]
    assert ma[p.key] == evaluate_point("decode-iteration", p.key, p.config)["metrics"]
    assert ma[p.key]["throughput_tokens_per_s"]["provenance"] == "simulated"
    assert ma[p.key]["memory_area_rel"]["provenance"] == "estimated"
    run = store.get_run(a.run_id)
    assert run.kind == "sweep" and run.status == "done"
    assert run.info["backend"]["backend"] == "dask" and run.info["backend"]["workers"] == 2
    assert info["workers"] == 2
    m = {x.name: x for x in store.metrics(a.run_id)}
    assert m["points_ok"].value == a.ok and m["points_per_hour"].value > 0
    assert m["points_per_hour"].provenance == "measured"
    (front,) = [d for _, _, d in store.records(a.run_id, PARETO_TABLE)]
    assert 1 <= len(front["points"]) < a.ok
    designs = {r["coords"]["design"] for r in front["points"]}
    assert "neupims" in designs
    # a second run of the same spec reuses every point from the store
    with PoolBackend(workers=1) as pool:
        c = run_sweep(spec, store, pool, doc=doc)
    # (failed points are evaluated again, and fail again)
    assert (c.cached, c.evaluated, c.ok) == (a.ok, a.failed, a.ok)
    assert _metrics(store, c.run_id) == ma


def test_interrupt_then_resume_loses_and_duplicates_nothing(tmp_path, cluster):
    spec, doc = load_spec(write_spec(tmp_path / "grid.yaml", name="resume-me", grid=GRID_80))
    store = Store(tmp_path / "r.db")
    seen = []

    def stop_after_30(rec):
        seen.append(rec["key"])
        if len(seen) == 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, store, cluster, doc=doc, on_result=stop_after_30)
    (run,) = store.list_runs(kind="sweep")
    assert run.status == "interrupted"
    assert len(load_points(store, run.id)) == 30
    s = run_sweep(spec, store, cluster, doc=doc, resume=run.id)
    assert (s.skipped, s.evaluated, s.ok, s.status) == (30, 50, 80, "done")
    _records_unique(store, run.id, 80)
    assert store.get_run(run.id).status == "done"


def test_failing_points_are_recorded_and_the_sweep_goes_on(tmp_path, cluster):
    spec, doc = load_spec(write_spec(
        tmp_path / "bad.yaml", grid={"batch": [64, 128], "model": ["gpt3-7b", "no-such-model"]}))
    store = Store(tmp_path / "r.db")
    s = run_sweep(spec, store, cluster, doc=doc)
    assert (s.ok, s.failed, s.status) == (2, 2, "done")
    errors = [d for d in load_points(store, s.run_id).values() if d["status"] == "error"]
    assert {d["coords"]["model"] for d in errors} == {"no-such-model"}
    assert all("no-such-model" in d["error"] and d["metrics"] == {} for d in errors)
    # resuming without --retry-errors keeps them; with it they run (and fail) again
    again = run_sweep(spec, store, cluster, doc=doc, resume=s.run_id, retry_errors=True)
    assert (again.evaluated, again.failed) == (2, 2)


def _kill_one_worker_mid_sweep(tmp_path, backend, pids_of):
    # the 200-point grid (batch x PIM on/off x channels x model) on the roofline, with a
    # 10 ms sleep per point so that points are in flight when the worker dies
    spec, doc = load_spec(write_spec(tmp_path / "slow.yaml",
                                     evaluator="sweep_support:SlowRoofline",
                                     base={"seq_len": 300, "delay_s": 0.01}))
    store = Store(tmp_path / "r.db")
    done, killed = [], []

    def kill_at_40(rec):
        done.append(rec["key"])
        if len(done) == 40:   # 40 of 200 points stored, the rest in flight or queued
            pid = pids_of()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    s = run_sweep(spec, store, backend, doc=doc, on_result=kill_at_40)
    assert killed, "the worker was never killed"
    assert (s.total, s.ok, s.failed) == (200, 200, 0)
    _records_unique(store, s.run_id, 200)
    points = {p.key: p for p in expand(spec, doc).points}
    for key, data in load_points(store, s.run_id).items():
        ref = evaluate_point("roofline", key,
                             {k: v for k, v in points[key].config.items() if k != "delay_s"})
        assert data["metrics"] == ref["metrics"]
    return killed[0], {d["worker"] for d in load_points(store, s.run_id).values()}


def test_pool_survives_a_killed_worker(tmp_path):
    with PoolBackend(workers=2) as pool:
        pid, workers = _kill_one_worker_mid_sweep(tmp_path, pool, pool.worker_pids)
        assert pool.restarts >= 1
    assert len(workers) >= 3   # two original processes plus the restarted pool's


def test_localcluster_survives_a_killed_worker(tmp_path, cluster):
    pid, workers = _kill_one_worker_mid_sweep(tmp_path, cluster, cluster.worker_pids)
    assert any(w.endswith(f":{pid}") for w in workers)   # it did work before it died


def test_hard_crashing_point_is_an_error_after_retries(tmp_path):
    spec, doc = load_spec(write_spec(tmp_path / "crash.yaml",
                                     evaluator="sweep_support:ExitOnBatch",
                                     grid={"batch": [13, 64, 128, 256]}, objectives=[]))
    store = Store(tmp_path / "r.db")
    with PoolBackend(workers=1, max_attempts=2) as pool:
        s = run_sweep(spec, store, pool, doc=doc)
    assert (s.ok, s.failed) == (3, 1)
    (bad,) = [d for d in load_points(store, s.run_id).values() if d["status"] == "error"]
    assert bad["coords"]["batch"] == 13 and "died 2 times" in bad["error"]


def test_point_keys_follow_the_simulator_code(tmp_path, monkeypatch):
    from neumelt.errors import InputError
    from sim.sweep.evaluators import code_fingerprint

    pkg = tmp_path / "src" / "sweep_fp_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("CYCLES = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    spec, doc = load_spec(write_spec(tmp_path / "fp.yaml", grid={"batch": [64, 128]},
                                     evaluator="sweep_support:Fingerprinted"))
    before = [p.key for p in expand(spec, doc).points]
    store = Store(tmp_path / "r.db")
    with PoolBackend(workers=1) as pool:
        s = run_sweep(spec, store, pool, doc=doc)
    assert s.ok == 2
    (pkg / "__init__.py").write_text("CYCLES = 2\n")
    code_fingerprint.cache_clear()
    after = [p.key for p in expand(spec, doc).points]
    assert not set(before) & set(after)
    with pytest.raises(InputError, match="simulator code changed"):
        run_sweep(spec, store, pool, doc=doc, resume=s.run_id)
    code_fingerprint.cache_clear()


def test_workers_compile_into_the_shared_numba_cache(tmp_path):
    import zlib

    from sweep_support import _tiny_kernel_py

    cache = tmp_path / "numba-cache"
    spec, doc = load_spec(write_spec(tmp_path / "nb.yaml", grid={"batch": [5, 7]},
                                     evaluator="sweep_support:NumbaCacheProbe", objectives=[]))
    with PoolBackend(workers=1, numba_cache_dir=str(cache)) as pool:
        s = run_sweep(spec, Store(tmp_path / "r.db"), pool, doc=doc)
        points = load_points(Store(tmp_path / "r.db"), s.run_id)
    assert s.ok == 2
    for p in points.values():
        assert p["metrics"]["numba_cache_dir_crc"]["value"] == zlib.crc32(str(cache).encode())
        assert p["metrics"]["kernel_value"]["value"] == _tiny_kernel_py(p["coords"]["batch"])
    assert list(cache.rglob("*.nbi")), "the worker wrote no numba index into the shared cache"
