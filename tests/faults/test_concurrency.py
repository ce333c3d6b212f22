"""Eight processes writing one store at once: nothing lost, no "database is locked"."""

from __future__ import annotations

import pytest
from scenarios import concurrent_writers


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return None  # the profile writer is replaced by one more raw writer
    from profiler_support import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("model") / "tiny.gguf")


def test_eight_writers_at_once(tmp_path, tiny):
    r = concurrent_writers(tmp_path, tiny)
    assert r.writers == 8
    assert r.problems == [] and r.held == 8


def test_a_write_outwaits_a_lock_held_past_sqlites_busy_timeout(tmp_path, monkeypatch):
    import sqlite3
    import threading
    import time

    from neumelt import store as store_mod

    monkeypatch.setattr(store_mod, "LOCK_WAIT_S", 0.02)
    st = store_mod.Store(tmp_path / "b.db")
    run_id = st.start_run("sim", {})
    other = sqlite3.connect(tmp_path / "b.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock for 0.4 s
    release = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    release.start()
    t0 = time.monotonic()
    st.add_record(run_id, "rows", "k", {"v": 1})  # retried with backoff, never "locked"
    assert time.monotonic() - t0 >= 0.3
    release.join()
    assert st.records(run_id) == [("rows", "k", {"v": 1})]
    # a lock held past BUSY_S is a clear failure naming the file
    monkeypatch.setattr(store_mod, "BUSY_S", 0.2)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(store_mod.StoreError, match="b.db.*stayed locked"):
        st.add_record(run_id, "rows", "k2", {"v": 2})
    other.execute("COMMIT")
