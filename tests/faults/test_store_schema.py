"""Schema migrations from every earlier version (fixtures in tests/data/store/)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from neumelt.store import SCHEMA_VERSION, Sample, Store

DATA = Path(__file__).resolve().parents[1] / "data" / "store"


def _v1(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript((DATA / "v1.sql").read_text())
    con.close()
    return path


def test_version_0_an_empty_file_becomes_a_current_store(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    run = store.start_run("sim", {"a": 1})
    assert store.get_run(run).status == "running"


def test_version_1_migrates_keeping_every_row(tmp_path):
    path = _v1(tmp_path / "v1.db")
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION == 2
    done = store.get_run(1)
    assert (done.kind, done.status, done.host, done.info) == (
        "sim", "done", "oldhost", {"sim": {"design": "neupims"}})
    metrics = {m.name: m.value for m in store.metrics(1)}
    assert metrics == {"throughput": 1500.0, "energy": None}
    assert store.records(1) == [("stage", "A", {"cycles": 87268})]
    assert [s.value for s in store.samples(1)] == [0.25]
    assert store.events(1)[0].data == {"ch": 3}
    # schema 1 allowed a key twice; the migration keeps the last (what readers used)
    assert sorted((k, d["status"]) for _, k, d in store.records(2, "point")) == [
        ("p1", "ok"), ("p2", "ok")]
    # a legacy running run with no owner, started long past the lease, is interrupted
    legacy = store.get_run(3)
    assert legacy.status == "interrupted" and "no heartbeat" in legacy.error
    assert "profile --resume 3" in legacy.error
    assert [k for _, k, _ in store.records(3)] == ["r0/t0/c1"]
    # and the migrated store takes new runs with owners and unique record keys
    run = store.start_run("profile", {"device": "local"})
    store.add_record(run, "calls", "k", {"v": 1})
    store.add_record(run, "calls", "k", {"v": 2})
    store.add_samples(run, [Sample("cpu", "util", 1.0, 0.5, "%")])
    assert store.records(run, "calls") == [("calls", "k", {"v": 2})]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    pid = con.execute("SELECT owner_pid FROM runs WHERE id=?", (run,)).fetchone()[0]
    assert pid > 0


def test_migration_is_done_once_by_racing_processes(tmp_path):
    import multiprocessing

    path = _v1(tmp_path / "v1.db")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=Store, args=(str(path),)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION and len(store.list_runs()) == 3
