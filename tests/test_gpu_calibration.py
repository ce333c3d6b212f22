"""The A100 presets against Vidur's profiled kernels (tests/data/gpu_baseline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.designs import get_design
from sim.designs.hw import load_hw
from workloads.models import load_model

DATA = json.loads((Path(__file__).parent / "data" / "gpu_baseline"
                   / "vidur_a100_llama2_7b.json").read_text())
PRESET = Path(__file__).resolve().parent.parent / "sim" / "hw" / "a100-40gb.yaml"


@pytest.fixture(scope="module")
def a100_80(tmp_path_factory):
    """The a100-40gb preset's efficiencies on the 80 GB part Vidur profiled."""
    text = PRESET.read_text()
    hw = DATA["hw"]
    for old, new in (("name: a100-40gb", "name: a100-80gb-vidur"),
                     ("hbm_gbps: 1555.0", f"hbm_gbps: {hw['hbm_gbps']}"),
                     ("capacity_gib: 40", f"capacity_gib: {hw['capacity_gib']}")):
        assert old in text
        text = text.replace(old, new)
    p = tmp_path_factory.mktemp("hw") / "a100-80gb.yaml"
    p.write_text(text)
    return get_design("gpu", hw=str(p), tp=1)


def test_decode_stays_within_5_percent_of_vidur(a100_80):
    m = load_model(DATA["model"])
    ctx = DATA["decode_ms"]["context"]
    for b, ms in DATA["decode_ms"]["batch"].items():
        got = a100_80.decode_iteration(m, [ctx] * int(b)).seconds * 1e3
        assert got == pytest.approx(ms, rel=0.06), b


def test_prefill_within_5_percent_of_vidur(a100_80):
    m = load_model(DATA["model"])
    L = DATA["prefill_ms"]["prompt_tokens"]
    for n, ms in DATA["prefill_ms"]["prompts"].items():
        got = a100_80.prefill(m, [L] * int(n)).seconds * 1e3
        assert got == pytest.approx(ms, rel=0.05), n


def test_preset_factors_sit_in_the_profiled_range():
    eff = load_hw("a100-40gb").efficiency
    lo, hi = DATA["gemm_compute_fraction_profiled"]
    assert lo <= eff.gemm_compute <= hi
    # prefill attention: 0.09 ms per layer for a 512-token prompt (Llama-2-7B: 32 heads x 128)
    flops = 2 * 32 * 128 * 512 * 512
    tflops = flops / (DATA["prefill_attention_tflops_profiled"]["L512_ms_per_layer"] * 1e-3)
    assert eff.prefill_attention_compute * 312e12 == pytest.approx(tflops, rel=0.1)


def test_eager_preset_is_labelled_and_weaker():
    m = load_model("llama2-7b")
    tuned, eager = get_design("gpu", tp=1), get_design("gpu", hw="a100-eager", tp=1)
    assert "eager" in eager.hw.name
    for seq in ([576] * 32, [2000] * 8):
        assert eager.decode_iteration(m, seq).seconds > 1.2 * tuned.decode_iteration(m, seq).seconds
    assert eager.prefill(m, [512]).seconds > tuned.prefill(m, [512]).seconds
