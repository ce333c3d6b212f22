"""Trace formats and ``neumelt sim dram`` end to end (real store, real CLI parser)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dram_support import DATA

from neumelt.app.cli import main
from neumelt.errors import InputError
from neumelt.store import Store
from sim.dram.trace import parse_trace, read_trace, write_trace


def test_both_trace_formats_parse():
    d = parse_trace(["# comment", "", "0x40 READ 3", "0x80 write 9"], "t")
    assert d.format == "dramsim3"
    assert d.address.tolist() == [64, 128] and d.arrival.tolist() == [3, 9]
    assert d.is_write.tolist() == [False, True]
    assert d.line_numbers.tolist() == [3, 4]
    r = parse_trace(["LD 0x1000", "ST 4096", "ld 0x40"], "t")
    assert r.format == "ramulator2"
    assert r.address.tolist() == [4096, 4096, 64] and r.arrival.tolist() == [0, 1, 2]
    assert r.is_write.tolist() == [False, True, False]


@pytest.mark.parametrize("lines,line,text", [
    (["0x40 READ 3", "0x80 FETCH 4"], 2, "malformed DRAMsim3"),
    (["0x40 READ 3", "0xZZ READ 4"], 2, "bad address"),
    (["0x40 READ 3", "0x40 READ -4"], 2, "negative cycle"),
    (["LD 0x40", "0x40 READ 3"], 2, "malformed Ramulator 2"),
])
def test_malformed_lines_name_the_line(lines, line, text):
    with pytest.raises(InputError) as e:
        parse_trace(lines, "bad.trace")
    assert e.value.line == line and text in str(e.value) and "bad.trace" in str(e.value)


def test_write_read_round_trip(tmp_path):
    for fmt in ("dramsim3", "ramulator2"):
        p = tmp_path / f"x.{fmt}"
        write_trace(p, [0, 5, 9], [64, 128, 4096], [False, True, False], fmt=fmt)
        t = read_trace(p)
        assert t.format == fmt and t.address.tolist() == [64, 128, 4096]


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_json_run_is_stored(tmp_path, capsys):
    db = tmp_path / "r.db"
    trace = DATA / "stream_rd_2k.trace"
    rc, out, err = _run(capsys, "sim", "dram", "--preset", "hbm2-neupims", "--trace", str(trace),
                        "--json", "--db", str(db), "--check")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["provenance"] == "simulated" and doc["source"] == "hbm2-neupims/command"
    assert doc["reads"] == 2048 and doc["commands"]["RD"] == 2048
    assert doc["checker_violations"] == 0
    assert 0 < doc["peak_fraction"] <= 1
    parts = {k: v for k, v in doc["energy_j"].items() if k != "total"}
    assert sum(parts.values()) == pytest.approx(doc["energy_j"]["total"], rel=1e-12)
    with Store(db) as store:
        run = store.get_run(doc["run_id"])
        assert run.kind == "sim" and run.status == "done"
        ms = {m.name: m for m in store.metrics(run.id)}
        assert ms["cycles"].value == doc["cycles"] and ms["cycles"].provenance == "simulated"
        assert ms["commands.RD"].value == 2048
        assert ms["energy.total"].unit == "J"


def test_cli_table_for_a_ramulator_trace(tmp_path, capsys):
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(DATA / "stream_wr_2k.trace"),
                        "--preset", "hbm3", "--no-store", "--fidelity", "fast")
    assert rc == 0, err
    assert "row-hit rate" in out and "energy total" in out and "GB/s" in out
    assert "simulated (hbm3/fast)" in out
    log = tmp_path / "cmds.csv"
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(DATA / "stream_wr_2k.trace"),
                        "--no-store", "--command-log", str(log))
    assert rc == 0, err
    lines = log.read_text().splitlines()
    assert lines[0].startswith("cycle,channel,rank")
    assert sum(",WR," in x for x in lines) == 2048
    cycles = [int(x.split(",")[0]) for x in lines[1:]]
    assert cycles == sorted(cycles)


def test_cli_bad_input_exits_2_with_one_message(tmp_path, capsys):
    bad = tmp_path / "bad.trace"
    bad.write_text("0x40 READ 1\n0x80 READ x\n")
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(bad), "--no-store")
    assert rc == 2 and f"{bad}:2" in err and "Traceback" not in err
    big = tmp_path / "big.trace"
    big.write_text("0x40 READ 1\n# x\n0x900000000 READ 2\n")   # 36 GiB > 32 GiB
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(big), "--no-store")
    assert rc == 2 and f"{big}:3" in err and "beyond" in err
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(big), "--preset", "hbm7",
                        "--no-store")
    assert rc == 2 and "unknown DRAM standard 'hbm7'" in err
    std = tmp_path / "std.yaml"
    std.write_text("name: x\nbase: hbm2-neupims\norg:\n  channels: 3\n")
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(big), "--preset", str(std),
                        "--no-store")
    assert rc == 2 and str(std) in err and "org" in err
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(tmp_path / "none.trace"),
                        "--no-store")
    assert rc == 2 and "not found" in err
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(bad), "--mapping", "rorobgbachco",
                        "--no-store")
    assert rc == 2 and "mapping" in err


def test_random_trace_checks_clean(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 3000
    p = tmp_path / "rand.trace"
    write_trace(p, np.sort(rng.integers(0, 6000, n)), rng.integers(0, 2**34, n) // 64 * 64,
                rng.random(n) < 0.4)
    rc, out, err = _run(capsys, "sim", "dram", "--trace", str(p), "--check", "--json",
                        "--no-store", "--page-policy", "closed")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["checker_violations"] == 0 and doc["writes"] > 0
