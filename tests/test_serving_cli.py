"""``neumelt sim run`` / ``neumelt sim compare`` end to end on real designs and a real store."""

from __future__ import annotations

import json

import pytest

from neumelt.app.cli import main
from neumelt.store import Store


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_run_serves_a_trace_and_records_everything(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    out = run_json(capsys, ["--db", db, "sim", "run", "--design", "gpu", "--model", "gpt3-7b",
                            "--workload", "sharegpt", "--requests", "60", "--batch", "16",
                            "--seed", "3", "--json"])
    m = out["metrics"]
    assert m["requests_finished"]["value"] == 60
    assert out["source"] == "gpu/analytical" and out["provenance"] == "simulated"
    store = Store(db)
    run = store.get_run(out["run_id"])
    assert run.kind == "sim" and run.status == "done"
    metrics = {x.name: x for x in store.metrics(run.id)}
    assert all(x.provenance == "simulated" and x.source == "gpu/analytical"
               for x in metrics.values())
    for name in ("throughput_tok_s", "ttft_p50_s", "ttft_p99_s", "tpot_p90_s", "e2e_p99_s",
                 "energy_per_token_j", "tokens_per_joule", "energy_per_token_j.dram"):
        assert metrics[name].value is not None and metrics[name].value > 0
    reqs = store.records(run.id, "requests")
    assert len(reqs) == 60
    # tokens out equal the trace's output lengths, request by request
    from workloads.traces import synthetic_trace
    trace = synthetic_trace("sharegpt", n=60, seed=3, arrival="fixed", rate=1e6)
    want = {str(r.id): r.output_tokens for r in trace}
    got = {data["id"]: data["generated_tokens"] for _, _, data in reqs}
    assert got == want
    assert metrics["output_tokens"].value == sum(want.values())
    names = {s.name for s in store.samples(run.id)}
    assert {"utilisation.gpu", "utilisation.hbm_bw", "kv_usage"} <= names


def test_agent_workload_reports_task_latency_and_energy(tmp_path, capsys):
    db = str(tmp_path / "a.db")
    out = run_json(capsys, ["--db", db, "sim", "run", "--design", "gpu-overlap", "--model",
                            "gpt3-7b", "--workload", "mobile-agent-v2", "--requests", "2",
                            "--json"])
    m = out["metrics"]
    assert out["info"]["tasks"] == 2
    assert m["task_latency_p50_s"]["value"] > 5.0  # includes the app actions and OCR delays
    assert m["energy_per_task_j"]["value"] > 0
    store = Store(db)
    tasks = store.records(out["run_id"], "tasks")
    assert len(tasks) == 2
    for _, _, t in tasks:
        assert t["latency_s"] > 0 and t["energy_total_j"] > 0
    # the GPU idles through the agents' app actions: static power over that time
    assert m["idle_s"]["value"] > 1.0
    assert m["energy_idle_j"]["value"] == pytest.approx(60.0 * 4 * m["idle_s"]["value"])
    tracks = {e.track for e in store.events(out["run_id"])}
    assert {"serving", "task/0", "task/1"} <= tracks


def test_compare_prints_ratios_against_the_baseline(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    out = run_json(capsys, ["--db", db, "sim", "compare", "--designs", "gpu,gpu-overlap,npu",
                            "--baseline", "gpu", "--model", "gpt3-7b", "--workload", "alpaca",
                            "--requests", "40", "--batch", "32", "--json"])
    rows = {r["design"]: r for r in out["designs"]}
    assert set(rows) == {"gpu", "gpu-overlap", "npu"}
    assert rows["gpu"]["throughput_tok_s_vs_base"] == pytest.approx(1.0)
    assert rows["npu"]["throughput_tok_s_vs_base"] == pytest.approx(
        rows["npu"]["throughput_tok_s"] / rows["gpu"]["throughput_tok_s"])
    assert len(Store(db).list_runs(kind="sim")) == 3
    npu_metrics = {x.name: x.value for x in Store(db).metrics(rows["npu"]["run_id"])}
    assert "energy_idle_j" in npu_metrics and npu_metrics["energy_idle_j"] is None
    assert main(["--db", db, "sim", "compare", "--designs", "gpu,npu", "--model", "gpt3-7b",
                 "--workload", "alpaca", "--requests", "10"]) == 0
    text = capsys.readouterr().out
    assert "throughput_tok_s" in text and "gpu" in text and "npu" in text
    assert "ratios against gpu on a100-40gb" in text and "where the iteration time goes" in text


def test_compare_runs_a_design_on_other_hardware_and_shows_the_decomposition(tmp_path, capsys):
    db = str(tmp_path / "d.db")
    out = run_json(capsys, ["--db", db, "sim", "compare", "--designs",
                            "gpu,gpu@a100-eager,npu-pim", "--model", "gpt3-7b", "--workload",
                            "alpaca", "--requests", "24", "--batch", "24", "--json"])
    assert out["ratios_against"] == "gpu on a100-40gb"
    rows = {r["design"]: r for r in out["designs"]}
    assert rows["gpu@a100-eager"]["hw"] == "a100-eager"
    assert rows["gpu@a100-eager"]["throughput_tok_s_vs_base"] < 1.0   # the weak baseline
    for r in rows.values():
        shares = [v for k, v in r.items() if k.startswith("time_share.") and v is not None]
        assert shares and sum(shares) == pytest.approx(1.0)
    assert rows["npu-pim"]["time_share.command_issue"] > 0


@pytest.mark.parametrize("argv, needle", [
    (["--design", "tpu"], "design"),
    (["--design", "gpu", "--workload", "nosuchtrace"], "workload"),
    (["--design", "gpu", "--model", "gpt5"], "gpt5"),
    (["--design", "neupims", "--hw", "a100-40gb"], "hw"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, argv, needle):
    base = {"--model": "gpt3-7b", "--workload": "sharegpt"}
    args = list(argv)
    for k, v in base.items():
        if k not in args:
            args += [k, v]
    code = main(["--db", str(tmp_path / "x.db"), "sim", "run", "--requests", "5"] + args)
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_argparse_rejects_non_positive_requests(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sim", "run", "--design", "gpu", "--model", "gpt3-7b", "--workload", "sharegpt",
              "--requests", "0"])
    assert e.value.code == 2
