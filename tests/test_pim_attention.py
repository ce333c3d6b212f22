"""PIM attention: command mapping against the NeuPIMs reference batch, row-buffer modes,
channel load model, and the program generator's twin."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest
from dram_support import GPT3_7B_TP4

from neumelt.errors import InputError
from sim.dram import commands as C
from sim.dram.energy import COMPONENTS
from sim.dram.standard import load_standard
from sim.kernels.pim import attention_program, attention_program_py
from sim.pim.attention import AttentionShape, simulate_attention
from sim.pim.channels import assign_channels, channel_load, group_by_channel

HBM2 = load_standard("hbm2-neupims")


def reference_batch() -> list[list[int]]:
    text = resources.files("sim").joinpath(
        "data/neupims/share-gpt2-bs512-ms7B-tp4-clb-0.csv").read_text()
    per: list[list[int]] = [[] for _ in range(32)]
    for row in csv.DictReader(text.splitlines()):
        per[int(row["ch_idx"])].append(int(row["seq_len"]))
    return per


@pytest.fixture(scope="module")
def ref_dual():
    return simulate_attention(HBM2, reference_batch(), GPT3_7B_TP4, row_buffer="dual")


def test_reference_batch_command_counts(ref_dual):
    """NeuPIMs artifact on the same batch: 637,728 COMP, 59,872 READRES, 5,904 GWRITE,
    236,872 G_ACT, 947,488 PIM_PRECHARGE (G_ACT and PIM_PRECHARGE within 0.01 %)."""
    c = ref_dual.commands
    assert c["COMP"] == 637_728
    assert c["READRES"] == 59_872
    assert c["GWRITE"] == 5_904
    assert c["G_ACT"] == pytest.approx(236_872, rel=1e-4)
    assert c["PIM_PRECHARGE"] == pytest.approx(947_488, rel=1e-4)
    assert c["PIM_PRECHARGE"] == 4 * c["G_ACT"]


def test_reference_batch_attend_cycles_within_10_percent(ref_dual):
    # the artifact's attend phase: 139,157 cycles (logits + NPU softmax: 127,081)
    assert ref_dual.attend_cycles == pytest.approx(139_157, rel=0.10)
    assert ref_dual.logits_cycles < 127_081     # softmax is not part of the PIM phase
    assert ref_dual.logits_cycles > 0.75 * 127_081
    assert ref_dual.cycles == ref_dual.logits_cycles + ref_dual.attend_cycles
    assert ref_dual.channel_cycles.max() <= ref_dual.cycles
    e = ref_dual.energy_j
    assert e["total"] == sum(e[k] for k in COMPONENTS)
    assert e["pim_compute"] > 0 and e["pim_io"] > 0


def test_dual_row_buffer_lets_npu_reads_interleave():
    per = [s[:4] for s in reference_batch()[:4]]
    reads = [1_000_000] * 4
    pim_only = simulate_attention(HBM2, per, GPT3_7B_TP4, phase="logits")
    dual = simulate_attention(HBM2, per, GPT3_7B_TP4, phase="logits", row_buffer="dual",
                              npu_read_bytes_per_channel=reads)
    single = simulate_attention(HBM2, per, GPT3_7B_TP4, phase="logits", row_buffer="single",
                                npu_read_bytes_per_channel=reads)
    reads_alone = 1_000_000 / 64 * HBM2.timing.nBL
    # dual: PIM and NPU traffic overlap, far below the serial sum
    assert dual.cycles < 0.8 * (pim_only.cycles + reads_alone)
    # single: PIM blocks the reads, close to serialised
    assert single.cycles > 0.9 * (pim_only.cycles + reads_alone)
    assert single.cycles > dual.cycles
    assert dual.npu_reads_done_cycle is not None and single.npu_reads_done_cycle is not None
    assert dual.npu_reads_done_cycle < single.npu_reads_done_cycle
    assert dual.commands["RD"] == single.commands["RD"] == 4 * 1_000_000 // 64


def test_phases_and_bad_arguments():
    per = [[100, 700], [40]]
    lo = simulate_attention(HBM2, per, GPT3_7B_TP4, phase="logits")
    at = simulate_attention(HBM2, per, GPT3_7B_TP4, phase="attend")
    both = simulate_attention(HBM2, per, GPT3_7B_TP4, phase="both")
    assert both.logits_cycles == lo.cycles and both.attend_cycles == at.cycles
    assert both.cycles == lo.cycles + at.cycles
    with pytest.raises(InputError):
        simulate_attention(HBM2, per, GPT3_7B_TP4, phase="softmax")
    with pytest.raises(InputError):
        simulate_attention(HBM2, [[1]] * 33, GPT3_7B_TP4)
    with pytest.raises(ValueError):
        AttentionShape(heads=0, d_k=128, e_tp=1024)


def test_channel_load_model_and_greedy_assignment():
    # Algorithm 1 by hand: seq 300, E_tp 1024, 8 heads, d_k 128
    # 2*100 + 2*10*184 + 1*8*100 + 1*8*4*184 = 200 + 3680 + 800 + 5888
    assert channel_load(300, e_tp=1024, heads=8, d_k=128) == 10_568
    lens = [2048, 2048, 10, 10, 10, 10, 500]
    ch = assign_channels(lens, 3, e_tp=1024, heads=8, d_k=128)
    assert ch[:3] == [0, 1, 2]
    assert ch[3] == 2 and ch[6] == 2    # the small requests pile onto the light channel
    groups = group_by_channel(lens, ch, 3)
    assert sorted(sum(groups, [])) == sorted(lens)


def test_program_generator_equals_its_twin():
    rng = np.random.default_rng(4)
    lens = rng.integers(1, 3000, 20).astype(np.int64)
    o = HBM2.org
    for phase in (0, 1):
        args = (lens, phase, 8, 128, 1024, 2, o.pseudo_channels, o.bank_groups,
                o.banks_per_group, o.row_bytes, 1024, 16, o.rows)
        empty = np.zeros(0, np.int64)
        n = attention_program(*args, False, empty, empty, empty)
        assert n == attention_program_py(*args, False, empty, empty, empty)
        a = [np.zeros(n, np.int64) for _ in range(3)]
        b = [np.zeros(n, np.int64) for _ in range(3)]
        attention_program(*args, True, *a)
        attention_program_py(*args, True, *b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        assert set(np.unique(a[0]).tolist()) <= {C.GWRITE, C.G_ACT, C.PIM_PRE, C.P_HEADER,
                                                  C.COMPS_READRES}
