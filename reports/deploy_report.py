"""Deployment report: which (device or design) x model x quantisation meets the budgets.

Each run given (``profile`` runs are real devices, ``sim`` runs are designs) becomes one
candidate; a run holding a ``candidate`` / ``design`` / ``deployment`` records table
contributes one candidate per row instead. Candidates are compared like for like only:
grouped by model and workload (:mod:`reports.deploy_groups`; a user's list of acceptable
models makes one group of those), with one recommendation per group and a one-sentence
reason. A mixed ranking across groups is shown only when asked for (``mixed``), in its
own clearly labelled section. For every candidate the report gathers

- memory per device as a user means it (:mod:`reports.deploy_memory`): weights in their
  format, KV cache at the workload's peak, activations / runtime, total, the device's
  real capacity and the headroom, checked against ``--ram-headroom``;
- TTFT (s) against ``--max-ttft``; decode tok/s against ``--min-tps``;
- energy per task (J) against ``--max-j-per-task``, ranked or plotted only where the
  group's figures are comparable (:mod:`reports.deploy_energy`: same provenance and
  components; NPU/PIM models have no static power);
- thermal behaviour under sustained load: peak temperature, rise, and the ratio of late to
  early decode speed (throttling), optionally checked against ``--max-temp``;

each with its provenance (measured / simulated / estimated). A check whose value is
unavailable is *unknown*, never passed. Within a group candidates are ranked: feasible
(every budget checked and met), then unverified (nothing failed but something unknown),
then infeasible; within a class by ``--rank-by`` (decode tok/s by default).
"""

from __future__ import annotations

import dataclasses
import re

from reports.data import (
    RunData,
    find_metric,
    finite,
    group_samples,
    pick_num,
    sample_kind,
)
from reports.deploy_candidate import Budgets, Candidate, Thermal
from reports.deploy_energy import EnergyBasis, comparability, energy_basis
from reports.deploy_groups import (
    AcceptModel,
    Group,
    make_groups,
    rank_quantity,
    recommend,
    workload_key,
)
from reports.deploy_memory import MEM_AVAILABLE, MEM_REQUIRED, Memory, memory_of
from reports.doc import Note, Quantity, Report, Section, Table
from reports.render import section_or_nodata

RANK_KEYS = ("tps", "ttft", "energy", "headroom")
VERDICT_ORDER = {"feasible": 0, "unverified": 1, "infeasible": 2}

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


def _decode_speed(run: RunData) -> Quantity | None:
    """Decode tokens/s one request sees: measured per-call speed on a device; 1 / TPOT on
    a simulated server (its system throughput is shared by the whole batch)."""
    if run.run.kind == "sim":
        tpot = find_metric(run, TPOT, units=("s",))
        if tpot is not None and tpot.available and tpot.value > 0:
            return Quantity(1.0 / tpot.value, "tok/s", tpot.provenance,
                            f"1 / TPOT ({tpot.source}), per request")
    return find_metric(run, TPS, units=("tok/s",))


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
    if checks.get("energy") == "pass" and c.energy is not None and not c.energy.static:
        # without static/leakage power the figure is a lower bound: over the budget is
        # a miss, under it proves nothing
        checks["energy"] = "unknown"
    if b.max_temp_c is not None:
        if c.kind == "design":
            checks["thermal"] = "unknown"
        else:
            check("thermal", c.thermal.peak, b.max_temp_c, lambda v, lim: v <= lim)
    states = set(checks.values())
    verdict = "infeasible" if "fail" in states else "unverified" if "unknown" in states \
        else "feasible"
    return checks, verdict


def _checked(c: Candidate, budgets: Budgets) -> Candidate:
    checks, verdict = _checks(c, budgets)
    return dataclasses.replace(c, checks=checks, verdict=verdict)


def candidate_from_run(run: RunData, budgets: Budgets,
                       task_tokens: tuple[float, str] | None) -> Candidate:
    j_task = _energy_per_task(run, task_tokens)
    memory = memory_of(run)
    quant = run.quant
    if quant in ("", "—") and memory.weight_format:
        quant = memory.weight_format
    c = Candidate(
        run_label=run.label, run_id=run.run.id,
        kind="design" if run.run.kind == "sim" else "device",
        target=run.target, model=run.model, quant=quant, memory=memory,
        ttft=find_metric(run, TTFT, units=("s",)),
        tps=_decode_speed(run),
        system_tps=find_metric(run, SYSTEM_TPS, units=("tok/s",))
        if run.run.kind == "sim" else None,
        j_per_task=j_task, thermal=_thermal(run), workload=workload_key(run),
        energy=energy_basis(run, j_task.provenance if j_task is not None else None))
    return _checked(c, budgets)


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
            memory=Memory(total=_row_quantity(row, MEM_REQUIRED, "B", prov),
                          capacity=_row_quantity(row, MEM_AVAILABLE, "B", prov)),
            ttft=_row_quantity(row, TTFT, "s", prov), tps=tps, j_per_task=j_task,
            thermal=Thermal(verdict="not modelled (simulated design)") if run.run.kind == "sim"
            else Thermal(), workload=str(row.get("workload") or workload_key(run)),
            energy=EnergyBasis(j_task.provenance, tuple(sorted(str(x) for x in
                                                              row.get("energy_components")
                                                              or ())),
                               row.get("energy_static")) if j_task is not None else None)
        out.append(_checked(c, budgets))
    return out


def _rank_value(c: Candidate, key: str) -> float:
    q = rank_quantity(c, key)
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


def _why(c: Candidate) -> str:
    failed = [k for k, v in c.checks.items() if v != "pass"]
    return "all budgets met" if c.verdict == "feasible" else ", ".join(
        f"{k} {c.checks[k]}" for k in failed)


NOT_COMPARABLE = "not comparable (see energy note)"


def _energy_cell(c: Candidate, g: Group):
    if c.j_per_task is None or not c.j_per_task.available or g.energy_comparable:
        return c.j_per_task
    return NOT_COMPARABLE


def _group_table(g: Group, index: int) -> Table:
    multi = len(g.models) > 1
    rows = []
    for i, c in enumerate(g.candidates, 1):
        rows.append((i, c.verdict, c.target, *((c.model,) if multi else ()), c.quant,
                     c.ttft, c.tps, c.system_tps, _energy_cell(c, g), c.headroom, _why(c)))
    return Table(f"Candidates of group {index}", (
        "rank", "verdict", "device / design", *(("model",) if multi else ()), "quant",
        "TTFT p50", "decode / request", "system throughput", "energy / task",
        "memory headroom", "why"), tuple(rows),
        note="feasible = every budget checked and met; unverified = nothing failed but a "
             "needed number is unavailable; infeasible = a budget is missed. Decode / request "
             "is what one user sees (1 / TPOT on a simulated server); system throughput is "
             "the whole batch's output tokens/s.")


def _memory_table(g: Group) -> Table:
    rows = []
    for c in g.candidates:
        m = c.memory
        rows.append((c.target, c.quant if c.quant not in ("", "—") else m.weight_format or "—",
                     m.devices, _gib(m.weights), _gib(m.kv), _gib(m.runtime), _gib(m.total),
                     _gib(m.capacity), m.headroom))
    notes = sorted({c.memory.note for c in g.candidates if c.memory.note})
    return Table("Memory per device", (
        "device / design", "format", "devices", "weights", "KV cache at peak",
        "activations / runtime", "total", "capacity", "headroom"), tuple(rows),
        note="Per device of the candidate's group of devices (a model split over tp x pp "
             "devices holds its share on each). " + " ".join(notes))


def _checks_table(g: Group) -> Table:
    names = ["memory", "TTFT", "decode", "energy", "thermal"]
    present = [n for n in names if any(n in c.checks for c in g.candidates)]
    rows = tuple((c.target, c.quant, *[_mark(c.checks.get(n)) for n in present],
                  c.verdict, c.thermal.verdict) for c in g.candidates)
    return Table("Budget checks (✓ met, ✗ missed, ? unknown, – not constrained)",
                 ("device / design", "quant", *present, "verdict", "thermal behaviour"), rows)


def _energy_table(g: Group) -> Table | None:
    cands = [c for c in g.candidates if c.j_per_task is not None and c.j_per_task.available]
    if g.energy_comparable or not cands:
        return None
    rows = tuple((c.target, c.j_per_task, ", ".join(c.energy.components) if c.energy else "",
                  {True: "included", False: "not modelled", None: "unknown"}[
                      c.energy.static if c.energy else None]) for c in cands)
    return Table("Energy per task as each model prices it: not comparable across this "
                 "group, not ranked", ("device / design", "energy / task (not comparable)",
                                       "components priced", "static / leakage power"), rows,
                 note=g.energy_reason)


def _all_table(groups: list[Group]) -> Table:
    rows = []
    for gi, g in enumerate(groups, 1):
        for i, c in enumerate(g.candidates, 1):
            m = c.memory
            rows.append((gi, i, c.verdict, c.kind, c.target, c.model, c.quant, c.workload,
                         c.ttft, c.tps, c.system_tps, c.j_per_task,
                         "yes" if g.energy_comparable else "no", _gib(m.weights), _gib(m.kv),
                         _gib(m.runtime), _gib(m.total), _gib(m.capacity), m.headroom,
                         c.thermal.verdict, _why(c), c.run_label))
    return Table("Every candidate, every column (for the CSV)", (
        "group", "rank", "verdict", "kind", "device / design", "model", "quant", "workload",
        "TTFT", "decode", "system throughput", "energy / task", "energy comparable in group",
        "weights", "KV cache at peak", "activations / runtime", "memory total",
        "memory capacity", "headroom", "thermal", "why", "run"), tuple(rows), primary=True,
        csv_only=True)


def _group_section(g: Group, index: int, budgets: Budgets) -> Section:
    from reports.deploy_plots import energy_plot, memory_plot, pareto_plot

    blocks: list = []
    if g.best is not None:
        blocks.append(Note("Recommended: " + g.reason, "ok"))
    else:
        blocks.append(Note(g.reason, "warn"))
    if g.tradeoff:
        blocks.append(Note(g.tradeoff))
    has_energy = any(c.j_per_task is not None and c.j_per_task.available
                     for c in g.candidates)
    blocks.append(Note(("Energy: " if not has_energy else "Energy comparable: "
                        if g.energy_comparable else "Energy not comparable, so not ranked: ")
                       + g.energy_reason + ".",
                       "info" if g.energy_comparable else "warn"))
    blocks += [_group_table(g, index), _memory_table(g), _checks_table(g)]
    table = _energy_table(g)
    if table is not None:
        blocks.append(table)
    for plot in (pareto_plot(g, budgets), memory_plot(g), energy_plot(g, budgets)):
        if plot is not None:
            blocks.append(plot)
    return Section(f"Group {index}: {g.title}", tuple(blocks))


def _mixed_section(groups: list[Group], rank_by: str) -> Section:
    cands = rank([c for g in groups for c in g.candidates], rank_by)
    rows = tuple((i, c.verdict, c.target, c.model, c.quant, c.workload, c.ttft, c.tps,
                  c.headroom, _why(c)) for i, c in enumerate(cands, 1))
    return Section("Mixed comparison across groups (asked for; not like for like)", (
        Note("These candidates run different models or workloads: a row here is not an "
             "alternative to the row above it for the same job. Energy is left out (not "
             "comparable across models, workloads and energy models).", "warn"),
        Table("All candidates, one ranking", ("rank", "verdict", "device / design", "model",
                                              "quant", "workload", "TTFT p50",
                                              "decode / request", "memory headroom", "why"),
              rows)))


def _phase_section(runs: list[RunData]) -> Section:
    from reports.deploy_plots import phase_timeline

    blocks: list = []
    rows = []
    for r in runs:
        if r.run.kind != "profile":
            continue
        out = phase_timeline(r)
        if out is None:
            continue
        plot, totals = out
        blocks.append(plot)
        total = sum(totals.values())
        rows.append((r.label, r.target, *[Quantity(totals[p], "s", "measured",
                                                   f"sum of {p} spans") for p in totals],
                     *[Quantity(100 * totals[p] / total if total else None, "%", "measured")
                       for p in totals]))
    if rows:
        blocks.insert(0, Table("Time per phase on the measured device", (
            "run", "device", "prefill", "decode", "tool wait", "prefill share",
            "decode share", "tool-wait share"), tuple(rows)))
    return section_or_nodata("Measured device: where the time goes", blocks,
                             "no profile run with call timings")


def build(runs: list[RunData], budgets: Budgets, rank_by: str = "tps",
          task_tokens: tuple[float, str] | None = None,
          accept: list[AcceptModel] | None = None, mixed: bool = False) -> Report:
    """The deployment report over ``sim`` and ``profile`` runs: like-for-like groups, one
    recommendation each; ``accept`` = acceptable models compared in one group; ``mixed``
    adds a ranking across groups, clearly separated."""
    from reports.deploy_plots import thermal_plot

    task_tokens = task_tokens or tokens_per_task(runs)
    cands: list[Candidate] = []
    for r in runs:
        rows = candidates_from_rows(r, budgets, task_tokens)
        cands.extend(rows or [candidate_from_run(r, budgets, task_tokens)])
    groups = make_groups(cands, accept or [])
    for g in groups:
        items = [(c.target, c.energy) for c in g.candidates
                 if c.j_per_task is not None and c.j_per_task.available and c.energy]
        comp = comparability(items)
        g.energy_comparable, g.energy_reason = comp.comparable, comp.reason
        if not items:
            g.energy_reason = "no candidate in this group has an energy figure"
        key = rank_by
        if rank_by == "energy" and not comp.comparable:
            key = "tps"
            g.notes.append("Asked to rank by energy, but the energy figures are not "
                           "comparable: ranked by decode speed instead.")
        g.candidates = rank(g.candidates, key)
        recommend(g, budgets, key)
    ranked = [c for g in groups for c in g.candidates]
    budget_text = budgets.describe()
    summary = [("Budgets: " + "; ".join(budget_text)) if budget_text else
               "No budgets given: only memory fit is checked."]
    feasible = [c for c in ranked if c.verdict == "feasible"]
    summary.append(f"{len(feasible)} of {len(ranked)} candidates feasible, in "
                   f"{len(groups)} like-for-like group(s)")
    for gi, g in enumerate(groups, 1):
        summary.append(f"Group {gi}: {g.title}: "
                       + ("recommended " + g.reason if g.best is not None else g.reason))
        for i, c in enumerate(g.candidates, 1):
            energy = c.j_per_task.text() if c.j_per_task else "unavailable"
            if c.j_per_task is not None and c.j_per_task.available and not g.energy_comparable:
                energy += ", not comparable"
            summary.append(
                f"  {i}. [{c.verdict}] {c.name}: TTFT "
                f"{c.ttft.text() if c.ttft else 'unavailable'}, decode "
                f"{c.tps.text() if c.tps else 'unavailable'}, energy/task {energy}, "
                f"memory {c.mem_required.text() if c.mem_required else 'unavailable'} of "
                f"{c.mem_available.text() if c.mem_available else 'unavailable'}, headroom "
                f"{c.headroom.text() if c.headroom else 'unavailable'}")
    intro = [Note("Budgets: " + ("; ".join(budget_text) if budget_text else
                                 "none given (only memory fit is checked)") + ".")]
    if groups:
        intro.append(Note(
            f"{len(ranked)} candidates in {len(groups)} like-for-like group(s): a group "
            "holds options for the same job (same model, or the acceptable models given, "
            "and the same workload); each has its own recommendation below"
            + ("; a mixed ranking across groups follows them, as asked." if mixed else
               "; groups are not ranked against each other (ask for --mixed to see one "
               "ranking).")))
        rec_rows = tuple((gi, g.title, g.best.name if g.best else "none", g.reason)
                         for gi, g in enumerate(groups, 1))
        intro.append(Table("Recommendation per group", ("group", "job", "recommended",
                                                        "why"), rec_rows))
    for g in groups:
        for n in g.notes:
            intro.append(Note(n, "warn"))
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
                          f"({task_tokens[1]}); a simulated energy per task without its "
                          "own task records is estimated from that."))
    sections = [Section("Recommendation", tuple(intro))]
    sections += [_group_section(g, i, budgets) for i, g in enumerate(groups, 1)]
    if mixed and len(groups) > 1:
        sections.append(_mixed_section(groups, rank_by))
    sections += [
        _phase_section(runs),
        section_or_nodata("Thermal behaviour", thermal_plot(runs),
                          "no temperature samples (simulated designs have no thermal model; "
                          "this host may expose no sensor)"),
    ]
    if ranked:
        sections.append(Section("All candidates", (_all_table(groups),)))
    else:
        sections[0] = Section.nodata("Recommendation", "no candidates")
    return Report(kind="deployment", title="Deployment report",
                  subtitle=f"{len(ranked)} candidates from {len(runs)} runs in {len(groups)} "
                           f"like-for-like group(s); ranked by {rank_by} within a group",
                  runs=tuple(r.ref for r in runs), sections=tuple(sections),
                  summary=tuple(summary),
                  meta={"candidates": ranked, "groups": groups})
