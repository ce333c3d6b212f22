"""Time decomposition: the parts of every design's iteration sum to its total (conservation),
and the naive NPU+PIM's Newton command port and mode switches show where they belong."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.designs import ALL_DESIGNS, get_design
from sim.designs.batch import parse_batch
from sim.designs.breakdown import PARTS, proportional, total

MODELS = ("gpt3-7b", "llama3-8b", "gpt3-30b")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=st.sampled_from(ALL_DESIGNS + ("neupims-single", "neupims-off", "npu-pim-sb")),
       model=st.sampled_from(MODELS),
       lens=st.lists(st.integers(1, 1500), min_size=1, max_size=96),
       layers=st.sampled_from([1, 3, None]),
       prefill=st.booleans())
def test_parts_sum_to_the_total(design, model, lens, layers, prefill):
    kw = {"fidelity": "fast"}
    name = design
    if design == "neupims-single":
        name, kw["row_buffer"] = "neupims", "single"
    elif design == "neupims-off":
        name, kw["sub_batch"] = "neupims", False
    elif design == "npu-pim-sb":
        name, kw["sub_batch"] = "npu-pim", True
    d = get_design(name, **kw)
    r = d.prefill(model, lens[:8]) if prefill else d.decode_iteration(model, lens, layers=layers)
    assert set(r.breakdown) == set(PARTS)
    assert all(v >= 0 for v in r.breakdown.values()), r.breakdown
    assert total(r.breakdown) == r.total_cycles


def test_proportional_split_is_exact():
    parts = proportional({"gemm": 1.0, "attention": 2.0, "communication": 0.3}, 1001)
    assert total(parts) == 1001 and parts["attention"] > parts["gemm"] > parts["communication"]


def _ref():
    return parse_batch("reference")


def test_newton_commands_bind_the_naive_npu_pim_on_its_port():
    b = _ref()
    naive = get_design("npu-pim", fidelity="fast", channels="given")
    comp = get_design("npu-pim", fidelity="fast", channels="given", pim_commands="composite")
    a = naive.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)
    c = comp.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)
    # one COMP per 16 MACs: the port carries COMP + READRES + GWRITE + one header per tile
    k = a.counters["pim_commands_per_layer"]
    headers = k["G_ACT"] // 8
    assert k["PORT_COMMANDS"] == k["COMP"] + k["READRES"] + k["GWRITE"] + headers
    # port-bound: both phases last at least the port's cycles (1 per NPU cycle)
    assert a.operators["attn_logits"] + a.operators["attn_attend"] >= k["PORT_COMMANDS"]
    assert a.breakdown["command_issue"] > 0 and c.breakdown["command_issue"] == 0
    assert a.stages["B"] - c.stages["B"] == a.breakdown["command_issue"]
    # the NPU stages do not change with the command set
    assert a.stages["A"] == c.stages["A"] and a.stages["E"] == c.stages["E"]


def test_single_row_buffer_pays_a_mode_switch_per_attention_call():
    b = _ref()
    single = get_design("neupims", fidelity="fast", sub_batch=False, row_buffer="single",
                        channels="given")
    dual = get_design("neupims", fidelity="fast", sub_batch=False, channels="given")
    s = single.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)
    d = dual.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)
    from sim.designs.pim_call import _standard

    t = _standard("hbm2-neupims").timing
    switch = max(t.nRTP_L, t.nCWL + t.nBL + t.nWR) + t.nRP
    assert s.breakdown["mode_switch"] - d.breakdown["mode_switch"] == switch
    assert s.stages["B"] - d.stages["B"] == switch
    # refresh inside the PIM phases is charged to mode_switch in both
    assert d.breakdown["mode_switch"] > 0


def test_step_cli_prints_the_breakdown(cli):
    r = cli("sim", "step", "--design", "npu-pim", "--batch", "reference", "--fidelity", "fast",
            "--no-store")
    assert r.returncode == 0, r.stderr
    assert "where the time goes" in r.stdout and "command_issue" in r.stdout
