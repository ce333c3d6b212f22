"""``neumelt sim step`` end to end: tables, JSON, the store, bad input."""

from __future__ import annotations

import json

from neumelt.store import Store


def test_step_json_and_store(cli, tmp_path):
    r = cli("sim", "step", "--design", "npu", "--model", "gpt3-7b", "--batch", "24",
            "--seed", "7", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["total_cycles"] > 0
    assert set(out["stages"]) == {"A", "B", "E"}
    assert out["provenance"] == "simulated" and out["source"] == "npu/analytical"
    store = Store(tmp_path / "neumelt.db")
    run = store.get_run(out["run_id"])
    assert run.kind == "sim" and run.status == "done"
    metrics = {m.name: m for m in store.metrics(run.id)}
    assert metrics["total_cycles"].value == out["total_cycles"]
    assert all(m.provenance in ("simulated", "estimated") for m in metrics.values())
    assert metrics["total_cycles"].source == "npu/analytical"
    stages = {k: d["cycles"] for _t, k, d in store.records(run.id, "stage")}
    assert stages == out["stages"]
    assert {k for _t, k, _d in store.records(run.id, "operator")} >= {"qkv", "ffn1", "ffn2"}
    events = store.events(run.id)
    assert events and {e.track for e in events} >= {"npu"}
    assert all(e.dur_s > 0 for e in events)


def test_step_table_says_units_and_provenance(cli):
    r = cli("sim", "step", "--design", "gpu", "--model", "llama2-7b", "--batch", "8",
            "--layers", "all", "--no-store")
    assert r.returncode == 0, r.stderr
    assert "simulated (gpu/analytical)" in r.stdout
    assert "cycles" in r.stdout and "mJ" in r.stdout


def test_step_bad_input_exits_2_with_one_message(cli, tmp_path):
    bad = tmp_path / "batch.csv"
    bad.write_text("seq_len,ch_idx\n100,1\nabc,2\n")
    r = cli("sim", "step", "--design", "npu", "--batch", str(bad))
    assert r.returncode == 2
    assert "batch.csv:3" in r.stderr and "Traceback" not in r.stderr
    r = cli("sim", "step", "--design", "npu", "--layers", "zero")
    assert r.returncode == 2 and "layers" in r.stderr
    r = cli("sim", "step", "--design", "gpu", "--hw", "npu-neupims")
    assert r.returncode == 2 and "GPU hardware" in r.stderr


def test_step_neupims_writes_pim_tracks(cli, tmp_path):
    r = cli("sim", "step", "--design", "neupims", "--batch", "64", "--sub-batch", "on",
            "--channels", "greedy", "--fidelity", "fast", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out["stages"]) == ["A", "B", "C", "D", "E", "F"]
    assert out["source"] == "neupims/fast"
    store = Store(tmp_path / "neumelt.db")
    tracks = {e.track for e in store.events(out["run_id"])}
    assert {"npu", "pim"} <= tracks and any(t.startswith("pim/ch") for t in tracks)


def test_step_writes_a_chrome_trace(cli, tmp_path):
    trace = tmp_path / "step.json"
    r = cli("sim", "step", "--design", "npu-pim", "--batch", "32", "--fidelity", "fast",
            "--trace", str(trace), "--no-store")
    assert r.returncode == 0, r.stderr
    doc = json.loads(trace.read_text())
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert {"npu", "pim"} <= names and any(n.startswith("pim/ch") for n in names)
    assert spans and all(e["dur"] > 0 and e["ts"] >= 0 for e in spans)
    # NPU spans of the first stage do not overlap (one NPU, operators in order)
    npu_tid = next(e["tid"] for e in doc["traceEvents"]
                   if e["name"] == "thread_name" and e["args"]["name"] == "npu")
    npu = sorted((e["ts"], e["dur"]) for e in spans if e["tid"] == npu_tid)
    assert all(a[0] + a[1] <= b[0] + 1e-6 for a, b in zip(npu, npu[1:]))
