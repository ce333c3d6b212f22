"""Expander: (template, seed, instances) -> a flat, dependency-ordered list of calls.

The result is a pure function of the template and the seed. Every (instance, node path,
field) has its own random stream: a ``numpy.random.Philox`` generator keyed by a BLAKE2b
hash of ``seed|instance|path:field`` (e.g. ``7|0|step[3]/captions[7]/caption:output``);
editing one node therefore does not reshuffle the draws of others.

Record ids are paths: ``step[3]/decision`` (loop iteration 3), ``step[3]/captions[7]/caption``
(fan-out branch 7), ``run#1/...`` or ``plan#2`` (retry attempts 1, 2). ``deps`` name ids of
the same instance; every dependency precedes its dependant in the list. A skipped
probabilistic node hands its own dependencies on to its dependants (treated as done).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neumelt.errors import InputError
from workloads.agents import numbers
from workloads.agents.template import Node, Template, interpolate

#: Upper bound on one drawn loop or fan-out count (guards against runaway templates).
MAX_COUNT = 100_000


@dataclass(frozen=True)
class CallRecord:
    """One expanded call or delay of one task instance (tokens are integer tokens).

    ``kind`` is ``call`` (an LLM request) or ``delay`` (non-LLM time of ``seconds`` s on lane
    ``resource``). ``prompt_tokens`` are new text tokens (including ``prefix_tokens``, the
    leading tokens shared by every call with ``prefix_key``; for a call that ``continues``
    an earlier one, only the new turn); ``image_tokens`` is the total for ``images`` under the
    bound model's vision rule (None when unknown; 0 without images). ``after_partial`` maps a
    dependency to the fraction of its output after which this call may start (the dependency
    is also in ``deps``). ``arrival_s`` is the instance's arrival time (None: closed loop).
    """

    inst: int
    id: str
    kind: str
    role: str | None
    model: str | None
    deps: tuple[str, ...]
    prompt_tokens: int = 0
    images: tuple[dict, ...] = ()
    image_tokens: int | None = None
    output_tokens: int = 0
    prefix_key: str | None = None
    prefix_tokens: int = 0
    continues: str | None = None
    seconds: float | None = None
    resource: str | None = None
    after_partial: tuple[tuple[str, float], ...] = ()
    arrival_s: float | None = None
    attempt: int = 0

    @property
    def key(self) -> tuple[int, str]:
        """Unique key across instances: (inst, id)."""
        return (self.inst, self.id)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the agentwl/v1 JSONL record layout."""
        if self.kind == "delay":
            return {"inst": self.inst, "id": self.id, "kind": "delay", "role": self.role,
                    "deps": list(self.deps), "seconds": self.seconds,
                    "resource": self.resource, "after_partial": dict(self.after_partial) or None,
                    "attempt": self.attempt, "arrival_s": self.arrival_s}
        return {
            "inst": self.inst, "id": self.id, "kind": "call", "role": self.role,
            "model": self.model, "deps": list(self.deps),
            "prompt_tokens": self.prompt_tokens, "images": [dict(i) for i in self.images],
            "image_tokens": self.image_tokens, "output_tokens": self.output_tokens,
            "prefix": ({"key": self.prefix_key, "tokens": self.prefix_tokens}
                       if self.prefix_key else None),
            "continues": self.continues,
            "after_partial": dict(self.after_partial) or None,
            "resource": self.resource, "attempt": self.attempt, "arrival_s": self.arrival_s,
        }

    def to_json(self) -> str:
        """One JSONL line (compact, keys in a fixed order)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CallRecord:
        """Inverse of :meth:`to_dict` (for reading JSONL traces back)."""
        prefix = d.get("prefix") or {}
        return cls(
            inst=int(d["inst"]), id=str(d["id"]), kind=str(d["kind"]), role=d.get("role"),
            model=d.get("model"), deps=tuple(d.get("deps", ())),
            prompt_tokens=int(d.get("prompt_tokens", 0)),
            images=tuple(d.get("images") or ()), image_tokens=d.get("image_tokens"),
            output_tokens=int(d.get("output_tokens", 0)), prefix_key=prefix.get("key"),
            prefix_tokens=int(prefix.get("tokens", 0)), continues=d.get("continues"),
            seconds=d.get("seconds"), resource=d.get("resource"),
            after_partial=tuple((d.get("after_partial") or {}).items()),
            arrival_s=d.get("arrival_s"), attempt=int(d.get("attempt", 0)))


@dataclass
class _Binding:
    exits: tuple[str, ...]     # record ids a dependant waits for
    call_id: str | None = None  # for calls: the last attempt's record id


class _Scope:
    def __init__(self, parent: _Scope | None, nodes: tuple[Node, ...], path: str,
                 vars_: dict[str, float], loop_prev: _Scope | None = None,
                 is_loop_iter: bool = False) -> None:
        self.parent = parent
        self.static_ids = {n.id for n in nodes}
        self.bound: dict[str, _Binding] = {}
        self.path = path
        self.vars = vars_
        self.loop_prev = loop_prev
        self.is_loop_iter = is_loop_iter

    def var(self, name: str) -> float:
        s: _Scope | None = self
        while s is not None:
            if name in s.vars:
                return s.vars[name]
            s = s.parent
        raise KeyError(name)

    def lookup(self, ref: str) -> _Binding | None:
        if ref.startswith("prev:"):
            target = ref[5:]
            s: _Scope | None = self
            while s is not None:
                if s.is_loop_iter and target in s.static_ids:
                    prev = s.loop_prev
                    return prev.bound.get(target) if prev is not None else None
                s = s.parent
            return None
        s = self
        while s is not None:
            if ref in s.static_ids:
                return s.bound.get(ref)
            s = s.parent
        return None


class _Expander:
    def __init__(self, t: Template, seed: int, models: dict[str, Any] | Any | None) -> None:
        self.t = t
        self.seed = int(seed)
        self.models = models
        self.records: list[CallRecord] = []
        self.index: dict[str, int] = {}
        self.inst = 0
        self.arrival: float | None = None
        self.base_dir = t.base_dir

    # ---- randomness ----------------------------------------------------------------------
    def rng(self, key: str) -> np.random.Generator:
        """The stream of (seed, instance, ``key``): a Philox generator keyed by a hash."""
        h = hashlib.blake2b(f"{self.seed}|{self.inst}|{key}".encode(), digest_size=16).digest()
        k = np.array(struct.unpack("<QQ", h), dtype=np.uint64)
        return np.random.Generator(np.random.Philox(key=k))

    def draw(self, spec: Any, scope: _Scope, key: str, field: str, integer: bool,
             node: Node) -> float:
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            return float(spec)

        doc = getattr(node, "doc", None) or self.t.doc

        def var(name: str) -> float:
            try:
                return scope.var(name)
            except KeyError:
                raise doc.error(f"{node.key}.{field}", f"undefined variable '{name}'") from None
        return numbers.evaluate(spec, _LazyRng(self, f"{key}:{field}"), var, integer,
                                f"{node.key}.{field}", doc,
                                getattr(node, "base_dir", None) or self.base_dir)

    def count(self, spec: Any, scope: _Scope, key: str, field: str, node: Node) -> int:
        n = int(self.draw(spec, scope, key, field, True, node))
        doc = getattr(node, "doc", None) or self.t.doc
        if n < 0 and isinstance(spec, str):
            raise doc.error(f"{node.key}.{field}", f"{spec} evaluated to {n}",
                                   "a non-negative count (give the variable a 'min: 0')")
        if n > MAX_COUNT:
            raise doc.error(f"{node.key}.{field}", f"drew {n}",
                                   f"at most {MAX_COUNT}")
        return max(n, 0)

    # ---- ordering helpers ----------------------------------------------------------------
    def _ordered(self, ids: set[str] | list[str]) -> tuple[str, ...]:
        return tuple(sorted(set(ids), key=self.index.__getitem__))

    def _emit(self, rec: CallRecord) -> None:
        self.index[rec.id] = len(self.records)
        self.records.append(rec)

    # ---- expansion -------------------------------------------------------------------------
    def instance(self, inst: int, extra_vars: dict[str, float], arrival: float | None) -> None:
        self.inst = inst
        self.index = {}
        self.arrival = arrival
        vars_: dict[str, float] = {"inst": float(inst), **extra_vars}
        root = _Scope(None, self.t.graph, "", vars_)
        probe = _Node0()
        for name, spec in self.t.vars:
            probe.key = f"vars.{name}"
            vars_[name] = self.draw(spec, root, f"${name}", "value", False, probe)
        self.body(self.t.graph, self.t.order, self.t.sinks, root, ())

    def body(self, nodes: tuple[Node, ...], order: tuple[int, ...], sinks: tuple[int, ...],
             scope: _Scope, entry: tuple[str, ...]) -> tuple[str, ...]:
        for i in order:
            n = nodes[i]
            refs = n.refs()
            deps: set[str] = set()
            local = False
            for r in refs:
                b = scope.lookup(r)
                if not r.startswith("prev:") and r in scope.static_ids:
                    local = True
                if b is not None:
                    deps.update(b.exits)
            if not local:
                deps.update(entry)
            scope.bound[n.id] = self.node(n, scope, self._ordered(deps))
        exits: set[str] = set()
        for i in sinks:
            exits.update(scope.bound[nodes[i].id].exits)
        return self._ordered(exits) if exits else entry

    def node(self, n: Node, scope: _Scope, deps: tuple[str, ...]) -> _Binding:
        path = f"{scope.path}/{n.id}" if scope.path else n.id
        if n.p is not None:
            prob = self.draw(n.p, scope, path, "p", False, n) if isinstance(n.p, str) \
                else float(n.p)
            if self.rng(f"{path}:p?").random() >= prob:
                return _Binding(exits=deps)  # skipped: treated as done
        binding = self.attempt(n, scope, deps, path, 0)
        a = 0
        while a < n.retry_max:
            rp = float(self.draw(n.retry_p, scope, path, "retry.p", False, n)) \
                if n.retry_p is not None else 1.0
            if self.rng(f"{path}#{a}:retry?").random() >= rp:
                break
            a += 1
            binding = self.attempt(n, scope, binding.exits, f"{path}#{a}", a)
        return binding

    def attempt(self, n: Node, scope: _Scope, deps: tuple[str, ...], path: str,
                attempt: int) -> _Binding:
        if n.kind == "call":
            rid = self.call(n, scope, deps, path, attempt)
            return _Binding(exits=(rid,), call_id=rid)
        if n.kind == "delay":
            secs = max(0.0, self.draw(n.seconds, scope, path, "seconds", False, n))
            partial = self._partial(n, scope)
            if not {ref for ref, _ in partial} <= set(deps):
                deps = self._ordered(set(deps) | {ref for ref, _ in partial})
            self._emit(CallRecord(inst=self.inst, id=path, kind="delay", role=n.role or n.id,
                                  model=None, deps=deps, seconds=round(secs, 6),
                                  resource=n.resource, arrival_s=self.arrival,
                                  after_partial=partial, attempt=attempt))
            return _Binding(exits=(path,))
        if n.kind == "group":
            inner = _Scope(scope, n.body, path, {})
            self._draw_vars(n, inner, path)
            return _Binding(exits=self.body(n.body, n.order, n.sinks, inner, deps))
        if n.kind == "fanout":
            k = self.count(n.count, scope, path, "count", n)
            exits: set[str] = set()
            for b in range(k):
                bpath = f"{path}[{b}]"
                inner = _Scope(scope, n.body, bpath, {"branch": float(b)})
                self._draw_vars(n, inner, bpath)
                exits.update(self.body(n.body, n.order, n.sinks, inner, deps))
            return _Binding(exits=self._ordered(exits) if exits else deps)
        # loop
        k = self.count(n.count, scope, path, "count", n)
        prev: _Scope | None = None
        entry = deps
        all_exits: set[str] = set()
        for it in range(k):
            ipath = f"{path}[{it}]"
            inner = _Scope(scope, n.body, ipath, {"iter": float(it), "first": float(it == 0)},
                           loop_prev=prev, is_loop_iter=True)
            self._draw_vars(n, inner, ipath)
            out = self.body(n.body, n.order, n.sinks, inner, entry)
            all_exits.update(out)
            if not n.pipelined:
                entry = out
            prev = inner
        if n.pipelined:
            return _Binding(exits=self._ordered(all_exits) if all_exits else deps)
        return _Binding(exits=entry)

    def _draw_vars(self, n: Node, inner: _Scope, path: str) -> None:
        for name, spec in n.vars:
            inner.vars[name] = self.draw(spec, inner, f"{path}/${name}", "value", False, n)

    def call(self, n: Node, scope: _Scope, deps: tuple[str, ...], path: str,
             attempt: int) -> str:
        prompt = max(1, int(self.draw(n.prompt, scope, path, "prompt", True, n)))
        output = max(0, int(self.draw(n.output, scope, path, "output", True, n)))
        images = self._images(n, scope, path)
        slot = n.model or self.t.default_model
        image_tokens = self._image_tokens(images, slot)
        prefix_key = None
        prefix_tokens = 0
        if n.prefix_key is not None:
            prefix_key = interpolate(n.prefix_key, scope.var)
            prefix_tokens = max(0, int(self.draw(n.prefix_tokens, scope, path, "prefix", True,
                                                 n)))
            prefix_tokens = min(prefix_tokens, prompt)
        cont = None
        if n.continues:
            b = scope.lookup(n.continues)
            cont = b.call_id if b is not None else None
        partial = self._partial(n, scope)
        # a retried attempt waits on the previous one; keep what it continues or streams
        # from in its deps as well, so consumers never need to look through attempts
        extra = {cont} if cont else set()
        extra.update(ref for ref, _ in partial)
        if not extra <= set(deps):
            deps = self._ordered(set(deps) | extra)
        self._emit(CallRecord(
            inst=self.inst, id=path, kind="call", role=n.role or n.id, model=slot, deps=deps,
            prompt_tokens=prompt, images=images, image_tokens=image_tokens,
            output_tokens=output, prefix_key=prefix_key, prefix_tokens=prefix_tokens,
            continues=cont, resource=n.resource, after_partial=partial,
            arrival_s=self.arrival, attempt=attempt))
        return path

    def _partial(self, n: Node, scope: _Scope) -> tuple[tuple[str, float], ...]:
        out = []
        for ref, frac in n.after_partial:
            b = scope.lookup(ref)
            if b is not None and b.call_id is not None:
                out.append((b.call_id, frac))
        return tuple(out)

    def _images(self, n: Node, scope: _Scope, path: str) -> tuple[dict, ...]:
        if isinstance(n.images, int):
            w, h = self.t.default_image
            return tuple({"w": w, "h": h} for _ in range(n.images))
        out = []
        for i, im in enumerate(n.images):
            if "tokens" in im:
                tok = max(0, int(self.draw(im["tokens"], scope, path, f"images[{i}].tokens",
                                           True, n)))
                out.append({"tokens": tok})
            else:
                out.append({"w": int(im["w"]), "h": int(im["h"])})
        return tuple(out)

    def _image_tokens(self, images: tuple[dict, ...], slot: str) -> int | None:
        if not images:
            return 0
        model = self.models.get(slot) if isinstance(self.models, dict) else self.models
        total = 0
        for im in images:
            if "tokens" in im:
                total += im["tokens"]
                continue
            if model is None:
                return None
            t = model.image_tokens(im["w"], im["h"])
            if t is None:
                return None
            total += t
        return total


class _LazyRng:
    """Creates the generator only when a draw needs randomness (constants need none)."""

    __slots__ = ("_ex", "_key", "_g")

    def __init__(self, ex: _Expander, key: str) -> None:
        self._ex, self._key, self._g = ex, key, None

    def __getattr__(self, name: str):
        if self._g is None:
            self._g = self._ex.rng(self._key)
        return getattr(self._g, name)


class _Node0:
    """Stand-in node for drawing template-level vars (only ``key`` is read)."""

    key = "vars"


def expand_template(t: Template, seed: int, instances: int | None = None,
                    model: Any = None) -> list[CallRecord]:
    """Expand a loaded template; see :func:`workloads.agents.expand`."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}", key="seed",
                         expected="an integer >= 0")
    n = t.arrivals.instances if instances is None else instances
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"instances must be a positive integer, got {n!r}", key="instances",
                         expected="an integer >= 1")
    ex = _Expander(t, int(seed), model)
    per_inst_vars, arrivals = _arrivals(t, int(seed), n)
    for k in range(n):
        ex.instance(k, per_inst_vars[k], arrivals[k])
    return ex.records


def _arrivals(t: Template, seed: int, n: int) -> tuple[list[dict[str, float]],
                                                        list[float | None]]:
    a = t.arrivals
    if a.process == "trace":
        from workloads.traces import trace_from_spec

        reqs = trace_from_spec(a.trace or {}, n=n, seed=seed, rate=a.rate, doc=t.doc,
                               base_dir=Path(t.file).resolve().parent)
        if len(reqs) < n:
            raise t.doc.error("arrivals.trace", f"trace has {len(reqs)} requests, {n} asked for",
                              f"at least {n} requests")
        return ([{"req_prompt": float(r.prompt_tokens), "req_output": float(r.output_tokens),
                  "req_prefix": float(r.prefix_tokens),
                  "req_session": float(r.session if r.session is not None else r.id),
                  "req_turn": float(r.turn)}
                 for r in reqs[:n]], [r.arrival_s for r in reqs[:n]])
    extra: list[dict[str, float]] = [{} for _ in range(n)]
    if a.process == "closed":
        return extra, [None] * n
    if a.process == "fixed":
        return extra, [round(k / float(a.rate), 9) for k in range(n)]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(2**31,))))
    gaps = rng.exponential(1.0 / float(a.rate), size=n)
    gaps[0] = 0.0
    return extra, [round(float(x), 9) for x in np.cumsum(gaps)]


def serialize(calls: list[CallRecord]) -> list[CallRecord]:
    """The same calls run one at a time per instance, in list order (each record depends on
    the previous one; ``after_partial`` dropped): the "code is more serial than the DAG"
    experiment knob."""
    from dataclasses import replace

    out: list[CallRecord] = []
    last: dict[int, str] = {}
    for c in calls:
        prev = last.get(c.inst)
        deps = (prev,) if prev is not None else ()
        if c.continues and c.continues not in deps:
            deps = deps + (c.continues,)
        out.append(replace(c, deps=deps, after_partial=()))
        last[c.inst] = c.id
    return out


def dag_stats(calls: list[CallRecord]) -> dict[str, float]:
    """Mean per instance: records, LLM calls, critical path (calls and seconds of delays on
    the longest call chain), widest level of calls that could run at once."""
    level: dict[tuple[int, str], int] = {}
    delay_on_path: dict[tuple[int, str], float] = {}
    per: dict[int, dict[str, float]] = {}
    widths: dict[int, dict[int, int]] = {}
    for c in calls:
        lv = max((level[(c.inst, d)] for d in c.deps), default=0)
        dl = max((delay_on_path[(c.inst, d)] for d in c.deps), default=0.0)
        if c.kind == "call":
            lv += 1
            widths.setdefault(c.inst, {}).setdefault(lv, 0)
            widths[c.inst][lv] += 1
        else:
            dl += c.seconds or 0.0
        level[c.key], delay_on_path[c.key] = lv, dl
        st = per.setdefault(c.inst, {"records": 0, "calls": 0, "depth": 0, "delay_s": 0.0})
        st["records"] += 1
        st["calls"] += c.kind == "call"
        if lv > st["depth"] or (lv == st["depth"] and dl > st["delay_s"]):
            st["depth"], st["delay_s"] = lv, dl
    n = len(per) or 1
    return {
        "instances": len(per),
        "records_per_task": sum(v["records"] for v in per.values()) / n,
        "calls_per_task": sum(v["calls"] for v in per.values()) / n,
        "critical_path_calls": sum(v["depth"] for v in per.values()) / n,
        "critical_path_delay_s": sum(v["delay_s"] for v in per.values()) / n,
        "max_parallel_calls": sum(max(w.values(), default=0) for w in widths.values()) / n,
    }


def token_stats(calls: list[CallRecord]) -> dict[str, float | None]:
    """Mean tokens per instance: new text, image and output tokens; prefill context without
    a cache (a ``continues`` call re-reads its parent's whole context) and with a prefix
    cache (the parent context and any prefix key seen earlier in the list are reused).
    Image tokens are None when some image is unresolved (no vision model bound)."""
    ctx: dict[tuple[int, str], int] = {}
    seen_prefix: set[str] = set()
    insts = {c.inst for c in calls}
    tot = {"prompt": 0, "image": 0, "output": 0, "prefill_nocache": 0, "prefill_cached": 0}
    image_known = True
    for c in calls:
        if c.kind != "call":
            continue
        img = c.image_tokens or 0
        image_known &= c.image_tokens is not None
        parent = ctx.get((c.inst, c.continues), 0) if c.continues else 0
        full = parent + c.prompt_tokens + img
        reused = parent
        if c.prefix_key and c.prefix_key in seen_prefix and not c.continues:
            reused += c.prefix_tokens
        if c.prefix_key:
            seen_prefix.add(c.prefix_key)
        ctx[c.key] = full + c.output_tokens
        tot["prompt"] += c.prompt_tokens
        tot["image"] += img
        tot["output"] += c.output_tokens
        tot["prefill_nocache"] += full
        tot["prefill_cached"] += full - reused
    n = len(insts) or 1
    out: dict[str, float | None] = {f"{k}_tokens_per_task": v / n for k, v in tot.items()}
    if not image_known:
        out["image_tokens_per_task"] = None
        out["prefill_nocache_tokens_per_task"] = None
        out["prefill_cached_tokens_per_task"] = None
    return out
