"""Agent workload templates (``agentwl/v1``): load, validate, and hold as a node tree.

A template is one YAML document describing one task's DAG of LLM calls::

    schema: agentwl/v1
    name: mobile-agent-v2
    description: ...
    sources: {S1: "X-PLUG/MobileAgent@11cea57 ..."}      # provenance of the defaults
    defaults: {model: main, image: {w: 1080, h: 2340}}
    models: {main: {kind: vlm}, caption: {kind: vlm}}      # logical model slots
    arrivals: {process: closed, instances: 1, concurrency: 1}
    vars: {steps: {dist: lognormal, mean: 12, sd: 7, min: 2, max: 40}}
    fragments: {perceive: [ ...nodes... ]}
    graph: [ ...nodes... ]

Node kinds (all take ``id``, ``kind``, optional ``after`` (ids; ``prev:<id>`` = that node
in the previous loop iteration), ``p`` (run with probability p, else skipped and treated as
done), ``retry: {p, max}``, ``role``):

- ``call``: one LLM request. ``model``, ``prompt`` (new text tokens, including the shared
  prefix; with ``continues`` only the new turn), ``output`` (generated tokens), ``images``
  (a count of default-size images or a list of ``{w, h}`` / ``{tokens}``), ``prefix: {key,
  tokens}``, ``continues: <id>``, ``after_partial: {<id>: fraction}``, ``resource``.
- ``delay``: non-LLM time: ``seconds``, ``resource`` (lane such as screen, cpu, net),
  ``after_partial``.
- ``loop``: ``count`` sequential iterations of ``body``; a barrier between iterations unless
  ``pipelined: true``; exposes ``$iter`` (0-based) and ``$first`` (1 on iteration 0).
- ``fanout``: ``count`` parallel copies of ``body``; exposes ``$branch``; ``after: [fanout]``
  waits for every copy (join).
- ``group``: a subgraph so that ``after`` / ``p`` / ``retry`` apply to several nodes.
- ``use``: ``use: <fragment>`` instantiates a fragment as a group; a fragment is a list of
  nodes or ``{include: FILE#NAME}`` (a fragment of another YAML file, relative to this one).

``loop``, ``fanout``, ``group`` and ``use`` may declare ``vars`` drawn per iteration/branch.
With ``arrivals: {process: trace}`` each instance is one request of a chat trace and sees
``$req_prompt``, ``$req_output``, ``$req_prefix`` (tokens of earlier turns), ``$req_session``
and ``$req_turn``.
Numbers are NumberSpecs (:mod:`workloads.agents.numbers`); strings interpolate ``${var}``.
Every mistake is an :class:`InputError` naming the file, key path, line and what was
expected; a dependency cycle names the nodes on it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neumelt.config import Doc, load_yaml
from neumelt.errors import InputError
from workloads.agents import numbers

SCHEMA = "agentwl/v1"
NODE_KINDS = ("call", "delay", "loop", "fanout", "group", "use")
_COMMON = {"id", "kind", "after", "p", "retry", "role", "vars"}
_KIND_KEYS = {
    "call": {"model", "prompt", "output", "images", "prefix", "continues", "after_partial",
             "resource"},
    "delay": {"seconds", "resource", "after_partial"},
    "loop": {"count", "body", "pipelined"},
    "fanout": {"count", "body"},
    "group": {"body"},
    "use": {"use"},
}
_TOP_KEYS = {"schema", "name", "description", "seed", "sources", "tokenizer_note",
             "defaults", "models", "arrivals", "vars", "fragments", "graph"}
_DEFAULT_KEYS = {"model", "image", "sampling"}
_ARRIVAL_KEYS = {"process", "instances", "concurrency", "rate", "trace", "think_s"}
_PROCESSES = ("closed", "poisson", "fixed", "trace")
_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_INTERP_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_VARS = {"inst"}


@dataclass(frozen=True)
class Node:
    """One validated template node. ``key`` is its YAML key path (for error messages)."""

    id: str
    kind: str
    key: str
    after: tuple[str, ...] = ()
    p: Any = None
    retry_p: Any = None
    retry_max: int = 0
    role: str | None = None
    vars: tuple[tuple[str, Any], ...] = ()
    # call
    model: str | None = None
    prompt: Any = None
    output: Any = None
    images: Any = None
    prefix_key: str | None = None
    prefix_tokens: Any = None
    continues: str | None = None
    after_partial: tuple[tuple[str, float], ...] = ()
    resource: str | None = None
    # delay
    seconds: Any = None
    # loop / fanout / group
    count: Any = None
    pipelined: bool = False
    body: tuple[Node, ...] = ()
    order: tuple[int, ...] = ()  # topological order of body (indices)
    sinks: tuple[int, ...] = ()  # body nodes no sibling depends on
    doc: Doc | None = field(default=None, compare=False, repr=False)  # file it came from
    base_dir: Path | None = field(default=None, compare=False, repr=False)

    def refs(self) -> list[str]:
        """Ids this node depends on (``after``, ``continues``, ``after_partial``)."""
        out = list(self.after)
        if self.continues:
            out.append(self.continues)
        out.extend(k for k, _ in self.after_partial)
        return out


@dataclass(frozen=True)
class Arrivals:
    """How instances arrive: ``closed`` (``concurrency`` at a time), ``poisson`` (``rate``
    per second), ``fixed`` (every 1/``rate`` s) or ``trace`` (requests of a chat trace)."""

    process: str = "closed"
    instances: int = 1
    concurrency: int = 1
    rate: float | None = None
    think_s: float = 0.0
    trace: dict | None = None


@dataclass(frozen=True)
class Template:
    """A validated agent workload template."""

    name: str
    description: str
    file: str
    doc: Doc = field(repr=False, compare=False)
    graph: tuple[Node, ...]
    order: tuple[int, ...]
    sinks: tuple[int, ...]
    vars: tuple[tuple[str, Any], ...]
    default_model: str
    default_image: tuple[int, int]
    models: dict
    arrivals: Arrivals
    sources: dict
    seed: int | None = None

    @property
    def base_dir(self) -> Path:
        return Path(self.file).resolve().parent

    def count_nodes(self) -> dict[str, int]:
        """Static node counts per kind (not the expanded number of calls)."""
        out: dict[str, int] = {}

        def walk(nodes: tuple[Node, ...]) -> None:
            for n in nodes:
                out[n.kind] = out.get(n.kind, 0) + 1
                walk(n.body)
        walk(self.graph)
        return out


# --------------------------------------------------------------------------------------


def interpolate(text: str, var) -> str:
    """Replace ``${name}`` with the variable's value (integers without a decimal point)."""
    def sub(m: re.Match) -> str:
        v = var(m.group(1))
        return str(int(v)) if float(v).is_integer() else str(v)
    return _INTERP_RE.sub(sub, text)


class _Loader:
    def __init__(self, doc: Doc, base_dir: Path | None) -> None:
        self.doc = doc
        self.base_dir = base_dir
        self.fragments: dict[str, tuple[list, str, Doc, Path | None]] = {}
        self.expanding: list[str] = []

    def err(self, path: str, msg: str, expected: str | None = None) -> InputError:
        return self.doc.error(path, msg, expected)

    # ---- top level ---------------------------------------------------------------------
    def template(self, file: str) -> Template:
        data = self.doc.data
        if not isinstance(data, dict):
            raise self.err("", f"got {type(data).__name__}", "a mapping (agentwl/v1 template)")
        for k in data:
            if k not in _TOP_KEYS:
                raise self.err(k, f"unknown key '{k}'", "one of " + ", ".join(sorted(_TOP_KEYS)))
        if data.get("schema", SCHEMA) != SCHEMA:
            raise self.err("schema", f"unsupported schema {data.get('schema')!r}", repr(SCHEMA))
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise self.err("name", f"got {name!r}", "a non-empty string")
        desc = data.get("description", "")
        if not isinstance(desc, str):
            raise self.err("description", f"got {desc!r}", "a string")
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise self.err("seed", f"got {seed!r}", "an integer")
        for k in ("sources", "models"):
            if not isinstance(data.get(k, {}), dict):
                raise self.err(k, f"got {data[k]!r}", "a mapping")
        defaults = data.get("defaults", {}) or {}
        if not isinstance(defaults, dict):
            raise self.err("defaults", f"got {defaults!r}", "a mapping")
        for k in defaults:
            if k not in _DEFAULT_KEYS:
                raise self.err(f"defaults.{k}", f"unknown key '{k}'",
                               "one of " + ", ".join(sorted(_DEFAULT_KEYS)))
        default_model = defaults.get("model", "main")
        if not isinstance(default_model, str):
            raise self.err("defaults.model", f"got {default_model!r}", "a string")
        img = defaults.get("image", {"w": 1080, "h": 2340})
        w, h = self._image_size(img, "defaults.image")
        arrivals = self._arrivals(data.get("arrivals", {}) or {})
        var_names = set(BUILTIN_VARS)
        if arrivals.process == "trace":
            var_names |= {"req_prompt", "req_output", "req_prefix", "req_session", "req_turn"}
        top_vars = self._vars(data.get("vars", {}) or {}, "vars", var_names)
        frags = data.get("fragments", {}) or {}
        if not isinstance(frags, dict):
            raise self.err("fragments", f"got {frags!r}", "a mapping name: [nodes]")
        for fname, body in frags.items():
            if isinstance(body, dict) and set(body) == {"include"}:
                self.fragments[str(fname)] = self._include(body["include"],
                                                           f"fragments.{fname}.include")
                continue
            if not isinstance(body, list):
                raise self.err(f"fragments.{fname}", f"got {body!r}",
                               "a list of nodes or {include: FILE#FRAGMENT}")
            self.fragments[str(fname)] = (body, f"fragments.{fname}", self.doc, self.base_dir)
        graph = data.get("graph")
        if not isinstance(graph, list) or not graph:
            raise self.err("graph", f"got {graph!r}", "a non-empty list of nodes")
        nodes = self._body(graph, "graph", var_names, outer_ids=[], in_loop=[])
        order, sinks = self._order(nodes, "graph")
        return Template(
            name=name, description=desc, file=file, doc=self.doc, graph=nodes, order=order,
            sinks=sinks, vars=top_vars, default_model=default_model, default_image=(w, h),
            models=dict(data.get("models", {}) or {}), arrivals=arrivals,
            sources=dict(data.get("sources", {}) or {}), seed=seed)

    def _include(self, ref: Any, path: str) -> tuple[list, str, Doc, Path | None]:
        """``FILE#NAME``: fragment NAME of another YAML file (relative to this one)."""
        if not isinstance(ref, str) or "#" not in ref:
            raise self.err(path, f"got {ref!r}", "FILE#FRAGMENT, e.g. common/gui.yaml#perceive")
        file, _, name = ref.partition("#")
        p = Path(file)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        try:
            doc = load_yaml(p)
        except InputError as exc:
            raise self.err(path, f"cannot include '{ref}': {exc}") from None
        frags = doc.data.get("fragments") if isinstance(doc.data, dict) else None
        body = frags.get(name) if isinstance(frags, dict) else None
        if not isinstance(body, list):
            have = ", ".join(sorted(frags)) if isinstance(frags, dict) else "none"
            raise self.err(path, f"'{p}' has no fragment '{name}'", f"one of: {have}")
        return body, f"fragments.{name}", doc, p.resolve().parent

    def _image_size(self, img: Any, path: str) -> tuple[int, int]:
        if not isinstance(img, dict) or set(img) != {"w", "h"}:
            raise self.err(path, f"got {img!r}", "a mapping {w: PIXELS, h: PIXELS}")
        for k in ("w", "h"):
            v = img[k]
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise self.err(f"{path}.{k}", f"got {v!r}", "a positive integer (pixels)")
        return img["w"], img["h"]

    def _arrivals(self, a: Any) -> Arrivals:
        if not isinstance(a, dict):
            raise self.err("arrivals", f"got {a!r}", "a mapping")
        for k in a:
            if k not in _ARRIVAL_KEYS:
                raise self.err(f"arrivals.{k}", f"unknown key '{k}'",
                               "one of " + ", ".join(sorted(_ARRIVAL_KEYS)))
        process = a.get("process", "closed")
        if process not in _PROCESSES:
            raise self.err("arrivals.process", f"got {process!r}",
                           "one of " + ", ".join(_PROCESSES))
        for k in ("instances", "concurrency"):
            v = a.get(k, 1)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise self.err(f"arrivals.{k}", f"got {v!r}", "a positive integer")
        rate = a.get("rate")
        if rate is not None and (not numbers._is_num(rate) or rate <= 0):
            raise self.err("arrivals.rate", f"got {rate!r}", "a positive number (per second)")
        if process in ("poisson", "fixed") and rate is None:
            raise self.err("arrivals", f"process '{process}' needs a rate",
                           "rate: REQUESTS_PER_SECOND")
        think = a.get("think_s", 0.0)
        if not numbers._is_num(think) or think < 0:
            raise self.err("arrivals.think_s", f"got {think!r}", "seconds >= 0")
        trace = a.get("trace")
        if process == "trace":
            if not isinstance(trace, dict):
                raise self.err("arrivals.trace", f"got {trace!r}",
                               "a mapping {dataset: sharegpt|alpaca|lmsys|azure-conv|azure-code"
                               " | file: PATH, ...}")
        elif trace is not None:
            raise self.err("arrivals.trace", "only used with process: trace")
        return Arrivals(process=process, instances=a.get("instances", 1),
                        concurrency=a.get("concurrency", 1),
                        rate=float(rate) if rate is not None else None,
                        think_s=float(think), trace=trace)

    def _vars(self, spec: Any, path: str, var_names: set[str]) -> tuple[tuple[str, Any], ...]:
        if not isinstance(spec, dict):
            raise self.err(path, f"got {spec!r}", "a mapping name: NumberSpec")
        out = []
        for name, v in spec.items():
            name = str(name)
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise self.err(f"{path}.{name}", f"bad variable name {name!r}",
                               "letters, digits and _")
            numbers.check(v, f"{path}.{name}", self.doc, "number", var_names, self.base_dir)
            var_names.add(name)
            out.append((name, v))
        return tuple(out)

    # ---- nodes ---------------------------------------------------------------------------
    def _body(self, items: list, path: str, var_names: set[str], outer_ids: list[set[str]],
              in_loop: list[set[str]]) -> tuple[Node, ...]:
        ids: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise self.err(f"{path}[{i}]", f"got {item!r}", "a node mapping")
            nid = item.get("id")
            if not isinstance(nid, str) or not _ID_RE.match(nid):
                raise self.err(f"{path}[{i}].id", f"got {nid!r}",
                               "an id of letters, digits, _ . - (starting with a letter)")
            if nid in ids:
                raise self.err(f"{path}[{i}].id", f"duplicate id '{nid}'", "unique ids")
            ids.add(nid)
        scope = [ids] + outer_ids
        return tuple(self._node(item, f"{path}[{i}]", set(var_names), scope, in_loop)
                     for i, item in enumerate(items))

    def _ref(self, ref: Any, path: str, scope: list[set[str]], in_loop: list[set[str]],
             self_id: str) -> str:
        if not isinstance(ref, str):
            raise self.err(path, f"got {ref!r}", "a node id")
        if ref.startswith("prev:"):
            target = ref[5:]
            if not any(target in body for body in in_loop):
                raise self.err(path, f"'{ref}' does not name a node in an enclosing loop body",
                               "prev:<id of a node in the loop body>")
            return ref
        if ref == self_id:
            raise self.err(path, f"node '{self_id}' depends on itself",
                           "ids of other nodes")
        if not any(ref in s for s in scope):
            known = sorted(set().union(*scope) - {self_id})
            raise self.err(path, f"undefined node '{ref}'",
                           "one of " + ", ".join(known) if known else "an existing node id")
        return ref

    def _node(self, d: dict, path: str, var_names: set[str], scope: list[set[str]],
              in_loop: list[set[str]]) -> Node:
        kind = d.get("kind", "use" if "use" in d else None)
        if kind not in NODE_KINDS:
            raise self.err(f"{path}.kind", f"got {kind!r}", "one of " + ", ".join(NODE_KINDS))
        allowed = _COMMON | _KIND_KEYS[kind]
        for k in d:
            if k not in allowed:
                raise self.err(f"{path}.{k}", f"unknown key '{k}' for a {kind} node",
                               "one of " + ", ".join(sorted(allowed)))
        nid = d["id"]
        kw: dict[str, Any] = {"id": nid, "kind": kind, "key": path, "doc": self.doc,
                              "base_dir": self.base_dir}
        after = d.get("after", [])
        if isinstance(after, str):
            after = [after]
        if not isinstance(after, list):
            raise self.err(f"{path}.after", f"got {after!r}", "a list of node ids")
        kw["after"] = tuple(self._ref(r, f"{path}.after[{i}]", scope, in_loop, nid)
                            for i, r in enumerate(after))
        if "p" in d:
            numbers.check(d["p"], f"{path}.p", self.doc, "prob", var_names | {"iter", "first",
                                                                             "branch"})
            if not isinstance(d["p"], (int, float, str)) or isinstance(d["p"], bool):
                raise self.err(f"{path}.p", f"got {d['p']!r}", "a probability or $variable")
            kw["p"] = d["p"]
        if "retry" in d:
            r = d["retry"]
            if not isinstance(r, dict) or not set(r) <= {"p", "max"} or "max" not in r:
                raise self.err(f"{path}.retry", f"got {r!r}", "a mapping {p: PROB, max: N}")
            m = r["max"]
            if isinstance(m, bool) or not isinstance(m, int) or m < 0:
                raise self.err(f"{path}.retry.max", f"got {m!r}", "a non-negative integer")
            rp = r.get("p", 1.0)
            numbers.check(rp, f"{path}.retry.p", self.doc, "prob", var_names)
            kw["retry_p"], kw["retry_max"] = rp, m
        if "role" in d:
            if not isinstance(d["role"], str):
                raise self.err(f"{path}.role", f"got {d['role']!r}", "a string")
            kw["role"] = d["role"]
        if "vars" in d:
            if kind in ("call", "delay"):
                raise self.err(f"{path}.vars", "vars belong on loop, fanout, group or use nodes")
            # loop/fanout builtins are visible to their vars
            pre = {"iter", "first"} if kind == "loop" else {"branch"} if kind == "fanout" \
                else set()
            vn = var_names | pre
            kw["vars"] = self._vars(d["vars"], f"{path}.vars", vn)
        inner_vars = set(var_names) | {n for n, _ in kw.get("vars", ())}
        if kind == "call":
            self._call(d, path, kw, var_names, scope, in_loop, nid)
        elif kind == "delay":
            if "seconds" not in d:
                raise self.err(path, "missing required key 'seconds'", "seconds: NumberSpec")
            numbers.check(d["seconds"], f"{path}.seconds", self.doc, "seconds", var_names,
                          self.base_dir)
            kw["seconds"] = d["seconds"]
            kw["resource"] = self._resource(d, path)
            self._after_partial(d, path, kw, scope, in_loop, nid)
        elif kind in ("loop", "fanout"):
            if "count" not in d:
                raise self.err(path, f"missing required key 'count' for a {kind}",
                               "count: NumberSpec")
            numbers.check(d["count"], f"{path}.count", self.doc, "count", var_names,
                          self.base_dir)
            kw["count"] = d["count"]
            if kind == "loop":
                pl = d.get("pipelined", False)
                if not isinstance(pl, bool):
                    raise self.err(f"{path}.pipelined", f"got {pl!r}", "true or false")
                kw["pipelined"] = pl
                inner_vars |= {"iter", "first"}
            else:
                inner_vars |= {"branch"}
            body = self._body_list(d, path)
            body_ids = {b.get("id") for b in body if isinstance(b, dict)}
            loops = ([body_ids] + in_loop) if kind == "loop" else in_loop
            kw["body"] = self._body(body, f"{path}.body", inner_vars, scope, loops)
        elif kind == "group":
            kw["body"] = self._body(self._body_list(d, path), f"{path}.body", inner_vars, scope,
                                    in_loop)
        else:  # use
            frag = d["use"]
            if not isinstance(frag, str) or frag not in self.fragments:
                raise self.err(f"{path}.use", f"unknown fragment {frag!r}",
                               "one of " + ", ".join(sorted(self.fragments))
                               if self.fragments else "a name under fragments")
            if frag in self.expanding:
                raise self.err(f"{path}.use", "fragment uses itself: "
                               + " -> ".join(self.expanding + [frag]))
            self.expanding.append(frag)
            body, fpath, fdoc, fdir = self.fragments[frag]
            saved = self.doc, self.base_dir
            self.doc, self.base_dir = fdoc, fdir  # errors and files relative to the fragment
            try:
                kw["body"] = self._body(body, fpath, inner_vars, scope, in_loop)
            finally:
                self.doc, self.base_dir = saved
            self.expanding.pop()
            kw["kind"] = "group"
        if kw.get("body") is not None and kind in ("loop", "fanout", "group", "use"):
            order, sinks = self._order(kw["body"], f"{path}.body")
            kw["order"], kw["sinks"] = order, sinks
        return Node(**kw)

    def _body_list(self, d: dict, path: str) -> list:
        body = d.get("body")
        if not isinstance(body, list) or not body:
            raise self.err(f"{path}.body", f"got {body!r}", "a non-empty list of nodes")
        return body

    def _resource(self, d: dict, path: str) -> str | None:
        r = d.get("resource")
        if r is not None and not isinstance(r, str):
            raise self.err(f"{path}.resource", f"got {r!r}", "a lane name such as screen, cpu")
        return r

    def _call(self, d: dict, path: str, kw: dict, var_names: set[str], scope, in_loop,
              nid: str) -> None:
        model = d.get("model")
        if model is not None and not isinstance(model, str):
            raise self.err(f"{path}.model", f"got {model!r}", "a model slot name")
        kw["model"] = model
        for k in ("prompt", "output"):
            if k not in d:
                raise self.err(path, f"missing required key '{k}' for a call",
                               f"{k}: token count or NumberSpec")
            numbers.check(d[k], f"{path}.{k}", self.doc, "tokens", var_names, self.base_dir)
            kw[k] = d[k]
        images = d.get("images", 0)
        if isinstance(images, bool):
            raise self.err(f"{path}.images", f"got {images!r}", "a count or a list")
        if isinstance(images, int):
            if images < 0:
                raise self.err(f"{path}.images", f"got negative {images}",
                               "a non-negative integer count of default-size images")
        elif isinstance(images, list):
            for i, im in enumerate(images):
                ip = f"{path}.images[{i}]"
                if isinstance(im, dict) and set(im) == {"tokens"}:
                    numbers.check(im["tokens"], f"{ip}.tokens", self.doc, "tokens", var_names)
                elif isinstance(im, dict) and set(im) == {"w", "h"}:
                    self._image_size(im, ip)
                else:
                    raise self.err(ip, f"got {im!r}", "{w: PIXELS, h: PIXELS} or {tokens: N}")
        else:
            raise self.err(f"{path}.images", f"got {images!r}",
                           "a count or a list of {w, h} / {tokens}")
        kw["images"] = images
        if "prefix" in d:
            pf = d["prefix"]
            if not isinstance(pf, dict) or set(pf) != {"key", "tokens"}:
                raise self.err(f"{path}.prefix", f"got {pf!r}", "a mapping {key, tokens}")
            if not isinstance(pf["key"], str) or not pf["key"]:
                raise self.err(f"{path}.prefix.key", f"got {pf['key']!r}", "a non-empty string")
            for m in _INTERP_RE.finditer(pf["key"]):
                if m.group(1) not in var_names:
                    raise self.err(f"{path}.prefix.key", f"undefined variable '${m.group(1)}'",
                                   "one of " + ", ".join(sorted(var_names)))
            numbers.check(pf["tokens"], f"{path}.prefix.tokens", self.doc, "tokens", var_names,
                          self.base_dir)
            kw["prefix_key"], kw["prefix_tokens"] = pf["key"], pf["tokens"]
        if "continues" in d:
            kw["continues"] = self._ref(d["continues"], f"{path}.continues", scope, in_loop, nid)
        self._after_partial(d, path, kw, scope, in_loop, nid)
        kw["resource"] = self._resource(d, path)

    def _after_partial(self, d: dict, path: str, kw: dict, scope, in_loop, nid: str) -> None:
        if "after_partial" in d:
            ap = d["after_partial"]
            if not isinstance(ap, dict):
                raise self.err(f"{path}.after_partial", f"got {ap!r}", "a mapping id: fraction")
            items = []
            for k, v in ap.items():
                self._ref(k, f"{path}.after_partial.{k}", scope, in_loop, nid)
                if not numbers._is_num(v) or not 0 <= v <= 1:
                    raise self.err(f"{path}.after_partial.{k}", f"got {v!r}",
                                   "a fraction between 0 and 1")
                items.append((str(k), float(v)))
            kw["after_partial"] = tuple(items)

    # ---- ordering ------------------------------------------------------------------------
    def _order(self, nodes: tuple[Node, ...], path: str) -> tuple[tuple[int, ...],
                                                                  tuple[int, ...]]:
        """Topological order of siblings (stable) and the sinks; refuse cycles.

        A reference from inside a composite node to one of its siblings counts as an edge
        from the composite itself (the reference is lifted to this level).
        """
        index = {n.id: i for i, n in enumerate(nodes)}
        deps: list[set[int]] = []
        for n in nodes:
            inner = [r for b in n.body for r in _all_refs(b)]
            if n.id in inner:
                raise self.err(n.key, f"dependency cycle: a node inside '{n.id}' depends on "
                               f"'{n.id}' itself", "references to nodes outside the enclosing one")
            mine = set()
            for r in _all_refs(n):
                if not r.startswith("prev:") and r in index and index[r] != index[n.id]:
                    mine.add(index[r])
            deps.append(mine)
        order: list[int] = []
        done: set[int] = set()
        state = [0] * len(nodes)  # 0 new, 1 on stack, 2 done
        stack_path: list[int] = []

        def visit(i: int) -> None:
            if state[i] == 2:
                return
            if state[i] == 1:
                cyc = stack_path[stack_path.index(i):] + [i]
                names = " -> ".join(nodes[j].id for j in cyc)
                raise self.err(nodes[i].key, f"dependency cycle: {names}",
                               "an acyclic graph (use prev:<id> for the previous loop iteration)")
            state[i] = 1
            stack_path.append(i)
            for j in sorted(deps[i]):
                visit(j)
            stack_path.pop()
            state[i] = 2
            done.add(i)
            order.append(i)

        for i in range(len(nodes)):
            visit(i)
        used = set().union(*deps) if deps else set()
        sinks = tuple(i for i in range(len(nodes)) if i not in used)
        return tuple(order), sinks


def _all_refs(n: Node) -> list[str]:
    """References of ``n`` and of everything inside it (lifted to ``n``'s level)."""
    out = n.refs()
    for b in n.body:
        out.extend(_all_refs(b))
    return out


def with_vars(t: Template, overrides: dict[str, Any]) -> Template:
    """``t`` with some top-level ``vars`` replaced (each a NumberSpec; names must exist)."""
    if not overrides:
        return t
    names = [n for n, _ in t.vars]
    known = set(BUILTIN_VARS)
    if t.arrivals.process == "trace":
        known |= {"req_prompt", "req_output", "req_prefix", "req_session", "req_turn"}
    out = []
    for name, spec in t.vars:
        if name in overrides:
            spec = overrides[name]
            numbers.check(spec, f"vars.{name}", Doc(data=None, file="--set"), "number", known,
                          t.base_dir)
        known.add(name)
        out.append((name, spec))
    for name in overrides:
        if name not in names:
            raise InputError(f"template '{t.name}' has no variable '{name}'", key="--set",
                             expected="one of " + ", ".join(names) if names else
                             "a template with vars")
    return dataclasses.replace(t, vars=tuple(out))


def load_template_file(path: str | Path) -> Template:
    """Load and validate a template from a YAML file."""
    doc = load_yaml(path)
    return _Loader(doc, Path(path).resolve().parent).template(str(path))


def load_template_doc(doc: Doc, base_dir: Path | None = None) -> Template:
    """Validate an already parsed YAML document."""
    return _Loader(doc, base_dir).template(doc.file or "<template>")
