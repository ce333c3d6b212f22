"""The CLI end to end in subprocesses: version, exit codes, runs export round trip."""

from __future__ import annotations

import json

from neumelt.store import Event, Metric, Sample, Store


def _seed(db):
    store = Store(db)
    with store.run("sim", {"design": "neupims", "hw": {"channels": 32}}, name="a|b") as r:
        store.add_metrics(r, [Metric("throughput", 1234.5, "tokens/s", "simulated", "neupims/fast"),
                              Metric("energy_per_token", None, "J/token", "measured", "rapl")])
        store.add_record(r, "stage", "A", {"cycles": 87268})
        store.add_samples(r, [Sample("hbm", "bw_util", 0.5, 0.25, "fraction", 0.75)])
        store.add_events(r, [Event("npu", "qkv", 0.0, 1e-3, {"op": "QKV"})])
    return r


def _comparable(row):
    row = dict(row)
    for k in ("run_id", "started_at", "ended_at", "info"):
        row.pop(k)
    return row


def test_version_and_help(cli):
    out = cli("--version", db=False)
    assert out.returncode == 0 and out.stdout.startswith("neumelt ")
    bad = cli("no-such-command", db=False)
    assert bad.returncode == 2


def test_export_round_trips_through_json_and_jsonl(cli, tmp_path):
    db = tmp_path / "neumelt.db"
    run_id = _seed(db)
    for fmt in ("json", "jsonl"):
        out = cli("runs", "export", str(run_id), "--format", fmt, "--full", "-o", f"x.{fmt}")
        assert out.returncode == 0, out.stderr
        imp = cli("runs", "import", f"x.{fmt}", "--json")
        assert imp.returncode == 0, imp.stderr
        (new_id,) = json.loads(imp.stdout)["imported"]
        original = json.loads(cli("runs", "export", str(run_id), "--format", "json", "--full").stdout)
        again = json.loads(cli("runs", "export", str(new_id), "--format", "json", "--full").stdout)
        assert _comparable(again[0]) == _comparable(original[0])
        assert again[0]["info"]["imported_from"]["run_id"] == run_id


def test_md_and_csv_carry_every_parameter_and_result(cli, tmp_path):
    _seed(tmp_path / "neumelt.db")
    md = cli("runs", "export", "--format", "md").stdout
    assert "config.hw.channels" in md and "run.throughput [tokens/s]" in md
    assert "a\\|b" in md and "unavailable" in md
    csv_text = cli("runs", "export", "--format", "csv").stdout
    header, row = csv_text.splitlines()[:2]
    assert "run.energy_per_token [J/token]" in header and "1234.5" in row


def test_bad_input_exits_2_with_one_message(cli, tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"kind": "sim"}\nnot json\n')
    out = cli("runs", "import", "bad.jsonl")
    assert out.returncode == 2
    assert "bad.jsonl" in out.stderr and "Traceback" not in out.stderr
    missing = cli("runs", "show", "42")
    assert missing.returncode == 2 and "no run 42" in missing.stderr
