"""The results store on a real SQLite file: runs, metrics, samples, crash safety, schema."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3

import pytest

from neumelt.errors import InputError
from neumelt.store import SCHEMA_VERSION, Event, Metric, Sample, Store


def test_run_lifecycle_and_provenance(tmp_path):
    store = Store(tmp_path / "r.db")
    with store.run("sim", {"design": "neupims", "batch": 512}, name="ref") as run_id:
        store.add_metrics(run_id, [
            Metric("throughput", 1500.0, "tokens/s", "simulated", "neupims/command"),
            Metric("energy", None, "J", "measured", "rapl"),
        ])
    run = store.get_run(run_id)
    assert run.status == "done" and run.ended_at and run.config["batch"] == 512
    energy = {m.name: m for m in store.metrics(run_id)}["energy"]
    assert energy.value is None  # unavailable is stored as NULL, never 0
    with pytest.raises(ValueError):
        Metric("x", 1.0, "J", "guessed", "me")
    with pytest.raises(RuntimeError), store.run("sim", {}) as failed:
        raise RuntimeError("engine broke")
    assert store.get_run(failed).status == "failed"
    assert "RuntimeError: engine broke" in store.get_run(failed).error
    with pytest.raises(KeyboardInterrupt), store.run("profile", {}) as stopped:
        raise KeyboardInterrupt
    assert store.get_run(stopped).status == "interrupted"
    assert [r.id for r in store.find_runs_by_hash(run.config_hash)] == [run_id]


def _writer(path: str, n: int) -> None:
    store = Store(path)
    run_id = store.start_run("profile", {"device": "local"})
    for i in range(n):
        store.add_samples(run_id, [Sample("cpu", "util", float(i), float(i), "%")])
    os._exit(9)  # die without closing anything: what a crash looks like


def test_samples_survive_a_crashed_writer(tmp_path):
    path = str(tmp_path / "crash.db")
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_writer, args=(path, 50))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 9
    store = Store(path)
    (run,) = store.list_runs()
    # the killed owner could not mark its run: the next opening of the store does
    assert run.status == "interrupted" and "is gone" in run.error
    assert [s.value for s in store.samples(run.id)] == [float(i) for i in range(50)]


def test_records_events_info(tmp_path):
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("sim", {})
    store.add_records(run_id, "stage", [("A", {"cycles": 87268}), ("B", {"cycles": 266239})])
    store.add_events(run_id, [Event("pim", "attend", 0.5, 0.25, {"ch": 3}), Event("npu", "qkv", 0.0)])
    store.set_run_info(run_id, "clock_offset_s", 0.125)
    assert [k for _, k, _ in store.records(run_id, "stage")] == ["A", "B"]
    assert [e.name for e in store.events(run_id)] == ["qkv", "attend"]
    assert store.get_run(run_id).info == {"clock_offset_s": 0.125}


def test_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "new.db"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(InputError, match="newer neumelt"):
        Store(path)
    assert path.read_bytes() == before


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="no neumelt schema"):
        Store(path)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputError, match="not a neumelt results store"):
        Store(tmp_path / "junk.db")


def _open(path: str) -> None:
    Store(path).start_run("sim", {})


def test_processes_creating_one_store_at_once(tmp_path):
    path = str(tmp_path / "race.db")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_open, args=(path,)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 6
    assert len(Store(path).list_runs()) == 6


def test_optional_run_records_or_stays_out_of_the_way(tmp_path):
    from neumelt.store import optional_run

    with optional_run(None, "sim", {"a": 1}) as (store, run_id):
        assert store is None and run_id is None
    db = tmp_path / "o.db"
    with pytest.raises(ValueError), optional_run(db, "sim", {"a": 1}) as (store, run_id):
        store.add_metric(run_id, "cycles", 5.0, "cycles", "simulated", "neupims/fast")
        raise ValueError("bad batch")
    (run,) = Store(db).list_runs()
    assert run.status == "failed" and "bad batch" in run.error
    assert Store(db).metrics(run.id)[0].value == 5.0
