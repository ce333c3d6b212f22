"""The results store: one SQLite file (WAL mode) shared by every package.

Tables (schema version in ``PRAGMA user_version``, migrated forward, never backward):

- ``runs``: one row per run (kind ``sim`` | ``profile`` | ``sweep`` | ``import``), full
  config as JSON and its hash, status ``running`` | ``done`` | ``failed`` |
  ``interrupted``, UTC start/end, host, neumelt version, error, extra info (JSON).
- ``metrics``: (run, scope, name) -> value with unit and provenance
  (``measured`` / ``simulated`` / ``estimated``) and its source. ``value`` NULL means
  *unavailable*, never zero.
- ``records``: per-call / per-request / per-stage / per-point rows as JSON, by table name.
- ``samples``: time series (source, name, host time in s, device time in s, value, unit).
- ``events``: timeline spans (track, name, start in s, duration in s, data).

Every write commits at once, so a crash loses nothing already written. One
connection per store, guarded by a lock, so samplers may write from threads.
SQL is parameterised; table and column names never come from user text.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from neumelt import __version__
from neumelt.config import config_hash, to_dict
from neumelt.errors import InputError

SCHEMA_VERSION = 1
KINDS = ("sim", "profile", "sweep", "import")
STATUSES = ("running", "done", "failed", "interrupted")
PROVENANCES = ("measured", "simulated", "estimated")

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        config TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        host TEXT NOT NULL,
        version TEXT NOT NULL,
        error TEXT,
        info TEXT NOT NULL DEFAULT '{}',
        parent_id INTEGER REFERENCES runs(id)
    );
    CREATE INDEX runs_hash ON runs(config_hash);
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        unit TEXT NOT NULL,
        provenance TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (run_id, scope, name)
    );
    CREATE TABLE records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        tbl TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX records_run ON records(run_id, tbl);
    CREATE TABLE samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        t_host_s REAL NOT NULL,
        t_device_s REAL,
        value REAL,
        unit TEXT NOT NULL
    );
    CREATE INDEX samples_run ON samples(run_id, source, name);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        track TEXT NOT NULL,
        name TEXT NOT NULL,
        t_start_s REAL NOT NULL,
        dur_s REAL,
        data TEXT
    );
    CREATE INDEX events_run ON events(run_id);
    """,
}


@dataclass(frozen=True)
class Metric:
    """One figure of a run. ``value`` None means unavailable (shown as such, never 0)."""

    name: str
    value: float | None
    unit: str
    provenance: str
    source: str
    scope: str = "run"

    def __post_init__(self) -> None:
        if self.provenance not in PROVENANCES:
            raise ValueError(f"provenance must be one of {PROVENANCES}, got {self.provenance!r}")


@dataclass(frozen=True)
class Sample:
    """One timestamped reading: host time (s, monotonic-aligned), device time (s) if known."""

    source: str
    name: str
    t_host_s: float
    value: float | None
    unit: str
    t_device_s: float | None = None


@dataclass(frozen=True)
class Event:
    """A span (``dur_s`` set) or instant (``dur_s`` None) on a timeline track, times in s."""

    track: str
    name: str
    t_start_s: float
    dur_s: float | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRow:
    id: int
    kind: str
    name: str
    status: str
    config: dict[str, Any]
    config_hash: str
    started_at: str
    ended_at: str | None
    host: str
    version: str
    error: str | None
    info: dict[str, Any] = field(default_factory=dict)
    parent_id: int | None = None


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _dumps(obj: Any) -> str:
    return json.dumps(to_dict(obj), sort_keys=True, default=str)


class Store:
    """Results store on one SQLite file; see the module docstring for the tables."""

    def __init__(self, path: str | Path = "neumelt.db") -> None:
        self.path = str(path)
        if self.path == ":memory:":
            raise InputError("the results store must be a file", key="--db",
                             expected="a file path")
        parent = Path(self.path).expanduser().resolve().parent
        if not parent.is_dir():
            raise InputError("directory does not exist", file=self.path, key="--db")
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                                         isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a neumelt results store: {exc}", file=self.path) from None
        self._migrate()

    # -- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            try:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise InputError(f"not a neumelt results store: {exc}", file=self.path) from None
            self._refuse_newer(version)
            if version == SCHEMA_VERSION:
                return
            # Another process may be creating the same file: take the write lock, then
            # read the version again before migrating.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                self._refuse_newer(version)
                if version == 0:
                    tables = self._conn.execute(
                        "SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                    if tables:
                        raise InputError("SQLite file has tables but no neumelt schema version",
                                         file=self.path, expected="a neumelt results store")
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[v].split(";"):
                        if statement.strip():
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {int(v)}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise InputError(
                f"written by a newer neumelt (schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}); upgrade neumelt or use another --db — the file was "
                "left untouched", file=self.path)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exec(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, tuple(params))

    def _execmany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(sql, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- runs -------------------------------------------------------------------
    def start_run(self, kind: str, config: Any, name: str = "",
                  parent_id: int | None = None) -> int:
        """Create a run in status ``running``; returns its id."""
        if kind not in KINDS:
            raise ValueError(f"run kind must be one of {KINDS}, got {kind!r}")
        cfg = to_dict(config)
        cur = self._exec(
            "INSERT INTO runs(kind, name, status, config, config_hash, started_at, host, "
            "version, parent_id) VALUES (?,?,?,?,?,?,?,?,?)",
            (kind, name, "running", _dumps(cfg), config_hash(cfg), _utc_now(),
             socket.gethostname(), __version__, parent_id))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str = "done", error: str | None = None) -> None:
        if status not in STATUSES or status == "running":
            raise ValueError(f"final status must be done, failed or interrupted, got {status!r}")
        self._exec("UPDATE runs SET status=?, ended_at=?, error=? WHERE id=?",
                   (status, _utc_now(), error, run_id))

    def reopen_run(self, run_id: int) -> None:
        """Mark a run ``running`` again (for ``--resume``)."""
        self._exec("UPDATE runs SET status='running', ended_at=NULL, error=NULL WHERE id=?",
                   (run_id,))

    @contextmanager
    def run(self, kind: str, config: Any, name: str = "",
            parent_id: int | None = None) -> Iterator[int]:
        """Context manager: ``done`` on success, ``failed`` on error, ``interrupted`` on Ctrl-C."""
        run_id = self.start_run(kind, config, name=name, parent_id=parent_id)
        try:
            yield run_id
        except KeyboardInterrupt:
            self.finish_run(run_id, "interrupted", "KeyboardInterrupt")
            raise
        except BaseException as exc:
            self.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        else:
            self.finish_run(run_id, "done")

    def set_run_info(self, run_id: int, key: str, value: Any) -> None:
        with self._lock:
            row = self._conn.execute("SELECT info FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            info = json.loads(row[0])
            info[key] = to_dict(value)
            self._conn.execute("UPDATE runs SET info=? WHERE id=?", (_dumps(info), run_id))

    def _row(self, r: tuple[Any, ...]) -> RunRow:
        return RunRow(id=r[0], kind=r[1], name=r[2], status=r[3], config=json.loads(r[4]),
                      config_hash=r[5], started_at=r[6], ended_at=r[7], host=r[8],
                      version=r[9], error=r[10], info=json.loads(r[11]), parent_id=r[12])

    _RUN_COLS = ("id, kind, name, status, config, config_hash, started_at, ended_at, host, "
                 "version, error, info, parent_id")

    def get_run(self, run_id: int) -> RunRow:
        r = self._exec(f"SELECT {self._RUN_COLS} FROM runs WHERE id=?", (int(run_id),)).fetchone()
        if r is None:
            raise InputError(f"no run {run_id} in this store", file=self.path, key="RUN")
        return self._row(r)

    def list_runs(self, kind: str | None = None, status: str | None = None) -> list[RunRow]:
        sql = f"SELECT {self._RUN_COLS} FROM runs WHERE 1=1"
        params: list[Any] = []
        if kind:
            sql += " AND kind=?"
            params.append(kind)
        if status:
            sql += " AND status=?"
            params.append(status)
        return [self._row(r) for r in self._exec(sql + " ORDER BY id", params).fetchall()]

    def find_runs_by_hash(self, config_hash_: str, kind: str | None = None) -> list[RunRow]:
        sql = f"SELECT {self._RUN_COLS} FROM runs WHERE config_hash=?"
        params: list[Any] = [config_hash_]
        if kind:
            sql += " AND kind=?"
            params.append(kind)
        return [self._row(r) for r in self._exec(sql + " ORDER BY id", params).fetchall()]

    # -- metrics ----------------------------------------------------------------
    def add_metric(self, run_id: int, name: str, value: float | None, unit: str,
                   provenance: str, source: str, scope: str = "run") -> None:
        self.add_metrics(run_id, [Metric(name, value, unit, provenance, source, scope)])

    def add_metrics(self, run_id: int, metrics: Iterable[Metric]) -> None:
        rows = [(run_id, m.scope, m.name, None if m.value is None else float(m.value), m.unit,
                 m.provenance, m.source) for m in metrics]
        self._execmany("INSERT OR REPLACE INTO metrics(run_id, scope, name, value, unit, "
                       "provenance, source) VALUES (?,?,?,?,?,?,?)", rows)

    def metrics(self, run_id: int) -> list[Metric]:
        rows = self._exec("SELECT name, value, unit, provenance, source, scope FROM metrics "
                          "WHERE run_id=? ORDER BY scope, name", (run_id,)).fetchall()
        return [Metric(*r) for r in rows]

    # -- records ----------------------------------------------------------------
    def add_record(self, run_id: int, table: str, key: str, data: dict[str, Any]) -> None:
        self.add_records(run_id, table, [(key, data)])

    def add_records(self, run_id: int, table: str,
                    rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
        self._execmany("INSERT INTO records(run_id, tbl, key, data) VALUES (?,?,?,?)",
                       [(run_id, table, str(k), _dumps(d)) for k, d in rows])

    def records(self, run_id: int, table: str | None = None
                ) -> list[tuple[str, str, dict[str, Any]]]:
        sql = "SELECT tbl, key, data FROM records WHERE run_id=?"
        params: list[Any] = [run_id]
        if table:
            sql += " AND tbl=?"
            params.append(table)
        return [(t, k, json.loads(d)) for t, k, d in
                self._exec(sql + " ORDER BY id", params).fetchall()]

    # -- samples and events -----------------------------------------------------
    def add_samples(self, run_id: int, samples: Iterable[Sample]) -> None:
        self._execmany(
            "INSERT INTO samples(run_id, source, name, t_host_s, t_device_s, value, unit) "
            "VALUES (?,?,?,?,?,?,?)",
            [(run_id, s.source, s.name, float(s.t_host_s), s.t_device_s,
              None if s.value is None else float(s.value), s.unit) for s in samples])

    def samples(self, run_id: int, source: str | None = None,
                name: str | None = None) -> list[Sample]:
        sql = ("SELECT source, name, t_host_s, value, unit, t_device_s FROM samples "
               "WHERE run_id=?")
        params: list[Any] = [run_id]
        if source:
            sql += " AND source=?"
            params.append(source)
        if name:
            sql += " AND name=?"
            params.append(name)
        return [Sample(*r) for r in self._exec(sql + " ORDER BY t_host_s, id", params)]

    def add_events(self, run_id: int, events: Iterable[Event]) -> None:
        self._execmany(
            "INSERT INTO events(run_id, track, name, t_start_s, dur_s, data) VALUES (?,?,?,?,?,?)",
            [(run_id, e.track, e.name, float(e.t_start_s), e.dur_s,
              None if e.data is None else _dumps(e.data)) for e in events])

    def events(self, run_id: int, track: str | None = None) -> list[Event]:
        sql = "SELECT track, name, t_start_s, dur_s, data FROM events WHERE run_id=?"
        params: list[Any] = [run_id]
        if track:
            sql += " AND track=?"
            params.append(track)
        rows = self._exec(sql + " ORDER BY t_start_s, id", params).fetchall()
        return [Event(t, n, s, d, None if x is None else json.loads(x)) for t, n, s, d, x in rows]


@contextmanager
def optional_run(db: str | Path | None, kind: str, config: Any, name: str = ""
                 ) -> Iterator[tuple[Store | None, int | None]]:
    """:meth:`Store.run` on the store at ``db``; ``(None, None)`` when ``db`` is None.

    For commands with ``--no-store``: the body runs the same either way.
    """
    if db is None:
        yield None, None
        return
    store = open_store(db)
    with store.run(kind, config, name=name) as run_id:
        yield store, run_id


def open_store(path: str | Path | None) -> Store:
    """Open the store named by ``--db`` (default ``./neumelt.db``)."""
    return Store(path or "neumelt.db")


def monotonic_s() -> float:
    """Host clock used for samples and events: ``time.monotonic()`` in seconds."""
    return time.monotonic()
