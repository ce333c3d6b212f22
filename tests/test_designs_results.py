"""Designs: results are complete and consistent (energy sums, utilisations, layers, memo)."""

from __future__ import annotations

import math

import pytest

from neumelt.errors import InputError
from sim.designs import DESIGNS, get_design
from sim.designs.batch import synthetic_batch
from sim.designs.npu_design import split_sub_batches
from workloads.models import load_model


def _check(res):
    assert res.total_cycles > 0
    assert res.seconds == pytest.approx(res.total_cycles / res.clock_hz)
    assert all(v >= 0 for v in res.energy_j.values())
    assert res.energy_total_j == pytest.approx(sum(res.energy_j.values()))
    for k, v in res.utilisation.items():
        assert 0.0 <= v <= 1.0, k
    for track, _name, start, dur in res.events:
        assert start >= 0 and dur > 0 and track


@pytest.mark.parametrize("design", ["gpu", "npu"])
@pytest.mark.parametrize("model", ["gpt3-7b", "llama3-8b"])
def test_non_pim_designs_decode_and_prefill(design, model):
    d = get_design(design)
    batch = synthetic_batch(48, seed=3)
    res = d.decode_iteration(model, batch.seq_lens, layers=1)
    _check(res)
    assert set(res.stages) == {"A", "B", "E"}
    assert sum(res.stages.values()) == res.total_cycles
    if design == "npu":   # what is not there or not modelled is absent, never a zero
        assert "pim" not in res.energy_j and "pim" not in res.utilisation
        assert "link" not in res.energy_j
        if res.counters["tp"] > 1:
            assert not any(k.startswith("allreduce") for k in res.operators)
            assert any("all-reduce" in n for n in res.notes)
    pre = d.prefill(model, [128, 512, 33])
    _check(pre)
    assert pre.phase == "prefill"


def test_all_layers_scale_with_depth():
    d = get_design("npu")
    m = load_model("gpt3-7b")
    seq = synthetic_batch(32, seed=1).seq_lens
    one = d.decode_iteration(m, seq, layers=1)
    full = d.decode_iteration(m, seq)
    assert full.layers == m.n_layers
    assert full.total_cycles == one.total_cycles * m.n_layers
    assert full.energy_total_j == pytest.approx(one.energy_total_j * m.n_layers)


def test_pipeline_parallel_total_is_latency_through_stages():
    d = get_design("gpu", tp=4, pp=2)
    m = load_model("gpt3-30b")
    seq = synthetic_batch(16, seed=2).seq_lens
    res = d.decode_iteration(m, seq)
    one = d.decode_iteration(m, seq, layers=1)
    assert res.layers == m.n_layers
    assert res.total_cycles >= one.total_cycles * m.n_layers


def test_attention_on_npu_is_kv_bandwidth_bound():
    d = get_design("npu")
    m = load_model("gpt3-7b")
    seq = (1024,) * 64
    res = d.decode_iteration(m, seq, layers=1)
    kv_bytes = 2 * 8 * 128 * sum(seq) * 2          # K and V, 8 heads/device at TP 4, fp16
    attn = res.stages["B"]
    assert attn >= kv_bytes / d.hw.hbm.peak_bytes_per_cycle
    assert attn == pytest.approx(kv_bytes / d.hw.hbm.sustained_bytes_per_cycle, rel=0.1)


def test_gpu_decode_is_memory_bound_and_h100_is_faster():
    seq = synthetic_batch(64, seed=5).seq_lens
    a100 = get_design("gpu").decode_iteration("llama2-7b", seq, layers=1)
    h100 = get_design("gpu", hw="h100-sxm").decode_iteration("llama2-7b", seq, layers=1)
    assert a100.counters["bounds"]["ffn2"] == "memory"
    assert h100.seconds < a100.seconds
    # a 64-row decode GEMM takes its bytes / (bandwidth x efficiency)
    m = load_model("llama2-7b")
    tp = a100.counters["tp"]
    f = m.d_ff // tp
    w = (f * m.d_model + 64 * (f + m.d_model)) * 2   # weights plus activations in and out
    hw = get_design("gpu").hw
    expect = w / (hw.hbm_gbps * 1e9 * hw.efficiency.gemv_memory) + hw.kernel_launch_us * 1e-6
    assert a100.operators["ffn2"] / hw.clock_hz == pytest.approx(expect, rel=0.02)


def test_sub_batch_split_halves_each_channel():
    chans = [0, 0, 0, 1, 1, 1, 2, 2, 3]
    first, second = split_sub_batches(chans)
    assert first.sum() + second.sum() == len(chans)
    for c in set(chans):
        idx = [i for i, x in enumerate(chans) if x == c]
        a = sum(first[i] for i in idx)
        assert abs(a - (len(idx) - a)) <= 1
    # odd channels alternate which sub-batch gets the extra request
    assert [sum(first[i] for i, x in enumerate(chans) if x == c) for c in (0, 1)] == [2, 1]


def test_bad_switches_are_input_errors():
    with pytest.raises(InputError, match="unknown design"):
        get_design("tpu")
    with pytest.raises(InputError, match="row buffer"):
        get_design("neupims", row_buffer="triple")
    with pytest.raises(InputError, match="needs GPU hardware"):
        get_design("gpu", hw="npu-neupims")
    with pytest.raises(InputError, match="needs NPU hardware"):
        get_design("npu", hw="a100-40gb")
    with pytest.raises(InputError):
        get_design("npu").decode_iteration("gpt3-7b", [])
    assert DESIGNS == ("gpu", "npu", "npu-pim", "neupims")


def test_hw_yaml_errors_name_file_key_and_line(tmp_path):
    bad = tmp_path / "hw.yaml"
    bad.write_text("kind: npu\nname: x\nsystolic:\n  count: 8\n  heigth: 64\n")
    with pytest.raises(InputError) as exc:
        get_design("npu", hw=str(bad))
    msg = str(exc.value)
    assert "systolic.heigth" in msg and ":5" in msg
    ok = tmp_path / "small.yaml"
    ok.write_text("kind: npu\nname: small\nsystolic: {count: 2, height: 32, width: 32}\n"
                  "pim: {enabled: false}\n")
    d = get_design("npu", hw=str(ok))
    res = d.decode_iteration("smollm2-135m", [100, 200], layers=1)
    assert res.utilisation["npu"] <= 1.0 and math.isfinite(res.total_cycles)


@pytest.mark.parametrize("name,fidelity", [("npu-pim", "command"), ("neupims", "fast")])
def test_pim_designs_run_llama_gqa_and_prefill(name, fidelity):
    seq = synthetic_batch(40, seed=11, mean_len=200).seq_lens
    d = get_design(name, fidelity=fidelity, tp=4)
    res = d.decode_iteration("llama3-8b", seq, layers=2)
    _check(res)
    assert res.fidelity == fidelity
    assert res.energy_j["pim"] > 0
    assert any("grouped-query" in n for n in res.notes)
    pre = d.prefill("llama3-8b", [64, 300])
    _check(pre)
    assert pre.energy_j["pim"] == 0.0          # prefill attention is a GEMM on the NPU


def test_channel_policies_and_given_channels_are_checked():
    seq = synthetic_batch(64, seed=4).seq_lens
    rr = get_design("npu-pim", channels="rr").decode_iteration("gpt3-7b", seq, layers=1)
    greedy = get_design("npu-pim", channels="greedy").decode_iteration("gpt3-7b", seq,
                                                                       layers=1)
    # greedy min-load balancing never loses to round-robin on the attention stage
    assert greedy.stages["B"] <= rr.stages["B"]
    with pytest.raises(InputError, match="ch_idx"):
        get_design("npu-pim", channels="given").decode_iteration("gpt3-7b", seq, layers=1)
    with pytest.raises(InputError, match="out of range"):
        get_design("npu-pim").decode_iteration("gpt3-7b", seq[:2], channel_idx=[0, 99],
                                               layers=1)


def test_stage_pipeline_formula_over_layers():
    seq = synthetic_batch(96, seed=9).seq_lens
    d = get_design("neupims", fidelity="fast")
    one = d.decode_iteration("gpt3-7b", seq, layers=1)
    three = d.decode_iteration("gpt3-7b", seq, layers=3)
    s = one.stages
    assert three.stages == s
    assert three.total_cycles == s["A"] + s["B"] + 2 * (s["C"] + s["D"]) + s["E"] + s["F"]
    # every stage is at least as long as the NPU work it holds
    assert s["C"] >= s["A"] and s["E"] <= s["C"]


def test_sub_batch_interleaving_pays_off_only_for_large_batches():
    """The paper: interleaving pays off at batch >= 256. Below, each sub-batch re-reads the
    weights of a weight-bandwidth-bound NPU and there is too little attention to hide."""
    def ratio(n):
        seq = synthetic_batch(n, seed=1).seq_lens
        on = get_design("neupims", fidelity="fast").decode_iteration("gpt3-7b", seq, layers=32)
        off = get_design("neupims", sub_batch=False, fidelity="fast").decode_iteration(
            "gpt3-7b", seq, layers=32)
        return on.total_cycles / off.total_cycles

    assert ratio(64) > 1.0
    assert ratio(512) < 1.0


def test_batches_from_length_tables_are_seeded_and_bounded():
    from sim.designs.batch import parse_batch

    a = parse_batch("256", seed=5, lengths="sharegpt", max_len=2048)
    b = parse_batch("256", seed=5, lengths="sharegpt", max_len=2048)
    c = parse_batch("256", seed=6, lengths="sharegpt", max_len=2048)
    assert a == b and a.seq_lens != c.seq_lens
    assert len(a.seq_lens) == 256 and 1 <= min(a.seq_lens) and max(a.seq_lens) <= 2048
    alpaca = parse_batch("256", seed=5, lengths="alpaca")
    # Alpaca prompts and answers are far shorter than ShareGPT's (12 + 56 vs 80 + 295)
    assert sum(alpaca.seq_lens) < sum(a.seq_lens) / 2
    with pytest.raises(InputError):
        parse_batch("0", lengths="sharegpt")


def test_gpu_overlap_is_reachable_by_name():
    from sim.designs import ALL_DESIGNS
    from sim.designs.gpu_overlap import GpuOverlapDesign

    assert "gpu-overlap" in ALL_DESIGNS
    design = get_design("gpu-overlap", hw="h100-sxm", tp=1)
    assert isinstance(design, GpuOverlapDesign) and design.hw.name == "h100-sxm"
    plain = get_design("gpu", hw="h100-sxm", tp=1).decode_iteration("gpt3-7b", [512] * 64)
    overlap = design.decode_iteration("gpt3-7b", [512] * 64)
    assert 0 < overlap.total_cycles <= plain.total_cycles * 1.0001
