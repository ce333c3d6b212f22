"""Agent replay: run one task's expanded call list against a runtime.

Dependencies are respected; ready LLM calls run concurrently up to the runtime's slots
(a fan-out); non-LLM delays are slept (scaled by ``delay_scale``), at most one per
resource lane at a time, and take no slot. Prompts are token-exact (see
:mod:`profiler.prompts`); a call that ``continues`` another is sent that call's prompt and
output followed by its new turn; calls sharing a prefix key share its text byte for byte.
On a text-only model, a call's image tokens are sent as that many extra prompt tokens.

Each finished node is handed to ``on_done`` at once (the session writes it to the store),
so a crash or a lost device keeps every call completed so far.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from neumelt.errors import InputError
from profiler.prompts import PromptBuilder, call_head
from profiler.runtimes.base import CallResult


@dataclass(frozen=True)
class Node:
    """One call or delay of a task, scaled for this run (tokens are tokens, seconds s)."""

    inst: int
    id: str
    kind: str                     # "call" | "delay"
    role: str
    deps: tuple[str, ...]
    prompt_tokens: int            # new text tokens (for a continuation: the new turn only)
    image_tokens: int             # sent as extra text tokens on a text-only model
    output_tokens: int
    prefix_key: str | None
    prefix_tokens: int
    continues: str | None
    seconds: float
    resource: str | None
    after_partial: tuple[tuple[str, float], ...] = ()

    @property
    def key(self) -> str:
        return f"t{self.inst}/{self.id}"


def _get(rec: Any, name: str, default: Any = None) -> Any:
    if isinstance(rec, dict):
        return rec.get(name, default)
    return getattr(rec, name, default)


def _image_tokens(rec: Any, per_image: int | None) -> int:
    n = _get(rec, "image_tokens")
    if n is not None:
        return int(n)
    total = 0
    for img in _get(rec, "images", ()) or ():
        if isinstance(img, dict) and img.get("tokens") is not None:
            total += int(img["tokens"])
        elif per_image is not None:
            total += per_image
    return total


def nodes_from_records(records: Iterable[Any], scale: float = 1.0, delay_scale: float = 1.0,
                       image_tokens_per_image: int | None = None) -> list[Node]:
    """Turn workload call records (``workloads.agents.CallRecord`` or dicts) into nodes.

    Token counts are multiplied by ``scale`` (at least 1 prompt and 1 output token);
    delays by ``delay_scale`` (0 skips them).
    """
    def sc(n: Any, lo: int) -> int:
        return max(lo, int(round(float(n or 0) * scale)))

    out = []
    for rec in records:
        kind = _get(rec, "kind", "call")
        prefix = _get(rec, "prefix")
        pkey = _get(rec, "prefix_key") or (prefix.get("key") if isinstance(prefix, dict) else None)
        ptok = _get(rec, "prefix_tokens") or (prefix.get("tokens") if isinstance(prefix, dict)
                                              else 0)
        out.append(Node(
            inst=int(_get(rec, "inst", 0)), id=str(_get(rec, "id")), kind=kind,
            role=str(_get(rec, "role") or kind),
            deps=tuple(str(d) for d in (_get(rec, "deps") or ())),
            prompt_tokens=sc(_get(rec, "prompt_tokens"), 1) if kind == "call" else 0,
            image_tokens=(int(round(_image_tokens(rec, image_tokens_per_image) * scale))
                          if kind == "call" else 0),
            output_tokens=sc(_get(rec, "output_tokens"), 1) if kind == "call" else 0,
            prefix_key=pkey, prefix_tokens=sc(ptok, 0) if pkey else 0,
            continues=_get(rec, "continues"),
            seconds=float(_get(rec, "seconds") or 0.0) * delay_scale,
            resource=_get(rec, "resource"),
            after_partial=_partial(_get(rec, "after_partial"))))
    return out


def _partial(v: Any) -> tuple[tuple[str, float], ...]:
    if not v:
        return ()
    items = v.items() if isinstance(v, dict) else v
    return tuple((str(k), float(f)) for k, f in items)


@dataclass
class Outcome:
    """What one node did: for calls, the prompt sent, the request and the runtime's result."""

    node: Node
    t_start_s: float
    t_end_s: float
    prompt_text: str = ""
    prompt_tokens_requested: int = 0
    result: CallResult | None = None


def _seed_of(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8],
                          "little")


class TaskReplayer:
    """Replays tasks against ``runtime`` with prompts built by ``builder``."""

    def __init__(self, runtime: Any, builder: PromptBuilder, slots: int,
                 on_done: Callable[[Outcome], None],
                 on_token: Callable[[Node, float, int], None] | None = None) -> None:
        self.runtime = runtime
        self.builder = builder
        self.slots = max(1, slots)
        self.on_done = on_done
        self.on_token = on_token
        self._build_lock = threading.Lock()
        self._progress: dict[str, int] = {}   # tokens streamed so far by running calls
        self._prebuilt: dict[str, tuple[str, int]] = {}
        self.t_started_s: float | None = None   # after prompts were built
        self.abort = threading.Event()          # set on Ctrl-C: delays end at once

    def _prompt(self, node: Node, done: dict[str, Outcome]) -> tuple[str, int]:
        """Prompt text and the total token count requested of the runtime."""
        new = node.prompt_tokens + node.image_tokens
        head = call_head(node.role, node.inst, node.id)
        with self._build_lock:
            self.builder.reseed(_seed_of(node.inst, node.id))
            if node.continues:
                parent = done.get(node.continues)
                if parent is None or parent.result is None:
                    raise InputError(f"call '{node.id}' continues '{node.continues}', which "
                                     "did not run before it", key=f"{node.id}.continues",
                                     expected="a call listed in deps")
                base = parent.prompt_text + parent.result.output_text
                target = self.builder.count(base) + new
                text, _ = self.builder.build(target, head=head, base=base)
                return text, target
            base = ""
            if node.prefix_key and node.prefix_tokens > 0:
                base = self.builder.prefix(node.prefix_key, min(node.prefix_tokens, new))
            text, _ = self.builder.build(new, head=head, base=base)
            return text, new

    def _run_call(self, node: Node, done: dict[str, Outcome]) -> Outcome:
        pre = self._prebuilt.get(node.id)
        text, target = pre if pre is not None else self._prompt(node, done)
        def cb(t: float, i: int, _n: Node = node) -> None:
            self._progress[_n.id] = i
            if self.on_token is not None:
                self.on_token(_n, t, i)
        res = self.runtime.complete(text, node.output_tokens, cb)
        return Outcome(node, res.t_start_s, res.t_end_s, text, target, res)

    def _ready(self, n: Node, done: dict[str, Outcome], out_tokens: dict[str, int]) -> bool:
        partial = dict(n.after_partial)
        for d in n.deps:
            if d in done:
                continue
            frac = partial.get(d)
            if frac is None or self._progress.get(d, 0) < frac * out_tokens.get(d, 0):
                return False
        return True

    def _run_delay(self, node: Node) -> Outcome:
        t0 = time.monotonic()
        if node.seconds > 0:
            self.abort.wait(node.seconds)
        return Outcome(node, t0, time.monotonic())

    def run(self, nodes: list[Node], done: dict[str, Outcome] | None = None) -> dict[str, Outcome]:
        """Run every node not already in ``done`` (keyed by node id); returns all outcomes."""
        done = dict(done or {})
        ids = {n.id for n in nodes}
        for n in nodes:
            for d in n.deps:
                if d not in ids:
                    raise InputError(f"call '{n.id}' depends on unknown '{d}'",
                                     key=f"{n.id}.deps", expected="ids of the same task")
        pending = [n for n in nodes if n.id not in done]
        # Prompts that do not depend on another call's output are built before the task
        # starts, so tokenizer round trips never sit on the timeline between calls.
        self._prebuilt = {n.id: self._prompt(n, done) for n in pending
                          if n.kind == "call" and not n.continues}
        self.t_started_s = time.monotonic()
        out_tokens = {n.id: n.output_tokens for n in nodes}
        running: dict[Future, Node] = {}
        lanes: set[str] = set()
        with ThreadPoolExecutor(max_workers=self.slots + 4) as pool:
            try:
                self._loop(pending, running, done, out_tokens, pool, lanes)
            except KeyboardInterrupt:  # stop running calls at their next token, then leave
                self.abort.set()
                abort = getattr(self.runtime, "abort", None)
                if abort is not None:
                    abort.set()
                raise
        return done

    def _loop(self, pending: list[Node], running: dict[Future, Node],
              done: dict[str, Outcome], out_tokens: dict[str, int], pool: ThreadPoolExecutor,
              lanes: set[str]) -> None:
        llm_running = 0
        failure: BaseException | None = None
        while pending or running:
            if failure is None:
                for n in list(pending):
                    if not self._ready(n, done, out_tokens):
                        continue
                    if n.kind == "call":
                        if llm_running >= self.slots:
                            continue
                        llm_running += 1
                        fut = pool.submit(self._run_call, n, done)
                    else:
                        if n.resource and n.resource in lanes:
                            continue
                        if n.resource:
                            lanes.add(n.resource)
                        fut = pool.submit(self._run_delay, n)
                    running[fut] = n
                    pending.remove(n)
            if not running:
                if failure is not None:
                    break
                stuck = ", ".join(n.id for n in pending[:5])
                raise InputError(f"calls can never start (dependency cycle?): {stuck}",
                                 expected="an acyclic call graph")
            waits_partial = any(n.after_partial for n in pending)
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED,
                               timeout=0.005 if waits_partial else None)
            for fut in finished:
                n = running.pop(fut)
                if n.kind == "call":
                    llm_running -= 1
                elif n.resource:
                    lanes.discard(n.resource)
                try:
                    out = fut.result()
                except BaseException as exc:  # first failure wins; let others finish
                    failure = failure or exc
                    continue
                done[n.id] = out
                self.on_done(out)
        if failure is not None:
            raise failure
