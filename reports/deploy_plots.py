"""The deployment report's figures, made to be read at a glance.

No text label sits on a plot: each candidate is a legend entry (and a hover box), budget
limits are legend entries drawn as lines, and every axis is titled with its unit.

- :func:`pareto_plot`: TTFT vs decode speed per request for one like-for-like group, the
  non-dominated candidates (over TTFT, decode speed and, where comparable, energy) filled
  and joined by the front line; energy per task as the colour when comparable;
- :func:`memory_plot`: weights + KV cache + activations/runtime per device, stacked,
  against the device's capacity;
- :func:`energy_plot`: energy per task, only for a group whose figures are comparable;
- :func:`phase_timeline`: a measured device's prefill / decode / tool-wait spans;
- :func:`thermal_plot`: temperatures under sustained load.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from reports.data import RunData, group_samples, pick_num, sample_kind
from reports.doc import Plot, Quantity
from reports.render import plot_text

if TYPE_CHECKING:  # pragma: no cover
    from reports.deploy_candidate import Budgets, Candidate
    from reports.deploy_groups import Group

VERDICT_COLOUR = {"feasible": "#2ca02c", "unverified": "#ff7f0e", "infeasible": "#d62728"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
PHASE_COLOUR = {"prefill": "#ff7f0e", "decode": "#1f77b4", "tool wait": "#9e9e9e"}
def legend_below(height_px: int, rows: int = 1) -> dict:
    """A horizontal legend a fixed 64 px under the plot area (clear of the x-axis title),
    whatever the figure's height; ``rows``: legend rows expected."""
    area = max(height_px - 110 - 20 * rows, 120)  # the report's margins: 60 top, 50 bottom
    return {"orientation": "h", "yanchor": "top", "y": -64 / area, "x": 0, "xanchor": "left"}


def short(name: str, limit: int = 44) -> str:
    """A tick label that leaves room for the plot (the hover box has the whole name)."""
    return plot_text(name if len(name) <= limit else name[:limit - 1] + "…")


def _t(q: Quantity | None) -> str:
    return q.text() if q is not None else "unavailable"


def hover(c: Candidate) -> str:
    return plot_text(
        f"{c.name} ({c.verdict})\nTTFT {_t(c.ttft)}\ndecode {_t(c.tps)}\n"
        f"energy/task {_t(c.j_per_task)}\nheadroom {_t(c.headroom)}\n"
        f"thermal: {c.thermal.verdict}").replace("\n", "<br>")


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: list[tuple[float, ...]]) -> set[int]:
    """Indices of the non-dominated points (every coordinate minimised)."""
    return {i for i, p in enumerate(points)
            if not any(_dominates(q, p) for j, q in enumerate(points) if j != i)}


def pareto_plot(g: Group, budgets: Budgets) -> Plot | None:
    import plotly.graph_objects as go

    pts = [c for c in g.candidates if c.ttft is not None and c.ttft.available
           and c.tps is not None and c.tps.available]
    if len(pts) < 2:
        return None
    with_energy = g.energy_comparable and all(
        c.j_per_task is not None and c.j_per_task.available for c in pts)
    coords = [(c.ttft.value, -c.tps.value) + ((c.j_per_task.value,) if with_energy else ())
              for c in pts]
    front = pareto_front(coords)
    fig = go.Figure()
    xs = [c.ttft.value for c in pts]
    log_x = min(xs) > 0 and (max(xs) / min(xs) > 20 or (
        budgets.max_ttft_s is not None and budgets.max_ttft_s / min(xs) > 20))
    front2d = sorted((pts[i] for i in pareto_front([(c.ttft.value, -c.tps.value)
                                                    for c in pts])),
                     key=lambda c: c.ttft.value)
    if len(front2d) > 1:
        fig.add_trace(go.Scatter(x=[c.ttft.value for c in front2d],
                                 y=[c.tps.value for c in front2d], mode="lines",
                                 line={"dash": "dot", "color": "#9aa3b5"},
                                 name="Pareto front (TTFT vs decode)", hoverinfo="skip"))
    energies = [c.j_per_task.value for c in pts] if with_energy else []
    for i, c in enumerate(pts):
        symbol = "circle" if c.kind == "device" else "diamond"
        if with_energy:  # colour = energy; outline = identity
            marker = {"size": 15, "symbol": symbol if i in front else symbol + "-open",
                      "color": [c.j_per_task.value], "coloraxis": "coloraxis",
                      "line": {"width": 2, "color": PALETTE[i % len(PALETTE)]}}
        else:  # colour = identity; filled = Pareto-optimal
            marker = {"size": 15, "symbol": symbol if i in front else symbol + "-open",
                      "color": PALETTE[i % len(PALETTE)],
                      "line": {"width": 2 if i not in front else 1,
                               "color": PALETTE[i % len(PALETTE)] if i not in front
                               else "#1d2330"}}
        tag = "Pareto-optimal" if i in front else "dominated"
        fig.add_trace(go.Scatter(
            x=[c.ttft.value], y=[c.tps.value], mode="markers", marker=marker,
            name=short(f"{c.name}: {c.verdict}, {tag}", 70),
            hovertext=[hover(c)], hoverinfo="text"))
    ys = [c.tps.value for c in pts]
    y_lo, y_hi = min(ys + [budgets.min_tps or min(ys)]), max(ys)
    x_lo, x_hi = min(xs), max(xs + [budgets.max_ttft_s or max(xs)])
    if budgets.max_ttft_s is not None:
        fig.add_trace(go.Scatter(x=[budgets.max_ttft_s] * 2, y=[y_lo * 0.9, y_hi * 1.1],
                                 mode="lines", line={"dash": "dash", "color": "#d62728"},
                                 name=f"TTFT budget ≤ {budgets.max_ttft_s:g} s",
                                 hoverinfo="name"))
    if budgets.min_tps is not None:
        fig.add_trace(go.Scatter(x=[x_lo * 0.8, x_hi * 1.2], y=[budgets.min_tps] * 2,
                                 mode="lines", line={"dash": "dash", "color": "#b4451f"},
                                 name=f"decode budget ≥ {budgets.min_tps:g} tok/s",
                                 hoverinfo="name"))
    layout = {"xaxis": {"title": {"text": "TTFT p50 (s" + (", log scale)" if log_x else ")")},
                        "type": "log" if log_x else "linear"},
              "yaxis": {"title": {"text": "decode speed per request (tok/s)"}},
              "showlegend": True}
    if with_energy:
        layout["coloraxis"] = {"colorscale": "Viridis", "cmin": min(energies),
                               "cmax": max(energies) if max(energies) > min(energies)
                               else min(energies) + 1,
                               "colorbar": {"title": {"text": "energy per task (J)"}}}
    n = len(fig.data)
    height = 460 + 22 * math.ceil(n / 2)
    fig.update_layout(**layout, legend=legend_below(height, math.ceil(n / 2)))
    note = ("Latency vs throughput" + (" vs energy (colour)" if with_energy else "")
            + ": the good corner is top left. Filled marks are Pareto-optimal (no other "
            "candidate is at least as good on TTFT, decode speed"
            + (" and energy" if with_energy else "") + " and better on one); open marks "
            "are dominated; the legend gives each mark's verdict; diamonds are simulated "
            "designs, circles measured devices.")
    same: dict[tuple[float, float], list[str]] = {}
    for c in pts:
        same.setdefault((round(c.ttft.value, 12), round(c.tps.value, 9)), []).append(c.target)
    for names in same.values():
        if len(names) > 1:
            note += (f" {', '.join(names[:-1])} and {names[-1]} have the same TTFT and decode "
                     "speed: their marks lie on top of each other.")
    if not with_energy:
        note += (" Energy is left out of this view: " + (g.energy_reason or
                                                         "not available for every candidate")
                 + ".")
    return Plot(f"Trade-offs: {g.title}", fig, note=note,
                height_px=height)


def _gib(q: Quantity | None) -> float | None:
    return q.value / 2 ** 30 if q is not None and q.available else None


def memory_plot(g: Group) -> Plot | None:
    import plotly.graph_objects as go

    cands = [c for c in g.candidates if c.memory.total is not None and c.memory.total.available]
    if not cands:
        return None
    names = [short(c.name) for c in cands]
    fig = go.Figure()
    broken = any(c.memory.weights is not None for c in cands)
    if broken:
        for part, colour, label in (("weights", "#1f77b4", "weights"),
                                    ("kv", "#ff7f0e", "KV cache at peak"),
                                    ("runtime", "#9467bd", "activations / runtime")):
            qs = [getattr(c.memory, part) for c in cands]
            fig.add_trace(go.Bar(
                orientation="h", y=names, x=[_gib(q) for q in qs], name=label,
                marker_color=colour, hoverinfo="text",
                hovertext=[plot_text(f"{label}: {_t(q)}; {q.source if q else ''}")
                           for q in qs]))
        lone = [c for c in cands if c.memory.weights is None]
        if lone:
            fig.add_trace(go.Bar(orientation="h", y=[short(c.name) for c in lone],
                                 x=[_gib(c.memory.total) for c in lone],
                                 name="total (no breakdown)", marker_color="#7f7f7f"))
    else:
        fig.add_trace(go.Bar(orientation="h", y=names, x=[_gib(c.memory.total) for c in cands],
                             name="total needed", marker_color="#1f77b4",
                             hovertext=[plot_text(_t(c.memory.total)) for c in cands],
                             hoverinfo="text"))
    caps = [(n, c) for n, c in zip(names, cands)
            if c.memory.capacity is not None and c.memory.capacity.available]
    if caps:
        fig.add_trace(go.Scatter(
            y=[n for n, _ in caps], x=[_gib(c.memory.capacity) for _, c in caps],
            mode="markers", name="device capacity",
            marker={"symbol": "line-ns-open", "size": 26, "line": {"width": 3},
                    "color": "#1d2330"},
            hovertext=[plot_text(f"capacity {_t(c.memory.capacity)}") for _, c in caps],
            hoverinfo="text"))
    height = 260 + 46 * len(cands)
    fig.update_layout(barmode="stack", legend=legend_below(height) | {"traceorder": "normal"},
                      xaxis={"title": {"text": "memory per device (GiB)"}},
                      yaxis={"title": {"text": "candidate"}, "automargin": True})
    return Plot(f"Memory per device: {g.title}", fig,
                note="Weights, KV cache at the workload's peak and activations/runtime, "
                     "stacked, against the device's capacity (the black tick). Hover a bar "
                     "for its provenance and source.",
                height_px=height)


def energy_plot(g: Group, budgets: Budgets) -> Plot | None:
    import plotly.graph_objects as go

    cands = [c for c in g.candidates if c.j_per_task is not None and c.j_per_task.available]
    if len(cands) < 2 or not g.energy_comparable:
        return None
    fig = go.Figure(go.Bar(
        orientation="h", y=[short(c.name) for c in cands],
        x=[c.j_per_task.value for c in cands],
        marker_color=[VERDICT_COLOUR[c.verdict] for c in cands], name="energy per task",
        hovertext=[plot_text(f"{c.j_per_task.text()}: {c.j_per_task.source}")
                   for c in cands], hoverinfo="text"))
    if budgets.max_j_per_task is not None:
        fig.add_trace(go.Scatter(x=[budgets.max_j_per_task] * 2,
                                 y=[short(cands[0].name), short(cands[-1].name)],
                                 mode="lines", line={"dash": "dash", "color": "#d62728"},
                                 name=f"budget ≤ {budgets.max_j_per_task:g} J/task"))
    fig.update_layout(xaxis={"title": {"text": "energy per task (J)"}},
                      yaxis={"title": {"text": "candidate"}, "automargin": True},
                      legend=legend_below(240 + 46 * len(cands)))
    return Plot(f"Energy per agent task: {g.title}", fig, height_px=240 + 46 * len(cands),
                note=g.energy_reason)


def _phase_spans(run: RunData) -> list[tuple[str, float, float, str]]:
    """(phase, start s, duration s, label) for measured calls and delays."""
    out = []
    for key, row in run.table("calls", "call"):
        if row.get("warmup"):
            continue
        start = pick_num(row, "t_start_s")
        first = pick_num(row, "t_first_s")
        end = pick_num(row, "t_end_s")
        label = f"{row.get('role') or 'call'} {row.get('id') or key}"
        if start is None or first is None:
            continue
        out.append(("prefill", start, max(first - start, 0.0), label))
        if end is not None and end > first:
            out.append(("decode", first, end - first, label))
    for key, row in run.table("delays"):
        if row.get("warmup"):
            continue
        start, end = pick_num(row, "t_start_s"), pick_num(row, "t_end_s")
        if start is not None and end is not None and end >= start:
            what = row.get("resource") or row.get("role") or row.get("kind") or "delay"
            out.append(("tool wait", start, end - start, f"{what} {row.get('id') or key}"))
    return out


def phase_timeline(run: RunData) -> tuple[Plot, dict[str, float]] | None:
    """Where a measured device's time goes; also the seconds per phase."""
    import plotly.graph_objects as go

    spans = _phase_spans(run)
    if not spans:
        return None
    t0 = min(s[1] for s in spans)
    fig = go.Figure()
    totals: dict[str, float] = {}
    for phase in ("prefill", "decode", "tool wait"):
        ph = [s for s in spans if s[0] == phase]
        totals[phase] = sum(s[2] for s in ph)
        if not ph:
            continue
        fig.add_trace(go.Bar(
            orientation="h", base=[s[1] - t0 for s in ph], x=[s[2] for s in ph],
            y=[phase] * len(ph), name=f"{phase} ({totals[phase]:.3g} s in all)",
            marker_color=PHASE_COLOUR[phase], hoverinfo="text",
            hovertext=[plot_text(f"{s[3]}: {phase} {s[2] * 1e3:.1f} ms") for s in ph]))
    fig.update_layout(barmode="overlay", legend=legend_below(340),
                      xaxis={"title": {"text": "time since the first call (s, host clock)"}},
                      yaxis={"title": {"text": "phase"},
                             "categoryorder": "array",
                             "categoryarray": ["tool wait", "decode", "prefill"]})
    return Plot(f"Where the time goes: {run.label} on {run.target}", fig, height_px=340,
                note="Measured on the device: each call's prefill (request to first token) "
                     "and decode (first to last token), and the task's non-LLM waits (tools, "
                     "screen capture) between calls; warm-up calls left out."), totals


def thermal_plot(runs: list[RunData]) -> list[Plot]:
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
    fig.update_layout(xaxis={"title": {"text": "time (s, host clock)"}},
                      yaxis={"title": {"text": "temperature (°C, measured)"}},
                      legend=legend_below(420, max(1, n // 3)))
    return [Plot("Temperature under sustained load", fig, height_px=420)]
