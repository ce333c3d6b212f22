"""neumelt held to DRAMsim3 on the seeded reference traces (figures stored in
tests/data/dram_reference/, produced by the runs the manifest there describes).

Tolerances (issue 14): cycles, bandwidth, ACT/PRE/REF counts and row-hit rate within 2 %,
average read latency within 5 %, p99 read latency within 10 %. Pairs (trace, metric) where the
two models differ by construction are listed in NOT_COMPARABLE with the reason from
DRAMsim3's source; they are compared against nothing here (README.md: why, and which
reference models that point like neumelt).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.dram.latency import latency_stats
from sim.dram.reference_compare import METRICS, TOLERANCE, neumelt_figures, rel_error
from sim.dram.reference_traces import make_trace, reference_traces, write_dramsim3
from sim.dram.standard import load_standard

REF = Path(__file__).parent / "data" / "dram_reference"
DS3 = json.loads((REF / "dramsim3_figures.json").read_text())
MANIFEST = json.loads((REF / "manifest.json").read_text())
STD = load_standard("hbm2-neupims")
_SCHED = ("DRAMsim3 schedules round-robin over per-bank command queues and moves one "
          "transaction per cycle into them; neumelt is FR-FCFS, oldest first")
_DRAIN = ("DRAMsim3 drains the whole write buffer once it is full; neumelt (and Ramulator 2) "
          "use watermarks 24/8")
NOT_COMPARABLE = {
    ("random_heavy", m): _SCHED for m in ("cycles", "bandwidth_gb_s", "avg_read_latency_cycles",
                                          "p99_read_latency_cycles")
} | {
    ("stride4k_heavy", m): _SCHED for m in ("cycles", "bandwidth_gb_s", "ref",
                                            "avg_read_latency_cycles", "p99_read_latency_cycles")
} | {
    ("mix64m_heavy", m): _DRAIN for m in ("cycles", "bandwidth_gb_s", "act", "pre_bank",
                                          "avg_read_latency_cycles", "p99_read_latency_cycles")
} | {("mix64m_light", "row_hit_rate"): _DRAIN}

NAMES = [t.name for t in reference_traces(n=1)]
COMPARED = NAMES


@pytest.fixture(scope="module")
def ours():
    return {t.name: neumelt_figures(STD, t) for t in reference_traces()}


def test_manifest_names_the_reference_and_every_trace():
    ds3 = MANIFEST["references"]["dramsim3"]
    assert ds3["repository"] == "https://github.com/umd-memsys/DRAMsim3"
    assert len(ds3["commit"]) == 40
    assert (REF / ds3["config"]).is_file()
    assert sorted(DS3) == sorted(NAMES) == sorted(MANIFEST["traces"])
    for name in NAMES:
        raw = json.loads((REF / "dramsim3" / f"{name}.json").read_text())
        assert len(raw["per_channel"]) == 32


@pytest.mark.parametrize("name", COMPARED)
def test_neumelt_matches_dramsim3(name, ours):
    ref, got = DS3[name], ours[name]
    checked = 0
    bad = []
    for m in METRICS:
        if m not in ref or (name, m) in NOT_COMPARABLE:
            continue
        checked += 1
        err = rel_error(got[m], ref[m])
        if err > TOLERANCE[m]:
            bad.append(f"{m}: neumelt {got[m]:.4g} vs DRAMsim3 {ref[m]:.4g} ({100 * err:.1f} %)")
    assert checked >= 2, "too few metrics compared"
    assert not bad, f"{name}: " + "; ".join(bad)


def test_every_exclusion_is_documented():
    readme = (REF / "README.md").read_text()
    for name, metric in NOT_COMPARABLE:
        assert name in readme and metric in readme


def test_stored_act_counts_are_the_raw_stats():
    # the figures are derived from the stored raw per-channel stats, not typed in
    for name in NAMES:
        raw = json.loads((REF / "dramsim3" / f"{name}.json").read_text())["per_channel"]
        assert sum(c["num_act_cmds"] for c in raw.values()) == DS3[name]["act"]
        hits = sum(c["num_read_row_hits"] + c["num_write_row_hits"] for c in raw.values())
        cols = sum(c["num_read_cmds"] + c["num_write_cmds"] for c in raw.values())
        assert hits / cols == pytest.approx(DS3[name]["row_hit_rate"])


def test_traces_are_deterministic_and_in_range():
    a, b = make_trace("random", "heavy"), make_trace("random", "heavy")
    assert np.array_equal(a.address, b.address) and np.array_equal(a.arrival, b.arrival)
    for t in reference_traces():
        assert t.address.max() < STD.org.capacity_bytes and t.address.min() >= 0
        assert np.all(np.diff(t.arrival) >= 0)
    mix = make_trace("mix64m", "light")
    assert mix.address.max() < 64 << 20 and abs(mix.is_write.mean() - 1 / 3) < 0.01


def test_latency_stats_by_hand():
    # two channels; reads 10, 20, 30 cycles on ch 0, a write of 50 on ch 1
    s = latency_stats([0, 5, 10, 0], [10, 25, 40, 50], [False, False, False, True],
                      [0, 0, 0, 1], 2, 100, 1.0, bin_cycles=10, nbins=4)
    assert s.read.avg_cycles == 20 and s.read.max_cycles == 30 and s.read.p50_cycles == 20
    assert s.write.count == 1 and s.write.avg_cycles == 50
    assert s.avg_queue_occupancy_requests == pytest.approx((60 + 50) / 200)
    assert s.read_histogram == [0, 1, 1, 1] and s.write_histogram == [0, 0, 0, 1]
    assert [c["channel"] for c in s.per_channel] == [0, 1]


def test_sim_dram_json_has_latency_keys(tmp_path):
    t = make_trace("bursty", "light", n=3000)
    p = tmp_path / "b.trace"
    write_dramsim3(t, p)
    out = subprocess.run([sys.executable, "-m", "neumelt", "sim", "dram", "--trace", str(p),
                          "--json", "--no-store"], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    for k in ("avg_read_latency_cycles", "p50_read_latency_cycles", "p95_read_latency_ns",
              "p99_read_latency_ns", "max_read_latency_cycles", "avg_queue_occupancy_requests"):
        assert k in d
    assert d["p99_read_latency_cycles"] >= d["p50_read_latency_cycles"] >= 30  # >= nRCD+nCL+nBL
    assert d["avg_read_latency_ns"] == pytest.approx(d["avg_read_latency_cycles"])  # 1 GHz
    assert sum(d["latency_histogram"]["reads"]) == 3000
    assert len(d["latency_per_channel"]) == 32


TABLES = json.loads((REF / "dramsim3_timing_tables.json").read_text())


def _log(name):
    from sim.dram.engine import simulate_requests
    from sim.dram.reference_compare import CONTROLLER
    from sim.dram.reference_traces import MAPPING

    p, lv = name.split("_")
    t = make_trace(p, lv, n=8000)
    return simulate_requests(STD, t.arrival, t.address, t.is_write, mapping=MAPPING,
                             controller=CONTROLLER, log_capacity=80_000).command_log


@pytest.mark.parametrize("name", ["random_heavy", "mix64m_heavy", "seq_light"])
def test_command_log_obeys_dramsim3_timing_tables(name):
    from sim.checker.table_check import check_against_tables

    log = _log(name)
    assert len(log) > 8000
    assert check_against_tables(log, TABLES) == []


def test_table_check_catches_an_early_command():
    from sim.checker.table_check import check_against_tables
    from sim.dram import commands as C

    log = _log("random_heavy").copy()
    # the first RD after an ACT of its bank, one cycle before tRCDRD (14) has passed
    acts = np.nonzero(log[:, 1] == C.ACT)[0]
    a = acts[0]
    same = ((log[:, 2] == log[a, 2]) & (log[:, 3] == log[a, 3]) & (log[:, 4] == log[a, 4])
            & (log[:, 7] == log[a, 7]) & (log[:, 1] == C.RD))
    rd = np.nonzero(same & (np.arange(len(log)) > a))[0][0]
    log[rd, 0] = log[a, 0] + TABLES["same_bank"]["ACTIVATE"]["READ"] - 1
    v = check_against_tables(log, TABLES)
    assert [(x.command, x.rule) for x in v] == [("READ", "table")]
    assert v[0].earliest == log[a, 0] + 14


def _ds3_stream(name):
    import gzip

    with gzip.open(REF / "dramsim3_commands" / f"{name}.csv.gz", "rt") as fh:
        return np.loadtxt(fh, delimiter=",", skiprows=1, dtype=np.int64)


def test_dramsim3_stream_through_neumelt_checker():
    """DRAMsim3's own command trace (-DCMD_TRACE build) replayed through sim/checker: clean on
    a read stream; with writes, only the two rules DRAMsim3's tables set looser (README)."""
    from collections import Counter

    from sim.checker.timing import check_log

    seq = _ds3_stream("seq_heavy")
    assert len(seq) == 21476
    assert check_log(STD, seq, check_refresh=False) == []
    mix = _ds3_stream("mix64m_heavy")
    got = Counter(v.rule for v in check_log(STD, mix, check_refresh=False))
    assert set(got) == {"nBL+nRTRS", "RD->WR turnaround"}, got
