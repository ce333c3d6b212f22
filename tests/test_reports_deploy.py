"""Deployment decisions: budgets, verdicts, ranking, provenance; sweep Pareto fronts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reports_support import add_profile_run, add_sim_run, add_sweep_run

from neumelt.store import Metric, Sample, Store
from reports.api import build_report
from reports.deploy_report import Budgets
from reports.sweep_report import pareto


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.db")
    yield s
    s.close()


def _cands(report):
    return report.meta["candidates"]


def test_budgets_decide_verdicts_and_rank(store):
    ids = [add_sim_run(store, d) for d in ("gpu", "npu", "neupims")]
    phone = add_profile_run(store, device="pixel", throttle=True)
    report = build_report(store, "deploy", ids + [phone],
                          budgets=Budgets(max_ttft_s=0.075, min_tps=28, ram_headroom=0.3))
    by = {c.target: c for c in _cands(report)}
    # per-request decode speed of a simulated server is 1 / TPOT p50 (gpu 25 tok/s)
    assert by["gpu"].tps.value == pytest.approx(25.0)
    assert by["gpu"].system_tps.value == pytest.approx(1000.0)
    assert by["gpu"].verdict == "infeasible"
    assert by["gpu"].checks["TTFT"] == "fail" and by["gpu"].checks["decode"] == "fail"
    assert by["npu"].verdict == "feasible" and by["neupims"].verdict == "feasible"
    assert by["pixel (android)"].checks["TTFT"] == "fail"  # ~0.4 s measured > 0.075 s
    assert by["pixel (android)"].tps.provenance == "measured"
    # like for like: the phone runs SmolLM2, the designs gpt3-7b: two groups
    groups = report.meta["groups"]
    assert [len(g.candidates) for g in groups] == [3, 1]
    order = [c.target for c in groups[0].candidates]
    assert order == ["neupims", "npu", "gpu"]  # feasible first, faster first
    assert groups[0].best.target == "neupims"
    assert "70.0 tok/s (simulated) vs 30.0 tok/s for npu" in groups[0].reason
    assert "(+133.3 %)" in groups[0].reason
    assert ("ruled out: gpu (f16) misses decode 25.0 tok/s vs ≥ 28.0 tok/s (misses by 11 %)"
            in groups[0].reason)  # its worst miss (TTFT is over by 7 %)
    assert groups[1].best is None and "pixel" in groups[1].reason
    assert report.primary_table().rows[0][:5] == (1, 1, "feasible", "design", "neupims")
    # whole memory per device: weights (catalog) + KV at its simulated peak + activations
    m = by["npu"].memory
    assert m.weights.value == pytest.approx(13.4e9) and m.weights.provenance == "estimated"
    assert m.kv.value == pytest.approx(0.4 * 18e9) and m.kv.provenance == "simulated"
    assert m.runtime.value == pytest.approx(65536 * 8192)
    assert m.total.value == pytest.approx(13.4e9 + 7.2e9 + 65536 * 8192)
    assert m.capacity.value == pytest.approx(18e9 + 13.4e9)
    head = by["npu"].headroom
    assert head.provenance == "estimated"
    assert head.value == pytest.approx(100 * (1 - m.total.value / m.capacity.value))
    # the phone: VmHWM against the device's RAM, both measured
    head = by["pixel (android)"].headroom
    assert head.provenance == "measured"
    assert head.value == pytest.approx(100 * (1 - 2.0e8 / 8 / 2 ** 30))


def test_unavailable_energy_makes_a_candidate_unverified_not_feasible(store):
    phone = add_profile_run(store, device="pixel")
    report = build_report(store, "deploy", [phone], budgets=Budgets(max_j_per_task=50))
    (c,) = _cands(report)
    assert c.j_per_task is not None and not c.j_per_task.available
    assert c.checks["energy"] == "unknown" and c.verdict == "unverified"
    html_rows = report.primary_table().rows[0]
    assert html_rows[11].text() == "unavailable (measured)"  # energy / task


def test_simulated_energy_per_task_is_estimated_from_task_tokens(store):
    sim = add_sim_run(store, "neupims")
    phone = add_profile_run(store, device="pixel")
    report = build_report(store, "deploy", [sim, phone], budgets=Budgets())
    c = next(c for c in _cands(report) if c.target == "neupims")
    tokens = sum(d["output_tokens"] for _, _, d in store.records(phone, "calls")
                 if not d["warmup"])
    assert c.j_per_task.provenance == "estimated"
    assert c.j_per_task.value == pytest.approx((0.35 + 0.12 + 0.2) * tokens)
    assert "prefill energy not included" in c.j_per_task.source


def test_thermal_throttling_is_detected_from_sustained_decode_speed(store):
    hot = add_profile_run(store, device="hot", throttle=True, seed=3)
    cool = add_profile_run(store, device="cool", throttle=False, seed=3)
    report = build_report(store, "deploy", [hot, cool], budgets=Budgets(max_temp_c=44.0))
    by = {c.target.split(" (")[0]: c for c in _cands(report)}
    assert by["hot"].thermal.sustained_ratio.value < 0.85
    assert "decode speed fell" in by["hot"].thermal.verdict
    assert "see the temperature trace" in by["hot"].thermal.verdict
    assert "sustained" in by["cool"].thermal.verdict
    assert by["hot"].thermal.peak.value > 44.0 and by["hot"].checks["thermal"] == "fail"


def test_memory_that_does_not_fit_fails_even_without_budgets(store):
    rid = store.start_run("profile", {"device": "local", "model": "llama-7b"})
    store.set_run_info(rid, "ram_total_bytes", 4 * 2 ** 30)
    store.add_samples(rid, [Sample("psutil", "rss_bytes", float(t), 4.5 * 2 ** 30, "B")
                            for t in range(3)])
    store.add_metrics(rid, [Metric("decode_tok_s", 3.0, "tok/s", "measured", "host")])
    (c,) = _cands(build_report(store, "deploy", [rid]))
    assert c.target == f"{store.get_run(rid).host} (local)"
    assert c.mem_required.value == 4.5 * 2 ** 30 and c.mem_required.provenance == "measured"
    assert c.checks == {"memory": "fail"} and c.verdict == "infeasible"


def test_rank_by_energy_and_bad_rank_key(store):
    ids = [add_sim_run(store, d) for d in ("gpu", "npu", "neupims")]
    report = build_report(store, "deploy", ids, rank_by="energy", task_tokens=(100, "test"))
    energies = [c.j_per_task.value for c in _cands(report)]
    assert energies == sorted(energies)
    from neumelt.errors import InputError

    with pytest.raises(InputError):
        build_report(store, "deploy", ids, rank_by="vibes")


def test_sweep_front_matches_brute_force(store):
    rid = add_sweep_run(store, n=40)
    report = build_report(store, "sweep", [rid])
    front = report.primary_table()
    assert front.columns[1:4] == ("throughput_tokens_per_s", "energy_per_token_j",
                                  "memory_area_rel")  # the spec's objectives, in order
    pts = [d for _, _, d in store.records(rid, "point") if d["status"] == "ok"]
    best = max(p["metrics"]["throughput_tokens_per_s"]["value"] for p in pts)
    assert front.rows[0][1].value == pytest.approx(best)  # sorted best first
    assert front.rows[0][1].provenance == "simulated"
    assert front.rows[0][3].provenance == "estimated"  # the area proxy keeps its provenance
    assert "1 failed, left out" in report.summary[0]
    assert len(report.plots()) == 2


vec = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20))


@settings(max_examples=60, deadline=None)
@given(st.lists(vec, min_size=1, max_size=25))
def test_pareto_front_is_exactly_the_non_dominated_set(points):
    pts = [{"t": a, "e": b, "c": c} for a, b, c in points]
    objectives = [("t", "max"), ("e", "min"), ("c", "min")]
    front = set(pareto(pts, objectives))

    def dominates(p, q):
        ge = p["t"] >= q["t"] and p["e"] <= q["e"] and p["c"] <= q["c"]
        return ge and (p["t"] > q["t"] or p["e"] < q["e"] or p["c"] < q["c"])

    for i, p in enumerate(pts):
        dominated = any(dominates(q, p) for j, q in enumerate(pts) if j != i)
        assert (i in front) == (not dominated)


# -- like for like, whole memory, honest energy ------------------------------------

def test_acceptable_models_share_a_group_with_their_trade_off_stated(store):
    ids = [add_sim_run(store, d) for d in ("npu", "neupims")]
    phone = add_profile_run(store, device="pixel")
    b = Budgets(max_ttft_s=1.0, min_tps=20)
    apart = build_report(store, "deploy", ids + [phone], budgets=b)
    assert [g.models for g in apart.meta["groups"]] == [
        ("gpt3-7b",), ("SmolLM2-135M-Instruct.Q4_1",)]
    assert not any(s.title.startswith("Mixed") for s in apart.sections)
    together = build_report(store, "deploy", ids + [phone], budgets=b,
                            accept_models=["gpt3-7b=0.62,smollm2-135m"])
    (g,) = together.meta["groups"]
    assert len(g.candidates) == 3 and g.best.target == "pixel (android)"  # 80 tok/s
    assert "gpt3-7b: quality 0.62 (user-given), 12.5 GiB of weights per device" in g.tradeoff
    assert "smollm2-135m: quality not given" in g.tradeoff
    mixed = build_report(store, "deploy", ids + [phone], budgets=b, mixed=True)
    sec = next(s for s in mixed.sections if s.title.startswith("Mixed comparison"))
    assert "not like for like" in sec.title and len(sec.blocks[1].rows) == 3


def test_energy_is_ranked_only_where_comparable(store):
    pims = [add_sim_run(store, d) for d in ("npu-pim", "neupims")]
    report = build_report(store, "deploy", pims, rank_by="energy", task_tokens=(100, "test"))
    (g,) = report.meta["groups"]
    assert g.energy_comparable and "dynamic energies only" in g.energy_reason
    assert [c.target for c in g.candidates] == ["neupims", "npu-pim"]  # 0.67 < 0.85 J/token
    assert "lower energy per task than the other candidate" in g.reason
    assert any(p.title.startswith("Energy per agent task") for p in report.plots())
    mixed = [add_sim_run(store, d) for d in ("gpu", "npu")]
    report = build_report(store, "deploy", mixed, rank_by="energy", task_tokens=(100, "test"))
    (g,) = report.meta["groups"]
    assert not g.energy_comparable
    assert g.energy_reason == ("npu price dynamic energy only (their models have no "
                               "static/leakage power); gpu includes static power (27 % of "
                               "gpu's figure)")
    assert [c.target for c in g.candidates] == ["npu", "gpu"]  # by decode speed instead
    assert "ranked by decode speed instead" in " ".join(g.notes)
    table = next(t for t in report.tables() if t.title == "Candidates of group 1")
    assert table.rows[0][7] == "not comparable (see energy note)"
    assert not any(p.title.startswith("Energy per agent task") for p in report.plots())


def test_comparability_needs_same_provenance_and_components():
    from reports.deploy_energy import EnergyBasis, comparability

    sim = EnergyBasis("simulated", ("dram", "npu_mac"), False)
    assert comparability([("a", sim), ("b", sim)]).comparable
    assert not comparability([("a", sim), ("b", EnergyBasis("simulated", ("dram",), False))
                              ]).comparable
    meas = EnergyBasis("measured", ("whole device (power sensor)",), True)
    c = comparability([("npu", sim), ("phone", meas)])
    assert not c.comparable and c.reason.startswith("mixed provenance")


def test_energy_under_budget_without_static_power_proves_nothing(store):
    npu = add_sim_run(store, "npu")  # 1.1 J/token, dynamic only
    (c,) = _cands(build_report(store, "deploy", [npu], task_tokens=(100, "test"),
                               budgets=Budgets(max_j_per_task=500)))
    assert c.j_per_task.value == pytest.approx(110.0)
    assert c.checks["energy"] == "unknown" and c.verdict == "unverified"
    (c,) = _cands(build_report(store, "deploy", [npu], task_tokens=(100, "test"),
                               budgets=Budgets(max_j_per_task=50)))
    assert c.checks["energy"] == "fail"  # even the lower bound is over


def test_measured_device_memory_is_broken_down(store):
    phone = add_profile_run(store, device="pixel")
    store.set_run_info(phone, "model_file", {"file": "m.gguf", "bytes": 9.0e7,
                                             "kv_bytes_per_token": 30720})
    store.set_run_info(phone, "load.0", {"n_ctx": 2048, "load_s": 0.3})
    (c,) = _cands(build_report(store, "deploy", [phone]))
    m = c.memory
    assert m.weights.value == 9.0e7 and m.weights.provenance == "measured"
    assert m.kv.value == 2048 * 30720 and m.kv.provenance == "estimated"
    assert m.total.value == 2.0e8 and m.total.provenance == "measured"  # peak RSS
    assert m.runtime.value == pytest.approx(2.0e8 - 9.0e7 - 2048 * 30720)
    assert m.capacity.value == 8 * 2 ** 30


def test_phase_timeline_of_the_measured_device(store):
    phone = add_profile_run(store, device="pixel")
    report = build_report(store, "deploy", [phone])
    sec = next(s for s in report.sections if s.title.startswith("Measured device"))
    table = sec.blocks[0]
    assert table.columns[2:5] == ("prefill", "decode", "tool wait")
    prefill, decode, wait = (q.value for q in table.rows[0][2:5])
    assert wait == pytest.approx(5 * 0.3)  # the five tool waits of the fixture
    calls = [d for _, _, d in store.records(phone, "calls") if not d["warmup"]]
    assert prefill == pytest.approx(sum(d["t_first_s"] - d["t_start_s"] for d in calls))
    assert decode == pytest.approx(sum(d["t_end_s"] - d["t_first_s"] for d in calls))
    fig = sec.blocks[1].figure
    assert {t.y[0] for t in fig.data} == {"prefill", "decode", "tool wait"}
    assert fig.layout.xaxis.title.text == "time since the first call (s, host clock)"


def test_a_real_serving_run_reports_whole_memory_against_the_hbm(store):
    from sim.serving.run import ServingRunConfig, execute, record
    from workloads.models import load_model

    rid = record(store, execute(ServingRunConfig(design="npu", model="gpt3-7b",
                                                 workload="mobile-agent-v2", requests=1)))
    (c,) = _cands(build_report(store, "deploy", [rid]))
    m = c.memory
    devices = store.get_run(rid).info["devices"]
    assert m.devices == devices
    assert m.weights.value == pytest.approx(load_model("gpt3-7b").weight_bytes("f16") / devices)
    kv_pool = next(x.value for x in store.metrics(rid) if x.name == "kv_capacity_bytes")
    # the simulator placed the weights first; the KV pool is the rest of the HBM
    assert m.weights.value + kv_pool == pytest.approx(m.capacity.value, rel=1e-4)
    assert 0 < m.kv.value < kv_pool and m.runtime.value > 0
    assert m.total.value == pytest.approx(m.weights.value + m.kv.value + m.runtime.value)
    assert c.quant == "f16" and c.energy.static is False
