"""``neumelt report ...`` through the real CLI (subprocess): files, JSON, exit codes."""

from __future__ import annotations

import json

from reports_support import populate


def test_deploy_report_cli_writes_html_md_csv_and_json(cli, tmp_path):
    ids = populate(tmp_path / "neumelt.db")
    runs = [str(i) for i in ids["sim"] + ids["profile"]]
    r = cli("report", "deploy", *runs, "-o", "out/deploy.html", "--max-ttft", "0.075",
            "--min-tps", "28", "--ram-headroom", "30%", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["kind"] == "deployment"
    assert [len(g["candidates"]) for g in doc["groups"]] == [4, 1]  # gpt3-7b; SmolLM2
    verdicts = {c["target"]: c["verdict"] for c in doc["candidates"]}
    assert verdicts["gpu"] == "infeasible" and verdicts["neupims"] == "feasible"
    best = doc["candidates"][0]
    assert best["target"] == "neupims"
    assert best["decode_tps"]["value"] == __import__("pytest").approx(70.0)
    assert best["decode_tps"]["provenance"] == "simulated"
    assert best["decode_tps"]["source"] == "1 / TPOT (neupims/fast), per request"
    for key in ("html", "markdown", "csv"):
        assert (tmp_path / doc[key]).exists()
    header = (tmp_path / "out" / "deploy.csv").read_text().splitlines()[0]
    assert header.startswith("group,rank,verdict,kind,device / design")
    # human output: the summary and where the report is
    r = cli("report", "sim", f"{ids['sim'][0]}-{ids['sim'][-1]}")
    assert r.returncode == 0, r.stderr
    assert "neupims (gpt3-7b): 2,900 tok/s (simulated), 2.90× gpu" in r.stdout
    assert f"neumelt-sim-{'-'.join(map(str, ids['sim']))}.html" in r.stdout


def test_trace_cli(cli, tmp_path):
    ids = populate(tmp_path / "neumelt.db")
    r = cli("report", "trace", str(ids["sim"][-1]), str(ids["profile"][0]), "-o", "t.json")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "t.json").read_text())
    assert {e["ph"] for e in doc["traceEvents"]} >= {"M", "X", "C"}
    assert "ui.perfetto.dev" in r.stdout


def test_bad_input_exits_2_with_one_message(cli, tmp_path):
    r = cli("report", "sim", "1")  # no store yet
    assert r.returncode == 2 and "no results store" in r.stderr and "Traceback" not in r.stderr
    ids = populate(tmp_path / "neumelt.db")
    cases = [
        (("report", "sim", str(ids["profile"][0])), "is a 'profile' run"),
        (("report", "profile", "999"), "no run 999"),
        (("report", "deploy", "x7"), "bad run id 'x7'"),
        (("report", "deploy", "1", "--ram-headroom", "1.5"), "headroom must be in"),
        (("report", "deploy", "1", "--min-tps", "-3"), "positive number"),
        (("report", "sweep", str(ids["sim"][0])), "is a 'sim' run"),
    ]
    for argv, text in cases:
        r = cli(*argv)
        assert r.returncode == 2, (argv, r.stdout, r.stderr)
        assert text in r.stderr, (argv, r.stderr)
        assert "Traceback" not in r.stderr
