"""neumelt's naive NPU+PIM (Newton commands through the NPU's PIM port in channel order,
single row buffer, serialised) against the NeuPIMs artifact's own ``npu+pim`` branch
(tests/data/neupims_artifact): the reference batch, three seeded batches made by neumelt, and
single-channel probes that isolate one channel's PIM service time.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from sim.designs import get_design
from sim.designs.batch import load_batch_csv
from sim.designs.hw import load_hw
from sim.designs.reference import STAGES_OFF
from sim.pim.attention import AttentionShape

ROOT = Path(__file__).resolve().parent.parent
DATA = json.loads((ROOT / "tests" / "data" / "neupims_artifact" / "figures.json").read_text())
SHIPPED = sorted(b for b, v in DATA["batches"].items()
                 if "B" in v["stage_cycles"] and (ROOT / v["trace"]).is_file())
BATCHES = [b for b in SHIPPED if not b.startswith("probe-")]
PROBES = [b for b in SHIPPED if b.startswith("probe-")]
# GPT3-7B at TP 4 on one device: 8 heads of 128
SHAPE = AttentionShape(heads=8, d_k=128, e_tp=1024, dtype_bytes=2)


def _run(batch: str, pim_commands: str | None = None):
    b = load_batch_csv(ROOT / DATA["batches"][batch]["trace"])
    d = get_design("npu-pim", fidelity="fast", channels="given", pim_commands=pim_commands)
    return d.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)


def test_the_shipped_batches_are_checked():
    assert BATCHES == ["alpaca-n512-s3", "clb-0", "sharegpt-n256-s2", "sharegpt-n512-s1"]
    assert len(PROBES) == 6


@pytest.mark.parametrize("batch", BATCHES)
def test_npu_stage_and_attention_operators_match_the_artifact(batch):
    art = DATA["batches"][batch]
    r = _run(batch)
    assert r.stages["A"] == pytest.approx(art["stage_cycles"]["A"], rel=0.10)
    # Newton commands through one port, handed out channel by channel (the artifact's
    # scheduler concatenates its per-channel request queues): within 10 % of the artifact's
    # attention stage and of its logits operator (benchmarks/README.md)
    assert r.stages["B"] == pytest.approx(art["stage_cycles"]["B"], rel=0.10)
    ops = art["operators"]
    logits = r.operators["attn_logits"] + r.operators["attn_softmax"]
    assert logits == pytest.approx(ops["layer0.attn.NeuPIMSLogitSoftmax"]["cycles"], rel=0.10)
    # attend: within 10 % where contexts span several value pages; on the Alpaca batch
    # (mean context 38 tokens, one page per head) each head is a GWRITE and four tiles
    # whatever the length, and the artifact's refresh policy, which we do not model
    # (test_the_channel_gap_is_the_artifacts_refresh_policy), weighs most: -10.8 % there
    short = np.mean(load_batch_csv(ROOT / art["trace"]).seq_lens) < 100
    assert r.operators["attn_attend"] == pytest.approx(
        ops["layer0.attn.NeuPIMSAttend"]["cycles"], rel=0.15 if short else 0.10)
    # every part we leave out (refresh-deadline idling, blocked-mode output writes, the
    # slower softmax) adds cycles: the model stays below the artifact
    assert r.stages["B"] < art["stage_cycles"]["B"]


def test_the_channel_by_channel_order_is_what_the_port_adds_beyond_its_rate():
    """Handing the same commands out in arrival order (channels interleaved) leaves the
    stage near the port's own time; channel by channel, the last channels wait for the
    others' commands: the difference is the order, not the rate."""
    b = load_batch_csv(ROOT / DATA["batches"]["clb-0"]["trace"])
    hw = load_hw("npu-neupims")
    arrival = dataclasses.replace(hw, pim=dataclasses.replace(hw.pim, issue_order="arrival"))
    by_ch = _run("clb-0")
    d = get_design("npu-pim", hw=arrival, fidelity="fast", channels="given")
    arr = d.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)
    port = by_ch.counters["pim_commands_per_layer"]["PORT_COMMANDS"]
    assert arr.stages["B"] < 0.9 * by_ch.stages["B"]
    # arrival order: within 10 % of the port's 1 command / cycle
    assert arr.operators["attn_logits"] + arr.operators["attn_attend"] == pytest.approx(
        port, rel=0.10)
    assert by_ch.breakdown["command_issue"] > arr.breakdown["command_issue"]


def test_reference_batch_ratio_against_the_artifacts_neupims_mode():
    art = DATA["batches"]["clb-0"]["stage_cycles"]
    ratio_art = art["B"] / STAGES_OFF["B"]              # npu+pim over NeuPIMs (off), artifact
    r, c = _run("clb-0"), _run("clb-0", "composite")
    ratio_ours = r.stages["B"] / c.stages["B"]
    assert ratio_art == pytest.approx(3.67, rel=0.01)
    assert ratio_ours == pytest.approx(ratio_art, rel=0.10)


def test_one_channels_refresh_free_pim_timing_matches_the_artifacts_command_log():
    """The artifact's command log of one 17-token request on channel 0 (its NewtonSim
    controller log, figures.json ``command_log``): a head of attend is a GWRITE and four
    G_ACT / COMP / READRES tiles. Without refresh our command-level channel gives the same
    head time within 5 %."""
    from sim.dram.controller import ControllerConfig, run_channel
    from sim.dram.standard import load_standard
    from sim.pim.program import channel_program

    log = DATA["command_log"]
    std = load_standard("hbm2-neupims")
    cmd, tgt, arg = channel_program(std, [log["seq_len"]], SHAPE, 1)
    e = np.zeros(0, dtype=np.int64)
    out = run_channel(std, ControllerConfig(refresh=False), "single", e, e.astype(np.int8),
                      e, e, e, cmd, tgt, arg)
    per_head = out.final_cycle / SHAPE.heads
    assert per_head == pytest.approx(log["head_cycles_without_refresh"], rel=0.05)
    # the artifact's refresh costs ~2x what ours does per REF: that is the channel gap
    assert log["cycles_per_refresh"] > 1.5 * std.timing.nRFC


@pytest.mark.parametrize("probe", PROBES)
def test_the_channel_gap_is_the_artifacts_refresh_policy(probe):
    """16 equal requests on channel 0 alone: the port is never the bottleneck, so the
    attention stage is one channel's PIM service time. The artifact's is 13-25 % longer than
    ours. Its controller starts a GEMV tile or GWRITE only if its estimated latency fits
    before the next refresh deadline (``NewtonCommandQueue::CanMeetRefreshDeadline``), so
    the channel idles up to a tile before each REF, then the refreshed rank's G_ACTs wait
    tRFC: ~490 cycles per REF in its log, every ~1,950 cycles (two pseudo-channels), against
    ~240 in ours. Our refresh-free channel time stretched by the artifact's refresh share
    lands within 10 % of its stage; ours as modelled stays below it."""
    from sim.designs.pim_call import _standard
    from sim.pim.fast import pim_channel_cycles

    art = DATA["batches"][probe]
    log = DATA["command_log"]
    b_art = art["stage_cycles"]["B"]
    r = _run(probe)
    assert 0.72 * b_art < r.stages["B"] < b_art
    lens = list(load_batch_csv(ROOT / art["trace"]).seq_lens)
    std = _standard(load_hw("npu-neupims").hbm.standard)
    free = sum(pim_channel_cycles(std, lens, SHAPE, p, refresh=False)[0] for p in (0, 1))
    share = log["cycles_per_refresh"] / log["refresh_interval_cycles"]
    predicted = free / (1 - share) + r.operators["attn_softmax"]
    assert predicted == pytest.approx(b_art, rel=0.10)
