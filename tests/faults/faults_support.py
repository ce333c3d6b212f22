"""Support for the faults tier and ``benchmarks/reliability.py``: real CLI processes,
killed with SIGKILL at seeded points, and checks of the store they leave behind.

Every helper runs the real ``python -m neumelt`` in its own process (its own session, so
a kill reaches only what the test means to kill) and reads the store with plain
``sqlite3`` while the process runs, so watching never changes what is being watched.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def env() -> dict[str, str]:
    """The environment of a CLI child: this checkout and tests/ first on the path."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(TESTS)] +
                                      ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e.setdefault("PYTHONUNBUFFERED", "1")
    return e


@dataclass
class Proc:
    """A CLI child process and the files its output goes to."""

    popen: subprocess.Popen
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the process (only it: its children are the test's to look after)."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def wait(self, timeout: float = 120.0) -> int:
        return self.popen.wait(timeout)


def spawn(args: list[str], workdir: Path, tag: str = "cli", **kw) -> Proc:
    """Start ``python -m neumelt ARGS`` in ``workdir``; stdout/stderr go to files there."""
    out, err = workdir / f"{tag}.out", workdir / f"{tag}.err"
    with out.open("wb") as o, err.open("wb") as e:
        p = subprocess.Popen([sys.executable, "-m", "neumelt", *args], cwd=workdir,
                             stdout=o, stderr=e, env=kw.pop("env", None) or env(),
                             start_new_session=True, **kw)
    return Proc(p, out, err)


def run(args: list[str], workdir: Path, timeout: float = 120.0, **kw
        ) -> subprocess.CompletedProcess:
    """Run ``python -m neumelt ARGS`` to the end (text output)."""
    return subprocess.run([sys.executable, "-m", "neumelt", *args], cwd=workdir,
                          capture_output=True, text=True, timeout=timeout,
                          env=kw.pop("env", None) or env(), **kw)


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the store with plain sqlite3 (no neumelt code); [] while it does not exist."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        con.close()


def wait_for(cond: Callable[[], bool], timeout_s: float, proc: Proc | None = None,
             what: str = "", every_s: float = 0.02) -> None:
    """Poll ``cond`` every ``every_s``; AssertionError on timeout or when ``proc`` ends
    first."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"the process ended (rc {proc.popen.returncode}) before "
                                 f"{what}: {proc.stderr()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def count(db: Path, table: str, where: str = "1=1", params: tuple = ()) -> int:
    rows = query(db, f"SELECT count(*) FROM {table} WHERE {where}", params)
    return int(rows[0][0]) if rows else 0


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the store (read-write open, so the WAL is replayed)."""
    con = sqlite3.connect(db, timeout=30.0)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def runs_status(db: Path, workdir: Path) -> dict[int, str]:
    """Run id -> status as ``neumelt runs list --json`` reports it (a real CLI open)."""
    import json

    res = run(["--db", str(db), "runs", "list", "--json"], workdir)
    assert res.returncode == 0, res.stderr
    return {r["id"]: r["status"] for r in json.loads(res.stdout)}


def descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid`` (from /proc), children first."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                text = f.read()
        except OSError:
            continue
        ppid = int(text[text.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(0), []):
            out.append(k)
            todo.append(k)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_pids(pids: list[int]) -> None:
    """SIGKILL what a killed client left behind (its workers), so nothing outlives a test."""
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps every file the child writes at ``max_bytes``
    (RLIMIT_FSIZE; Python ignores SIGXFSZ, so writes past it fail with EFBIG)."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def seeded_store(path: Path, samples: int = 300, rows: int = 80) -> Path:
    """A closed store at ``path`` with three finished sim runs, each with a metric,
    ``samples`` samples and ``rows`` records and events (one HTML-ish config value), for
    the damage and read-only tests and the reliability benchmark."""
    from neumelt.store import Event, Sample, Store

    st = Store(path)
    for k in range(3):
        r = st.start_run("sim", {"k": k, "name": f"<b>{k}</b>"}, name=f"run{k}")
        st.add_metric(r, "cycles", 1.0 * k, "cycles", "simulated", "test")
        st.add_samples(r, [Sample("cpu", "util", float(i), 0.5, "%") for i in range(samples)])
        st.add_records(r, "stage", [(str(i), {"cycles": i}) for i in range(rows)])
        st.add_events(r, [Event("npu", "qkv", float(i), 0.5, {"i": i}) for i in range(rows)])
        st.finish_run(r)
    st.close()  # checkpoints the WAL into the file
    return path
