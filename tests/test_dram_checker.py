"""Independent timing checker: zero violations on >= 100,000 engine commands per preset and
row-buffer mode (random + adversarial streams, with PIM), and planted violations are found."""

from __future__ import annotations

import numpy as np
import pytest
from dram_support import channel_log, pim_mixed_log, random_channel_requests

from sim.checker import check_log
from sim.dram import commands as C
from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.standard import load_standard

STDS = {name: load_standard(name) for name in ("hbm2-neupims", "hbm3")}


def _random_dram_log(std, row_buffer, n, seed, policy, **kw):
    a, w, b, r, c = random_channel_requests(std, n, seed, **kw)
    out = run_channel(std, ControllerConfig(page_policy=policy), row_buffer, a, w, b, r, c,
                      log_capacity=20 * n)
    return channel_log(out)


@pytest.mark.parametrize("name", sorted(STDS))
@pytest.mark.parametrize("row_buffer", ["single", "dual"])
def test_zero_violations_over_100k_commands(name, row_buffer):
    std = STDS[name]
    logs = [
        # random mixed traffic, open and closed page
        _random_dram_log(std, row_buffer, 15_000, 1, "open"),
        _random_dram_log(std, row_buffer, 6_000, 2, "closed"),
        # adversarial: one bank group, many rows (conflicts), write-heavy, back-to-back
        _random_dram_log(std, row_buffer, 6_000, 3, "open", banks=std.org.banks_per_group,
                         rows=64, write_frac=0.6, gap=0),
        # PIM program with sequential and random NPU reads sharing the channel
        pim_mixed_log(std, row_buffer, [700, 90, 1500, 33], 400_000, 4,
                      random_reads=3_000, phase=0)[1],
        pim_mixed_log(std, row_buffer, [1100, 600], 200_000, 5, random_reads=2_000,
                      phase=1)[1],
    ]
    total = sum(len(g) for g in logs)
    assert total >= 100_000
    for lg in logs:
        assert {C.ACT, C.RD}.issubset(set(lg[:, 1].tolist()))
        v = check_log(std, lg, row_buffer)
        assert v == [], v[:5]
    pim_codes = set(logs[3][:, 1].tolist())
    assert {C.GWRITE, C.G_ACT, C.COMPS_READRES, C.PIM_PRE, C.REF}.issubset(pim_codes)


def test_planted_violations_are_reported():
    std = STDS["hbm2-neupims"]
    lg = _random_dram_log(std, "dual", 400, 9, "open")
    assert check_log(std, lg) == []
    t = std.timing
    # 1. move the first RD that directly follows its ACT one cycle too early
    acts = np.nonzero(lg[:, 1] == C.ACT)[0]
    for i in acts:
        j = np.nonzero((lg[:, 1] == C.RD) & (lg[:, 2] == lg[i, 2]) & (lg[:, 3] == lg[i, 3])
                       & (lg[:, 4] == lg[i, 4]) & (np.arange(len(lg)) > i))[0]
        if len(j) and lg[j[0], 0] == lg[i, 0] + t.nRCDRD:
            break
    bad = lg.copy()
    bad[j[0], 0] = lg[i, 0] + t.nRCDRD - 1
    rules = {v.rule for v in check_log(std, bad[np.argsort(bad[:, 0], kind="stable")])}
    assert "nRCDRD" in rules
    # 2. a RD to a row that is not open
    bad = lg.copy()
    k = int(np.nonzero(bad[:, 1] == C.RD)[0][5])
    bad[k, 5] += 1
    assert "row not open" in {v.rule for v in check_log(std, bad)}
    # 3. a fifth ACT inside one nFAW window (spaced nRRD_L = 6 apart: only nFAW binds)
    acts = [(r0, g, b) for r0 in range(1) for g in range(4) for b in range(2)]
    rows = [[6 * i, C.ACT, r0, g, b, i, -1, 0] for i, (r0, g, b) in enumerate(acts[:5])]
    five = np.array(rows, dtype=np.int64)
    rules = [v.rule for v in check_log(std, five)]
    assert "nFAW" in rules and rules.count("nFAW") == 1
    # 4. PIM: a COMPS_READRES before the bank groups' rows are open
    pim = np.array([[0, C.G_ACT, 0, 0, -1, 5, -1, 0],
                    [20, C.COMPS_READRES, -1, -1, -1, -1, 8, 0]], dtype=np.int64)
    rules = {v.rule for v in check_log(std, pim)}
    assert "PIM rows not open" in rules


def _perturbed_standard(tmp_path, seed):
    """A consistent but unusual timing table (same rules as hbm2-neupims)."""
    rng = np.random.default_rng(seed)
    t = {"nBL": int(rng.integers(1, 5)), "nCL": int(rng.integers(5, 30)),
         "nCWL": int(rng.integers(2, 12)), "nRCDRD": int(rng.integers(5, 30)),
         "nRCDWR": int(rng.integers(5, 30)), "nRP": int(rng.integers(5, 30)),
         "nRRD_S": int(rng.integers(1, 8)), "nWR": int(rng.integers(5, 30)),
         "nCCD_S": int(rng.integers(1, 4)), "nWTR_S": int(rng.integers(1, 8)),
         "nRTP_S": int(rng.integers(1, 8)), "nRTRS": int(rng.integers(0, 3)),
         "nRFC": int(rng.integers(50, 400))}
    t["nRAS"] = max(t["nRCDRD"], t["nRCDWR"]) + int(rng.integers(1, 30))
    t["nRC"] = t["nRAS"] + t["nRP"] + int(rng.integers(0, 10))
    t["nRRD_L"] = t["nRRD_S"] + int(rng.integers(0, 4))
    t["nFAW"] = 4 * t["nRRD_S"] + int(rng.integers(0, 30))
    t["nCCD_L"] = t["nCCD_S"] + int(rng.integers(0, 3))
    t["nWTR_L"] = t["nWTR_S"] + int(rng.integers(0, 6))
    t["nRTP_L"] = t["nRTP_S"] + int(rng.integers(0, 4))
    t["nREFI"] = t["nRFC"] * int(rng.integers(3, 20))
    p = tmp_path / f"perturbed{seed}.yaml"
    p.write_text(f"name: perturbed{seed}\nbase: hbm2-neupims\ntiming:\n"
                 + "".join(f"  {k}: {v}\n" for k, v in t.items()))
    return load_standard(str(p))


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("row_buffer", ["single", "dual"])
def test_engine_is_clean_under_perturbed_timing_tables(tmp_path, seed, row_buffer):
    std = _perturbed_standard(tmp_path, seed)
    lg = _random_dram_log(std, row_buffer, 3_000, seed, "open", rows=6)
    assert check_log(std, lg, row_buffer) == []
    lg = pim_mixed_log(std, row_buffer, [400, 1200], 150_000, seed, random_reads=800,
                       phase=seed % 2)[1]
    assert check_log(std, lg, row_buffer) == []
