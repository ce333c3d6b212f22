"""neumelt held to DRAMsim3 and Ramulator 2 on the seeded reference traces (figures stored
in tests/data/dram_reference/, produced by the runs the manifest there describes).

Tolerances (issue 14): cycles, bandwidth, ACT/PRE/REF counts and row-hit rate within 2 %,
average read latency within 5 %, p99 read latency within 10 %. Pairs (trace, metric) where the
two models differ by construction are listed per reference in NOT_COMPARABLE with the
reason from the reference's source; every such metric is held to the other reference, except
the three of NEITHER (README.md: why).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bench_support import load_benchmark

from sim.dram.latency import latency_stats
from sim.dram.reference_compare import METRICS, TOLERANCE, neumelt_figures, rel_error
from sim.dram.reference_traces import make_trace, reference_traces, write_dramsim3
from sim.dram.standard import load_standard

REF = Path(__file__).parent / "data" / "dram_reference"
FIGS = {r: json.loads((REF / f"{r}_figures.json").read_text()) for r in ("dramsim3", "ramulator2")}
DS3 = FIGS["dramsim3"]
MANIFEST = json.loads((REF / "manifest.json").read_text())
STD = load_standard("hbm2-neupims")
_SCHED = ("DRAMsim3 schedules round-robin over per-bank command queues and moves one "
          "transaction per cycle into them; neumelt and Ramulator 2 are FR-FCFS, oldest first")
_DRAIN = ("DRAMsim3 drains the whole write buffer once it is full; neumelt and Ramulator 2 "
          "use watermarks 24/8")
_PCBUS = ("Ramulator 2 gives each pseudo-channel its own half of the data bus (a 64 B burst "
          "holds it 4 cycles); neumelt and DRAMsim3 share the 128-bit bus (2 cycles): a stream "
          "that stays in one pseudo-channel for a row moves at half the speed")
_CHANCE = ("row hits in mix64m are chance coincidences of two requests to one row (about 1-2 %); "
           "their count follows queueing, which the bus model changes")
# (trace, metric) not compared with one reference, and why (README.md: the same list)
NOT_COMPARABLE = {
    "dramsim3": {
        **{("random_heavy", m): _SCHED for m in ("cycles", "bandwidth_gb_s",
                                                 "avg_read_latency_cycles",
                                                 "p99_read_latency_cycles")},
        **{("stride4k_heavy", m): _SCHED for m in ("cycles", "bandwidth_gb_s", "ref",
                                                   "avg_read_latency_cycles",
                                                   "p99_read_latency_cycles")},
        **{("mix64m_heavy", m): _DRAIN for m in ("cycles", "bandwidth_gb_s")},
    },
    "ramulator2": {
        **{("seq_heavy", m): _PCBUS for m in ("cycles", "bandwidth_gb_s",
                                              "avg_read_latency_cycles",
                                              "p99_read_latency_cycles")},
        ("seq_light", "avg_read_latency_cycles"): _PCBUS,
        ("bursty_light", "avg_read_latency_cycles"): _PCBUS,
        ("bursty_light", "p99_read_latency_cycles"): _PCBUS,
        ("bursty_heavy", "avg_read_latency_cycles"): _PCBUS,
        ("mix64m_light", "row_hit_rate"): _CHANCE,
    },
}
# matched by neither reference: each reference differs from neumelt on one point of the model
# (DRAMsim3 the write drain, Ramulator 2 the bus), and they disagree with each other on
# row hits (0.0197 vs 0.0160) and p99 (627 vs 442 cycles)
NEITHER = {("mix64m_heavy", m): _DRAIN + "; " + _PCBUS
           for m in ("row_hit_rate", "avg_read_latency_cycles", "p99_read_latency_cycles")}
for _ref in NOT_COMPARABLE.values():
    _ref.update(NEITHER)

NAMES = [t.name for t in reference_traces(n=1)]


@pytest.fixture(scope="module")
def ours():
    return {t.name: neumelt_figures(STD, t) for t in reference_traces()}


def test_manifest_names_the_reference_and_every_trace():
    ds3 = MANIFEST["references"]["dramsim3"]
    assert ds3["repository"] == "https://github.com/umd-memsys/DRAMsim3"
    assert len(ds3["commit"]) == 40
    assert (REF / ds3["config"]).is_file()
    assert sorted(DS3) == sorted(NAMES) == sorted(MANIFEST["traces"]) == sorted(FIGS["ramulator2"])
    ram = MANIFEST["references"]["ramulator2"]
    assert ram["repository"] == "https://github.com/CMU-SAFARI/ramulator2"
    assert len(ram["commit"]) == 40 and (REF / ram["config"]).is_file()
    for name in NAMES:
        raw = json.loads((REF / "dramsim3" / f"{name}.json").read_text())
        assert len(raw["per_channel"]) == 32


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ref", ["dramsim3", "ramulator2"])
def test_neumelt_matches_reference(ref, name, ours):
    want, got = FIGS[ref][name], ours[name]
    bad = []
    checked = 0
    for m in METRICS:
        if (name, m) in NOT_COMPARABLE[ref]:
            continue
        checked += 1
        err = rel_error(got[m], want[m])
        if err > TOLERANCE[m]:
            bad.append(f"{m}: neumelt {got[m]:.4g} vs {ref} {want[m]:.4g} ({100 * err:.1f} %)")
    assert checked >= 3, "too few metrics compared"
    assert not bad, f"{name}: " + "; ".join(bad)


def test_every_metric_is_held_to_a_reference_or_documented():
    readme = (REF / "README.md").read_text()
    for name in NAMES:
        for m in METRICS:
            both_out = all((name, m) in NOT_COMPARABLE[r] for r in FIGS)
            assert not both_out or (name, m) in NEITHER
    for ref, pairs in NOT_COMPARABLE.items():
        for name, metric in pairs:
            assert f"{name} {metric}" in readme or f"`{name}` {metric}" in readme, (ref, name)


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
    table = subprocess.run([sys.executable, "-m", "neumelt", "sim", "dram", "--trace", str(p),
                            "--no-store"], capture_output=True, text=True, check=True).stdout
    assert "p99 read latency" in table and "latency per channel" in table
    assert f"{d['p99_read_latency_cycles']:g}" in table.replace(",", "")


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


def test_ramulator2_stream_through_neumelt_checker():
    """Ramulator 2's command trace (CmdTraceRecorder) through sim/checker, each ACT at its second
    command-bus cycle (Ramulator 2's 2-cycle ACT): no bank, bank-group or rank timing rule is
    broken; what remains are its separate row/column command buses and per-pseudo-channel
    data buses (README, difference 4)."""
    from collections import Counter

    from sim.checker.timing import check_log
    from sim.dram import commands as C

    with __import__("gzip").open(REF / "ramulator2_commands" / "mix64m_heavy.csv.gz", "rt") as fh:
        log = np.loadtxt(fh, delimiter=",", skiprows=1, dtype=np.int64)
    assert len(log) == 18606 and {C.ACT, C.PRE, C.RD, C.WR} <= set(log[:, 1].tolist())
    log[log[:, 1] == C.ACT, 0] += 1
    got = Counter(v.rule for v in check_log(STD, log, check_refresh=False))
    assert got and set(got) <= {"command bus", "nBL+nRTRS", "data bus", "RD->WR other rank"}, got
    assert "command bus" in got        # a row and a column command in one cycle


def test_fidelity_benchmark_json(capsys):
    assert load_benchmark("dram_fidelity").main(["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["fidelity"]
    assert len(rows) == len(NAMES) * len(METRICS) and "speed" not in out
    assert set(out["provenance"]) == {"neumelt", "dramsim3", "ramulator2"}
    for r in rows:
        for ref in FIGS:
            assert r[ref] == FIGS[ref][r["trace"]][r["metric"]]
            assert r[f"error_vs_{ref}_pct"] == pytest.approx(
                100 * rel_error(r["neumelt"], r[ref]), abs=0.01)


def test_fidelity_benchmark_rejects_a_missing_binary(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        load_benchmark("dram_fidelity").main(["--no-fidelity", "--rounds", "1", "--dramsim3",
                       f"{tmp_path / 'nope'} {tmp_path / 'cfg.ini'}"])
    assert e.value.code == 2
    assert "--dramsim3" in capsys.readouterr().err
