"""Operator mapping of GPT-3 and LLaMA blocks, tensor/pipeline parallelism, all-reduce."""

from __future__ import annotations

import pytest

from neumelt.errors import InputError
from sim.mapping.blocks import attention_dims, decoder_block, weight_bytes_per_block
from sim.mapping.parallel import (
    Parallelism,
    check_parallelism,
    default_parallelism,
    ring_allreduce_s,
)
from workloads.models import load_model


def _ops(model, tokens, tp):
    return {o.name: o for o in decoder_block(model, tokens, tp)}


def test_gpt3_block_shapes_under_tp4():
    m = load_model("gpt3-7b")
    ops = _ops(m, 512, 4)
    assert (ops["qkv"].m, ops["qkv"].k, ops["qkv"].n) == (512, 4096, 3072)
    assert (ops["proj"].k, ops["proj"].n) == (1024, 4096)
    assert (ops["ffn1"].k, ops["ffn1"].n) == (4096, 4096)
    assert (ops["ffn2"].k, ops["ffn2"].n) == (4096, 4096)
    assert ops["norm_attn"].vop == "layernorm" and ops["act"].vop == "gelu"
    assert "rope" not in ops                      # GPT-3 has learned positions
    assert ops["allreduce_ffn"].nbytes == 512 * 4096 * 2
    parts = [o.part for o in decoder_block(m, 512, 4)]
    assert parts == sorted(parts, key=["qkv", "attn", "ffn"].index)


def test_llama_block_has_gqa_rmsnorm_swiglu():
    m = load_model("llama2-70b")     # 64 heads, 8 KV heads, d_ff 28672
    ops = _ops(m, 64, 8)
    dims = attention_dims(m, 8)
    assert (dims.heads, dims.kv_heads, dims.group) == (8, 1, 8)
    assert ops["qkv"].n == (8 + 2 * 1) * 128
    assert ops["ffn_gate_up"].n == 2 * 28672 // 8
    assert ops["ffn2"].k == 28672 // 8
    assert ops["norm_attn"].vop == "rmsnorm" and ops["act"].vop == "silu_mul"
    assert "rope" in ops
    # KV heads fewer than TP ranks are replicated, not split below one
    assert attention_dims(load_model("llama3-8b"), 16).kv_heads == 1


def test_weight_bytes_match_the_model_catalog():
    for name in ("gpt3-7b", "llama2-7b", "mistral-7b"):
        m = load_model(name)
        per_layer = sum(i * o for _, i, o in m.layer_gemms()) * 2
        assert weight_bytes_per_block(m, 1) == per_layer


def test_ring_allreduce_formula():
    nbytes = 4 * 2**20
    s = ring_allreduce_s(nbytes, 4, 100.0, 1000.0)
    assert s == pytest.approx(6 * (nbytes / 4 / 100e9 + 1e-6))
    assert ring_allreduce_s(nbytes, 1, 100.0, 1000.0) == 0.0
    assert ring_allreduce_s(nbytes, 4, None, 1000.0) == 0.0
    # more devices: each moves less, but latency steps grow
    assert ring_allreduce_s(nbytes, 8, 100.0, 0.0) > ring_allreduce_s(nbytes, 2, 100.0, 0.0)


def test_default_parallelism_follows_the_reference_and_fits_memory():
    assert default_parallelism(load_model("gpt3-7b"), 32 * 2**30) == Parallelism(4, 1)
    assert default_parallelism(load_model("gpt3-175b"), 32 * 2**30) == Parallelism(8, 4)
    llama70 = load_model("llama2-70b")
    par = default_parallelism(llama70, 32 * 2**30)
    assert llama70.param_count() * 2 / (par.tp * par.pp) <= 0.5 * 32 * 2**30


def test_bad_tp_is_an_input_error():
    with pytest.raises(InputError, match="tp=3"):
        check_parallelism(load_model("gpt3-7b"), Parallelism(3, 1))
