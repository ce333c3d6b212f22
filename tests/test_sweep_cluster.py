"""The same 200-point spec against a separately started ``dask scheduler`` and ``dask
worker`` processes on 127.0.0.1 (what a user's cluster looks like), through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sweep_support import TESTS_DIR, free_port, wait_port, write_spec

from neumelt.app.cli import main
from neumelt.store import Store
from sim.sweep.execute import load_points


def _dask_cmd(role: str) -> list[str]:
    exe = shutil.which("dask")
    return [exe, role] if exe else [sys.executable, "-m", f"distributed.cli.dask_{role}"]


@pytest.fixture
def dask_cluster(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [TESTS_DIR, *filter(None, [os.environ.get("PYTHONPATH")])])}
    procs = []
    logs = []

    def start(args, name):
        log = open(tmp_path / f"{name}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                      cwd=tmp_path, start_new_session=True))

    try:
        start([*_dask_cmd("scheduler"), "--host", "127.0.0.1", "--port", str(port),
               "--dashboard-address", ":0", "--no-show"], "scheduler")
        wait_port(port)
        start([*_dask_cmd("worker"), f"tcp://127.0.0.1:{port}", "--nworkers", "2",
               "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"], "worker")
        address = f"tcp://127.0.0.1:{port}"
        from distributed import Client

        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):   # workers first, then the scheduler
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in reversed(procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()


def test_spec_completes_on_a_separately_started_cluster(tmp_path, dask_cluster, capsys):
    spec = write_spec(tmp_path / "grid.yaml")
    db = str(tmp_path / "r.db")
    rc = main(["sweep", "run", str(spec), "--scheduler", dask_cluster, "--db", db, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert (out["total"], out["ok"], out["failed"], out["evaluated"]) == (200, 200, 0, 200)
    assert out["backend"]["scheduler"] == dask_cluster and out["backend"]["workers"] == 2
    points = load_points(Store(db), out["run_id"])
    assert len(points) == 200
    workers = {p["worker"].rsplit(":", 1)[1] for p in points.values()}
    assert str(os.getpid()) not in workers and len(workers) == 2   # both remote workers ran


def test_unreachable_scheduler_is_a_clear_failure(tmp_path, capsys):
    spec = write_spec(tmp_path / "grid.yaml")
    port = free_port()
    rc = main(["sweep", "run", str(spec), "--scheduler", f"tcp://127.0.0.1:{port}",
               "--connect-timeout", "2", "--db", str(tmp_path / "r.db")])
    err = capsys.readouterr().err
    assert rc == 1 and f"127.0.0.1:{port}" in err and "Traceback" not in err
