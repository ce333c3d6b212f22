"""Serving on the real designs: memoised costs, PIM KV layout, steady-state batches."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sim.serving.cost import DesignCostModel
from sim.serving.kv import PimLayout
from sim.serving.run import AutoSubBatch, ServingRunConfig, execute, get_serving_design
from sim.serving.steady import steady_state_batches
from workloads.models import load_model
from workloads.traces import length_table

REF = Path(__file__).resolve().parent.parent / "sim" / "data" / "neupims" / \
    "share-gpt2-bs512-ms7B-tp4-clb-0.csv"


def test_steady_state_sampler_matches_the_artifacts_sharegpt_batch():
    with open(REF) as f:
        ref = np.array([int(r["seq_len"]) for r in csv.DictReader(f)])
    t = length_table("sharegpt-lengths.tsv")
    got = np.concatenate(steady_state_batches(t[:, 0], t[:, 1], 512, 20, seed=1))
    # length-biased snapshots: mean 299.9 and median 216.5 in the artifact's batch
    assert np.mean(got) == pytest.approx(np.mean(ref), rel=0.10)
    assert np.median(got) == pytest.approx(np.median(ref), rel=0.10)
    # an unbiased draw (every request equally likely) is far off: the bias matters
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(t), 10_000)
    unbiased = t[idx, 0] + np.floor(rng.random(10_000) * t[idx, 1]) + 1
    assert np.mean(unbiased) < 0.8 * np.mean(ref)
    assert max(got) <= 2048


def test_memoised_costs_stay_within_the_tolerance():
    model = load_model("gpt3-7b")
    design = get_serving_design("neupims", fidelity="fast", sub_batch=False)
    exact = DesignCostModel(design, model, tolerance=0.0)
    memo = DesignCostModel(design, model, tolerance=0.02)
    rng = np.random.default_rng(4)
    base = rng.integers(100, 900, 128)
    for step in range(40):  # a decode batch growing one token per iteration
        seq = list(base + step)
        chans = [i % 32 for i in range(128)]
        a = exact.iteration(seq, chans, [], [])
        b = memo.iteration(seq, chans, [], [])
        assert b.seconds == pytest.approx(a.seconds, rel=0.02)
    assert memo.hits > 20 and memo.misses < 20 and exact.hits == 0


def test_auto_sub_batch_takes_the_faster_mode():
    model = load_model("gpt3-7b")
    on = get_serving_design("neupims", fidelity="fast", sub_batch=True)
    off = get_serving_design("neupims", fidelity="fast", sub_batch=False)
    auto = AutoSubBatch(on, off)
    rng = np.random.default_rng(2)
    for n in (64, 512):
        seq = [int(x) for x in rng.integers(100, 500, n)]
        t = auto.decode_iteration(model, seq).seconds
        assert t == pytest.approx(min(on.decode_iteration(model, seq).seconds,
                                      off.decode_iteration(model, seq).seconds))
    assert auto.choice[64 // 32] is False and auto.choice[512 // 32] is True


def test_neupims_serving_keeps_kv_in_pim_pages_and_conserves_tokens():
    cfg = ServingRunConfig(design="neupims", model="gpt3-7b", workload="sharegpt",
                           requests=120, max_batch=96, seed=5, fidelity="fast")
    out = execute(cfg)
    res = out.result
    assert res.kv_layout == "pim" and out.info["kv_channels"] == 32
    assert res.kv_peak_units <= res.kv_capacity_units
    assert all(x.generated == x.req.output_tokens for x in res.calls)
    assert out.figure("requests_finished") == 120
    assert out.source == "neupims/analytical+fast"
    assert out.figure("utilisation.pim") > 0 and out.figure("energy_per_token_j.pim") > 0


def test_pim_layout_capacity_follows_the_hardware_and_model():
    from sim.serving.memory import layout_for
    model = load_model("gpt3-7b")
    d = get_serving_design("neupims", fidelity="fast")
    lay = layout_for("neupims", d, model, tp=4, pp=1)
    assert isinstance(lay, PimLayout)
    assert (lay.channels, lay.banks, lay.row_elems, lay.page_bytes) == (32, 32, 512, 32768)
    weights_per_channel = model.weight_bytes("f16") / 4 / 32
    assert lay.pages_per_channel == int((2**30 - weights_per_channel) // 32768)
    assert (lay.layers, lay.kv_heads, lay.d_head) == (32, 8, 128)
    # the same model on the plain-HBM NPU: paged, and more tokens fit than in PIM pages
    npu = get_serving_design("npu", fidelity="fast")
    paged = layout_for("npu", npu, model, tp=4, pp=1)
    tokens_paged = paged.units_per_channel * paged.block_tokens
    per_req = 300
    assert tokens_paged // per_req > lay.channels * (lay.pages_per_channel // lay.units(per_req))


def test_mixed_prefill_on_gpu_overlap_is_priced_jointly_and_reports_roofline_fraction():
    base = dict(model="gpt3-7b", workload="sharegpt", requests=80, max_batch=64, seed=2,
                prefill="mixed", rate=40.0)
    ov = execute(ServingRunConfig(design="gpu-overlap", **base))
    gpu = execute(ServingRunConfig(design="gpu", **base))
    its = ov.result.iterations
    assert any(i.n_decode and i.n_prefill for i in its)
    assert ov.result.memo_misses > 0
    frac = ov.figure("roofline_fraction")
    assert 0.2 < frac <= 1.0
    # the same schedule costs no more on the overlapping GPU than on the plain one
    assert sum(i.dur_s for i in its) <= sum(i.dur_s for i in gpu.result.iterations) * 1.001
    assert ov.figure("output_tokens") == gpu.figure("output_tokens")
