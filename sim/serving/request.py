"""What the serving loop serves: requests and agent calls, already expanded.

A :class:`ServeRequest` is one LLM call (``kind="call"``) or one non-LLM delay such as
an app action or an OCR pass (``kind="delay"``). Chat traces give calls with arrival
times; agent call graphs give calls and delays released by their dependencies. The
serving loop consumes only this flat list; it never samples anything itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from neumelt.errors import InputError


@dataclass(frozen=True)
class ServeRequest:
    """One unit of work for the serving loop.

    ``arrival_s``: seconds from the start of the run at which the request may be
    admitted; for calls inside an agent task it is the task's start and the call is
    released only once every id in ``deps`` has finished. ``prompt_tokens`` and
    ``output_tokens`` are tokens (the first output token comes from prefill).
    ``prefix_key``/``prefix_tokens`` name a shared prompt prefix whose prefill can be
    reused once computed; ``publishes`` names the key under which this call's whole
    context (prompt + output) is cached when it finishes (a conversation's history).
    ``seconds`` and ``resource`` describe a delay (a lane such
    as ``screen`` or ``cpu`` that serialises delays of one task). ``after_partial``:
    (dependency id, fraction) pairs, a dependency met once that fraction of its output
    has streamed out (each such id is also in ``deps``).
    """

    id: str
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    kind: Literal["call", "delay"] = "call"
    task: str = ""
    role: str = ""
    deps: tuple[str, ...] = ()
    prefix_key: str = ""
    prefix_tokens: int = 0
    seconds: float = 0.0
    resource: str = ""
    publishes: str = ""
    after_partial: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("call", "delay"):
            raise ValueError(f"request {self.id}: kind must be 'call' or 'delay'")
        if self.arrival_s < 0:
            raise ValueError(f"request {self.id}: arrival_s must be >= 0")
        if self.kind == "call":
            if self.prompt_tokens < 1:
                raise ValueError(f"request {self.id}: prompt_tokens must be >= 1")
            if self.output_tokens < 1:
                raise ValueError(f"request {self.id}: output_tokens must be >= 1")
            if not 0 <= self.prefix_tokens <= self.prompt_tokens:
                raise ValueError(f"request {self.id}: prefix_tokens must be in [0, prompt]")
        elif self.seconds < 0:
            raise ValueError(f"request {self.id}: delay seconds must be >= 0")
        for d, frac in self.after_partial:
            if d not in self.deps or not 0 < frac <= 1:
                raise ValueError(f"request {self.id}: after_partial needs a dependency in "
                                 "deps and a fraction in (0, 1]")


@dataclass(frozen=True)
class Workload:
    """A named, ordered list of requests with unique ids and deps that exist."""

    name: str
    requests: tuple[ServeRequest, ...]
    kind: Literal["trace", "agent"] = "trace"

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for r in self.requests:
            if r.id in seen:
                raise InputError(f"duplicate request id {r.id!r}", key="workload")
            seen.add(r.id)
        for r in self.requests:
            for d in r.deps:
                if d not in seen:
                    raise InputError(f"request {r.id!r} depends on unknown id {d!r}",
                                     key="workload")

    @property
    def calls(self) -> tuple[ServeRequest, ...]:
        return tuple(r for r in self.requests if r.kind == "call")

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.requests if r.kind == "call")

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.task for r in self.requests if r.task))


def from_trace(name: str, requests: Iterable[Any]) -> Workload:
    """Chat trace rows (``id, arrival_s, prompt_tokens, output_tokens``) -> workload.

    Multi-turn rows (``session``, ``turn``, ``prefix_tokens``: the earlier turns) wait for
    the session's previous turn to finish plus the think time between their arrival
    times (a ``think`` delay), and reuse the session's history as a cached prefix.
    Closed-loop rows (``client``) wait for the same client's previous request. Rows with
    zero prompt or output tokens cannot be served and are refused (``InputError``).
    """
    out: list[ServeRequest] = []
    last_turn: dict[Any, tuple[str, float, float]] = {}  # session -> (id, arrival, start)
    last_client: dict[Any, str] = {}
    for r in requests:
        p, o = int(r.prompt_tokens), int(r.output_tokens)
        if p < 1 or o < 1:
            raise InputError(f"request {r.id}: prompt and output tokens must be >= 1, got "
                             f"{p} and {o}", key="workload")
        rid = str(r.id)
        arrival = float(r.arrival_s)
        deps: tuple[str, ...] = ()
        session = getattr(r, "session", None)
        client = getattr(r, "client", None)
        if session is not None and session in last_turn:
            prev, prev_arrival, start = last_turn[session]
            think = f"{rid}/think"
            out.append(ServeRequest(id=think, arrival_s=start, prompt_tokens=0,
                                    output_tokens=0, kind="delay", role="think",
                                    deps=(prev,), seconds=max(arrival - prev_arrival, 0.0)))
            deps, arrival_at = (think,), start
        else:
            arrival_at = arrival
        if client is not None and client in last_client:
            deps = deps + (last_client[client],)
        prefix = min(int(getattr(r, "prefix_tokens", 0) or 0), p)
        key = f"session/{session}" if session is not None else ""
        out.append(ServeRequest(id=rid, arrival_s=arrival_at, prompt_tokens=p,
                                output_tokens=o, deps=deps, prefix_key=key if prefix else "",
                                prefix_tokens=prefix if key else 0, publishes=key))
        if session is not None:
            start = last_turn[session][2] if session in last_turn else arrival
            last_turn[session] = (rid, float(r.arrival_s), start)
        if client is not None:
            last_client[client] = rid
    return Workload(name=name, requests=tuple(out), kind="trace")


def from_calls(name: str, calls: Sequence[Any], task_start_s: dict[Any, float] | None = None,
               concurrency: int | None = None) -> Workload:
    """Agent call records (``workloads.agents.CallRecord``) -> workload.

    Ids become ``"<inst>/<id>"``; deps stay inside the instance. Image tokens count as
    prompt tokens (they are prefilled like text). A call that ``continues`` another
    carries that call's whole context (prompt + output, recursively) in front of its new
    tokens, and reuses it as a cached prefix. ``task_start_s`` maps an instance to its
    start time (default: the record's ``arrival_s``, else 0). ``concurrency`` C makes a
    closed loop: instance k starts only when instance k - C has finished. A dependency
    on part of another call's output (``after_partial``) is kept as such.
    """
    task_start_s = task_start_s or {}
    by_key: dict[tuple[Any, str], Any] = {(c.inst, str(c.id)): c for c in calls}
    ctx_cache: dict[tuple[Any, str], int] = {}

    def context(c: Any) -> tuple[int, int]:
        """(prompt incl. continued context, continued-context prefix) of call ``c``."""
        new = int(c.prompt_tokens or 0) + int(getattr(c, "image_tokens", None) or 0)
        cont = getattr(c, "continues", None)
        parent = by_key.get((c.inst, str(cont))) if cont else None
        if parent is None:
            return new, 0
        key = (parent.inst, str(parent.id))
        if key not in ctx_cache:
            p_prompt, _ = context(parent)
            ctx_cache[key] = p_prompt + int(parent.output_tokens or 0)
        return ctx_cache[key] + new, ctx_cache[key]

    continued = {(c.inst, str(c.continues)) for c in calls if getattr(c, "continues", None)}
    insts = list(dict.fromkeys(c.inst for c in calls))
    members: dict[Any, list[str]] = {i: [] for i in insts}
    for c in calls:
        members[c.inst].append(f"{c.inst}/{c.id}")
    out = []
    for c in calls:
        inst = c.inst
        rid = f"{inst}/{c.id}"
        deps = tuple(f"{inst}/{d}" for d in (c.deps or ()))
        if concurrency and not c.deps:
            k = insts.index(inst)
            if k >= concurrency:
                deps = tuple(members[insts[k - concurrency]])
        start = task_start_s.get(inst, getattr(c, "arrival_s", None) or 0.0)
        start = float(start)
        partial = tuple((f"{inst}/{d}", float(f)) for d, f in
                        (getattr(c, "after_partial", None) or ()) if f"{inst}/{d}" in deps)
        if c.kind == "delay":
            out.append(ServeRequest(id=rid, arrival_s=start, prompt_tokens=0, output_tokens=0,
                                    kind="delay", task=str(inst), role=str(c.role or ""),
                                    deps=deps, seconds=float(c.seconds or 0.0),
                                    resource=str(c.resource or ""), after_partial=partial))
            continue
        prompt, cont_prefix = context(c)
        prefix_key = str(c.prefix_key or "")
        prefix = min(int(c.prefix_tokens or 0), prompt) if prefix_key else 0
        if cont_prefix:
            prefix_key, prefix = f"{inst}/{c.continues}/ctx", min(cont_prefix, prompt)
            if f"{inst}/{c.continues}" not in deps:
                deps = deps + (f"{inst}/{c.continues}",)
        pub = f"{inst}/{c.id}/ctx" if (inst, str(c.id)) in continued else ""
        out.append(ServeRequest(id=rid, arrival_s=start, prompt_tokens=max(prompt, 1),
                                output_tokens=max(int(c.output_tokens or 0), 1), kind="call",
                                task=str(inst), role=str(c.role or ""), deps=deps,
                                prefix_key=prefix_key, prefix_tokens=prefix, publishes=pub,
                                after_partial=partial))
    return Workload(name=name, requests=tuple(out), kind="agent")
