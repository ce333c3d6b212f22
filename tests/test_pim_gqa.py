"""Grouped-query attention on PIM: a KV head's rows are opened once for all its query heads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.designs import get_design
from sim.designs.pim_call import _standard, pim_attention
from sim.kernels.pim import (
    attention_fast_channel,
    attention_fast_channel_py,
    attention_program,
    attention_program_py,
)
from sim.mapping.blocks import attention_dims
from workloads.models import load_model

SEQ = [300, 500, 200, 1000, 37, 2048, 64, 700] * 4


def _per_channel(n_ch: int = 32) -> tuple[tuple[int, ...], ...]:
    per: list[list[int]] = [[] for _ in range(n_ch)]
    for i, s in enumerate(SEQ):
        per[i % n_ch].append(s)
    return tuple(tuple(p) for p in per)


@pytest.mark.parametrize("name", ["llama3-8b", "mistral-7b"])
@pytest.mark.parametrize("fidelity", ["command", "fast"])
def test_pim_row_activations_follow_kv_heads_and_macs_query_heads(name, fidelity):
    model = load_model(name)
    assert model.n_kv_heads < model.n_heads
    mha = dataclasses.replace(model, n_kv_heads=model.n_heads, name=model.name + "-mha")
    d = get_design("neupims", fidelity=fidelity, sub_batch=False)
    tp = d.parallelism(model).tp      # both at the GQA model's tp
    gqa_dims, mha_dims = attention_dims(model, tp), attention_dims(mha, tp)
    g = gqa_dims.group
    assert g > 1 and mha_dims.group == 1
    a = pim_attention(d.hw, gqa_dims, _per_channel(), "dual", fidelity)
    b = pim_attention(d.hw, mha_dims, _per_channel(), "dual", fidelity)
    # KV rows (G_ACT per bank group, PIM_PRECHARGE per bank) once per KV head ...
    assert a.commands["G_ACT"] * g == b.commands["G_ACT"]
    assert a.commands["PIM_PRECHARGE"] * g == b.commands["PIM_PRECHARGE"]
    # ... MAC work and query / score inputs once per query head
    for k in ("COMP", "READRES", "GWRITE", "COMPS_READRES"):
        assert a.commands[k] == b.commands[k], k
    # fewer row openings make the stage faster, but the COMPs of every query head remain
    assert b.cycles / g < a.cycles < b.cycles


def test_design_note_and_stage_shrink_with_gqa():
    model = load_model("llama3-8b")
    mha = dataclasses.replace(model, n_kv_heads=model.n_heads, name="llama3-8b-mha")
    d = get_design("npu-pim", fidelity="fast", tp=1)   # the MHA twin would default to tp 2
    r, r_mha = d.decode_iteration(model, SEQ), d.decode_iteration(mha, SEQ)
    assert r.stages["B"] < r_mha.stages["B"]
    assert any("KV heads' rows is opened once" in n for n in r.notes)
    assert r.stages["A"] < r_mha.stages["A"]   # fewer K/V columns in the QKV GEMM


def test_mha_programs_are_unchanged_by_the_group_argument():
    std = _standard("hbm2-neupims")
    o = std.org
    lens = np.array([5, 700, 2048, 33, 512], np.int64)
    for phase in (0, 1):
        args = (lens, phase, 8, 128, 1024, 2, o.pseudo_channels, o.bank_groups,
                o.banks_per_group, o.row_bytes, 1024, 16, o.rows)
        e = np.zeros(0, np.int64)
        n = attention_program(*args, False, e, e, e)
        assert n == attention_program(*args, False, e, e, e, 1)
        assert attention_program(*args, False, e, e, e, 4) < n


@pytest.mark.parametrize("group", [2, 4])
def test_gqa_kernels_equal_their_twins(group):
    std = _standard("hbm2-neupims")
    o, t, p = std.org, std.timing, std.pim
    lens = np.array([5, 700, 2048, 33, 512], np.int64)
    for phase in (0, 1):
        args = (lens, phase, 8, 128, 1024, 2, o.pseudo_channels, o.bank_groups,
                o.banks_per_group, o.row_bytes, 1024, 16, o.rows)
        e = np.zeros(0, np.int64)
        n = attention_program(*args, False, e, e, e, group)
        assert n == attention_program_py(*args, False, e, e, e, group)
        a = [np.zeros(n, np.int64) for _ in range(3)]
        b = [np.zeros(n, np.int64) for _ in range(3)]
        attention_program(*args, True, *a, group)
        attention_program_py(*args, True, *b, group)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        fargs = (lens, phase, 8, 128, 1024, 2, o.pseudo_channels, o.bank_groups,
                 o.banks_per_group, o.row_bytes, p.global_buffer_bytes, p.multipliers_per_bank,
                 t.nRCDRD, t.nRAS, t.nRP, t.nRRD_S, t.nRRD_L, t.nFAW, 4, 4, p.nCOMP,
                 p.comps_min, p.nGWRITE, t.nRFC, t.nREFI, 1)
        c1, c2 = np.zeros(15, np.int64), np.zeros(15, np.int64)
        a1, a2 = np.zeros(3, np.int64), np.zeros(3, np.int64)
        assert attention_fast_channel(*fargs, c1, a1, 18, group) == \
            attention_fast_channel_py(*fargs, c2, a2, 18, group)
        np.testing.assert_array_equal(c1, c2)
