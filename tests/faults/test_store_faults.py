"""Storage faults through the real CLI: a full disk mid-run, a read-only store, truncated
and byte-flipped stores, a store from a newer neumelt: each a clear error naming the file
(exit 1 for a failed run, 2 for an unusable file), never a traceback, never an overwrite."""

from __future__ import annotations

import ctypes
import hashlib
import os
import random
import sqlite3

import pytest
from faults_support import (
    integrity,
    limit_file_size,
    query,
    run,
    runs_status,
    seeded_store,
)

from neumelt.store import SCHEMA_VERSION, Event, Store

SIM_STEP = ["sim", "step", "--design", "npu-pim", "--model", "gpt3-7b", "--batch", "4",
            "--fidelity", "fast"]


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _content(path) -> list:
    """What a store holds (a checkpoint may move bytes between the WAL and the file)."""
    return [query(path, f"SELECT * FROM {t} ORDER BY rowid")
            for t in ("runs", "metrics", "records", "samples", "events")]


def _no_traceback(res) -> None:
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr


def test_full_disk_mid_run_stops_with_the_file_named_and_keeps_what_was_written(tmp_path):
    db = tmp_path / "w.db"
    res = run(["--db", str(db), "devices", "watch", "local", "--duration", "60",
               "--rate", "200"], tmp_path, timeout=120,
              preexec_fn=limit_file_size(160_000))
    _no_traceback(res)
    assert res.returncode == 1, res.stderr
    assert str(db.name) in res.stderr and "file size limit" in res.stderr
    assert integrity(db) == "ok"
    (status,) = runs_status(db, tmp_path).values()  # as the next opening sees it
    assert status in ("failed", "interrupted")  # never done
    assert query(db, "SELECT count(*) FROM samples")[0][0] > 0  # written before: kept


def test_full_disk_while_writing_a_report_leaves_no_truncated_page(tmp_path):
    db = tmp_path / "r.db"
    assert run(["--db", str(db), *SIM_STEP], tmp_path, timeout=300).returncode == 0
    before = _content(db)
    out = tmp_path / "rep" / "r.html"
    res = run(["--db", str(db), "report", "sim", "1", "-o", str(out)], tmp_path,
              timeout=300, preexec_fn=limit_file_size(400_000))
    _no_traceback(res)
    assert res.returncode == 1 and "r.html" in res.stderr and "file size limit" in res.stderr
    assert not out.exists() and not [p for p in out.parent.iterdir() if "tmp" in p.name]
    assert _content(db) == before


def _drop_write_permission() -> None:
    """preexec_fn: root loses the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_read_only_store_reads_and_refuses_writes_naming_the_file(tmp_path):
    db = tmp_path / "ro.db"
    seeded_store(db, samples=200, rows=50)
    db.chmod(0o444)
    probe = run(["--version"], tmp_path, preexec_fn=_drop_write_permission)
    assert probe.returncode == 0, probe.stderr
    before = _digest(db)
    listed = run(["--db", str(db), "runs", "list", "--json"], tmp_path,
                 preexec_fn=_drop_write_permission)
    assert listed.returncode == 0 and '"run2"' in listed.stdout, listed.stderr
    res = run(["--db", str(db), *SIM_STEP], tmp_path, timeout=300,
              preexec_fn=_drop_write_permission)
    _no_traceback(res)
    assert res.returncode == 2 and "ro.db" in res.stderr and "read-only" in res.stderr
    assert _digest(db) == before


def _damage(path, rng: random.Random, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        del data[rng.randrange(1, len(data)):]
    else:
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how,seed", [("truncate", 1), ("flip", 3), ("header", 5)])
def test_damaged_store_is_a_clear_error_never_an_overwrite(tmp_path, how, seed):
    db = tmp_path / "d.db"
    seeded_store(db, samples=200, rows=50)
    if how == "header":  # the magic string itself: not an SQLite file any more
        data = bytearray(db.read_bytes())
        data[0:6] = b"XQLite"
        db.write_bytes(bytes(data))
    else:
        _damage(db, random.Random(seed), how)
    # (many more damaged files go through the readers in-process: test_fuzz_store.py)
    for argv in (["runs", "list"], SIM_STEP):
        before = _digest(db)
        res = run(["--db", str(db), *argv], tmp_path, timeout=300)
        _no_traceback(res)
        assert res.returncode in (0, 2), (argv, res.stderr)
        if res.returncode == 2:
            assert "d.db" in res.stderr, res.stderr
            assert _digest(db) == before, f"{argv} changed a store it refused"
        elif argv is SIM_STEP:  # it wrote: the old runs must still be there
            con = sqlite3.connect(db)
            assert con.execute("SELECT count(*) FROM runs").fetchone()[0] >= 2
            con.close()


def test_newer_schema_through_the_cli(tmp_path):
    db = tmp_path / "n.db"
    seeded_store(db, samples=200, rows=50)
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = _digest(db)
    for argv in (["runs", "list"], SIM_STEP):
        res = run(["--db", str(db), *argv], tmp_path, timeout=300)
        _no_traceback(res)
        assert res.returncode == 2 and "n.db" in res.stderr and "newer neumelt" in res.stderr
    assert _digest(db) == before


def test_transaction_keeps_both_writes_or_neither(tmp_path):
    st = Store(tmp_path / "t.db")
    run_id = st.start_run("profile", {})
    with pytest.raises(RuntimeError), st.transaction():
        st.add_record(run_id, "calls", "k1", {"a": 1})
        raise RuntimeError("killed between the record and its events")
    with st.transaction():
        st.add_record(run_id, "calls", "k2", {"a": 2})
        st.add_events(run_id, [Event("slot0", "call_start", 1.0)])
    assert [k for _, k, _ in st.records(run_id)] == ["k2"] and len(st.events(run_id)) == 1
