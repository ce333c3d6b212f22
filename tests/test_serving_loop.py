"""Serving loop conservation and scheduling properties, on a deterministic cost function."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_support import LinearCost, paged_pool, pim_pool, trace

from sim.serving.metrics import request_rows, summarise, task_rows
from sim.serving.request import ServeRequest, Workload
from sim.serving.scheduler import FINISHED, REJECTED, SchedulerConfig
from sim.serving.simulator import serve


def check_conservation(wl, res, cost, cfg):
    calls = {x.req.id: x for x in res.calls}
    assert set(calls) == {r.id for r in wl.calls}
    for x in res.calls:
        assert x.state in (FINISHED, REJECTED), (x.req.id, x.state)
        if x.state == FINISHED:
            assert x.generated == x.req.output_tokens
            assert x.ready_s <= x.admit_s <= x.first_s <= x.done_s
        else:
            assert x.reason and x.generated == 0
    finished_out = sum(x.req.output_tokens for x in res.calls if x.state == FINISHED)
    assert sum(x.generated for x in res.calls) == finished_out
    assert res.kv_peak_units <= res.kv_capacity_units
    assert all(it.kv_used <= res.kv_capacity_units for it in res.iterations)
    for dec, chans, pre in cost.calls:
        assert 0 < len(dec) + len(pre) <= cfg.max_batch
        if cfg.prefill == "separate":
            assert not (dec and pre)
        if chans is not None:
            assert len(chans) == len(dec)
    # time only moves forward and iterations do not overlap
    for a, b in zip(res.iterations, res.iterations[1:]):
        assert b.t_start_s >= a.t_start_s + a.dur_s - 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 60), seed=st.integers(0, 10_000), cap=st.integers(600, 6000),
       batch=st.integers(1, 24), mode=st.sampled_from(["separate", "mixed"]),
       layout=st.sampled_from(["paged", "pim"]))
def test_every_request_finishes_or_is_reported(n, seed, cap, batch, mode, layout):
    wl = trace(n, seed=seed, rate=400.0, max_prompt=400, max_out=300)
    pool = paged_pool(cap) if layout == "paged" else pim_pool(pages=cap // 10)
    cfg = SchedulerConfig(max_batch=batch, prefill=mode)
    cost = LinearCost()
    res = serve(wl, cost, pool, cfg)
    check_conservation(wl, res, cost, cfg)


def test_tight_memory_preempts_and_still_finishes_everything():
    wl = trace(80, seed=3, rate=1000.0, max_prompt=200, max_out=400)
    cost = LinearCost()
    cfg = SchedulerConfig(max_batch=64)
    res = serve(wl, cost, paged_pool(1200), cfg)
    check_conservation(wl, res, cost, cfg)
    assert res.preemptions > 0
    assert sum(x.preemptions for x in res.calls) == res.preemptions
    assert all(x.state == FINISHED for x in res.calls)


def test_a_request_that_can_never_fit_is_rejected_with_a_reason():
    reqs = (ServeRequest("big", 0.0, 5000, 10), ServeRequest("small", 0.0, 10, 5))
    res = serve(Workload("w", reqs), LinearCost(), paged_pool(2000), SchedulerConfig())
    state = {x.req.id: x for x in res.calls}
    assert state["big"].state == REJECTED and "exceeds the KV capacity" in state["big"].reason
    assert state["small"].state == FINISHED
    figs = {f.name: f.value for f in summarise(res)}
    assert figs["requests_rejected"] == 1 and figs["requests_finished"] == 1


def test_decode_context_grows_by_one_token_per_iteration():
    reqs = (ServeRequest("a", 0.0, 10, 4),)
    cost = LinearCost()
    serve(Workload("w", reqs), cost, paged_pool(1000), SchedulerConfig())
    assert cost.calls == [([], None, [10]), ([11], None, []), ([12], None, []),
                          ([13], None, [])]


def test_timing_follows_the_cost_model_exactly():
    reqs = (ServeRequest("a", 0.5, 10, 3),)
    cost = LinearCost(base=1e-3, per_req=0.0, per_ctx=0.0, per_prefill=1e-4)
    res = serve(Workload("w", reqs), cost, paged_pool(1000), SchedulerConfig())
    row = request_rows(res)[0]
    assert row["ttft_s"] == pytest.approx(1e-3 + 10 * 1e-4)
    assert row["tpot_s"] == pytest.approx(1e-3)
    assert row["e2e_s"] == pytest.approx((1e-3 + 10 * 1e-4) + 2 * 1e-3)  # prefill + 2 decodes


def test_mixed_prefill_joins_decode_iterations():
    wl = trace(30, seed=5, rate=300.0)
    for mode, expect_mixed in (("mixed", True), ("separate", False)):
        cost = LinearCost()
        serve(wl, cost, paged_pool(50_000), SchedulerConfig(max_batch=16, prefill=mode))
        assert any(dec and pre for dec, _, pre in cost.calls) == expect_mixed


def test_shared_prefix_is_prefilled_once():
    reqs = (ServeRequest("a", 0.0, 500, 2, prefix_key="sys", prefix_tokens=400),
            ServeRequest("b", 1.0, 520, 2, prefix_key="sys", prefix_tokens=400))
    cost = LinearCost()
    serve(Workload("w", reqs), cost, paged_pool(10_000), SchedulerConfig())
    prefills = [p for _, _, p in cost.calls if p]
    assert prefills == [[500], [120]]


def agent_workload():
    # two tasks: plan -> (act delay on screen) and two parallel captions -> decide
    reqs = []
    for t in ("0", "1"):
        reqs += [
            ServeRequest(f"{t}/plan", 0.0, 300, 40, task=t),
            ServeRequest(f"{t}/cap1", 0.0, 32, 20, task=t, deps=(f"{t}/plan",)),
            ServeRequest(f"{t}/cap2", 0.0, 32, 25, task=t, deps=(f"{t}/plan",)),
            ServeRequest(f"{t}/act1", 0.0, 0, 0, kind="delay", task=t, seconds=2.0,
                         resource="screen", deps=(f"{t}/plan",)),
            ServeRequest(f"{t}/act2", 0.0, 0, 0, kind="delay", task=t, seconds=1.0,
                         resource="screen", deps=(f"{t}/plan",)),
            ServeRequest(f"{t}/decide", 0.0, 600, 60, task=t,
                         deps=(f"{t}/cap1", f"{t}/cap2", f"{t}/act1", f"{t}/act2")),
        ]
    return Workload("agent", tuple(reqs), kind="agent")


def test_agent_calls_respect_dependencies_and_resource_lanes():
    wl = agent_workload()
    cost = LinearCost()
    cfg = SchedulerConfig(max_batch=8)
    res = serve(wl, cost, paged_pool(20_000), cfg)
    check_conservation(wl, res, cost, cfg)
    done = {x.req.id: x.done_s for x in res.calls}
    done.update({k: v[1] for k, v in res.delays.items()})
    for x in res.calls:
        for d in x.req.deps:
            assert x.admit_s >= done[d] - 1e-12
    for t in ("0", "1"):
        a1, a2 = res.delays[f"{t}/act1"], res.delays[f"{t}/act2"]
        assert a1[1] <= a2[0] or a2[1] <= a1[0]  # same task, same screen: serialised
    # the two tasks' screens are independent lanes: task latency >= plan + 3 s of actions
    tasks = {t["task"]: t for t in task_rows(res)}
    assert set(tasks) == {"0", "1"}
    for t in tasks.values():
        assert t["latency_s"] >= 3.0 and t["energy_total_j"] > 0 and t["calls"] == 4
    figs = {f.name: f.value for f in summarise(res)}
    assert figs["task_latency_p50_s"] >= 3.0
    energy_tasks = sum(t["energy_total_j"] for t in tasks.values())
    assert energy_tasks == pytest.approx(figs["energy_total_j"])


def test_same_input_same_result():
    wl = trace(40, seed=9)
    a = serve(wl, LinearCost(), pim_pool(), SchedulerConfig(max_batch=8))
    b = serve(wl, LinearCost(), pim_pool(), SchedulerConfig(max_batch=8))
    assert request_rows(a) == request_rows(b)


def test_multi_turn_sessions_wait_for_the_previous_turn_plus_think_time():
    from types import SimpleNamespace as R

    from sim.serving.request import from_trace
    rows = [R(id=0, arrival_s=0.0, prompt_tokens=100, output_tokens=50, session=0, turn=0,
              prefix_tokens=0, client=None),
            R(id=1, arrival_s=10.0, prompt_tokens=170, output_tokens=20, session=0, turn=1,
              prefix_tokens=150, client=None)]
    wl = from_trace("mt", rows)
    # a slow device: turn 0 takes longer than the 10 s think time
    cost = LinearCost(base=0.3)
    res = serve(wl, cost, paged_pool(10_000), SchedulerConfig())
    t = {x.req.id: x for x in res.calls}
    assert t["0"].done_s > 10.0
    assert t["1"].ready_s == pytest.approx(t["0"].done_s + 10.0)
    assert [p for _, _, p in cost.calls if p] == [[100], [20]]  # history reused as prefix


def test_closed_loop_clients_send_one_request_at_a_time():
    from types import SimpleNamespace as R

    from sim.serving.request import from_trace
    rows = [R(id=i, arrival_s=0.0, prompt_tokens=10, output_tokens=5, session=None, turn=0,
              prefix_tokens=0, client=i % 2) for i in range(6)]
    res = serve(from_trace("cl", rows), LinearCost(), paged_pool(10_000), SchedulerConfig())
    t = {x.req.id: x for x in res.calls}
    for i in range(2, 6):
        assert t[str(i)].ready_s >= t[str(i - 2)].done_s
    assert max(it.n_decode + it.n_prefill for it in res.iterations) <= 2


def test_a_continued_call_carries_and_reuses_its_parents_context():
    from types import SimpleNamespace as C

    from sim.serving.request import from_calls

    def call(id, prompt, out, deps=(), continues=None, image=0):
        return C(inst=0, id=id, kind="call", role=id, deps=deps, prompt_tokens=prompt,
                 image_tokens=image, output_tokens=out, prefix_key=None, prefix_tokens=0,
                 continues=continues, seconds=None, resource=None, arrival_s=None)

    wl = from_calls("a", [call("decision", 600, 80, image=400),
                          call("memory", 71, 30, deps=("decision",), continues="decision")])
    mem = {r.id: r for r in wl.requests}["0/memory"]
    assert mem.prompt_tokens == 600 + 400 + 80 + 71 and mem.prefix_tokens == 1080
    cost = LinearCost()
    serve(wl, cost, paged_pool(10_000), SchedulerConfig())
    assert [p for _, _, p in cost.calls if p] == [[1000], [71]]


def test_streamed_dependency_starts_before_its_parent_finishes():
    reqs = (ServeRequest("plan", 0.0, 200, 100, task="t"),
            ServeRequest("tool", 0.0, 0, 0, kind="delay", task="t", seconds=0.01,
                         deps=("plan",), after_partial=(("plan", 0.3),)),
            ServeRequest("join", 0.0, 50, 10, task="t", deps=("plan", "tool")))
    res = serve(Workload("s", reqs, kind="agent"), LinearCost(), paged_pool(10_000),
                SchedulerConfig())
    calls = {x.req.id: x for x in res.calls}
    start, _ = res.delays["tool"]
    assert start < calls["plan"].done_s  # dispatched while the plan still streams
    assert calls["join"].admit_s >= calls["plan"].done_s  # a full dependency still waits
    with pytest.raises(ValueError):
        ServeRequest("x", 0.0, 1, 1, deps=("a",), after_partial=(("b", 0.5),))


def test_llmcompiler_template_serves_with_streamed_plans():
    from sim.serving.request import from_calls
    from workloads.agents import expand
    calls = expand("llmcompiler", seed=3, instances=3)
    wl = from_calls("llmcompiler", calls, concurrency=3)
    assert any(r.after_partial for r in wl.requests)
    cost = LinearCost()
    cfg = SchedulerConfig(max_batch=32)
    res = serve(wl, cost, paged_pool(100_000), cfg)
    check_conservation(wl, res, cost, cfg)
