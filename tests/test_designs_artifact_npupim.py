"""neumelt's naive NPU+PIM (Newton commands through the NPU's PIM port, single row buffer,
serialised) against the NeuPIMs artifact's own ``npu+pim`` branch (tests/data/neupims_artifact).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.designs import get_design
from sim.designs.batch import load_batch_csv
from sim.designs.reference import STAGES_OFF

ROOT = Path(__file__).resolve().parent.parent
DATA = json.loads((ROOT / "tests" / "data" / "neupims_artifact" / "figures.json").read_text())
BATCHES = sorted(b for b, v in DATA["batches"].items()
                 if "B" in v["stage_cycles"] and (ROOT / v["trace"]).is_file())


def _run(batch: str, pim_commands: str | None = None):
    b = load_batch_csv(ROOT / DATA["batches"][batch]["trace"])
    d = get_design("npu-pim", fidelity="fast", channels="given", pim_commands=pim_commands)
    return d.decode_iteration("gpt3-7b", b.seq_lens, channel_idx=b.channel_idx, layers=1)


def test_the_shipped_batch_is_checked():
    assert BATCHES == ["clb-0"]


@pytest.mark.parametrize("batch", BATCHES)
def test_npu_stage_matches_and_the_port_explains_most_of_the_attention(batch):
    art = DATA["batches"][batch]["stage_cycles"]
    r = _run(batch)
    assert r.stages["A"] == pytest.approx(art["A"], rel=0.06)
    # the Newton port model reaches 70-80 % of the artifact's attention stage; the rest
    # (its blocked-mode writes of softmax and attention outputs, refresh-deadline waits,
    # a 48,694-cycle softmax on its vector units) is not modelled (benchmarks/README.md)
    assert 0.70 * art["B"] < r.stages["B"] < art["B"]
    # with NeuPIMs' composite command the same stage would be 3-4x shorter, as the
    # artifact's own NeuPIMs-mode run of the reference batch shows
    c = _run(batch, "composite")
    assert c.stages["B"] < 0.4 * r.stages["B"]


def test_reference_batch_ratio_against_the_artifacts_neupims_mode():
    art = DATA["batches"]["clb-0"]["stage_cycles"]
    ratio_art = art["B"] / STAGES_OFF["B"]              # npu+pim over NeuPIMs (off), artifact
    r, c = _run("clb-0"), _run("clb-0", "composite")
    ratio_ours = r.stages["B"] / c.stages["B"]
    assert ratio_art == pytest.approx(3.67, rel=0.01)
    assert 0.7 * ratio_art < ratio_ours < ratio_art
