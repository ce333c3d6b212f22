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

Faults:

- *Killed owners.* A ``running`` run records its owner (host, boot id, pid, process start
  time) and a heartbeat (refreshed every :data:`HEARTBEAT_S` s while the store is open);
  opening the store marks ``interrupted`` every running run whose owner is gone (same
  host: the process no longer exists; another host: no heartbeat for :data:`LEASE_S` s).
- *Several writers.* WAL, a busy timeout, and every write in a ``BEGIN IMMEDIATE``
  transaction retried with backoff while another process holds the lock (up to
  :data:`BUSY_S` s), so "database is locked" never reaches the user.
- *Idempotent records.* ``(run, table, key)`` is unique; writing a key again replaces
  its data, so a resumed run never duplicates rows.
- *Damaged files.* Every SQLite error becomes an error naming the file: a damaged or
  foreign file and a read-only one are bad input (:class:`InputError`, exit 2), a full
  disk or an I/O error is a failed run (:class:`StoreError`, exit 1). Nothing is ever
  rewritten to "repair" a file.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from neumelt import __version__, owner
from neumelt.config import config_hash, to_dict
from neumelt.errors import InputError, NeumeltError, RunError

SCHEMA_VERSION = 2
HEARTBEAT_S = 15.0   # an open store refreshes its running runs' heartbeat this often, s
LEASE_S = 300.0      # a run on another host with no heartbeat for this long is stale, s
BUSY_S = 120.0       # total time a write waits for other writers before failing, s
LOCK_WAIT_S = 5.0    # SQLite's own busy timeout per attempt, s (retries go on to BUSY_S)
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
    2: """
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE runs ADD COLUMN owner_boot TEXT;
    ALTER TABLE runs ADD COLUMN owner_start TEXT;
    ALTER TABLE runs ADD COLUMN heartbeat_at REAL;
    DELETE FROM records WHERE id NOT IN (SELECT max(id) FROM records GROUP BY run_id, tbl, key);
    CREATE UNIQUE INDEX records_key ON records(run_id, tbl, key);
    """,
}


class StoreError(RunError):
    """An SQLite failure on the store file during a run (exit status 1); names the file."""

    def __init__(self, message: str, *, file: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def store_error(path: str, exc: BaseException, doing: str = "") -> NeumeltError:
    """The user-facing error for an SQLite failure ``exc`` on the store at ``path``:
    an :class:`InputError` (exit 2) for a file that cannot be used as a store, a
    :class:`StoreError` (exit 1) for a failure while writing one."""
    text = str(exc)
    low = text.lower()
    what = f" while {doing}" if doing else ""
    if "readonly" in low or "read-only" in low:
        return InputError(f"the results store is read-only ({text}){what}; nothing was "
                          "written", file=path, key="--db",
                          expected="a file (and directory) you may write, or another --db")
    if "not a database" in low or "malformed" in low or "encrypted" in low \
            or "could not decode" in low:
        return InputError(f"not a neumelt results store, or a damaged one ({text}){what}; "
                          "the file was left untouched", file=path, key="--db",
                          expected="an undamaged store (restore a copy) or another --db")
    if "unable to open" in low:
        return InputError(f"cannot open the results store ({text})", file=path, key="--db",
                          expected="a path to a file you may read and write")
    if "full" in low or "disk i/o" in low or "ioerr" in low:
        return StoreError(f"cannot write the results store ({text}){what}: the disk is "
                          "full or a file size limit was reached; everything committed "
                          "before is kept", file=path)
    if _busy(exc):
        return StoreError(f"the results store stayed locked by another process for more "
                          f"than {BUSY_S:.0f} s ({text}){what}", file=path)
    return StoreError(f"SQLite error ({text}){what}", file=path)


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
        p = Path(self.path).expanduser()
        if not p.resolve().parent.is_dir():
            raise InputError("directory does not exist", file=self.path, key="--db")
        if p.is_dir():
            raise InputError("is a directory", file=self.path, key="--db",
                             expected="an SQLite file")
        self._lock = threading.RLock()
        self._owned: set[int] = set()
        self._beat: threading.Thread | None = None
        self._closed = threading.Event()
        self._conn: sqlite3.Connection | None = None
        self._depth, self._tx_thread = 0, 0
        try:
            self._retry(self._connect, "opening it")
            self._migrate()
            self.reap_stale()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
            raise

    def _connect(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, timeout=LOCK_WAIT_S, check_same_thread=False,
                                         isolation_level=None)
        mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if "readonly" not in str(exc).lower():
                    raise  # a read-only store stays readable in its own mode
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    # -- transactions -------------------------------------------------------------
    def _retry(self, fn: Any, doing: str) -> Any:
        """Call ``fn()`` under the lock, retrying with backoff while the file is busy."""
        deadline = time.monotonic() + BUSY_S
        delay = 0.002
        while True:
            try:
                with self._lock:
                    return fn()
            except sqlite3.Error as exc:
                if _busy(exc) and time.monotonic() < deadline:
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 0.25)
                    continue
                raise store_error(self.path, exc, doing) from None

    def _write(self, fn: Any, doing: str = "writing") -> Any:
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction (retried while busy);
        inside :meth:`transaction` it joins that one."""
        if self._depth and self._tx_thread == threading.get_ident():
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise store_error(self.path, exc, doing) from None

        def attempt() -> Any:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            return out
        return self._retry(attempt, doing)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the writes inside into one transaction: all of them land, or none (a
        process killed in between leaves neither half). Other threads wait."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._retry(lambda: self._conn.execute("BEGIN IMMEDIATE"), "writing")
            self._depth, self._tx_thread = 1, threading.get_ident()
            try:
                yield
            except BaseException:
                self._depth = 0
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            self._depth = 0
            self._retry(lambda: self._conn.execute("COMMIT"), "writing")

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self._retry(lambda: self._conn.execute(sql, tuple(params)).fetchall(),
                           "reading")

    def _exec(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self._write(lambda c: c.execute(sql, tuple(params)))

    def _execmany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._write(lambda c: c.executemany(sql, rows))

    def _loads(self, text: Any, what: str) -> Any:
        """``json.loads`` of a stored column; a damaged value is an InputError naming it."""
        if text is None:
            return None
        try:
            return json.loads(text)
        except (ValueError, TypeError) as exc:
            raise InputError(f"a damaged results store: {what} is not valid JSON ({exc}); "
                             "the file was left untouched", file=self.path, key="--db",
                             expected="an undamaged store (restore a copy) or another "
                             "--db") from None

    # -- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._read("PRAGMA user_version")[0][0]
        self._refuse_newer(version)
        if version == SCHEMA_VERSION:
            return

        # Another process may be creating or migrating the same file: under the write
        # lock, read the version again before migrating.
        def migrate(conn: sqlite3.Connection) -> None:
            v0 = conn.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(v0)
            if v0 == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                if tables:
                    raise InputError("SQLite file has tables but no neumelt schema version",
                                     file=self.path, expected="a neumelt results store")
            for v in range(v0 + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[v].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(v)}")
        self._write(migrate, f"migrating its schema from version {version}")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise InputError(
                f"written by a newer neumelt (schema {version}; this one reads up to "
                f"{SCHEMA_VERSION}); upgrade neumelt or use another --db — the file was "
                "left untouched", file=self.path)

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- owners -----------------------------------------------------------------
    def reap_stale(self) -> list[int]:
        """Mark ``interrupted`` every running run whose owner is gone; returns their ids.

        Same host: the owner process no longer exists (or its pid now names another
        process, or the machine rebooted). Another host, or a run with no recorded owner:
        no heartbeat (or start) for :data:`LEASE_S` s. A read-only store is left as is.
        """
        rows = self._read("SELECT id, kind, host, owner_pid, owner_boot, owner_start, "
                          "heartbeat_at, started_at FROM runs WHERE status='running'")
        now = time.time()
        stale: list[tuple[int, str]] = []
        for rid, kind, host, pid, boot, start, beat, started in rows:
            state = owner.alive(owner.Owner(host, boot or "", pid or 0, start or ""))
            if state is None:
                last = beat if beat is not None else _epoch_s(started)
                if last is None or now - last < LEASE_S:
                    continue
                why = (f"no heartbeat from its owner on host {host} for "
                       f"{now - last:.0f} s (more than {LEASE_S:.0f} s)")
            elif state:
                continue
            else:
                why = f"its owner process (pid {pid} on host {host}) is gone (killed or crashed)"
            hint = {"profile": f"; finish it with: neumelt profile --resume {rid}",
                    "sweep": f"; finish it with: neumelt sweep run SPEC --resume {rid}"}
            stale.append((rid, f"interrupted: {why}; what it recorded is kept"
                          + hint.get(kind, "")))
        if not stale:
            return []

        def mark(conn: sqlite3.Connection) -> None:
            for rid, why in stale:
                conn.execute("UPDATE runs SET status='interrupted', ended_at=?, error=? "
                             "WHERE id=? AND status='running'", (_utc_now(), why, rid))
        try:
            self._write(mark, "marking runs of killed processes interrupted")
        except InputError as exc:
            if "read-only" in str(exc):
                return []  # reading a read-only store still works
            raise
        return [rid for rid, _ in stale]

    def _own(self, run_id: int) -> None:
        """This process now owns ``run_id``; keep its heartbeat going while open."""
        with self._lock:
            self._owned.add(run_id)
            if self._beat is None or not self._beat.is_alive():
                self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                              name=f"neumelt-store-heartbeat:{self.path}")
                self._beat.start()

    def _heartbeat(self) -> None:
        while not self._closed.wait(HEARTBEAT_S):
            with self._lock:
                ids = sorted(self._owned)
            if not ids:
                continue
            rows = [(time.time(), i) for i in ids]
            try:
                self._execmany("UPDATE runs SET heartbeat_at=? WHERE id=? AND "
                               "status='running'", rows)
            except Exception:  # the next write of the run reports a real problem
                pass

    def _owner_cols(self) -> tuple[Any, ...]:
        me = owner.current()
        return (me.host, me.pid, me.boot_id, me.start, time.time())

    # -- runs -------------------------------------------------------------------
    def start_run(self, kind: str, config: Any, name: str = "",
                  parent_id: int | None = None) -> int:
        """Create a run in status ``running``, owned by this process; returns its id."""
        if kind not in KINDS:
            raise ValueError(f"run kind must be one of {KINDS}, got {kind!r}")
        cfg = to_dict(config)
        cur = self._exec(
            "INSERT INTO runs(kind, name, status, config, config_hash, started_at, host, "
            "owner_pid, owner_boot, owner_start, heartbeat_at, version, parent_id) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (kind, name, "running", _dumps(cfg), config_hash(cfg), _utc_now(),
             *self._owner_cols(), __version__, parent_id))
        run_id = int(cur.lastrowid)
        self._own(run_id)
        return run_id

    def finish_run(self, run_id: int, status: str = "done", error: str | None = None) -> None:
        if status not in STATUSES or status == "running":
            raise ValueError(f"final status must be done, failed or interrupted, got {status!r}")
        self._exec("UPDATE runs SET status=?, ended_at=?, error=? WHERE id=?",
                   (status, _utc_now(), error, run_id))
        with self._lock:
            self._owned.discard(run_id)

    def reopen_run(self, run_id: int) -> None:
        """Mark a run ``running`` again, owned by this process (for ``--resume``)."""
        self._exec("UPDATE runs SET status='running', ended_at=NULL, error=NULL, host=?, "
                   "owner_pid=?, owner_boot=?, owner_start=?, heartbeat_at=? WHERE id=?",
                   (*self._owner_cols(), run_id))
        self._own(run_id)

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
        def update(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT info FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            info = self._loads(row[0], f"run {run_id}'s info")
            info[key] = to_dict(value)
            conn.execute("UPDATE runs SET info=? WHERE id=?", (_dumps(info), run_id))
        self._write(update)

    def _row(self, r: tuple[Any, ...]) -> RunRow:
        return RunRow(id=r[0], kind=r[1], name=r[2], status=r[3],
                      config=self._loads(r[4], f"run {r[0]}'s config"),
                      config_hash=r[5], started_at=r[6], ended_at=r[7], host=r[8],
                      version=r[9], error=r[10], info=self._loads(r[11], f"run {r[0]}'s info"),
                      parent_id=r[12])

    _RUN_COLS = ("id, kind, name, status, config, config_hash, started_at, ended_at, host, "
                 "version, error, info, parent_id")

    def get_run(self, run_id: int) -> RunRow:
        rows = self._read(f"SELECT {self._RUN_COLS} FROM runs WHERE id=?", (int(run_id),))
        if not rows:
            raise InputError(f"no run {run_id} in this store", file=self.path, key="RUN")
        return self._row(rows[0])

    def list_runs(self, kind: str | None = None, status: str | None = None) -> list[RunRow]:
        sql = f"SELECT {self._RUN_COLS} FROM runs WHERE 1=1"
        params: list[Any] = []
        if kind:
            sql += " AND kind=?"
            params.append(kind)
        if status:
            sql += " AND status=?"
            params.append(status)
        return [self._row(r) for r in self._read(sql + " ORDER BY id", params)]

    def find_runs_by_hash(self, config_hash_: str, kind: str | None = None) -> list[RunRow]:
        sql = f"SELECT {self._RUN_COLS} FROM runs WHERE config_hash=?"
        params: list[Any] = [config_hash_]
        if kind:
            sql += " AND kind=?"
            params.append(kind)
        return [self._row(r) for r in self._read(sql + " ORDER BY id", params)]

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
        rows = self._read("SELECT name, value, unit, provenance, source, scope FROM metrics "
                          "WHERE run_id=? ORDER BY scope, name", (run_id,))
        return [Metric(*r) for r in rows]

    # -- records ----------------------------------------------------------------
    def add_record(self, run_id: int, table: str, key: str, data: dict[str, Any]) -> None:
        self.add_records(run_id, table, [(key, data)])

    def add_records(self, run_id: int, table: str,
                    rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Write records; a key already in (run, table) gets the new data (idempotent)."""
        self._execmany("INSERT INTO records(run_id, tbl, key, data) VALUES (?,?,?,?) "
                       "ON CONFLICT(run_id, tbl, key) DO UPDATE SET data=excluded.data",
                       [(run_id, table, str(k), _dumps(d)) for k, d in rows])

    def records(self, run_id: int, table: str | None = None
                ) -> list[tuple[str, str, dict[str, Any]]]:
        sql = "SELECT tbl, key, data FROM records WHERE run_id=?"
        params: list[Any] = [run_id]
        if table:
            sql += " AND tbl=?"
            params.append(table)
        return [(t, k, self._loads(d, f"record {t}/{k} of run {run_id}")) for t, k, d in
                self._read(sql + " ORDER BY id", params)]

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
        return [Sample(*r) for r in self._read(sql + " ORDER BY t_host_s, id", params)]

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
        rows = self._read(sql + " ORDER BY t_start_s, id", params)
        return [Event(t, n, s, d, self._loads(x, f"event {n} of run {run_id}"))
                for t, n, s, d, x in rows]


def _epoch_s(utc: str | None) -> float | None:
    """Seconds since the epoch of an ISO UTC time from the store (None if unreadable)."""
    try:
        return datetime.fromisoformat(utc).timestamp() if utc else None
    except (TypeError, ValueError):
        return None


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
