"""The roofline evaluator: directions every architect expects, and the cost proxy."""

from __future__ import annotations

import pytest

from neumelt.config import build
from sim.sweep.evaluators import RooflineConfig, get_evaluator
from sim.sweep.task import evaluate_point


def run(**kw):
    ev = get_evaluator("roofline")
    return {m.name: m for m in ev.evaluate(build(RooflineConfig, kw))}


def test_pim_and_dual_row_buffer_help_attention_heavy_batches():
    npu = run(batch=256, seq_len=1024, pim=False)
    single = run(batch=256, seq_len=1024, pim=True, row_buffer="single")
    dual = run(batch=256, seq_len=1024, pim=True, row_buffer="dual")
    t = "throughput_tokens_per_s"
    assert dual[t].value > single[t].value > npu[t].value
    assert dual["energy_per_token_j"].value < npu["energy_per_token_j"].value
    assert all(m.provenance == "estimated" for m in dual.values())


def test_bandwidth_bound_decode_scales_with_channels():
    lo = run(batch=8, pim=False, channels=16)["iteration_s"].value
    hi = run(batch=8, pim=False, channels=32)["iteration_s"].value
    assert lo == pytest.approx(2 * hi, rel=1e-9)   # weights streamed: time ~ 1 / bandwidth


def test_area_proxy_uses_the_neupims_dual_row_buffer_figure():
    dual = run(pim=True, row_buffer="dual", channels=32)
    assert dual["area_overhead_pct"].value == pytest.approx(3.11)
    assert dual["memory_area_rel"].value == pytest.approx(1.0311)
    assert run(pim=False, channels=64)["memory_area_rel"].value == pytest.approx(2.0)
    logic = run(pim=True, row_buffer="single", pim_macs_per_bank=32,
                area={"pim_logic_area_pct": 5.0})
    assert logic["area_overhead_pct"].value == pytest.approx(10.0)
    assert logic["area_overhead_pct"].source == "area-proxy"


def test_a_failing_point_comes_back_as_data():
    res = evaluate_point("roofline", "k1", {"model": "no-such-model"})
    assert res["status"] == "error" and res["metrics"] == {}
    assert "no-such-model" in res["error"]
    ok = evaluate_point("roofline", "k2", {}, keep=("iteration_s",))
    assert ok["status"] == "ok" and list(ok["metrics"]) == ["iteration_s"]
