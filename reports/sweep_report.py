"""Sweep report: Pareto fronts over a design-space sweep (records table ``point``).

Each point row is flattened (``{"params": {"pim": {"channels": 32}}}`` ->
``params.pim.channels``). Objectives are found by field name, or named by the user:

- throughput (maximise): tokens/s;
- energy (minimise): J per token (or any energy figure);
- area / cost proxy (minimise): area, cost, price, mm².

The report draws throughput vs energy and throughput vs area/cost with every point (hover
shows all of its fields) and the 2-D Pareto front, and lists the points that are Pareto
optimal on all three objectives. A sweep without point records falls back to its child
runs (one point per child ``sim`` run, from their metrics).
"""

from __future__ import annotations

import re
from typing import Any

from reports.data import RunData, finite, flatten
from reports.doc import Note, Plot, Quantity, Report, Section, Table
from reports.render import plot_text, section_or_nodata

OBJECTIVES = {
    "throughput": (r"tok(ens)?_?(per_?)?s|tok/s|throughput|tps", "max"),
    "energy": (r"(energy|j)_?per_?tok|energy.*tok|j_per_tok|energy", "min"),
    "cost": (r"area|cost|price|mm2|dollar", "min"),
}


def _points(runs: list[RunData], children: list[RunData]
            ) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str, str]], int]:
    """(points as flat dicts, metric name -> (unit, provenance, source), failed points).

    A point row of ``sim.sweep`` holds ``coords`` (the swept parameters), ``config`` and
    ``metrics`` (name -> {value, unit, provenance, source}); other rows are flattened."""
    pts: list[dict[str, Any]] = []
    meta: dict[str, tuple[str, str, str]] = {}
    failed = 0
    for r in runs:
        for key, row in r.table("point"):
            if row.get("status") not in (None, "ok"):
                failed += 1
                continue
            flat: dict[str, Any] = {"point": key, "sweep run": r.run.id}
            metrics = row.get("metrics")
            if isinstance(metrics, dict) and isinstance(row.get("coords"), dict):
                flat.update({k: v for k, v in row["coords"].items()})
                for name, m in metrics.items():
                    if isinstance(m, dict):
                        flat[name] = m.get("value")
                        meta.setdefault(name, (str(m.get("unit") or ""),
                                               str(m.get("provenance") or "simulated"),
                                               str(m.get("source") or "")))
                    else:
                        flat[name] = m
            else:
                flat.update(flatten(row))
            pts.append(flat)
    if pts or not children:
        return pts, meta, failed
    for c in children:
        flat = {"point": c.run.name or str(c.run.id), "run": c.run.id}
        flat.update({k: v for k, v in flatten(c.run.config).items()
                     if isinstance(v, (int, float, str, bool))})
        for m in c.metrics:
            name = m.name if m.scope == "run" else f"{m.scope}.{m.name}"
            flat[name] = m.value
            meta.setdefault(name, (m.unit, m.provenance, m.source))
        pts.append(flat)
    return pts, meta, failed


def _declared_objectives(runs: list[RunData]) -> list[tuple[str, str]]:
    """Objectives the sweep spec declared (run info ``objectives``: metric + goal)."""
    out: list[tuple[str, str]] = []
    for r in runs:
        for o in r.run.info.get("objectives") or []:
            if isinstance(o, dict) and o.get("metric") and o.get("goal") in ("max", "min"):
                if (o["metric"], o["goal"]) not in out:
                    out.append((str(o["metric"]), str(o["goal"])))
    return out


def _numeric_keys(points: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for p in points:
        for k, v in p.items():
            if k not in keys and finite(v) is not None:
                keys.append(k)
    return keys


def pick_objective(points: list[dict[str, Any]], which: str, given: str | None = None
                   ) -> str | None:
    """The field used for objective ``which`` (or the user's ``given`` field)."""
    keys = _numeric_keys(points)
    if given:
        return given if given in keys else None
    rx = re.compile(OBJECTIVES[which][0], re.IGNORECASE)
    cands = [k for k in keys if rx.search(k.split(".")[-1]) or rx.search(k)]
    if which == "throughput":
        cands = [k for k in cands if "prefill" not in k.lower()] or cands
    if which == "energy":
        per_tok = [k for k in cands if "tok" in k.lower()]
        cands = per_tok or cands
    return cands[0] if cands else None


def pareto(points: list[dict[str, Any]], objectives: list[tuple[str, str]]) -> list[int]:
    """Indices of non-dominated points; objectives are (field, "max"|"min").

    A point missing any objective is never on the front.
    """
    vals = []
    for p in points:
        row = []
        for key, sense in objectives:
            v = finite(p.get(key))
            row.append(None if v is None else (-v if sense == "max" else v))
        vals.append(row)
    front = []
    for i, a in enumerate(vals):
        if any(x is None for x in a):
            continue
        dominated = False
        for j, b in enumerate(vals):
            if i == j or any(x is None for x in b):
                continue
            if all(y <= x for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b)):
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def _hover(p: dict[str, Any]) -> str:
    lines = []
    for k, v in p.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        lines.append(f"{k}: {v}")
    return "<br>".join(plot_text(line) for line in lines[:40])


def _axis_unit(meta: dict, key: str) -> str:
    """The unit an axis of ``key`` is in ("ratio" for a dimensionless figure)."""
    unit = (meta.get(key) or (_unit_of(key),))[0] or _unit_of(key)
    return {"": "ratio", "x": "×", "fraction": "ratio", "tokens/s": "tok/s"}.get(unit, unit)


def _front_plot(points, xkey, xsense, ykey, ysense, title, units=("", "")) -> Plot:
    import plotly.graph_objects as go

    idx = [i for i, p in enumerate(points)
           if finite(p.get(xkey)) is not None and finite(p.get(ykey)) is not None]
    front = set(pareto(points, [(xkey, xsense), (ykey, ysense)]))
    fig = go.Figure()
    rest = [i for i in idx if i not in front]
    fig.add_trace(go.Scatter(
        x=[points[i][xkey] for i in rest], y=[points[i][ykey] for i in rest], mode="markers",
        name="dominated", marker={"color": "#9aa3b5", "size": 8},
        hovertext=[_hover(points[i]) for i in rest], hoverinfo="text"))
    fr = sorted(front, key=lambda i: points[i][xkey])
    fig.add_trace(go.Scatter(
        x=[points[i][xkey] for i in fr], y=[points[i][ykey] for i in fr],
        mode="lines+markers", name="Pareto front", line={"color": "#d62728"},
        marker={"size": 11, "color": "#d62728"},
        hovertext=[_hover(points[i]) for i in fr], hoverinfo="text"))
    def axis(key: str, sense: str, unit: str) -> str:
        better = "higher" if sense == "max" else "lower"
        return plot_text(f"{key} ({unit or 'ratio'}, {better} is better)")

    fig.update_layout(xaxis_title=axis(xkey, xsense, units[0]),
                      yaxis_title=axis(ykey, ysense, units[1]))
    return Plot(title, fig, note=f"{len(idx)} points, {len(front)} on the front. Hover a point "
                                 "for every parameter and result.")


def build(runs: list[RunData], children: list[RunData] | None = None,
          throughput: str | None = None, energy: str | None = None,
          cost: str | None = None) -> Report:
    """The sweep report for one or more ``sweep`` runs."""
    points, meta, failed = _points(runs, children or [])
    declared = _declared_objectives(runs)
    if declared and not (throughput or energy or cost):
        objectives = [(k, g) for k, g in declared if k in _numeric_keys(points)]
    else:
        tp = pick_objective(points, "throughput", throughput)
        en = pick_objective(points, "energy", energy)
        co = pick_objective(points, "cost", cost)
        objectives = [(k, g) for k, g in ((tp, "max"), (en, "min"), (co, "min")) if k]
    summary = [f"{len(points)} design points" + (f" ({failed} failed, left out)"
                                                 if failed else "")]
    names = ", ".join(f"{k} ({g})" for k, g in objectives) or "none found"
    notes = [Note(f"{len(points)} design points from sweep run(s) "
                  + ", ".join(f"#{r.run.id}" for r in runs)
                  + (f"; {failed} failed points are left out" if failed else "")
                  + f". Objectives: {names}.")]
    plots: list = []
    if len(objectives) >= 2:
        x, gx = objectives[0]
        for y, gy in objectives[1:3]:
            plots.append(_front_plot(points, x, gx, y, gy, f"Pareto front: {x} vs {y}",
                                     units=(_axis_unit(meta, x), _axis_unit(meta, y))))
    front = pareto(points, objectives) if objectives else []
    rows = []
    first = objectives[0][0] if objectives else None
    sign = -1 if objectives and objectives[0][1] == "max" else 1
    for i in sorted(front, key=lambda i: sign * (finite(points[i].get(first)) or 0)
                    if first else i):
        p = points[i]
        cells = []
        for k, _ in objectives:
            unit, prov, src = meta.get(k, (_unit_of(k), "simulated", f"field {k}"))
            cells.append(Quantity(finite(p.get(k)), unit, prov, src))
        params = ", ".join(f"{k}={v}" for k, v in p.items()
                           if k not in dict(objectives) and k not in ("point", "sweep run")
                           and k not in meta and not isinstance(v, (list, dict)))
        rows.append((str(p.get("point")), *cells, params[:300]))
    if objectives:
        summary.append(f"{len(front)} Pareto-optimal on " + ", ".join(k for k, _ in objectives))
    table = Table("Pareto-optimal points (all objectives)",
                  ("point", *[k for k, _ in objectives], "parameters"), tuple(rows),
                  primary=True) if objectives else None
    params = [k for k in (points[0] if points else {}) if k not in meta
              and k not in ("point", "sweep run") and finite(points[0][k]) is None
              and not isinstance(points[0][k], (list, dict))][:4]
    all_keys = (params + _numeric_keys(points))[:14]
    all_rows = tuple((str(p.get("point")), *[p.get(k) for k in all_keys]) for p in points[:500])
    sections = [
        Section("Design points", tuple(notes)),
        section_or_nodata("Pareto fronts", plots,
                          "the sweep has fewer than two objectives to trade off"),
        section_or_nodata("Pareto-optimal points", [table] if table and rows else [],
                          "no point has every objective"),
        section_or_nodata("Every point", [Table(f"Every point (first {len(all_rows)})",
                                                ("point", *all_keys), all_rows)]
                          if points else [], "no points recorded"),
    ]
    return Report(kind="sweep", title="Sweep report: " + ", ".join(
        r.run.name or f"sweep #{r.run.id}" for r in runs), runs=tuple(r.ref for r in runs),
        sections=tuple(sections), summary=tuple(summary))


def _unit_of(key: str) -> str:
    k = key.lower()
    for suffix, unit in (("tok_s", "tok/s"), ("tokens_per_s", "tok/s"), ("_j_per_token",
                         "J/token"), ("j_per_tok", "J/token"), ("_mm2", "mm²"), ("_j", "J"),
                         ("_s", "s"), ("_w", "W"), ("_usd", "USD"), ("_bytes", "B")):
        if k.endswith(suffix):
            return unit
    return ""
