"""``neumelt sweep run|show`` end to end on a process pool; bad input exits 2."""

from __future__ import annotations

import json

from sweep_support import write_spec

from neumelt.app.cli import main
from neumelt.store import Store

SMALL = {"batch": [64, 512], "pim": [True, False], "channels": [16, 32]}


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_run_show_resume(tmp_path, capsys):
    spec = str(write_spec(tmp_path / "s.yaml", grid=SMALL))
    db = str(tmp_path / "r.db")
    rc, out, _ = _run(capsys, "sweep", "run", spec, "--dry-run", "--json")
    assert rc == 0 and json.loads(out)["points"] == 8
    rc, out, _ = _run(capsys, "sweep", "run", "decode-grid", "--dry-run", "--json")
    assert rc == 0 and json.loads(out)["points"] == 200   # a shipped example, by name
    rc, _, err = _run(capsys, "sweep", "run", "no-such-grid", "--dry-run")
    assert rc == 2 and "decode-grid" in err
    rc, out, err = _run(capsys, "sweep", "run", spec, "--backend", "pool", "--workers", "1",
                        "--db", db)
    assert rc == 0, err
    assert "points/h, measured" in out and "neumelt sweep show 1" in out
    rc, out, _ = _run(capsys, "sweep", "show", "1", "--db", db)
    assert rc == 0
    assert "Pareto front over throughput_tokens_per_s (max)" in out
    assert "throughput_tokens_per_s [tokens/s, estimated]" in out
    rc, out, _ = _run(capsys, "sweep", "show", "1", "--db", db, "--json")
    data = json.loads(out)
    assert len(data["ranked"]) == 8 and data["failed"] == []
    front = {r["key"] for r in data["front"]}
    assert front == {r["key"] for r in data["ranked"] if r["pareto_rank"] == 1}
    assert data["summary"]["points_ok"]["value"] == 8
    # other objectives on demand: the fastest iteration alone is a one-point front
    rc, out, _ = _run(capsys, "sweep", "show", "1", "--db", db, "--json",
                      "--objective", "iteration_s:min")
    (best,) = json.loads(out)["front"]
    assert best["coords"] == {"batch": 64, "pim": True, "channels": 32}
    rc, out, _ = _run(capsys, "sweep", "run", spec, "--backend", "pool", "--workers", "1",
                      "--db", db, "--resume", "1", "--json")
    again = json.loads(out)
    assert rc == 0 and (again["skipped"], again["evaluated"], again["run_id"]) == (8, 0, 1)
    assert len(Store(db).records(1, "point")) == 8


def test_failed_points_exit_1_and_are_listed(tmp_path, capsys):
    spec = str(write_spec(tmp_path / "s.yaml", grid={"batch": [64],
                                                     "model": ["gpt3-7b", "nope-7b"]}))
    db = str(tmp_path / "r.db")
    rc, out, _ = _run(capsys, "sweep", "run", spec, "--backend", "pool", "--workers", "1",
                      "--db", db)
    assert rc == 1
    rc, out, _ = _run(capsys, "sweep", "show", "1", "--db", db)
    assert rc == 0 and "failed points: 1" in out and "nope-7b" in out


def test_bad_input_exits_2_with_one_message(tmp_path, capsys):
    bad = write_spec(tmp_path / "bad.yaml", base={"seq_len": 300, "chanels": 32})
    rc, _, err = _run(capsys, "sweep", "run", str(bad), "--db", str(tmp_path / "r.db"))
    assert rc == 2 and f"{bad}:" in err and "key 'base.chanels'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    spec = str(write_spec(tmp_path / "s.yaml", grid=SMALL))
    db = str(tmp_path / "r.db")
    assert _run(capsys, "sweep", "run", spec, "--retry-errors", "--db", db)[0] == 2
    assert _run(capsys, "sweep", "run", spec, "--workers", "0", "--db", db)[0] == 2
    store = Store(db)
    other = store.start_run("sim", {"x": 1})
    store.finish_run(other)
    rc, _, err = _run(capsys, "sweep", "show", str(other), "--db", db)
    assert rc == 2 and "not a sweep" in err
    rc, _, err = _run(capsys, "sweep", "run", spec, "--resume", str(other), "--db", db)
    assert rc == 2 and "not a sweep" in err
    assert _run(capsys, "sweep", "run", spec, "--backend", "pool", "--workers", "1",
                "--db", db)[0] == 0
    rc, _, err = _run(capsys, "sweep", "show", "2", "--db", db, "--objective", "speed")
    assert rc == 2 and "METRIC:max" in err
    rc, _, err = _run(capsys, "sweep", "show", "2", "--db", db, "--objective", "speed:max")
    assert rc == 2 and "no point of run 2 has metric 'speed'" in err
    other_spec = str(write_spec(tmp_path / "o.yaml", grid={"batch": [64]}))
    rc, _, err = _run(capsys, "sweep", "run", other_spec, "--resume", "2", "--db", db)
    assert rc == 2 and "different spec" in err
    assert _run(capsys, "sweep", "show", "99", "--db", db)[0] == 2
    pruned = write_spec(tmp_path / "none.yaml", grid=SMALL, constraints=["batch > 4096"])
    rc, _, err = _run(capsys, "sweep", "run", str(pruned), "--backend", "pool", "--db", db)
    assert rc == 2 and "prune all 8 points" in err and f"{pruned}:" in err
