"""Model catalog: parameter counts, weight bytes, KV cache, FLOPs, vision rules, bad YAML."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neumelt.errors import InputError
from workloads.models import FORMATS, VisionRule, list_models, load_model

PRESETS = ["gpt3-7b", "gpt3-13b", "gpt3-30b", "gpt3-175b", "llama2-7b", "llama2-13b",
           "llama2-70b", "llama3-8b", "mistral-7b", "tinyllama-1.1b", "gemma-2b",
           "smollm2-135m", "qwen2-vl-2b"]


def test_every_required_preset_ships():
    assert set(PRESETS) <= set(list_models())


@pytest.mark.parametrize("name,published", [
    ("gpt3-175b", 175e9),     # GPT-3 paper Table 2.1
    ("llama2-70b", 70e9),     # Llama 2 paper Table 1
    ("llama3-8b", 8.03e9),    # Meta-Llama-3-8B model card
    ("llama2-7b", 6.74e9), ("llama2-13b", 13.0e9), ("mistral-7b", 7.24e9),
    ("gemma-2b", 2.51e9), ("tinyllama-1.1b", 1.1e9), ("smollm2-135m", 135e6),
    ("qwen2-vl-2b", 2.21e9), ("gpt3-13b", 13.0e9), ("gpt3-7b", 6.7e9),
])
def test_param_count_within_2_percent_of_published(name, published):
    n = load_model(name).param_count()
    assert abs(n / published - 1) < 0.02, (name, n)


def test_gqa_and_mqa_shapes():
    m = load_model("llama2-70b")
    assert (m.n_heads, m.n_kv_heads) == (64, 8)
    # K and V, 80 layers, 8 KV heads x 128, 2 bytes
    assert m.kv_bytes_per_token(2) == 2 * 80 * 8 * 128 * 2 == 327_680
    assert load_model("llama2-7b").kv_bytes_per_token() == 524_288
    assert load_model("gemma-2b").kv_bytes_per_token() == 2 * 18 * 1 * 256 * 2
    assert m.kv_bytes_per_token(1) * 2 == m.kv_bytes_per_token(2)


@pytest.mark.parametrize("name,fmt,gguf_gb", [
    # file sizes of public GGUF conversions (TheBloke / bartowski / TinyLlama), GB = 1e9 bytes
    ("llama2-7b", "q4_k_m", 4.08), ("llama2-7b", "q4_0", 3.83), ("llama2-7b", "q8_0", 7.16),
    ("llama3-8b", "q4_k_m", 4.92), ("mistral-7b", "q4_k_m", 4.37),
    ("llama2-70b", "q4_k_m", 41.42), ("tinyllama-1.1b", "q4_k_m", 0.669),
])
def test_weight_bytes_match_real_gguf_files(name, fmt, gguf_gb):
    got = load_model(name).weight_bytes(fmt) / 1e9
    assert abs(got / gguf_gb - 1) < 0.03, (name, fmt, got)


def test_formats_are_ordered_by_size():
    m = load_model("llama3-8b")
    b = {f: m.weight_bytes(f) for f in FORMATS}
    assert b["f32"] == pytest.approx(2 * b["f16"], rel=1e-3)
    assert b["f16"] == b["bf16"]
    assert b["f16"] > b["q8_0"] > b["q6_k"] > b["q4_k_m"] > b["q4_0"]
    assert b["f16"] > b["int8"] > b["int4"] > b["q4_0"]  # int formats keep fp16 embeddings
    assert b["q4_0"] > b["q3_k"]
    assert 8.45 < m.bits_per_weight("q8_0") < 8.55
    with pytest.raises(InputError, match="unknown weight format"):
        m.weight_bytes("q2_xyz")


def test_decode_flops_are_about_twice_the_params_at_short_context():
    for name in ("llama2-7b", "gpt3-175b", "llama3-8b"):
        m = load_model(name)
        emb = m.vocab_size * m.d_model * (1 if m.tied_embeddings else 1)
        dense = m.param_count() - emb * (0 if m.tied_embeddings else 1)
        assert m.decode_flops(1) == pytest.approx(2 * dense, rel=0.02)


def test_attention_flops_grow_linearly_with_context_and_window_caps_them():
    m = load_model("llama2-7b")
    step = m.decode_flops(2048) - m.decode_flops(1024)
    assert step == 4 * m.n_heads * m.d_head * 1024 * m.n_layers
    w = load_model("mistral-7b")
    assert w.decode_flops(8192) == w.decode_flops(4096) == w.decode_flops(20000)
    assert w.kv_bytes(10_000) == 4096 * w.kv_bytes_per_token()


def test_prefill_flops_match_closed_form():
    m = load_model("llama2-7b")
    n = 512
    lin = 2 * n * m.linear_params_per_layer() * m.n_layers
    attn = 4 * m.q_dim * (n * (n + 1) // 2) * m.n_layers
    assert m.prefill_flops(n) == lin + attn + 2 * m.d_model * m.vocab_size
    # prefill of n tokens after p cached tokens = the tail of a prefill of p + n
    assert m.prefill_flops(100, past_tokens=400) < m.prefill_flops(500)


def test_decode_bytes_weights_shared_by_batch_and_kv_per_sequence():
    m = load_model("llama2-7b")
    one = m.decode_bytes(1024, "f16", batch=1)
    many = m.decode_bytes(1024, "f16", batch=64)
    kv = m.kv_bytes(1023) + m.kv_bytes_per_token()
    assert many == pytest.approx(kv + (one - kv) / 64, rel=1e-6)
    assert m.decode_bytes(1024, "q4_k_m") < one
    assert one > 12e9  # about the f16 weights


@pytest.mark.parametrize("w,h,tokens", [(1080, 2340, 3276), (1080, 2400, 3354),
                                        (720, 1280, 1196), (120, 120, 16), (56, 56, 4)])
def test_qwen2_vl_image_tokens(w, h, tokens):
    assert load_model("qwen2-vl-2b").image_tokens(w, h) == tokens


def test_other_vision_rules_reproduce_the_reference_table():
    gpt4o = VisionRule(rule="tiles", tile_px=512, tokens_per_tile=170, base_tokens=85,
                       fit_px=2048, short_side_px=768)
    assert [gpt4o.tokens_for(*s) for s in [(1080, 2340), (1080, 2400), (720, 1280)]] == \
        [1445, 1445, 1105]
    gemini2 = VisionRule(rule="tiles", tile_px=768, tokens_per_tile=258, small_px=384,
                         small_tokens=258)
    assert [gemini2.tokens_for(*s) for s in [(1080, 2340), (720, 1280), (300, 300)]] == \
        [2064, 516, 258]
    claude = VisionRule(rule="area", px_per_token=750, max_long_edge_px=1568)
    assert abs(claude.tokens_for(1080, 2340) - 1513) <= 2
    assert VisionRule(rule="fixed", tokens=256).tokens_for(1080, 2340) == 256
    assert load_model("llama2-7b").image_tokens(1080, 2340) is None


def test_user_yaml_model_by_path(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nfamily: toy\nn_layers: 2\nd_model: 64\nn_heads: 4\n"
                 "n_kv_heads: 2\nd_head: 16\nd_ff: 128\nvocab_size: 100\nnorm: rmsnorm\n"
                 "mlp: swiglu\nmax_context: 256\ntied_embeddings: true\n")
    m = load_model(str(p))
    per_layer = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 128 + 2 * 64
    assert m.param_count() == 2 * per_layer + 100 * 64 + 64


@pytest.mark.parametrize("edit,key,line", [
    ("n_layers: 2\n", "n_layers: two\n", 3),
    ("mlp: swiglu\n", "mlp: relu\n", 11),
    ("max_context: 256\n", "max_context: 256\nwidth: 3\n", 14),
    ("n_kv_heads: 2\n", "n_kv_heads: 3\n", None),
])
def test_bad_model_yaml_names_file_key_and_line(tmp_path, edit, key, line):
    text = ("name: mine\nfamily: toy\nn_layers: 2\nd_model: 64\nn_heads: 4\n"
            "n_kv_heads: 2\nd_head: 16\nd_ff: 128\nvocab_size: 100\nnorm: rmsnorm\n"
            "mlp: swiglu\ntied_embeddings: true\nmax_context: 256\n").replace(edit, key)
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        load_model(str(p))
    msg = str(exc.value)
    assert str(p) in msg
    if line:
        assert f":{line}" in msg
    with pytest.raises(InputError, match="file not found"):
        load_model(str(tmp_path / "missing.yaml"))
    with pytest.raises(InputError, match="unknown model"):
        load_model("gpt5")


@pytest.mark.parametrize("rule,tokens", [
    # reference "Screenshot tokens by VLM": 1080x2340, 1080x2400, 720x1280
    ("gpt-4o-high", (1445, 1445, 1105)), ("gpt-4o-low", (85, 85, 85)),
    ("gemini-1.5", (258, 258, 258)), ("gemini-2.0", (2064, 2064, 516)),
    ("qwen2-vl", (3276, 3354, 1196)), ("qwen2-vl-1280", (1248, 1272, 1196)),
    ("qwen2-vl-llamacpp", (3276, 3354, 1196)), ("qwen2-vl-llamacpp-old", (1980, 2010, 1196)),
    ("qwen-vl", (256, 256, 256)), ("gemma3", (256, 256, 256)), ("llava-1.5", (576, 576, 576)),
])
def test_named_vision_rules_reproduce_the_reference_table(rule, tokens):
    from workloads.models import vision_rule

    r = vision_rule(rule)
    assert tuple(r.tokens_for(w, h) for w, h in [(1080, 2340), (1080, 2400), (720, 1280)]) \
        == tokens


def test_claude_rule_is_about_area_over_750():
    from workloads.models import vision_rule

    got = [vision_rule("claude").tokens_for(w, h) for w, h in
           [(1080, 2340), (1080, 2400), (720, 1280)]]
    for g, want in zip(got, (1513, 1475, 1229)):
        assert abs(g - want) <= 3
    with pytest.raises(InputError, match="unknown vision rule"):
        vision_rule("gpt-9")


@settings(max_examples=200, deadline=None)
@given(w=st.integers(16, 8000), h=st.integers(16, 8000))
def test_property_patch_grid_stays_within_pixel_budget(w, h):
    from workloads.models import vision_rule

    if max(w, h) / min(w, h) > 200:  # Qwen2-VL refuses such aspect ratios
        return
    for name in ("qwen2-vl", "qwen2-vl-1280", "qwen2-vl-llamacpp"):
        r = vision_rule(name)
        n = r.tokens_for(w, h)
        assert n >= 1
        assert n * 28 * 28 <= r.max_pixels
        grid = max(1, round(w / 28)) * max(1, round(h / 28))
        if r.min_pixels <= grid * 784 <= r.max_pixels:  # no rescale: one token per 28x28
            assert n == grid
        else:  # rescaled: keeps most of the budget it is squeezed into / lifted to
            assert n * 784 >= min(r.min_pixels, 0.5 * r.max_pixels) or n * 784 >= 0.5 * w * h


@settings(max_examples=100, deadline=None)
@given(ctx=st.integers(1, 40_000), batch=st.integers(1, 512))
def test_property_decode_cost_monotone_in_context(ctx, batch):
    for name in ("llama3-8b", "mistral-7b"):
        m = load_model(name)
        assert m.decode_flops(ctx + 1) >= m.decode_flops(ctx)
        assert m.decode_bytes(ctx + 1, batch=batch) >= m.decode_bytes(ctx, batch=batch)
        assert m.decode_bytes(ctx, batch=batch) >= m.kv_bytes(ctx - 1)
