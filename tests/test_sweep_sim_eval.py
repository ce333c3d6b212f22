"""Evaluators that call the simulator (decode-iteration, serving) and hardware variants."""

from __future__ import annotations

import pytest
import yaml

from neumelt.config import build
from neumelt.errors import InputError
from sim.sweep.eval_sim import DecodeIterationConfig, Lengths
from sim.sweep.evaluators import get_evaluator
from sim.sweep.hwvariant import hw_variant
from sim.sweep.task import evaluate_point


@pytest.fixture(autouse=True)
def _variant_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUMELT_SWEEP_CACHE", str(tmp_path / "variants"))


def test_hw_variant_changes_hbm_and_pim_channels_together():
    assert hw_variant("npu-neupims") == "npu-neupims"
    path = hw_variant("npu-neupims", {"systolic": {"count": 4}}, hbm_channels=16)
    assert path == hw_variant("npu-neupims", {"systolic": {"count": 4}}, hbm_channels=16)
    data = yaml.safe_load(open(path))
    assert data["hbm"]["channels"] == 16 and data["hbm"]["capacity_gib"] == 16
    assert data["systolic"]["count"] == 4 and data["systolic"]["height"] == 128
    std = yaml.safe_load(open(data["hbm"]["standard"]))
    assert std["org"]["channels"] == 16 and std["org"]["bank_groups"] == 4
    from sim.dram.standard import load_standard

    assert load_standard(data["hbm"]["standard"]).org.channels == 16
    with pytest.raises(InputError, match="NPU hardware only"):
        hw_variant("a100-40gb", hbm_channels=16)


def _metrics(cfg):
    res = evaluate_point("decode-iteration", "k", cfg)
    assert res["status"] == "ok", res["error"]
    return {k: v["value"] for k, v in res["metrics"].items()}, res["metrics"]


def test_decode_iteration_matches_the_design_api():
    from sim.designs import get_design

    vals, raw = _metrics({"design": "npu", "batch": 32, "tp": 4, "hbm_channels": 16})
    hw = hw_variant("npu-neupims", {}, 16)
    r = get_design("npu", hw=hw, fidelity="fast", tp=4).decode_iteration("gpt3-7b", [300] * 32)
    assert vals["iteration_s"] == pytest.approx(r.seconds)
    assert vals["throughput_tokens_per_s"] == pytest.approx(32 / r.seconds)
    assert vals["energy_per_token_j"] == pytest.approx(r.energy_total_j * 4 / 32)
    assert raw["iteration_s"]["provenance"] == "simulated"
    assert raw["iteration_s"]["source"] == f"npu/{r.fidelity}"
    assert raw["memory_area_rel"] == {"value": 0.5, "unit": "x", "provenance": "estimated",
                                      "source": "area-proxy"}
    full, _ = _metrics({"design": "npu", "batch": 32, "tp": 4})
    assert vals["iteration_s"] > 1.5 * full["iteration_s"]   # weight streaming: half the bw


def test_pim_design_on_fewer_channels_and_gpu_cost_unavailable():
    vals, _ = _metrics({"design": "neupims", "batch": 4, "tp": 4, "hbm_channels": 16,
                        "lengths": {"seq_len": 64}, "layers": 1})
    assert vals["area_overhead_pct"] == pytest.approx(3.11)
    assert vals["memory_area_rel"] == pytest.approx(0.5 * 1.0311)
    assert 0 < vals["pim_utilisation"] <= 1
    gpu, raw = _metrics({"design": "gpu", "batch": 16})
    assert gpu["memory_area_rel"] is None and gpu["throughput_tokens_per_s"] > 0
    bad = evaluate_point("decode-iteration", "k", {"design": "gpu", "hbm_channels": 8})
    assert bad["status"] == "error" and "NPU hardware only" in bad["error"]


def test_lengths_are_seeded_draws_from_the_shipped_tables():
    a = build(Lengths, {"dataset": "sharegpt", "seed": 3}).draw(256)
    assert a == build(Lengths, {"dataset": "sharegpt", "seed": 3}).draw(256)
    assert a != build(Lengths, {"dataset": "sharegpt", "seed": 4}).draw(256)
    assert min(a) >= 1 and 100 < sum(a) / len(a) < 1000
    assert build(Lengths, {"seq_len": 77}).draw(3) == [77, 77, 77]
    with pytest.raises(InputError):
        build(DecodeIterationConfig, {"design": "tpu"})


def test_serving_evaluator_runs_a_small_trace():
    ev = get_evaluator("serving")
    res = evaluate_point("serving", "k", {"design": "npu", "requests": 24, "max_batch": 8})
    assert res["status"] == "ok", res["error"]
    m = res["metrics"]
    assert set(m) == set(ev.metric_units())
    assert m["throughput_tokens_per_s"]["value"] > 0
    assert m["throughput_tokens_per_s"]["provenance"] == "simulated"
    assert m["ttft_p99_s"]["value"] >= m["ttft_p50_s"]["value"] > 0
