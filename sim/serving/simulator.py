"""The serving loop: arrivals and dependencies in, one iteration at a time, metrics out.

``serve(workload, cost_model, pool, config)`` advances a simulated clock (integer
nanoseconds) from iteration to iteration. Between iterations it releases requests
whose arrival time has passed and whose dependencies have finished, runs agent
delays on their resource lanes (one lane per task and resource, so two ``screen``
actions of one task never overlap), asks the :class:`~sim.serving.scheduler.Scheduler`
for the next batch and the cost model for its price. Each iteration's energy is split
over the requests in it in proportion to the tokens each one computed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from neumelt.errors import RunError
from sim.serving.cost import CostModel
from sim.serving.kv import KVPool
from sim.serving.request import Workload
from sim.serving.scheduler import FINISHED, REJECTED, Batch, Live, Scheduler, SchedulerConfig

NS = 1_000_000_000


@dataclass(frozen=True)
class IterationLog:
    """One iteration: start and duration (s), decode/prefill counts, tokens computed,
    KV units in use after it, utilisation by unit (0..1), energy (J) and the
    roofline-optimal time of the same work (s) where the design reports it."""

    t_start_s: float
    dur_s: float
    n_decode: int
    n_prefill: int
    prefill_tokens: int
    kv_used: int
    utilisation: dict[str, float]
    energy_j: float
    optimum_s: float | None = None
    time_s: dict[str, float] = field(default_factory=dict)  # breakdown part -> seconds


@dataclass
class ServingResult:
    """Everything a serving run produced; ``metrics.summarise`` turns it into figures."""

    workload: str
    source: str
    calls: list[Live]
    delays: dict[str, tuple[float, float]]  # id -> (start_s, end_s)
    iterations: list[IterationLog]
    makespan_s: float
    energy_j: dict[str, float]
    kv_capacity_units: int
    kv_peak_units: int
    kv_unit_bytes: int
    kv_layout: str
    preemptions: int
    fidelities: list[str] = field(default_factory=list)
    memo_hits: int = 0
    memo_misses: int = 0
    task_span_s: dict[str, tuple[float, float]] = field(default_factory=dict)


def serve(workload: Workload, cost_model: CostModel, pool: KVPool, config: SchedulerConfig,
          progress: Callable[[int], None] | None = None,
          max_iterations: int | None = None) -> ServingResult:
    """Serve ``workload`` to completion (or ``max_iterations``); see the module doc."""
    sched = Scheduler(config, pool)
    reqs = workload.requests
    index = {r.id: i for i, r in enumerate(reqs)}
    n_deps = [len(r.deps) for r in reqs]
    dependents: list[list[int]] = [[] for _ in reqs]
    for i, r in enumerate(reqs):
        for d in r.deps:
            dependents[index[d]].append(i)
    lives: dict[int, Live] = {}
    dep_done_s = [0.0] * len(reqs)

    # ready queue: (ready_time_ns, seq, idx); delays in flight: (end_ns, seq, idx)
    ready: list[tuple[int, int, int]] = []
    delays: list[tuple[int, int, int]] = []
    lanes: dict[tuple[str, str], int] = {}
    delay_span: dict[str, tuple[float, float]] = {}
    seq = 0
    for i, r in enumerate(reqs):
        if n_deps[i] == 0:
            ready.append((int(round(r.arrival_s * NS)), seq, i))
            seq += 1
    heapq.heapify(ready)

    task_span: dict[str, list[float]] = {}  # task -> [first release, last finish] (s)

    energy: dict[str, float] = {}
    logs: list[IterationLog] = []
    t = 0
    finished_calls = 0
    iters = 0

    # streamed dependencies: j may start once dep i has generated `need` tokens
    watch: dict[int, list[tuple[int, int]]] = {}
    satisfied: set[tuple[int, int]] = set()
    for j, r in enumerate(reqs):
        for d, frac in r.after_partial:
            i = index[d]
            need = max(1, math.ceil(float(frac) * max(reqs[i].output_tokens, 1)))
            watch.setdefault(i, []).append((j, need))

    def satisfy(i: int, j: int, t_ns: int) -> None:
        nonlocal seq
        if (i, j) in satisfied:
            return
        satisfied.add((i, j))
        n_deps[j] -= 1
        dep_done_s[j] = max(dep_done_s[j], t_ns / NS)
        if n_deps[j] == 0:
            at = max(int(round(reqs[j].arrival_s * NS)), t_ns)
            heapq.heappush(ready, (at, seq, j))
            seq += 1

    def finish(i: int, t_ns: int) -> None:
        r = reqs[i]
        if r.task:
            task_span[r.task][1] = max(task_span[r.task][1], t_ns / NS)
        for j in dependents[i]:
            satisfy(i, j, t_ns)

    def release(now: int) -> None:
        nonlocal seq, finished_calls
        while True:
            progressed = False
            while delays and delays[0][0] <= now:
                end, _, i = heapq.heappop(delays)
                finish(i, end)
                progressed = True
            while ready and ready[0][0] <= now:
                at, _, i = heapq.heappop(ready)
                r = reqs[i]
                progressed = True
                if r.task:
                    span = task_span.setdefault(r.task, [at / NS, at / NS])
                    span[0] = min(span[0], at / NS)
                if r.kind == "delay":
                    lane = (r.task, r.resource) if r.resource else None
                    start = max(at, lanes.get(lane, 0)) if lane else at
                    end = start + int(round(r.seconds * NS))
                    if lane:
                        lanes[lane] = end
                    delay_span[r.id] = (start / NS, end / NS)
                    heapq.heappush(delays, (end, seq, i))
                    seq += 1
                    continue
                live = Live(r, at / NS)
                lives[i] = live
                if not sched.submit(live):
                    finished_calls += 1
                    finish(i, at)  # a rejected call still unblocks its task, reported
            if not progressed:
                return

    total_calls = sum(1 for r in reqs if r.kind == "call")
    while True:
        release(t)
        batch: Batch = sched.schedule() if sched.busy else Batch([], [], [], [])
        if not batch:
            if sched.running:
                raise RunError("scheduler produced an empty batch with requests running")
            nxt = [q[0][0] for q in (ready, delays) if q]
            if not nxt:
                if sched.waiting:
                    raise RunError(f"{len(sched.waiting)} requests can never be admitted")
                break
            t = max(t, min(nxt))
            continue
        for live in batch.prefill:
            if live.admit_s is None:
                live.admit_s = t / NS
        cost = cost_model.iteration(
            [x.kv_tokens for x in batch.decode],
            _channels(batch, pool),
            batch.prefill_tokens,
            [x.kv_tokens for x in batch.prefill])
        dur = max(int(round(cost.seconds * NS)), 1)
        _attribute(batch, cost.energy_j)
        for k, v in cost.energy_j.items():
            energy[k] = energy.get(k, 0.0) + v
        logs.append(IterationLog(t / NS, dur / NS, len(batch.decode), len(batch.prefill),
                                 sum(batch.prefill_tokens), pool.total_used,
                                 dict(cost.utilisation), cost.energy_total_j, cost.optimum_s,
                                 dict(cost.time_s)))
        t += dur
        iters += 1
        done = sched.complete(batch, t / NS)
        if watch:
            for live in batch.decode + batch.prefill:
                i = index[live.req.id]
                for j, need in watch.get(i, ()):
                    if live.generated >= need:
                        satisfy(i, j, t)
        for live in done:
            finish(index[live.req.id], t)
        finished_calls += len(done)
        if progress is not None and done:
            progress(len(done))
        if max_iterations is not None and iters >= max_iterations:
            break

    for live in lives.values():
        if live.state not in (FINISHED, REJECTED) and not live.reason:
            live.reason = "unfinished when the run stopped"
    calls = [lives[i] for i in sorted(lives)]
    if max_iterations is None and finished_calls != total_calls:
        raise RunError(f"{total_calls - finished_calls} calls never became ready "
                       "(dependency on a call that did not finish)")
    memo = (getattr(cost_model, "hits", 0), getattr(cost_model, "misses", 0))
    fids = sorted(getattr(cost_model, "fidelities", set()))
    return ServingResult(
        workload=workload.name, source=cost_model.source, calls=calls, delays=delay_span,
        iterations=logs, makespan_s=t / NS, energy_j=energy,
        kv_capacity_units=pool.total_capacity, kv_peak_units=pool.peak_used,
        kv_unit_bytes=int(pool.layout.unit_bytes), kv_layout=str(pool.layout.kind),
        preemptions=sched.preemptions, fidelities=fids, memo_hits=memo[0],
        memo_misses=memo[1], task_span_s={k: (v[0], v[1]) for k, v in task_span.items()})


def _channels(batch: Batch, pool: KVPool) -> list[int] | None:
    if pool.layout.kind != "pim":
        return None
    return [pool.channel_of(x) for x in batch.decode]


def _attribute(batch: Batch, energy_j: dict[str, float]) -> None:
    """Split an iteration's energy over its requests by tokens computed."""
    shares = [(x, 1) for x in batch.decode]
    shares += list(zip(batch.prefill, batch.prefill_tokens))
    total = sum(s for _, s in shares)
    if not total:
        return
    for live, s in shares:
        f = s / total
        e = live.energy_j
        for k, v in energy_j.items():
            e[k] = e.get(k, 0.0) + v * f
