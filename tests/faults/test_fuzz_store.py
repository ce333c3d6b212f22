"""Damaged stores, in-process: a store truncated anywhere or with bytes flipped anywhere
is read by every store reader (runs, metrics, records, samples, events, a full export
row, a report's data) without any error other than an InputError naming the file, and a
refused file is never changed."""

from __future__ import annotations

import hashlib

from faults_support import seeded_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neumelt.errors import InputError
from neumelt.store import Store

SIZE: dict[str, int] = {}


def _base(tmp_path_factory) -> bytes:
    if "bytes" not in SIZE:
        path = tmp_path_factory.mktemp("base") / "base.db"
        seeded_store(path)
        SIZE["bytes"] = path.read_bytes()  # type: ignore[assignment]
    return SIZE["bytes"]  # type: ignore[return-value]


def _read_everything(path) -> None:
    from neumelt.runs import render, run_row
    from reports.data import load_run

    store = Store(path)
    try:
        for r in store.list_runs():
            store.metrics(r.id)
            store.records(r.id)
            store.samples(r.id)
            store.events(r.id)
            render([run_row(store, r.id, full=True)], "json")
            load_run(store, r.id)
    finally:
        store.close()


damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 7)),
                                        min_size=1, max_size=12)))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=damage)
def test_damaged_store_readers_only_raise_input_errors_naming_the_file(
        tmp_path_factory, tmp_path, d):
    data = bytearray(_base(tmp_path_factory))
    if d[0] == "truncate":
        del data[max(1, int(d[1] * len(data))):]
    else:
        for where, bit in d[1]:
            data[min(len(data) - 1, int(where * len(data)))] ^= 1 << bit
    path = tmp_path / "d.db"
    for p in (path, tmp_path / "d.db-wal", tmp_path / "d.db-shm"):
        p.unlink(missing_ok=True)
    path.write_bytes(bytes(data))
    before = hashlib.sha256(bytes(data)).hexdigest()
    try:
        _read_everything(path)
    except InputError as exc:
        assert "d.db" in str(exc), str(exc)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
