"""Iteration-level (Orca-style) batch scheduling with KV admission and preemption.

The scheduler decides *which* requests run in the next iteration and in which role
(prefill or decode); it never computes time. Policy, per iteration:

- ``prefill="separate"`` (vLLM default): if waiting requests can be admitted, the
  iteration prefills only them; otherwise every running request decodes one token.
- ``prefill="mixed"`` (Orca): running requests decode and newly admitted requests
  prefill in the same iteration.

Admission is first come, first served, up to ``max_batch`` running requests and
``max_prefill_tokens`` prefilled tokens per iteration, and only while the request's
context fits the KV pool (keeping a watermark free). Before a decode, each running
request grows its KV by one token; when a channel is full the most recently admitted
request on that channel is preempted (its KV is freed; it re-enters the head of the
queue and recomputes its context when readmitted, as vLLM's recompute policy does).
A request whose full context can never fit is rejected at submission and reported.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from sim.serving.kv import KVPool
from sim.serving.request import ServeRequest

WAITING, RUNNING, FINISHED, REJECTED = "waiting", "running", "finished", "rejected"


@dataclass(frozen=True)
class SchedulerConfig:
    """Batching policy. ``max_batch``: requests per iteration; ``max_prefill_tokens``:
    tokens prefilled per iteration (a single longer prompt still runs alone);
    ``watermark``: fraction of each KV channel kept free at admission;
    ``prefix_cache``: reuse the prefill of a shared prefix already computed."""

    max_batch: int = 256
    prefill: Literal["separate", "mixed"] = "separate"
    max_prefill_tokens: int = 8192
    watermark: float = 0.01
    prefix_cache: bool = True

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if self.prefill not in ("separate", "mixed"):
            raise ValueError("prefill must be 'separate' or 'mixed'")
        if self.max_prefill_tokens < 1:
            raise ValueError("max_prefill_tokens must be >= 1")
        if not 0 <= self.watermark < 1:
            raise ValueError("watermark must be in [0, 1)")


class Live:
    """Mutable serving state of one call (times in seconds of simulated time)."""

    __slots__ = ("req", "state", "generated", "kv_tokens", "ready_s", "admit_s", "first_s",
                 "done_s", "preemptions", "energy_j", "prefilled_tokens", "order", "reason")

    def __init__(self, req: ServeRequest, ready_s: float) -> None:
        self.req = req
        self.state = WAITING
        self.generated = 0
        self.kv_tokens = 0
        self.ready_s = ready_s
        self.admit_s: float | None = None
        self.first_s: float | None = None
        self.done_s: float | None = None
        self.preemptions = 0
        self.energy_j: dict[str, float] = {}
        self.prefilled_tokens = 0
        self.order = 0
        self.reason = ""

    @property
    def context(self) -> int:
        """Tokens whose KV must exist before the next token: prompt + generated."""
        return self.req.prompt_tokens + self.generated


@dataclass
class Batch:
    """One iteration's work: decode requests, prefill requests (tokens to compute)."""

    decode: list[Live]
    prefill: list[Live]
    prefill_tokens: list[int]
    preempted: list[Live]

    def __bool__(self) -> bool:
        return bool(self.decode or self.prefill)


class Scheduler:
    """Owns the waiting queue, the running set and the KV pool."""

    def __init__(self, config: SchedulerConfig, pool: KVPool) -> None:
        self.cfg = config
        self.pool = pool
        self.waiting: deque[Live] = deque()
        self.running: list[Live] = []  # admission order
        self.prefixes: set[str] = set()
        self._order = 0
        self._max_ctx = pool.max_tokens_one_request()
        self.preemptions = 0

    def submit(self, live: Live) -> bool:
        """Queue a ready call; reject it (False) if its full context can never fit."""
        need = live.req.prompt_tokens + live.req.output_tokens - 1
        if need > self._max_ctx:
            live.state = REJECTED
            live.reason = (f"context {need} tokens exceeds the KV capacity of one channel "
                           f"({self._max_ctx} tokens)")
            return False
        self.waiting.append(live)
        return True

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> Batch:
        batch = Batch([], [], [], [])
        if self.cfg.prefill == "separate":
            self._admit(batch, self.cfg.max_batch - len(self.running))
            if batch.prefill:
                return batch
            self._grow(batch)
            return batch
        self._grow(batch)
        if not batch.preempted:
            self._admit(batch, self.cfg.max_batch - len(batch.decode))
        return batch

    def _admit(self, batch: Batch, slots: int) -> None:
        budget = self.cfg.max_prefill_tokens
        while self.waiting and slots > 0:
            live = self.waiting[0]
            ctx = live.context
            compute = ctx
            key = live.req.prefix_key
            if self.cfg.prefix_cache and key and key in self.prefixes:
                compute = max(ctx - live.req.prefix_tokens, 1)
            if batch.prefill and compute > budget:
                break
            if self.pool.admit(live, ctx) is None:
                break
            self.waiting.popleft()
            live.state = RUNNING
            live.kv_tokens = ctx
            self._order += 1
            live.order = self._order
            self.running.append(live)
            batch.prefill.append(live)
            batch.prefill_tokens.append(compute)
            budget -= compute
            slots -= 1

    def _grow(self, batch: Batch) -> None:
        i = 0
        while i < len(self.running):
            live = self.running[i]
            if self.pool.grow(live, live.kv_tokens + 1):
                live.kv_tokens += 1
                batch.decode.append(live)
                i += 1
                continue
            ch = self.pool.channel_of(live)
            victim = None
            for cand in reversed(self.running):
                if self.pool.channel_of(cand) == ch:
                    victim = cand
                    break
            self._preempt(victim, batch)
            # victim is running[i] or later: retry running[i] (or its successor)

    def _preempt(self, live: Live, batch: Batch) -> None:
        self.pool.release(live)
        self.running.remove(live)
        if live in batch.decode:
            batch.decode.remove(live)
        live.state = WAITING
        live.kv_tokens = 0
        live.preemptions += 1
        self.preemptions += 1
        batch.preempted.append(live)
        self.waiting.appendleft(live)

    def complete(self, batch: Batch, t_end_s: float) -> list[Live]:
        """Account the iteration that just ended at ``t_end_s``; returns finished calls."""
        done = []
        for live in batch.prefill:
            if live.first_s is None:
                live.first_s = t_end_s
            live.generated += 1
            if live.req.prefix_key:
                self.prefixes.add(live.req.prefix_key)
        for live in batch.decode:
            live.generated += 1
        for live in batch.prefill + batch.decode:
            if live.generated >= live.req.output_tokens:
                if live.req.publishes:
                    self.prefixes.add(live.req.publishes)
                live.state = FINISHED
                live.done_s = t_end_s
                self.pool.release(live)
                done.append(live)
        if done:
            gone = {id(x) for x in done}
            self.running = [x for x in self.running if id(x) not in gone]
        return done
