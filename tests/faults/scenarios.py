"""Kill scenarios: a real CLI process SIGKILLed at a seeded point, then the store checked.

Each scenario returns a :class:`KillResult` whose ``problems`` list says what went wrong
(empty when the store survived: integrity ok, the run ``interrupted`` and never ``done``,
everything recorded before the kill still there, and the resumed run complete without
duplicates). The tests assert ``problems == []``; ``benchmarks/reliability.py`` runs more
seeds and counts them.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from faults_support import (
    cmdline,
    count,
    descendants,
    integrity,
    kill_pids,
    query,
    run,
    runs_status,
    spawn,
    wait_for,
)


@dataclass
class KillResult:
    """What one kill did and what the store looked like after it."""

    scenario: str
    seed: int
    killed: bool = False          # the process died of SIGKILL (not finished first)
    kills: int = 0                # processes SIGKILLed (a worker and the client count 2)
    status_after: str = ""        # the run's status after the kill, as `runs list` says
    kept: int = 0                 # rows seen before the kill and found after it
    resumed: str = ""             # the run's status after resume / rerun ('' if none)
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)


def _after_kill(res: KillResult, db: Path, workdir: Path, run_id: int,
                killed_at: float) -> None:
    """Integrity, and the run ``interrupted``, or ``done`` only if it was marked done
    before the kill (the process was killed on its way out, after its last write)."""
    from datetime import datetime

    res.check(integrity(db) == "ok", f"integrity_check: {integrity(db)}")
    status = runs_status(db, workdir).get(run_id, "missing")
    res.status_after = status
    if status == "done":
        (ended,), = query(db, "SELECT ended_at FROM runs WHERE id=?", (run_id,))
        res.check(datetime.fromisoformat(ended).timestamp() <= killed_at,
                  f"run {run_id} is 'done' but was marked so after the kill")
        res.check(count(db, "metrics", "run_id=?", (run_id,)) > 0,
                  f"run {run_id} is 'done' with no metrics")
        return
    res.check(status == "interrupted", f"run {run_id} is {status!r} after the kill, "
                                       "expected 'interrupted'")


def _kill_and_check(res: KillResult, p, db: Path, workdir: Path) -> int | None:
    """SIGKILL ``p`` now; if it was still running, check the store after the kill
    (:func:`_after_kill`) and return the run's id, else note that it finished first."""
    alive = p.popen.poll() is None
    killed_at = time.time()
    p.kill()
    res.killed, res.kills = alive and p.popen.returncode == -9, int(alive)
    if not res.killed:
        res.problems.append(f"finished before the kill (rc {p.popen.returncode})")
        return None
    (run_id,) = [r[0] for r in query(db, "SELECT id FROM runs")]
    _after_kill(res, db, workdir, run_id, killed_at)
    return run_id


# -- sim run ----------------------------------------------------------------------------
SIM_RUN = ["sim", "run", "--design", "neupims", "--model", "gpt3-7b", "--workload",
           "mobile-agent-v2", "--requests", "3"]


def kill_sim_run(workdir: Path, seed: int, max_delay_s: float = 0.04,
                 rerun: bool = False) -> KillResult:
    """``sim run`` killed a seeded time (0..max_delay_s s) after its run row exists: it
    creates the run when the simulation is over and then writes metrics, request rows,
    events and samples, so the kill lands among those writes (or just after the last);
    with ``rerun`` the same command then runs to the end in the same store."""
    res = KillResult("sim run", seed)
    db = workdir / "r.db"
    p = spawn(["--db", str(db), *SIM_RUN], workdir, tag=f"sim{seed}")
    wait_for(lambda: count(db, "runs") > 0, 120, p, "the sim run row", every_s=0.002)
    time.sleep(random.Random(seed).uniform(0.0, max_delay_s))
    run_id = _kill_and_check(res, p, db, workdir)
    if run_id is None:
        return res
    if not rerun:
        return res
    again = run(["--db", str(db), *SIM_RUN, "--json"], workdir, timeout=300)
    res.check(again.returncode == 0, f"rerun failed: {again.stderr[-500:]}")
    res.resumed = runs_status(db, workdir).get(run_id + 1, "missing")
    res.check(res.resumed == "done", f"rerun is {res.resumed!r}")
    return res


# -- profile --device local -------------------------------------------------------------
def profile_args(db: Path, model: Path) -> list[str]:
    return ["--db", str(db), "profile", "--device", "local", "--model", str(model),
            "--workload", "mobile-agent-v2", "--tasks", "2", "--repetitions", "1",
            "--warmup", "0", "--scale", "0.05", "--delay-scale", "0", "--idle-s", "0.2",
            "--sample-hz", "20", "--quiet"]


def expected_profile_keys() -> set[str]:
    from workloads.agents import expand

    return {f"r0/t{r.inst}/{r.id}" for r in expand("mobile-agent-v2", seed=0, instances=2,
                                                    model="qwen2-vl-2b")}


def kill_profile(workdir: Path, model: Path, seed: int) -> KillResult:
    """``profile --device local`` killed after a seeded number of calls, then resumed."""
    res = KillResult("profile", seed)
    db = workdir / "r.db"
    want = expected_profile_keys()
    k = random.Random(seed).randint(1, len(want) - 1)
    p = spawn(profile_args(db, model), workdir, tag=f"profile{seed}")
    rec = "tbl IN ('calls','delays')"
    wait_for(lambda: count(db, "records", rec) >= k, 240, p, f"{k} recorded calls")
    keys = {r[0] for r in query(db, f"SELECT key FROM records WHERE {rec}")}
    n_samples = count(db, "samples")
    run_id = _kill_and_check(res, p, db, workdir)
    if run_id is None:
        return res
    after = {r[0] for r in query(db, f"SELECT key FROM records WHERE {rec}")}
    res.kept = len(keys & after) + min(n_samples, count(db, "samples"))
    res.check(keys <= after, f"calls recorded before the kill are gone: {keys - after}")
    res.check(count(db, "samples") >= n_samples, "samples recorded before the kill are gone")
    # resume finishes exactly the calls not yet recorded
    done = run(["--db", str(db), "profile", "--resume", str(run_id), "--json", "--quiet"],
               workdir, timeout=300)
    res.check(done.returncode == 0, f"resume failed: {done.stderr[-800:]}")
    res.resumed = runs_status(db, workdir).get(run_id, "missing")
    res.check(res.resumed == "done", f"resumed run is {res.resumed!r}")
    rows = query(db, f"SELECT key FROM records WHERE run_id=? AND {rec}", (run_id,))
    res.check(sorted(r[0] for r in rows) == sorted(want),
              f"after resume: {len(rows)} call/delay records for {len(want)} nodes")
    calls = count(db, "records", "run_id=? AND tbl='calls'", (run_id,))
    starts = count(db, "events", "run_id=? AND name='call_start'", (run_id,))
    res.check(starts == calls, f"{starts} call_start events for {calls} calls")
    for tbl in ("call_energy", "tasks"):
        dup = query(db, "SELECT key, count(*) FROM records WHERE run_id=? AND tbl=? "
                        "GROUP BY key HAVING count(*) > 1", (run_id, tbl))
        res.check(not dup, f"duplicate {tbl} records: {dup[:3]}")
    return res


# -- sweep run (Dask) -------------------------------------------------------------------
SWEEP_GRID = {"batch": [64, 128, 256, 384, 512], "pim": [True, False],
              "channels": [8, 16, 32, 64]}   # 40 points


def sweep_spec(workdir: Path, delay_s: float = 0.05) -> Path:
    from sweep_support import write_spec

    return write_spec(workdir / "spec.yaml", evaluator="sweep_support:SlowRoofline",
                      grid=SWEEP_GRID, base={"seq_len": 300, "delay_s": delay_s})


def _worker_pids(pid: int) -> list[int]:
    return [c for c in descendants(pid)
            if "spawn_main" in cmdline(c) and "resource_tracker" not in cmdline(c)]


def kill_sweep(workdir: Path, seed: int) -> KillResult:
    """``sweep run`` on a Dask LocalCluster: a worker SIGKILLed after k1 points (the sweep
    goes on), then the client after k2 > k1 points; ``--resume`` finishes the rest."""
    res = KillResult("sweep run", seed)
    db = workdir / "r.db"
    spec = sweep_spec(workdir)
    rng = random.Random(seed)
    k1 = rng.randint(2, 12)
    k2 = rng.randint(k1 + 4, 30)
    p = spawn(["--db", str(db), "sweep", "run", str(spec), "--backend", "dask",
               "--workers", "2", "--numba-cache", str(workdir / "numba")], workdir,
              tag=f"sweep{seed}")
    pts = "tbl='point'"
    wait_for(lambda: count(db, "records", pts) >= k1, 240, p, f"{k1} sweep points")
    workers = _worker_pids(p.pid)
    res.check(len(workers) >= 1, "no Dask worker process found")
    if workers:
        import os
        import signal

        os.kill(workers[rng.randrange(len(workers))], signal.SIGKILL)
        res.kills += 1
    wait_for(lambda: count(db, "records", pts) >= k2, 240, p,
             f"{k2} sweep points after the worker was killed")
    keys = {r[0] for r in query(db, f"SELECT key FROM records WHERE {pts}")}
    leftovers = descendants(p.pid)
    alive = p.popen.poll() is None
    killed_at = time.time()
    p.kill()
    kill_pids(leftovers)
    res.killed = alive and p.popen.returncode == -9
    res.kills += int(res.killed)
    if not res.killed:
        res.problems.append(f"finished before the client was killed (rc {p.popen.returncode})")
        return res
    (run_id,) = [r[0] for r in query(db, "SELECT id FROM runs")]
    _after_kill(res, db, workdir, run_id, killed_at)
    after = {r[0] for r in query(db, f"SELECT key FROM records WHERE {pts}")}
    res.kept = len(keys & after)
    res.check(keys <= after, f"points recorded before the kill are gone: {keys - after}")
    done = run(["--db", str(db), "sweep", "run", str(spec), "--resume", str(run_id),
                "--backend", "pool", "--workers", "1", "--numba-cache",
                str(workdir / "numba"), "--json"], workdir, timeout=300)
    res.check(done.returncode == 0, f"resume failed: {done.stderr[-800:]}")
    res.resumed = runs_status(db, workdir).get(run_id, "missing")
    res.check(res.resumed == "done", f"resumed sweep is {res.resumed!r}")
    rows = query(db, f"SELECT key, data FROM records WHERE run_id=? AND {pts}", (run_id,))
    res.check(len(rows) == 40 and len({k for k, _ in rows}) == 40,
              f"{len(rows)} point records after resume, expected 40 unique")
    res.check(all(json.loads(d)["status"] == "ok" for _, d in rows), "a point is not ok")
    return res


# -- report -----------------------------------------------------------------------------
def make_sim_step(workdir: Path, db: Path) -> int:
    """One cheap simulated run to report on; returns its id."""
    r = run(["--db", str(db), "sim", "step", "--design", "npu-pim", "--model", "gpt3-7b",
             "--batch", "4", "--fidelity", "fast", "--json"], workdir, timeout=300)
    assert r.returncode == 0, r.stderr
    return max(x[0] for x in query(db, "SELECT id FROM runs"))


def kill_report(workdir: Path, seed: int, run_id: int, db: Path,
                max_delay_s: float = 3.0) -> KillResult:
    """``report sim RUN`` killed at a seeded time: the store is untouched (a report only
    reads) and FILE.html is either absent or whole, never a truncated page."""
    res = KillResult("report", seed)
    before = query(db, "SELECT id, status FROM runs ORDER BY id")
    out = workdir / f"rep{seed}" / "r.html"
    p = spawn(["--db", str(db), "report", "sim", str(run_id), "-o", str(out)], workdir,
              tag=f"report{seed}")
    time.sleep(random.Random(seed).uniform(0.2, max_delay_s))
    alive = p.popen.poll() is None
    p.kill()
    res.killed, res.kills = alive and p.popen.returncode == -9, int(alive)
    res.check(integrity(db) == "ok", "integrity_check failed")
    res.check(query(db, "SELECT id, status FROM runs ORDER BY id") == before,
              "a report changed the store")
    res.status_after = dict(before).get(run_id, "")
    if out.exists():
        text = out.read_text(errors="replace")
        res.check(text.rstrip().endswith("</html>"), "a truncated FILE.html was left")
    res.check(not list(out.parent.glob("*.tmp*")) if out.parent.exists() else True,
              "a temporary file was left behind")
    return res


# -- concurrent writers -----------------------------------------------------------------
@dataclass
class ConcurrencyResult:
    """Eight (or more) processes writing one store at once."""

    writers: int = 0
    held: int = 0                 # writers that finished with everything they wrote
    problems: list[str] = field(default_factory=list)


def concurrent_writers(workdir: Path, model: Path | None, n_rows: int = 150,
                       sim_steps: int = 4, hammers: int = 2) -> ConcurrencyResult:
    """``sim_steps`` × ``sim step``, one ``profile`` (when ``model`` is given, else one more
    hammer), one ``sweep run`` and ``hammers`` raw writers, all started at once on one new
    store; each must exit 0 with no "locked" message, its run ``done``, its rows all there."""
    import sys

    res = ConcurrencyResult()
    db = workdir / "shared.db"
    procs: list[tuple[str, object]] = []
    for i in range(sim_steps):
        procs.append((f"sim step {i}", spawn(
            ["--db", str(db), "sim", "step", "--design", "npu-pim", "--model", "gpt3-7b",
             "--batch", str(4 + i), "--fidelity", "fast"], workdir, tag=f"step{i}")))
    if model is not None:
        procs.append(("profile", spawn(profile_args(db, model), workdir, tag="prof")))
    else:
        hammers += 1
    spec = sweep_spec(workdir, delay_s=0.0)
    procs.append(("sweep", spawn(["--db", str(db), "sweep", "run", str(spec), "--backend",
                                  "pool", "--workers", "1", "--numba-cache",
                                  str(workdir / "numba")], workdir, tag="sweep")))
    import subprocess

    from faults_support import env
    hammer = str(Path(__file__).resolve().parent / "hammer.py")
    hs = []
    for i in range(hammers):
        out = (workdir / f"hammer{i}.err").open("wb")
        hs.append((f"hammer {i}", subprocess.Popen(
            [sys.executable, hammer, str(db), str(n_rows), f"h{i}"], cwd=workdir,
            stdout=out, stderr=out, env=env())))
    res.writers = len(procs) + len(hs)
    for name, p in procs:
        rc = p.wait(600)
        err = p.stderr()
        if rc != 0 or "locked" in err.lower() or "Traceback" in err:
            res.problems.append(f"{name}: rc {rc}: {err[-600:]}")
        else:
            res.held += 1
    for i, (name, p) in enumerate(hs):
        rc = p.wait(600)
        err = (workdir / f"hammer{i}.err").read_text(errors="replace")
        tag = f"h{i}"
        rows = query(db, "SELECT r.status, (SELECT count(*) FROM samples s WHERE "
                         "s.run_id=r.id), (SELECT count(*) FROM records c WHERE "
                         "c.run_id=r.id), (SELECT count(*) FROM events e WHERE "
                         "e.run_id=r.id) FROM runs r WHERE r.name=?", (f"hammer {tag}",))
        if rc != 0 or "locked" in err.lower() or rows != [("done", n_rows, n_rows, n_rows)]:
            res.problems.append(f"{name}: rc {rc}, rows {rows}: {err[-600:]}")
        else:
            res.held += 1
    status = runs_status(db, workdir)
    bad = {k: v for k, v in status.items() if v != "done"}
    if bad:
        res.problems.append(f"runs not done: {bad}")
    if len(status) != res.writers:
        res.problems.append(f"{len(status)} runs for {res.writers} writers")
    if integrity(db) != "ok":
        res.problems.append("integrity_check failed")
    pts = count(db, "records", "tbl='point'")
    if pts != 40:
        res.problems.append(f"the sweep stored {pts} points, expected 40")
    return res
