"""Deployment report: which (device or design) x model x quantisation meets the budgets.

Each run given (``profile`` runs are real devices, ``sim`` runs are designs) becomes one
candidate; a run holding a ``candidate`` / ``design`` / ``deployment`` records table
contributes one candidate per row instead. For every candidate the report gathers

- memory: required (peak RSS/PSS, or weights + KV) against available (device RAM, HBM
  capacity) -> headroom, checked against ``--ram-headroom`` (fraction that must stay free);
- TTFT (s) against ``--max-ttft``; decode tok/s against ``--min-tps``;
- energy per task (J) against ``--max-j-per-task``;
- thermal behaviour under sustained load: peak temperature, rise, and the ratio of late to
  early decode speed (throttling), optionally checked against ``--max-temp``;

each with its provenance (measured / simulated / estimated). A check whose value is
unavailable is *unknown*, never passed. Candidates are ranked: feasible (every budget
checked and met), then unverified (nothing failed but something unknown), then infeasible;
within a class by ``--rank-by`` (decode tok/s by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reports.data import (
    RunData,
    find_metric,
    finite,
    group_samples,
    pick_num,
    sample_kind,
    to_canonical,
)
from reports.doc import Note, Plot, Quantity, Report, Section, Table
from reports.render import plot_text, section_or_nodata

RANK_KEYS = ("tps", "ttft", "energy", "headroom")
VERDICT_ORDER = {"feasible": 0, "unverified": 1, "infeasible": 2}
VERDICT_COLOUR = {"feasible": "#2ca02c", "unverified": "#ff7f0e", "infeasible": "#d62728"}

MEM_REQUIRED = (r"mem(ory)?_?(required|needed|footprint)", r"peak.*(rss|pss|mem|footprint)",
                r"(rss|pss|footprint|mem(ory)?).*(peak|max|hwm)", r"vmhwm",
                r"^(rss|pss)(_bytes)?$")
MEM_AVAILABLE = (r"^(?!kv)(ram|mem(ory)?|hbm|dram).*(total|capacity|size)",)
TTFT = (r"ttft.*p50", r"^ttft(_mean)?(_s|_ms)?$", r"ttft.*mean", r"ttft")
TPS = (r"decode_tps\.p50", r"^decode_tok(ens)?_?(per_)?s$", r"decode.*(tok|tps)",
       r"^(decode_)?tps$", r"^(?!.*(prefill|wall)).*tok(ens)?_?(per_?)?s",
       r"^(?!.*(prefill|wall)).*throughput")
SYSTEM_TPS = (r"^throughput_tok_s$", r"^decode_throughput_tok_s$")
TPOT = (r"tpot.*p50", r"tpot.*mean", r"^tpot")
J_TASK = (r"energy_per_task(_j)?$", r"^task\.energy_gross_j(\.mean)?$", r"energy.*per.*task",
          r"j_per_task", r"energy_task")
J_TOKEN = (r"energy.*per.*(output_)?token(_j)?(\.mean)?$", r"j_per_tok")
TEMP_MAX = (r"temp.*(max|peak)", r"(max|peak).*temp", r"thermal.*max")
SUSTAIN = (r"sustain.*ratio", r"throttl.*ratio", r"sustained")


@dataclass(frozen=True)
class Budgets:
    """User budgets; None = not constrained."""

    max_ttft_s: float | None = None
    min_tps: float | None = None
    max_j_per_task: float | None = None
    ram_headroom: float | None = None  # fraction of memory that must stay free, 0..1
    max_temp_c: float | None = None

    def describe(self) -> list[str]:
        out = []
        if self.max_ttft_s is not None:
            out.append(f"TTFT ≤ {self.max_ttft_s:g} s")
        if self.min_tps is not None:
            out.append(f"decode ≥ {self.min_tps:g} tok/s")
        if self.max_j_per_task is not None:
            out.append(f"energy ≤ {self.max_j_per_task:g} J/task")
        if self.ram_headroom is not None:
            out.append(f"memory headroom ≥ {100 * self.ram_headroom:g} %")
        if self.max_temp_c is not None:
            out.append(f"peak temperature ≤ {self.max_temp_c:g} °C")
        return out


@dataclass(frozen=True)
class Thermal:
    peak: Quantity | None = None
    rise: Quantity | None = None
    sustained_ratio: Quantity | None = None  # late / early decode tok/s
    verdict: str = "unavailable"


@dataclass(frozen=True)
class Candidate:
    run_label: str
    run_id: int
    kind: str  # "device" (profile run) or "design" (sim run)
    target: str
    model: str
    quant: str
    mem_required: Quantity | None
    mem_available: Quantity | None
    ttft: Quantity | None
    tps: Quantity | None
    j_per_task: Quantity | None
    thermal: Thermal
    system_tps: Quantity | None = None
    checks: dict[str, str] = field(default_factory=dict)
    verdict: str = "unverified"

    @property
    def headroom(self) -> Quantity | None:
        req, avail = self.mem_required, self.mem_available
        if req is None or avail is None:
            return None
        prov = _combine(req.provenance, avail.provenance)
        if not req.available or not avail.available or not avail.value:
            return Quantity(None, "%", prov, "required / available")
        return Quantity(100.0 * (1.0 - req.value / avail.value), "%", prov,
                        f"1 - required ({req.source}) / available ({avail.source})")


def _combine(*provs: str | None) -> str | None:
    """Provenance of a number derived from others: the weakest wins."""
    ps = [p for p in provs if p]
    for weakest in ("estimated", "simulated", "measured"):
        if weakest in ps:
            return weakest
    return None


def _decode_speed(run: RunData) -> Quantity | None:
    """Decode tokens/s one request sees: measured per-call speed on a device; 1 / TPOT on
    a simulated server (its system throughput is shared by the whole batch)."""
    if run.run.kind == "sim":
        tpot = find_metric(run, TPOT, units=("s",))
        if tpot is not None and tpot.available and tpot.value > 0:
            return Quantity(1.0 / tpot.value, "tok/s", tpot.provenance,
                            f"1 / TPOT ({tpot.source}), per request")
    return find_metric(run, TPS, units=("tok/s",))


def _mem_from_samples(run: RunData) -> Quantity | None:
    best = None
    for (source, name, unit), series in group_samples(run.samples).items():
        if sample_kind(name, unit) != "memory":
            continue
        vals = [to_canonical(s.value, unit)[0] for s in series if s.value is not None]
        if not vals or to_canonical(1.0, unit)[1] != "B":
            continue
        q = Quantity(max(vals), "B", "measured", f"max of {name} ({source})")
        if best is None or q.value > best.value:
            best = q
    return best


def _mem_available(run: RunData) -> Quantity | None:
    q = find_metric(run, MEM_AVAILABLE, units=("B",))
    if q is not None:
        return q
    for key in ("ram_total_bytes", "mem_total_bytes", "memory_total_bytes", "device_ram_bytes",
                "total_ram_bytes", "memory_capacity_bytes", "hbm_capacity_bytes", "ram_bytes"):
        v = finite(run.attr(key))
        if v is not None:
            prov = "simulated" if run.run.kind == "sim" else "measured"
            return Quantity(v, "B", prov, f"run info {key}")
    for (source, name, unit), series in group_samples(run.samples).items():
        if "total" in name.lower() and sample_kind(name, unit) == "device memory":
            vals = [to_canonical(s.value, unit)[0] for s in series if s.value is not None]
            if vals:
                return Quantity(max(vals), "B", "measured", f"{name} ({source})")
    return None


def _sustained(run: RunData) -> Quantity | None:
    """Late / early decode speed over the run: for each role (agent calls of one role have
    similar shapes) the mean tok/s of its last third of calls over its first third, averaged
    over roles weighted by calls; None with fewer than 3 measured calls of any role."""
    q = find_metric(run, SUSTAIN)
    if q is not None:
        return q
    by_role: dict[str, list[float]] = {}
    for _, row in run.table("calls", "call", "request"):
        if row.get("warmup"):
            continue
        tps = pick_num(row, "decode_tok_s", "decode_tps", "tps", "tok_s")
        if tps is None:
            n = pick_num(row, "output_tokens", "n_output", "generated_tokens")
            d = pick_num(row, "decode_s", "decode_ms")
            if n and d:
                tps = (n - 1) / d if n > 1 else None
        if tps:
            by_role.setdefault(str(row.get("role") or ""), []).append(tps)
    ratios, weights = [], []
    for speeds in by_role.values():
        if len(speeds) < 3:
            continue
        k = max(1, len(speeds) // 3)
        early, late = sum(speeds[:k]) / k, sum(speeds[-k:]) / k
        if early > 0:
            ratios.append(late / early)
            weights.append(len(speeds))
    if not ratios:
        return None
    ratio = sum(r * w for r, w in zip(ratios, weights)) / sum(weights)
    return Quantity(ratio, "×", "measured",
                    "decode tok/s of the last third of calls / first third, per role")


def _thermal(run: RunData) -> Thermal:
    if run.run.kind == "sim":
        return Thermal(verdict="not modelled (simulated design)")
    peak = find_metric(run, TEMP_MAX, units=("°C",))
    rise = None
    temps = [(name, source, [s for s in series if s.value is not None])
             for (source, name, unit), series in group_samples(run.samples).items()
             if sample_kind(name, unit) == "temperature"]
    temps = [t for t in temps if t[2]]
    if temps:
        name, source, pts = max(temps, key=lambda t: max(s.value for s in t[2]))
        if peak is None:
            peak = Quantity(max(s.value for s in pts), "°C", "measured",
                            f"max of {name} ({source})")
        rise = Quantity(max(s.value for s in pts) - pts[0].value, "°C", "measured",
                        f"peak - first reading of {name} ({source})")
    ratio = _sustained(run)
    clocks = find_metric(run, (r"^throttled$",), exclude="")
    words = []
    if ratio is not None and ratio.available:
        drop = 100 * (1 - ratio.value)
        if drop > 10:
            if clocks is not None and clocks.available:
                cause = ("clocks throttled" if clocks.value else
                         "clocks held, so not thermal: contention or workload")
            elif peak is not None and peak.available:
                cause = "see the temperature trace"
            else:
                cause = "no temperature or clock sensor to tell throttling from contention"
            words.append(f"decode speed fell {drop:.0f} % over the run ({cause})")
        else:
            words.append(f"sustained: late decode speed {100 * ratio.value:.0f} % of early")
    elif clocks is not None and clocks.available:
        words.append("clocks throttled under load" if clocks.value else "clocks steady")
    if peak is not None and peak.available:
        words.append(f"peak {peak.number()} °C" + (f" (+{rise.number()} °C)" if rise and
                                                   rise.available else ""))
    return Thermal(peak, rise, ratio, "; ".join(words) if words else
                   "unavailable (no temperature sensor or sustained-load data)")


def _energy_per_task(run: RunData, tokens_per_task: tuple[float, str] | None
                     ) -> Quantity | None:
    q = find_metric(run, J_TASK, units=("J",))
    if q is not None:
        return q
    per_token = find_metric(run, J_TOKEN, units=("J/token",))
    if per_token is not None and tokens_per_task is not None:
        n, where = tokens_per_task
        if not per_token.available:
            return Quantity(None, "J", per_token.provenance, per_token.source)
        return Quantity(per_token.value * n, "J", "estimated",
                        f"{per_token.provenance} J/token ({per_token.source}) x {n:g} "
                        f"output tokens per task ({where}); prefill energy not included")
    if per_token is not None:
        return Quantity(None, "J", per_token.provenance,
                        "J/token known but tokens per task unknown")
    return None


def tokens_per_task(runs: list[RunData]) -> tuple[float, str] | None:
    """Output tokens of one agent task, from a profile run's task or call records (mean)."""
    for r in runs:
        if r.run.kind != "profile":
            continue
        per_task: dict[str, float] = {}
        for key, row in r.table("tasks"):
            n = pick_num(row, "output_tokens")
            if n is not None and not row.get("warmup"):
                per_task[key] = n
        if per_task:
            return sum(per_task.values()) / len(per_task), f"run #{r.run.id} task records"
        for _key, row in r.table("calls", "call"):
            if row.get("warmup"):
                continue
            n = pick_num(row, "output_tokens", "n_output", "generated_tokens")
            if n is None:
                continue
            task = str(row.get("task") or row.get("task_id") or row.get("inst") or "0")
            per_task[task] = per_task.get(task, 0.0) + n
        if per_task:
            return sum(per_task.values()) / len(per_task), f"run #{r.run.id} call records"
    return None


def _checks(c: Candidate, b: Budgets) -> tuple[dict[str, str], str]:
    checks: dict[str, str] = {}

    def check(name: str, q: Quantity | None, limit: float | None, ok) -> None:
        if limit is None:
            return
        if q is None or not q.available:
            checks[name] = "unknown"
        else:
            checks[name] = "pass" if ok(q.value, limit) else "fail"

    head = c.headroom
    need = b.ram_headroom if b.ram_headroom is not None else 0.0
    if head is None or not head.available:
        checks["memory"] = "unknown"
    else:
        checks["memory"] = "pass" if head.value >= 100 * need else "fail"
    check("TTFT", c.ttft, b.max_ttft_s, lambda v, lim: v <= lim)
    check("decode", c.tps, b.min_tps, lambda v, lim: v >= lim)
    check("energy", c.j_per_task, b.max_j_per_task, lambda v, lim: v <= lim)
    if b.max_temp_c is not None:
        if c.kind == "design":
            checks["thermal"] = "unknown"
        else:
            check("thermal", c.thermal.peak, b.max_temp_c, lambda v, lim: v <= lim)
    states = set(checks.values())
    verdict = "infeasible" if "fail" in states else "unverified" if "unknown" in states \
        else "feasible"
    return checks, verdict


def candidate_from_run(run: RunData, budgets: Budgets,
                       task_tokens: tuple[float, str] | None) -> Candidate:
    req = find_metric(run, MEM_REQUIRED, units=("B",))
    avail = _mem_available(run)
    kv_cap = find_metric(run, (r"^kv_capacity_bytes$",), units=("B",))
    kv_peak = find_metric(run, (r"^kv_peak_fraction$",))
    if req is None and run.run.kind == "sim" and kv_cap is not None and kv_peak is not None \
            and kv_cap.available and kv_peak.available:
        # the serving simulator places weights first; what is left holds the KV cache
        req = Quantity(kv_peak.value * kv_cap.value, "B", "simulated",
                       f"peak KV cache ({kv_peak.source})")
        avail = Quantity(kv_cap.value, "B", "simulated",
                         f"KV capacity after weights ({kv_cap.source})")
    if req is None and run.run.kind == "sim":
        w = find_metric(run, (r"weights?_?(bytes|size|memory)",), units=("B",))
        kv = find_metric(run, (r"kv_?(cache)?_?(bytes|size|memory)",), units=("B",))
        if w is not None and w.available:
            total = w.value + (kv.value if kv and kv.available else 0.0)
            req = Quantity(total, "B", _combine(w.provenance, kv.provenance if kv else None),
                           "weights" + (" + KV cache" if kv and kv.available else ""))
    if req is None:
        req = _mem_from_samples(run)
    c = Candidate(
        run_label=run.label, run_id=run.run.id,
        kind="design" if run.run.kind == "sim" else "device",
        target=run.target, model=run.model, quant=run.quant,
        mem_required=req, mem_available=avail,
        ttft=find_metric(run, TTFT, units=("s",)),
        tps=_decode_speed(run),
        system_tps=find_metric(run, SYSTEM_TPS, units=("tok/s",))
        if run.run.kind == "sim" else None,
        j_per_task=_energy_per_task(run, task_tokens),
        thermal=_thermal(run))
    checks, verdict = _checks(c, budgets)
    return Candidate(**{**c.__dict__, "checks": checks, "verdict": verdict})


_UNIT_OF_SUFFIX = (("_bytes", "B"), ("_s", "s"), ("_ms", "ms"), ("_j", "J"),
                   ("_tok_s", "tok/s"), ("_tps", "tok/s"), ("_c", "°C"))


def _row_quantity(row: dict, patterns: tuple[str, ...], unit: str, provenance: str
                  ) -> Quantity | None:
    for pat in patterns:
        rx = re.compile(pat, re.IGNORECASE)
        for k, v in row.items():
            if rx.search(k) and (finite(v) is not None or v is None):
                if v is None:
                    return Quantity(None, unit, provenance, f"field {k}")
                val = float(v)
                if k.endswith("_ms"):
                    val *= 1e-3
                elif k.endswith(("_gb", "_gib")):
                    val *= 2 ** 30 if k.endswith("_gib") else 1e9
                return Quantity(val, unit, provenance, f"field {k}")
    return None


def candidates_from_rows(run: RunData, budgets: Budgets,
                         task_tokens: tuple[float, str] | None) -> list[Candidate]:
    """Candidates from a run's ``candidate``/``design``/``deployment`` records."""
    out = []
    prov_default = "simulated" if run.run.kind == "sim" else "measured"
    for key, row in run.table("candidate", "deployment", "design"):
        prov = str(row.get("provenance") or prov_default)
        if prov not in ("measured", "simulated", "estimated"):
            prov = prov_default
        tps = _row_quantity(row, TPS, "tok/s", prov)
        j_task = _row_quantity(row, J_TASK, "J", prov)
        if j_task is None and task_tokens:
            jt = _row_quantity(row, J_TOKEN, "J/token", prov)
            if jt is not None and jt.available:
                j_task = Quantity(jt.value * task_tokens[0], "J", "estimated",
                                  f"{prov} J/token x {task_tokens[0]:g} output tokens per "
                                  f"task ({task_tokens[1]}); prefill energy not included")
        c = Candidate(
            run_label=f"{run.label}:{key}", run_id=run.run.id,
            kind="design" if run.run.kind == "sim" else "device",
            target=str(row.get("design") or row.get("device") or row.get("target") or key),
            model=str(row.get("model") or run.model), quant=str(row.get("quant") or run.quant),
            mem_required=_row_quantity(row, MEM_REQUIRED, "B", prov),
            mem_available=_row_quantity(row, MEM_AVAILABLE, "B", prov),
            ttft=_row_quantity(row, TTFT, "s", prov), tps=tps, j_per_task=j_task,
            thermal=Thermal(verdict="not modelled (simulated design)") if run.run.kind == "sim"
            else Thermal())
        checks, verdict = _checks(c, budgets)
        out.append(Candidate(**{**c.__dict__, "checks": checks, "verdict": verdict}))
    return out


def _rank_value(c: Candidate, key: str) -> float:
    q = {"tps": c.tps, "ttft": c.ttft, "energy": c.j_per_task, "headroom": c.headroom}[key]
    if q is None or not q.available:
        return float("inf")
    return -q.value if key in ("tps", "headroom") else q.value


def rank(cands: list[Candidate], rank_by: str = "tps") -> list[Candidate]:
    return sorted(cands, key=lambda c: (VERDICT_ORDER[c.verdict], _rank_value(c, rank_by),
                                        c.run_id))


def _mark(state: str | None) -> str:
    return {"pass": "✓", "fail": "✗", "unknown": "?"}.get(state or "", "–")


def _gib(q: Quantity | None) -> Quantity | None:
    if q is None or not q.available:
        return q
    return Quantity(q.value / 2 ** 30, "GiB", q.provenance, q.source)


def _ranked_table(ranked: list[Candidate]) -> Table:
    rows = []
    for i, c in enumerate(ranked, 1):
        failed = [k for k, v in c.checks.items() if v != "pass"]
        why = "all budgets met" if c.verdict == "feasible" else ", ".join(
            f"{k} {c.checks[k]}" for k in failed)
        rows.append((i, c.verdict, c.kind, c.target, c.model, c.quant,
                     _gib(c.mem_required), _gib(c.mem_available), c.headroom,
                     c.ttft, c.tps, c.j_per_task, c.thermal.verdict, why, c.run_label))
    return Table("Candidates ranked", (
        "rank", "verdict", "kind", "device / design", "model", "quant", "memory needed",
        "memory available", "headroom", "TTFT", "decode", "energy / task", "thermal",
        "why", "run"), tuple(rows), primary=True,
        note="feasible = every budget checked and met; unverified = nothing failed but a "
             "needed number is unavailable; infeasible = a budget is missed.")


def _checks_table(ranked: list[Candidate]) -> Table:
    names = ["memory", "TTFT", "decode", "energy", "thermal"]
    present = [n for n in names if any(n in c.checks for c in ranked)]
    rows = tuple((c.target, c.model, c.quant, *[_mark(c.checks.get(n)) for n in present],
                  c.verdict) for c in ranked)
    return Table("Budget checks (✓ met, ✗ missed, ? unknown, – not constrained)",
                 ("device / design", "model", "quant", *present, "verdict"), rows)


def _hover(c: Candidate) -> str:
    def t(q: Quantity | None) -> str:
        return q.text() if q is not None else "unavailable"
    return plot_text(
        f"{c.target} / {c.model} / {c.quant} ({c.verdict})\n"
        f"TTFT {t(c.ttft)}\ndecode {t(c.tps)}\nenergy/task {t(c.j_per_task)}\n"
        f"headroom {t(c.headroom)}\nthermal: {c.thermal.verdict}").replace("\n", "<br>")


def _plots(ranked: list[Candidate], b: Budgets) -> list:
    import plotly.graph_objects as go

    blocks: list = []
    names = [plot_text(f"{c.target} / {c.model} / {c.quant}") for c in ranked]
    pts = [(c, n) for c, n in zip(ranked, names)
           if c.tps is not None and c.tps.available and c.ttft is not None and c.ttft.available]
    if pts:
        fig = go.Figure()
        for verdict in VERDICT_ORDER:
            sel = [(c, n) for c, n in pts if c.verdict == verdict]
            if sel:
                fig.add_trace(go.Scatter(
                    x=[c.ttft.value for c, _ in sel], y=[c.tps.value for c, _ in sel],
                    mode="markers+text", text=[n for _, n in sel], textposition="top center",
                    marker={"size": 13, "color": VERDICT_COLOUR[verdict],
                            "symbol": ["circle" if c.kind == "device" else "diamond"
                                       for c, _ in sel]},
                    hovertext=[_hover(c) for c, _ in sel], hoverinfo="text", name=verdict))
        if b.max_ttft_s is not None:
            fig.add_vline(x=b.max_ttft_s, line_dash="dash", line_color="#d62728",
                          annotation_text="max TTFT")
        if b.min_tps is not None:
            fig.add_hline(y=b.min_tps, line_dash="dash", line_color="#d62728",
                          annotation_text="min decode tok/s")
        fig.update_layout(xaxis_title="TTFT (s)", yaxis_title="decode tokens/s")
        blocks.append(Plot("Latency budget: TTFT vs decode speed", fig,
                           note="Circles are measured devices, diamonds simulated designs; "
                                "the good corner is top left."))
    energy = [(c, n) for c, n in zip(ranked, names)
              if c.j_per_task is not None and c.j_per_task.available]
    if energy:
        fig = go.Figure(go.Bar(
            x=[n for _, n in energy], y=[c.j_per_task.value for c, _ in energy],
            marker_color=[VERDICT_COLOUR[c.verdict] for c, _ in energy],
            hovertext=[plot_text(f"{c.j_per_task.provenance}: {c.j_per_task.source}")
                       for c, _ in energy], hoverinfo="text+y"))
        if b.max_j_per_task is not None:
            fig.add_hline(y=b.max_j_per_task, line_dash="dash", line_color="#d62728",
                          annotation_text="max J/task")
        fig.update_layout(yaxis_title="energy per task (J)")
        blocks.append(Plot("Energy per agent task", fig))
    mem = [(c, n) for c, n in zip(ranked, names)
           if c.mem_required is not None and c.mem_required.available]
    if mem:
        fig = go.Figure()
        fig.add_trace(go.Bar(name="needed", x=[n for _, n in mem],
                             y=[c.mem_required.value / 2 ** 30 for c, _ in mem],
                             marker_color="#1f77b4"))
        fig.add_trace(go.Bar(name="available", x=[n for _, n in mem],
                             y=[(c.mem_available.value / 2 ** 30 if c.mem_available and
                                 c.mem_available.available else None) for c, _ in mem],
                             marker_color="#c7c7c7"))
        fig.update_layout(barmode="group", yaxis_title="GiB")
        blocks.append(Plot("Memory: needed vs available", fig))
    return blocks


def _thermal_plot(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    fig = go.Figure()
    n = 0
    for r in runs:
        for (_source, name, unit), series in group_samples(r.samples).items():
            if sample_kind(name, unit) != "temperature":
                continue
            pts = [s for s in series if s.value is not None]
            if not pts:
                continue
            t0 = pts[0].t_host_s
            fig.add_trace(go.Scatter(x=[s.t_host_s - t0 for s in pts],
                                     y=[s.value for s in pts], mode="lines",
                                     name=plot_text(f"{r.target}: {name}")))
            n += 1
    if not n:
        return []
    fig.update_layout(xaxis_title="time (s)", yaxis_title="°C (measured)")
    return [Plot("Temperature under sustained load", fig)]


def build(runs: list[RunData], budgets: Budgets, rank_by: str = "tps",
          task_tokens: tuple[float, str] | None = None) -> Report:
    """The deployment report over ``sim`` and ``profile`` runs."""
    task_tokens = task_tokens or tokens_per_task(runs)
    cands: list[Candidate] = []
    for r in runs:
        rows = candidates_from_rows(r, budgets, task_tokens)
        cands.extend(rows or [candidate_from_run(r, budgets, task_tokens)])
    ranked = rank(cands, rank_by)
    feasible = [c for c in ranked if c.verdict == "feasible"]
    budget_text = budgets.describe()
    summary = [("Budgets: " + "; ".join(budget_text)) if budget_text else
               "No budgets given: only memory fit is checked."]
    summary.append(f"{len(feasible)} of {len(ranked)} candidates feasible"
                   + (f"; best: {feasible[0].target} / {feasible[0].model} / "
                      f"{feasible[0].quant}" if feasible else ""))
    for i, c in enumerate(ranked, 1):
        summary.append(
            f"{i}. [{c.verdict}] {c.target} / {c.model} / {c.quant}: TTFT "
            f"{c.ttft.text() if c.ttft else 'unavailable'}, decode "
            f"{c.tps.text() if c.tps else 'unavailable'}, energy/task "
            f"{c.j_per_task.text() if c.j_per_task else 'unavailable'}, headroom "
            f"{c.headroom.text() if c.headroom else 'unavailable'}")
    intro = [Note("Budgets: " + ("; ".join(budget_text) if budget_text else
                                 "none given (only memory fit is checked)") + ".")]
    if feasible:
        best = feasible[0]
        quant = f" ({best.quant})" if best.quant not in ("—", "") else ""
        intro.append(Note(f"Recommended: {best.target} running {best.model}{quant}, ranked by "
                          f"{rank_by} among the feasible candidates.", "ok"))
    elif ranked:
        intro.append(Note("No candidate meets every budget with known numbers.", "warn"))
    for r in runs:
        if r.run.status != "done":
            intro.append(Note(f"{r.label} is {r.run.status}"
                              + (f" ({r.run.error})" if r.run.error else "")
                              + "; its numbers may be partial.", "warn"))
        cfg = r.run.config
        scale, max_calls = finite(cfg.get("scale")), finite(cfg.get("max_calls"))
        if r.run.kind == "profile" and ((scale is not None and scale != 1) or max_calls):
            what = []
            if scale is not None and scale != 1:
                what.append(f"token counts x{scale:g}")
            if max_calls:
                what.append(f"first {max_calls:g} nodes of each task")
            intro.append(Note(f"{r.label} profiled a reduced task ({', '.join(what)}); its "
                              "per-task figures describe that reduced task.", "warn"))
    if task_tokens:
        intro.append(Note(f"One agent task generates {task_tokens[0]:g} output tokens "
                          f"({task_tokens[1]}); simulated energy per task is estimated from "
                          "that."))
    sections = [
        Section("Recommendation", tuple(intro) + ((_ranked_table(ranked),) if ranked else ())),
        section_or_nodata("Budget checks", [_checks_table(ranked)] if ranked else [],
                          "no candidates"),
        section_or_nodata("Trade-offs", _plots(ranked, budgets),
                          "no candidate has TTFT, decode speed, energy or memory numbers"),
        section_or_nodata("Thermal behaviour", _thermal_plot(runs),
                          "no temperature samples (simulated designs have no thermal model; "
                          "this host may expose no sensor)"),
    ]
    return Report(kind="deployment", title="Deployment report",
                  subtitle=f"{len(ranked)} candidates from {len(runs)} runs; ranked by "
                           f"{rank_by}", runs=tuple(r.ref for r in runs),
                  sections=tuple(sections), summary=tuple(summary),
                  meta={"candidates": ranked})
