"""The NeuPIMs reference batch (GPT3-7B, TP 4, 512 requests with their channels, one decoder
block, one decode iteration): stage cycles within +-10 % of the reference simulator, and
the design ordering neupims < npu-pim < npu."""

from __future__ import annotations

import pytest

from sim.designs import get_design
from sim.designs.batch import REFERENCE_BATCH, load_batch_csv

# casys-kaist/NeuPIMs@f299af3 on share-gpt2-bs512-ms7B-tp4-clb-0.csv (NeuPIMs mode)
REF_OFF = {"A": 87_268, "B": 266_239, "E": 265_724}
REF_OFF_TOTAL = 619_231
REF_ON_C_PLUS_D = 481_000
TOL = 0.10


def test_reference_constants_are_the_artifacts():
    from sim.designs import reference

    assert reference.STAGES_OFF == REF_OFF and reference.LAYER_OFF == REF_OFF_TOTAL
    assert reference.LAYER_ON_C_PLUS_D == REF_ON_C_PLUS_D
    assert sum(reference.STAGES_OFF.values()) == REF_OFF_TOTAL
    assert reference.STAGES_ON["C"] + reference.STAGES_ON["D"] == REF_ON_C_PLUS_D


@pytest.fixture(scope="module")
def batch():
    b = load_batch_csv(REFERENCE_BATCH)
    assert len(b.seq_lens) == 512 and b.channel_idx is not None
    assert sum(b.seq_lens) / 512 == pytest.approx(299.9, abs=0.05)
    return b


@pytest.fixture(scope="module")
def off(batch):
    d = get_design("neupims", sub_batch=False, channels="given")
    return d.decode_iteration("gpt3-7b", batch.seq_lens, channel_idx=batch.channel_idx,
                              layers=1)


@pytest.fixture(scope="module")
def on(batch):
    d = get_design("neupims", sub_batch=True, channels="given")
    return d.decode_iteration("gpt3-7b", batch.seq_lens, channel_idx=batch.channel_idx,
                              layers=1)


@pytest.mark.parametrize("stage", ["A", "B", "E"])
def test_interleaving_off_stages_match_reference(off, stage):
    assert off.stages[stage] == pytest.approx(REF_OFF[stage], rel=TOL)


def test_interleaving_off_layer_matches_reference(off):
    assert set(off.stages) == {"A", "B", "E"}
    assert off.total_cycles == sum(off.stages.values())
    assert off.total_cycles == pytest.approx(REF_OFF_TOTAL, rel=TOL)


def test_interleaving_on_steady_state_matches_reference(on):
    assert list(on.stages) == ["A", "B", "C", "D", "E", "F"]
    assert on.layer_cycles == on.stages["C"] + on.stages["D"]
    assert on.layer_cycles == pytest.approx(REF_ON_C_PLUS_D, rel=TOL)
    # one layer takes A + B + E + F; overlap makes a steady layer cheaper than no overlap
    assert on.total_cycles == sum(on.stages[s] for s in "ABEF")


def test_interleaving_pays_off_over_a_model(batch, on, off):
    n = 32
    with_sb = on.total_cycles + on.layer_cycles * (n - 1)
    assert with_sb < off.total_cycles * n


def test_pim_results_are_complete(off, on):
    for res in (off, on):
        assert res.energy_j["pim"] > 0 and res.energy_j["npu_mac"] > 0
        assert res.energy_total_j == pytest.approx(sum(res.energy_j.values()))
        assert all(0.0 <= u <= 1.0 for u in res.utilisation.values())
        assert res.utilisation["pim"] > 0 and res.utilisation["npu"] > 0
        tracks = {t for t, *_ in res.events}
        assert {"npu", "pim"} <= tracks and any(t.startswith("pim/ch") for t in tracks)
    cmds = off.counters["pim_commands_per_layer"]
    assert cmds and all(v >= 0 for v in cmds.values())
    from sim.designs.reference import PIM_COMMANDS_OFF

    for name, count in PIM_COMMANDS_OFF.items():   # the same PIM program as the artifact's
        assert cmds.get(name, 0) == pytest.approx(count, rel=0.01), name
    # the NPU is busier when its work overlaps the PIM's
    assert on.utilisation["npu"] > off.utilisation["npu"]


def test_design_ordering_neupims_npupim_npu(batch, on):
    # the naive NPU+PIM with NeuPIMs' composite commands sits between NeuPIMs and the
    # batched NPU-only baseline ...
    npu_pim = get_design("npu-pim", pim_commands="composite").decode_iteration(
        "gpt3-7b", batch.seq_lens, layers=1)
    npu = get_design("npu").decode_iteration("gpt3-7b", batch.seq_lens, layers=1)
    n = 32
    neupims_model = on.total_cycles + on.layer_cycles * (n - 1)
    assert neupims_model < npu_pim.total_cycles * n < npu.total_cycles * n
    assert on.layer_cycles < npu_pim.layer_cycles < npu.layer_cycles
    # ... with the artifact's Newton commands (its default) it is port-bound: slower than
    # the batched NPU-only design, faster than the artifact's npu-only branch
    newton = get_design("npu-pim").decode_iteration("gpt3-7b", batch.seq_lens, layers=1)
    art = get_design("npu", baselines="artifact").decode_iteration("gpt3-7b", batch.seq_lens,
                                                                   layers=1)
    assert npu_pim.total_cycles < newton.total_cycles < art.total_cycles
