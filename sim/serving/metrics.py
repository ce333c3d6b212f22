"""Figures of a serving run: throughput, latency percentiles, energy, utilisation.

All figures are *simulated* (provenance) by the design and fidelity in ``source``.
Definitions: throughput = output tokens / makespan (first arrival to last token);
TTFT = first token time - ready time (arrival, or when the call's dependencies
finished); TPOT = (finish - first token) / (output tokens - 1), for calls with more
than one output token; E2E = finish - ready time; task latency = last finish of a
task - task start. Energy per token divides each component's energy by all output
tokens; energy per task sums the energy attributed to a task's calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.serving.scheduler import FINISHED, REJECTED
from sim.serving.simulator import ServingResult

PCTS = (50, 90, 99)


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None
    unit: str
    scope: str = "run"


def _pct(values: list[float], p: float) -> float | None:
    return float(np.percentile(values, p)) if values else None


def request_rows(res: ServingResult) -> list[dict]:
    """One JSON-able row per call (times in s, energy in J)."""
    rows = []
    for x in res.calls:
        r = x.req
        ttft = (x.first_s - x.ready_s) if x.first_s is not None else None
        e2e = (x.done_s - x.ready_s) if x.done_s is not None else None
        tpot = ((x.done_s - x.first_s) / (r.output_tokens - 1)
                if x.done_s is not None and r.output_tokens > 1 else None)
        rows.append({
            "id": r.id, "task": r.task, "role": r.role, "state": x.state,
            "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens,
            "generated_tokens": x.generated, "arrival_s": r.arrival_s, "ready_s": x.ready_s,
            "admit_s": x.admit_s, "first_token_s": x.first_s, "done_s": x.done_s,
            "ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e, "preemptions": x.preemptions,
            "energy_j": dict(x.energy_j), "reason": x.reason,
        })
    return rows


def task_rows(res: ServingResult) -> list[dict]:
    """One row per agent task: latency (s), calls, tokens, energy by component (J)."""
    by_task: dict[str, dict] = {}
    for x in res.calls:
        if not x.req.task:
            continue
        t = by_task.setdefault(x.req.task, {"task": x.req.task, "calls": 0, "output_tokens": 0,
                                           "energy_j": {}, "rejected": 0})
        t["calls"] += 1
        t["output_tokens"] += x.generated
        t["rejected"] += int(x.state == REJECTED)
        for k, v in x.energy_j.items():
            t["energy_j"][k] = t["energy_j"].get(k, 0.0) + v
    for name, (a, b) in res.task_span_s.items():
        if name in by_task:
            by_task[name]["start_s"] = a
            by_task[name]["end_s"] = b
            by_task[name]["latency_s"] = b - a
    for t in by_task.values():
        t["energy_total_j"] = sum(t["energy_j"].values())
    return list(by_task.values())


def summarise(res: ServingResult) -> list[Figure]:
    """Run-level figures (see the module docstring for definitions)."""
    done = [x for x in res.calls if x.state == FINISHED]
    out_tokens = sum(x.generated for x in res.calls)
    starts = [x.req.arrival_s for x in res.calls] or [0.0]
    span = max(res.makespan_s - min(starts), 0.0)
    figs = [
        Figure("requests_finished", float(len(done)), "requests"),
        Figure("requests_rejected", float(sum(x.state == REJECTED for x in res.calls)),
               "requests"),
        Figure("preemptions", float(res.preemptions), "count"),
        Figure("output_tokens", float(out_tokens), "tokens"),
        Figure("makespan_s", span, "s"),
        Figure("throughput_tok_s", out_tokens / span if span > 0 else None, "tokens/s"),
        Figure("iterations", float(len(res.iterations)), "count"),
    ]
    busy = sum(i.dur_s for i in res.iterations)
    dec = [i for i in res.iterations if i.n_decode and not i.n_prefill]
    if dec:
        figs.append(Figure("decode_throughput_tok_s",
                           sum(i.n_decode for i in dec) / sum(i.dur_s for i in dec), "tokens/s"))
        figs.append(Figure("mean_decode_batch", float(np.mean([i.n_decode for i in dec])),
                           "requests"))
    figs.append(Figure("busy_fraction", busy / span if span > 0 else None, "fraction"))
    if res.iterations and all(i.optimum_s is not None for i in res.iterations):
        # achieved / roofline-optimal throughput over the busy time (gpu-overlap)
        figs.append(Figure("roofline_fraction",
                           sum(i.optimum_s for i in res.iterations) / busy if busy else None,
                           "fraction"))
    lat = {
        "ttft_s": [x.first_s - x.ready_s for x in done],
        "tpot_s": [(x.done_s - x.first_s) / (x.req.output_tokens - 1) for x in done
                   if x.req.output_tokens > 1],
        "e2e_s": [x.done_s - x.ready_s for x in done],
    }
    tasks = [t["latency_s"] for t in task_rows(res) if "latency_s" in t]
    if tasks:
        lat["task_latency_s"] = tasks
    for name, vals in lat.items():
        base = name[:-2]
        figs.append(Figure(f"{base}_mean_s", float(np.mean(vals)) if vals else None, "s"))
        for p in PCTS:
            figs.append(Figure(f"{base}_p{p}_s", _pct(vals, p), "s"))
    total_e = sum(res.energy_j.values()) if res.energy_j else None
    figs.append(Figure("energy_total_j", total_e, "J"))
    figs.append(Figure("energy_per_token_j", total_e / out_tokens if total_e is not None
                       and out_tokens else None, "J/token"))
    figs.append(Figure("tokens_per_joule", out_tokens / total_e if total_e else None,
                       "tokens/J"))
    for comp, e in sorted(res.energy_j.items()):
        figs.append(Figure(f"energy_per_token_j.{comp}", e / out_tokens if out_tokens else None,
                           "J/token"))
    task_e = [t for t in task_rows(res)]
    if task_e:
        figs.append(Figure("energy_per_task_j", float(np.mean([t["energy_total_j"]
                                                                for t in task_e])), "J"))
        comps = sorted({k for t in task_e for k in t["energy_j"]})
        for comp in comps:
            figs.append(Figure(f"energy_per_task_j.{comp}",
                               float(np.mean([t["energy_j"].get(comp, 0.0) for t in task_e])),
                               "J"))
    for unit in sorted({k for i in res.iterations for k in i.utilisation}):
        w = sum(i.dur_s * i.utilisation.get(unit, 0.0) for i in res.iterations)
        figs.append(Figure(f"utilisation.{unit}", w / busy if busy else None, "fraction"))
    # where the busy time went (sim.designs.breakdown), shares of the priced iterations
    parts_s: dict[str, float] = {}
    for i in res.iterations:
        for k, v in getattr(i, "time_s", {}).items():
            parts_s[k] = parts_s.get(k, 0.0) + v
    priced = sum(parts_s.values())
    for k, v in parts_s.items():
        figs.append(Figure(f"time_share.{k}", v / priced if priced else None, "fraction"))
    figs.append(Figure("kv_peak_fraction", res.kv_peak_units / res.kv_capacity_units
                       if res.kv_capacity_units else None, "fraction"))
    figs.append(Figure("kv_capacity_bytes", float(res.kv_capacity_units * res.kv_unit_bytes),
                       "bytes"))
    figs.append(Figure("memo_hit_rate", res.memo_hits / (res.memo_hits + res.memo_misses)
                       if res.memo_hits + res.memo_misses else None, "fraction"))
    return figs


def utilisation_series(res: ServingResult, max_points: int = 500,
                       ) -> dict[str, list[tuple[float, float]]]:
    """Utilisation over simulated time, time-weighted into at most ``max_points`` bins
    per unit (plus ``kv`` usage as a fraction of capacity). Returns unit -> [(t_s, v)]."""
    its = res.iterations
    if not its:
        return {}
    t0, t1 = its[0].t_start_s, its[-1].t_start_s + its[-1].dur_s
    n = max(1, min(max_points, len(its)))
    width = (t1 - t0) / n or 1.0
    units = sorted({k for i in its for k in i.utilisation})
    acc = {u: np.zeros(n) for u in units + ["kv"]}
    cover = np.zeros(n)
    cap = res.kv_capacity_units or 1
    for it in its:
        b = min(int((it.t_start_s - t0) / width), n - 1)
        cover[b] += it.dur_s
        for u in units:
            acc[u][b] += it.dur_s * it.utilisation.get(u, 0.0)
        acc["kv"][b] += it.dur_s * it.kv_used / cap
    out = {}
    for u, a in acc.items():
        out[u] = [(t0 + (k + 0.5) * width, float(a[k] / cover[k]))
                  for k in range(n) if cover[k] > 0]
    return out
