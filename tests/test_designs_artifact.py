"""``baselines: artifact``: the NeuPIMs artifact's ``npu-only`` attention, checked against an
instruction-level twin and against the artifact's own cycles on its reference batch."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from neumelt.errors import InputError
from sim.designs import get_design
from sim.designs.batch import REFERENCE_BATCH, load_batch_csv
from sim.designs.hw import load_hw
from sim.mapping.blocks import AttentionDims
from sim.npu.attention import artifact_attention_cycles, artifact_npu_attention

# casys-kaist/NeuPIMs on share-gpt2-bs512-ms7B-tp4-clb-0.csv, one decoder block: the
# npu-only branch's cycles per layer and NeuPIMs with interleaving off (reference README)
ARTIFACT_NPU_ONLY = 5_937_043
NEUPIMS_OFF = 619_231
# +-10 %: our chain is +6.0 % (6,295,236). The chain alone (5,932,104) lands within 0.1 %
# of the artifact's whole layer, so the branch overlaps most of LN + QKV and projection +
# FFN (353k cycles) with the attention chain; we keep the stages serialised (A -> B -> E).
TOL = 0.10
# the npu-only branch run here on the reference batch and three seeded batches
ROOT = Path(__file__).resolve().parent.parent
NPU_ONLY = json.loads((ROOT / "tests" / "data" / "neupims_artifact"
                       / "figures.json").read_text())["npu_only"]["batches"]


def _twin_head(L: int, h: int, w: int, d_k: int, vec_w: int) -> int:
    """One query head, instruction by instruction: the issue rule of the artifact's
    weight-stationary core (a preload into an empty pipeline waits 2h - 1 cycles; into a
    busy one it starts h cycles after the previous instruction; an instruction finishes
    h + w - 2 + max(size, 4) after its start), with the softmax between the GEMVs."""
    t = 0
    # logits GEMV: empty pipeline
    start = t + 2 * h - 1
    t = start + h + w - 2 + max(L // 8, 4)
    # softmax: add tree (all levels) twice, then add + exp + mul per vector pass
    n, tree = L, 0
    while True:
        if n <= vec_w:
            tree += 1
            break
        n = math.ceil(n / vec_w)
        tree += n
    t += 2 * tree + 3 * math.ceil(L / vec_w)
    # attend GEMVs: the branch's loop `for ii = 0; ii < L + 127; ii += 128`
    starts = []
    ii = 0
    while ii < L + 127:
        starts.append(t + 2 * h - 1 if not starts else starts[-1] + h)
        ii += 128
    return starts[-1] + h + w - 2 + max(d_k // 8, 4)


@pytest.fixture(scope="module")
def batch():
    return load_batch_csv(REFERENCE_BATCH)


def test_vectorised_chain_matches_instruction_twin():
    hw = load_hw("npu-neupims")
    dims = AttentionDims(heads=8, kv_heads=8, d_head=128)
    lens = np.array([1, 2, 31, 32, 127, 128, 129, 255, 256, 300, 513, 2048, 16385])
    lg, sm, at = artifact_attention_cycles(hw, dims, lens)
    for i, L in enumerate(lens):
        twin = _twin_head(int(L), hw.systolic.height, hw.systolic.width, 128, hw.vector.width)
        assert int(lg[i] + sm[i] + at[i]) == 8 * twin, L
    # the documented single-instruction cost: 255 preload + 254 fill/drain + max(size, 4)
    assert int(lg[0]) == 8 * (255 + 254 + 4)


def test_reference_batch_lands_near_the_artifacts_npu_only(batch):
    d = get_design("npu", baselines="artifact")
    r = d.decode_iteration("gpt3-7b", batch.seq_lens, layers=1)
    assert r.total_cycles == pytest.approx(ARTIFACT_NPU_ONLY, rel=TOL)
    assert r.stages["B"] > 0.9 * r.total_cycles          # attention dominates, as there
    assert r.fidelity == "analytical-artifact"
    assert any("npu-only" in n for n in r.notes)
    # ~255 cycles per GEMV instruction on average, the figure the artifact's logs show
    lens = np.asarray(batch.seq_lens)
    instr = 8 * int((1 + np.ceil((lens + 127) / 128)).sum())
    per_instr = (r.stages["B"] - r.operators["attn_softmax"]) / instr
    assert 240 < per_instr < 320
    # the artifact's npu-only / NeuPIMs (interleaving off) ratio, 9.6x, within the tolerance
    neu = get_design("neupims", sub_batch=False, channels="given").decode_iteration(
        "gpt3-7b", batch.seq_lens, channel_idx=batch.channel_idx, layers=1)
    assert r.total_cycles / neu.total_cycles == pytest.approx(
        ARTIFACT_NPU_ONLY / NEUPIMS_OFF, rel=TOL)


def test_ideal_is_the_default_and_only_npu_changes(batch):
    seq, ch = batch.seq_lens[:96], batch.channel_idx[:96]
    for name in ("gpu", "npu-pim", "neupims"):
        a = get_design(name, baselines="artifact").decode_iteration("gpt3-7b", seq, ch, layers=1)
        i = get_design(name).decode_iteration("gpt3-7b", seq, ch, layers=1)
        assert a.total_cycles == i.total_cycles and a.stages == i.stages, name
    ideal = get_design("npu").decode_iteration("gpt3-7b", seq, layers=1)
    same = get_design("npu", baselines="ideal").decode_iteration("gpt3-7b", seq, layers=1)
    art = get_design("npu", baselines="artifact").decode_iteration("gpt3-7b", seq, layers=1)
    assert same.total_cycles == ideal.total_cycles and ideal.fidelity == "analytical"
    assert art.stages["A"] == ideal.stages["A"] and art.stages["E"] == ideal.stages["E"]
    assert art.stages["B"] > 3 * ideal.stages["B"]
    assert "baselines" not in get_design("npu").config()
    assert get_design("npu", baselines="artifact").config()["baselines"] == "artifact"


def test_artifact_attention_scales_with_requests_not_batch_shape():
    hw = load_hw("npu-neupims")
    dims = AttentionDims(heads=8, kv_heads=8, d_head=128)
    one = artifact_npu_attention(hw, dims, (300,))
    many = artifact_npu_attention(hw, dims, (300,) * 64)
    assert many.cycles == 64 * one.cycles               # nothing batched across requests
    assert many.macs == 64 * one.macs and many.hbm_read_bytes == 64 * one.hbm_read_bytes
    assert artifact_npu_attention(hw, dims, ()).cycles == 0


def test_bad_baselines_is_an_input_error():
    with pytest.raises(InputError) as e:
        get_design("npu", baselines="paper")
    assert e.value.key == "baselines"


def test_step_cli_baselines(cli):
    base = ("sim", "step", "--design", "npu", "--batch", "32", "--seed", "3", "--json",
            "--no-store")
    ideal = json.loads(cli(*base).stdout)
    r = cli(*base, "--baselines", "artifact")
    assert r.returncode == 0, r.stderr
    art = json.loads(r.stdout)
    assert art["total_cycles"] > ideal["total_cycles"]
    assert art["stages"]["A"] == ideal["stages"]["A"]
    bad = cli(*base, "--baselines", "paper")
    assert bad.returncode == 2 and "baselines" in bad.stderr


def test_serving_run_with_artifact_baselines_is_slower_on_npu_only():
    from sim.serving.run import ServingRunConfig, execute

    base = dict(design="npu", model="gpt3-7b", workload="sharegpt", requests=40,
                max_batch=32, seed=4)
    ideal = execute(ServingRunConfig(**base))
    art = execute(ServingRunConfig(**base, baselines="artifact"))
    assert art.source.endswith("/artifact-baselines") and "artifact" not in ideal.source
    assert all(x.generated == x.req.output_tokens for x in art.result.calls)
    assert art.figure("throughput_tok_s") < ideal.figure("throughput_tok_s")
    with pytest.raises(ValueError):
        ServingRunConfig(**base, baselines="paper")


@pytest.mark.parametrize("name", sorted(NPU_ONLY))
def test_seeded_batches_beside_the_artifacts_npu_only(name):
    """The artifact's npu-only branch run here on the reference batch and on three seeded
    batches (tests/data/neupims_artifact, ``npu_only``). Our per-head chain, read from its
    code, matches the reference batch (+6 %) but is slower on the seeded ones: +13-14 % on
    ShareGPT (context ~220) and +38 % on Alpaca (context 38), where each head is two GEMVs
    whose fixed 255-cycle preload the branch evidently overlaps across heads and requests
    and our strict chain does not. Pinned here so that a change to the model shows."""
    art = NPU_ONLY[name]
    b = load_batch_csv(ROOT / art["trace"])
    r = get_design("npu", baselines="artifact").decode_iteration("gpt3-7b", b.seq_lens,
                                                                  layers=1)
    short = np.mean(b.seq_lens) < 100
    assert art["layer_cycles"] < r.total_cycles < (1.45 if short else 1.16) * art["layer_cycles"]
