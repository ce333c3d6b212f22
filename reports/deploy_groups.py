"""Like-for-like groups of deployment candidates and the recommendation of each.

A decision compares options for the same job: candidates are grouped by model (quantised
variants of one model together) and workload (a profiled task cut down with ``scale`` /
``max_calls`` is a different job from the whole task). A user's list of acceptable models
(``accept``, optionally with a quality score each) puts those models in one group per
workload, with the quality/size trade-off stated. Every group gets one recommendation
and a one-sentence reason: which figure decided it and by how much, the tightest budget
the winner meets, and which budget ruled out the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reports.data import RunData, finite
from reports.deploy_candidate import Budgets, Candidate, model_key
from reports.doc import fmt_number

RANK_WORDS = {"tps": ("decode speed per request", "higher"), "ttft": ("TTFT", "lower"),
              "energy": ("energy per task", "lower"), "headroom": ("memory headroom", "higher")}


@dataclass(frozen=True)
class AcceptModel:
    """A model the user accepts for the job; ``quality`` is their score (higher = better)."""

    name: str
    quality: float | None = None


def parse_accept(specs: list[str] | tuple[str, ...] | None) -> list[AcceptModel]:
    """``["gpt3-7b=0.62", "smollm2-135m"]`` -> accepted models (quality optional)."""
    out = []
    for spec in specs or ():
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            name, _, q = part.partition("=")
            quality = finite(q) if q else None
            if q and quality is None:
                from neumelt.errors import InputError
                raise InputError(f"bad quality score in {part!r}", key="--accept-models",
                                 expected="MODEL or MODEL=SCORE (a number, higher is better)")
            out.append(AcceptModel(name.strip(), quality))
    return out


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def accepted(model: str, accept: list[AcceptModel]) -> AcceptModel | None:
    key = _alnum(model_key(model))
    for a in accept:
        if _alnum(a.name) and _alnum(a.name) in key:
            return a
    return None


def workload_key(run: RunData) -> str:
    """The job a run did: its workload, with the reduction of a cut-down profiled task."""
    name = str(run.attr("workload") or "unknown workload")
    if "/" in name or name.endswith((".yaml", ".yml")):
        name = name.rstrip("/").rsplit("/", 1)[-1]
    if run.run.kind == "profile":
        cfg = run.run.config
        scale, max_calls = finite(cfg.get("scale")), finite(cfg.get("max_calls"))
        cut = []
        if scale is not None and scale != 1:
            cut.append(f"token counts x{scale:g}")
        if max_calls:
            cut.append(f"first {max_calls:g} nodes")
        if cut:
            name += f" (reduced: {', '.join(cut)})"
    return name


@dataclass
class Group:
    """Candidates that answer the same question, ranked."""

    title: str
    candidates: list[Candidate]
    models: tuple[str, ...]
    workload: str
    tradeoff: str = ""
    mixed: bool = False
    best: Candidate | None = None
    reason: str = ""
    energy_comparable: bool = True
    energy_reason: str = ""
    notes: list[str] = field(default_factory=list)


def make_groups(cands: list[Candidate], accept: list[AcceptModel]) -> list[Group]:
    """Like-for-like groups in first-seen order (see module docstring)."""
    keyed: dict[tuple[str, str], list[Candidate]] = {}
    for c in cands:
        a = accepted(c.model, accept) if accept else None
        mkey = "accepted:" if a is not None else model_key(c.model)
        keyed.setdefault((mkey, c.workload), []).append(c)
    groups = []
    for (mkey, workload), members in keyed.items():
        models = tuple(dict.fromkeys(c.model for c in members))
        if mkey == "accepted:":
            names = tuple(dict.fromkeys(model_key(c.model) for c in members))
            title = f"Acceptable models ({', '.join(names)}) on {workload}"
            groups.append(Group(title, members, models, workload,
                                tradeoff=_tradeoff(members, accept)))
        else:
            groups.append(Group(f"{members[0].model_family} on {workload}", members, models,
                                workload))
    return groups


def _tradeoff(members: list[Candidate], accept: list[AcceptModel]) -> str:
    """Quality vs size of the accepted models present, one clause per model."""
    seen: dict[str, tuple[AcceptModel, Candidate]] = {}
    for c in members:
        a = accepted(c.model, accept)
        if a is not None and a.name not in seen:
            seen[a.name] = (a, c)
    parts = []
    for a, c in seen.values():
        w = c.memory.weights
        size = (f"{fmt_number(w.value / 2 ** 30)} GiB of weights per device ({w.provenance})"
                if w is not None and w.available else "weight size unavailable")
        quality = f"quality {a.quality:g} (user-given)" if a.quality is not None else \
            "quality not given (neumelt does not measure output quality)"
        parts.append(f"{a.name}: {quality}, {size}")
    return "Quality/size trade-off: " + "; ".join(parts) + "."


# -- margins and the one-sentence reason -------------------------------------------

def _margins(c: Candidate, b: Budgets) -> list[tuple[str, float, str]]:
    """(check, relative slack (negative = missed), text) for every checked budget."""
    out = []
    head = c.headroom
    need = 100 * (b.ram_headroom or 0.0)
    if head is not None and head.available:
        slack = (head.value - need) / 100
        out.append(("memory", slack, f"memory headroom {head.number()} % vs ≥ {need:g} %"
                    + ("" if slack >= 0 else f" (short by {-100 * slack:.0f} points)")))

    def rel(name, q, lim, lower_is_better, what, unit):
        if lim is None or q is None or not q.available:
            return
        slack = (lim - q.value) / lim if lower_is_better else (q.value - lim) / lim
        sign = "≤" if lower_is_better else "≥"
        text = f"{what} {q.text(False)} vs {sign} {fmt_number(lim)} {unit}"
        if slack < 0:
            text += f" (misses by {-100 * slack:.0f} %)"
        out.append((name, slack, text))

    rel("TTFT", c.ttft, b.max_ttft_s, True, "TTFT", "s")
    rel("decode", c.tps, b.min_tps, False, "decode", "tok/s")
    if c.checks.get("energy") in ("pass", "fail"):
        rel("energy", c.j_per_task, b.max_j_per_task, True, "energy", "J/task")
    if b.max_temp_c is not None and c.thermal.peak is not None:
        rel("thermal", c.thermal.peak, b.max_temp_c, True, "peak temperature", "°C")
    return out


def rank_quantity(c: Candidate, key: str):
    return {"tps": c.tps, "ttft": c.ttft, "energy": c.j_per_task, "headroom": c.headroom}[key]


def _name(c: Candidate, with_model: bool) -> str:
    quant = f" {c.quant}" if c.quant not in ("", "—") else ""
    return f"{c.target}" + (f" ({c.model}{quant})" if with_model else
                            (f" ({c.quant})" if quant else ""))


def recommend(g: Group, budgets: Budgets, rank_by: str) -> None:
    """Set ``g.best`` and ``g.reason`` (one sentence) from the ranked candidates."""
    multi = len(g.models) > 1
    feasible = [c for c in g.candidates if c.verdict == "feasible"]
    out = [c for c in g.candidates if c.verdict == "infeasible"]
    unknown = [c for c in g.candidates if c.verdict == "unverified"]
    ruled = []
    for c in out[:3]:
        missed = sorted((m for m in _margins(c, budgets) if m[1] < 0), key=lambda m: m[1])
        if missed:
            ruled.append(f"{_name(c, multi)} misses {missed[0][2]}")
    for c in unknown[:2]:
        what = [k for k, v in c.checks.items() if v == "unknown"]
        ruled.append(f"{_name(c, multi)} is unverified ({', '.join(what)} unknown)")
    tail = ("; ruled out: " + "; ".join(ruled)) if ruled else ""
    if not feasible:
        g.best = None
        g.reason = ("No candidate in this group meets every budget with known numbers"
                    + (tail.replace("; ruled out: ", ": ") if ruled else "") + ".")
        return
    best = feasible[0]
    g.best = best
    word, better = RANK_WORDS[rank_by]
    q = rank_quantity(best, rank_by)
    if len(feasible) > 1:
        runner = feasible[1]
        rq = rank_quantity(runner, rank_by)
        if q is not None and q.available and rq is not None and rq.available and rq.value:
            delta = 100 * (q.value - rq.value) / abs(rq.value)
            near = ", a near tie" if abs(delta) < 2 else ""
            others = ("the other candidate" if len(feasible) == 2 else
                      f"the other {len(feasible) - 1} candidates")
            why = (f"{better} {word} than {others} meeting every budget: "
                   f"{q.text()} vs {rq.text(False)} for "
                   f"{_name(runner, multi)} ({delta:+.1f} %{near})")
        else:
            why = f"first by {word} among the {len(feasible)} candidates meeting every budget"
    else:
        why = "the only candidate meeting every budget"
    margins = sorted(_margins(best, budgets), key=lambda m: m[1])
    tight = f"; its tightest budget: {margins[0][2]}" if margins else ""
    g.reason = f"{_name(best, multi)}: {why}{tight}{tail}."
