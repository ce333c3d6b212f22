"""Simulation report: compare designs (gpu, npu, npu-pim, neupims ...) from ``sim`` runs.

Sections, each reading only what the runs hold (a missing piece says "no data"):

- throughput and latency per design, with ratios to a baseline design;
- stage breakdown (records table ``stage``) and operator breakdown (``operator``);
- NPU / PIM / per-channel utilisation over simulated time (events on tracks ``npu``,
  ``pim``, ``pim/ch<N>``; or samples whose name says utilisation);
- energy per token by component (metrics in J/token, or J per component divided by tokens);
- roofline placement of each operator (FLOPs, bytes and time per operator).
"""

from __future__ import annotations

import re
from collections import defaultdict

from reports.data import RunData, find_metric, finite, norm_unit, pick, pick_num
from reports.doc import Note, Plot, Quantity, Report, Section, Table
from reports.render import plot_text, section_or_nodata

THROUGHPUT = (r"^(decode_)?throughput", r"^(?!.*prefill).*tok(ens)?_?(per_?)?s", r"tps$",
              r"^(?!.*prefill).*throughput")
LATENCY_NAMES = r"(latency|ttft|tpot|itl|iteration|e2e|step_time|time_per)"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def design_name(run: RunData) -> str:
    return run.target


def _throughput(run: RunData) -> Quantity | None:
    return find_metric(run, THROUGHPUT, units=("tok/s",))


def _baseline(runs: list[RunData], baseline: str | None) -> RunData | None:
    if not runs:
        return None
    if baseline:
        for r in runs:
            if baseline in (str(r.run.id), design_name(r), r.run.name):
                return r
    for pref in ("gpu", "npu"):
        for r in runs:
            if design_name(r).lower() == pref:
                return r
    return runs[0]


def _metrics_table(runs: list[RunData]) -> Table | None:
    names: list[tuple[str, str]] = []
    for r in runs:
        for m in r.metrics:
            key = (m.scope, m.name)
            if key not in names:
                names.append(key)
    if not names:
        return None
    rows = []
    for scope, name in names:
        row: list = [name if scope == "run" else f"{scope}: {name}"]
        for r in runs:
            m = next((m for m in r.metrics if m.scope == scope and m.name == name), None)
            row.append(None if m is None else Quantity(m.value, m.unit, m.provenance, m.source))
        rows.append(tuple(row))
    return Table("Every metric", ("metric", *[f"{r.label} {design_name(r)}" for r in runs]),
                 tuple(rows))


def _headline(runs: list[RunData], base: RunData | None) -> tuple[list, list[str]]:
    blocks: list = []
    summary: list[str] = []
    rows = []
    base_tp = _throughput(base) if base else None
    for r in runs:
        tp = _throughput(r)
        lat = [find_metric(r, (n,), units=("s",)) for n in
               (r"ttft", r"tpot|itl|time_per_output", r"iteration|step", r"latency|e2e")]
        ratio = None
        if tp and tp.available and base_tp and base_tp.available and base_tp.value:
            ratio = Quantity(tp.value / base_tp.value, "×", "simulated",
                             f"ratio to {design_name(base)}")
        rows.append((design_name(r), r.model, r.quant, r.label, tp, ratio, *lat))
        summary.append(f"{design_name(r)} ({r.model}): "
                       f"{tp.text() if tp else 'throughput unavailable'}"
                       + (f", {ratio.number()}× {design_name(base)}" if ratio else ""))
    blocks.append(Table(
        "Throughput and latency per design",
        ("design", "model", "quant", "run", "throughput", f"× {design_name(base)}" if base
         else "ratio", "TTFT", "TPOT / ITL", "iteration", "latency"), tuple(rows),
        primary=True,
        note="Ratios divide each design's throughput by the baseline design's."))
    tps = [(design_name(r), _throughput(r)) for r in runs]
    tps = [(d, q) for d, q in tps if q and q.available]
    if tps:
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(
            x=[plot_text(d) for d, _ in tps], y=[q.value for _, q in tps],
            text=[f"{q.number()} tok/s" for _, q in tps], textposition="outside",
            marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(tps))],
            hovertext=[plot_text(f"{q.provenance}: {q.source}") for _, q in tps]))
        fig.update_layout(yaxis_title="tokens/s (simulated)", xaxis_title="design")
        blocks.append(Plot("Throughput per design (simulated)", fig))
    return blocks, summary


def _time_of(row: dict) -> float | None:
    return pick_num(row, "time_s", "dur_s", "latency_s", "t_s", "duration_s", "time_ms",
                    "latency_ms", "time_us", "time_ns", "latency_ns")


def _cycles_of(row: dict) -> float | None:
    return pick_num(row, "cycles", "npu_cycles", "total_cycles")


def _breakdown(runs: list[RunData], table: str, label_keys: tuple[str, ...], title: str
               ) -> list:
    """Stacked bar per design of time (or cycles) per stage/operator."""
    import plotly.graph_objects as go

    per_design: dict[str, dict[str, float]] = {}
    unit = "s"
    use_cycles = all(_time_of(d) is None for r in runs for _, d in r.table(table))
    if use_cycles:
        unit = "cycles"
    labels: list[str] = []
    for r in runs:
        acc: dict[str, float] = defaultdict(float)
        for key, row in r.table(table):
            v = _cycles_of(row) if use_cycles else _time_of(row)
            if v is None:
                continue
            name = str(pick(row, *label_keys) or key)
            acc[name] += v
            if name not in labels:
                labels.append(name)
        if acc:
            per_design[f"{r.label} {design_name(r)}"] = acc
    if not per_design:
        return []
    fig = go.Figure()
    designs = list(per_design)
    for i, lab in enumerate(labels):
        fig.add_trace(go.Bar(name=plot_text(lab), x=[plot_text(d) for d in designs],
                             y=[per_design[d].get(lab, 0.0) for d in designs],
                             marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="stack", yaxis_title=f"{unit} (simulated)")
    rows = []
    for d in designs:
        total = sum(per_design[d].values()) or 1.0
        for lab in labels:
            if lab in per_design[d]:
                v = per_design[d][lab]
                rows.append((d, lab, Quantity(v, unit, "simulated"),
                             Quantity(100 * v / total, "%", "simulated")))
    return [Plot(title, fig),
            Table(f"{title} (table)", ("design", table, "time", "share"), tuple(rows))]


def _busy_series(run: RunData, bins: int = 60) -> dict[str, tuple[list[float], list[float]]]:
    """Busy fraction per lane group over time from events: {lane: (t_s, util)}.

    Lanes: ``npu``, ``pim`` (all ``pim*`` tracks, averaged over channels), ``hbm`` (tracks
    named hbm/dram/mem). Union of spans within each track, so overlapping spans count once.
    """
    spans = [(e.track, e.t_start_s, e.dur_s) for e in run.events if e.dur_s and e.dur_s > 0]
    if not spans:
        return {}
    t0 = min(s[1] for s in spans)
    t1 = max(s[1] + s[2] for s in spans)
    if t1 <= t0:
        return {}
    width = (t1 - t0) / bins
    groups: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for track, start, dur in spans:
        low = track.lower()
        if low.startswith("npu"):
            g = "NPU"
        elif low.startswith("pim"):
            g = "PIM"
        elif low.startswith(("hbm", "dram", "mem")):
            g = "HBM"
        else:
            continue
        groups[g][track].append((start, start + dur))
    out = {}
    for g, tracks in groups.items():
        channel_tracks = [t for t in tracks if re.search(r"ch\d+$", t)]
        use = channel_tracks if (g == "PIM" and channel_tracks) else list(tracks)
        util = [0.0] * bins
        for t in use:
            for a, b in tracks[t]:
                i0 = int((a - t0) / width)
                i1 = min(bins - 1, int((b - t0) / width))
                for i in range(max(0, i0), i1 + 1):
                    lo = t0 + i * width
                    hi = lo + width
                    util[i] += max(0.0, min(b, hi) - max(a, lo)) / width
        util = [min(1.0, u / len(use)) for u in util]
        out[g] = ([t0 + (i + 0.5) * width - t0 for i in range(bins)], util)
    return out


def _utilisation(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    fig = go.Figure()
    rows = []
    n = 0
    for r in runs:
        series = _busy_series(r)
        for lane, (ts, util) in series.items():
            fig.add_trace(go.Scatter(x=[t * 1e6 for t in ts], y=[100 * u for u in util],
                                     mode="lines", name=plot_text(f"{design_name(r)} {lane}")))
            n += 1
            rows.append((design_name(r), lane,
                         Quantity(100 * sum(util) / len(util), "%", "simulated")))
        for s_name in sorted({s.name for s in r.samples if "util" in s.name.lower()}):
            pts = [s for s in r.samples if s.name == s_name and s.value is not None]
            if pts:
                t0 = pts[0].t_host_s
                scale = 100.0 if max(p.value for p in pts) <= 1.0 else 1.0
                fig.add_trace(go.Scatter(x=[(p.t_host_s - t0) * 1e6 for p in pts],
                                         y=[p.value * scale for p in pts], mode="lines",
                                         name=plot_text(f"{design_name(r)} {s_name}")))
                n += 1
    if not n:
        return []
    fig.update_layout(xaxis_title="simulated time (µs)", yaxis_title="busy (%)",
                      yaxis_range=[0, 105])
    return [Plot("NPU / PIM / HBM utilisation over time (simulated)", fig,
                 note="Busy fraction of each unit per time bin, from the simulated timeline; "
                      "PIM is the mean over channels."),
            Table("Mean utilisation", ("design", "unit", "mean busy"), tuple(rows))]


COMPONENTS = ("npu", "pim", "hbm", "dram", "sram", "vector", "systolic", "gpu", "io",
              "static", "background", "refresh", "interconnect", "compute", "noc", "host")


def _energy_components(run: RunData) -> dict[str, Quantity]:
    """Energy per token by component: metrics in J/token whose name names a component;
    else metrics in J per component divided by the generated-token count."""
    out: dict[str, Quantity] = {}
    tokens = find_metric(run, (r"generated_tokens|output_tokens|tokens_generated|^tokens$",))
    for m in run.metrics:
        name = m.name.lower()
        if "energy" not in name:
            continue
        from reports.data import to_canonical

        value, unit = to_canonical(m.value, m.unit)
        comp = _component(name)
        if comp is None:
            continue
        if norm_unit(unit) == "J/token":
            out[comp] = Quantity(value, "J/token", m.provenance, m.source)
        elif unit == "J" and tokens and tokens.available and tokens.value and comp not in out:
            out[comp] = Quantity(None if value is None else value / tokens.value, "J/token",
                                 m.provenance, f"{m.source} / generated tokens")
    return out


def _component(name: str) -> str | None:
    """The component a metric name mentions (``energy_per_token.pim`` -> ``pim``)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    if "total" in words:
        return None
    for w in words:
        if w in COMPONENTS:
            return w
    return None


def _energy(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    per = {f"{r.label} {design_name(r)}": _energy_components(r) for r in runs}
    per = {d: c for d, c in per.items() if c}
    if not per:
        return []
    comps: list[str] = []
    for c in per.values():
        for k in c:
            if k not in comps:
                comps.append(k)
    fig = go.Figure()
    for i, comp in enumerate(comps):
        fig.add_trace(go.Bar(
            name=plot_text(comp), x=[plot_text(d) for d in per],
            y=[(per[d][comp].value if comp in per[d] and per[d][comp].available else None)
               for d in per],
            marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="stack", yaxis_title="J per token (simulated)")
    rows = tuple((d, comp, per[d][comp]) for d in per for comp in comps if comp in per[d])
    return [Plot("Energy per token by component", fig),
            Table("Energy per token by component (table)", ("design", "component",
                                                            "energy per token"), rows)]


def _peak(run: RunData) -> tuple[float | None, float | None]:
    flops = find_metric(run, (r"peak_?flops", r"peak.*flop"), units=None)
    bw = find_metric(run, (r"peak_?(mem_?|hbm_?|dram_?)?(bw|bandwidth)", r"bandwidth"))
    f = flops.value if flops and flops.available else finite(
        run.attr("peak_flops", "peak_flop_s"))
    b = bw.value if bw and bw.available else finite(
        run.attr("peak_bw_bytes_s", "peak_bandwidth_bytes_s", "hbm_bandwidth_bytes_s"))
    return f, b


def _roofline(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    fig = go.Figure()
    n = 0
    notes = []
    for i, r in enumerate(runs):
        xs, ys, hover = [], [], []
        for key, row in r.table("operator"):
            flops = pick_num(row, "flops", "flop", "n_flops")
            nbytes = pick_num(row, "bytes", "dram_bytes", "hbm_bytes", "mem_bytes", "n_bytes")
            t = _time_of(row)
            if not flops or not nbytes or not t:
                continue
            xs.append(flops / nbytes)
            ys.append(flops / t)
            name = str(pick(row, "name", "op", "operator", "kind") or key)
            hover.append(plot_text(f"{name}: {flops:.3g} FLOP, {nbytes:.3g} B, {t:.3g} s"))
        if not xs:
            continue
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=plot_text(design_name(r)),
                                 hovertext=hover, hoverinfo="text", marker={"color": color}))
        n += 1
        pf, pb = _peak(r)
        if pf and pb:
            ridge = pf / pb
            lo, hi = min(min(xs), ridge) / 4, max(max(xs), ridge) * 4
            fig.add_trace(go.Scatter(x=[lo, ridge, hi], y=[lo * pb, pf, pf], mode="lines",
                                     line={"dash": "dash", "color": color},
                                     name=plot_text(f"{design_name(r)} roof")))
        else:
            notes.append(design_name(r))
    if not n:
        return []
    fig.update_layout(xaxis_type="log", yaxis_type="log",
                      xaxis_title="operational intensity (FLOP/byte)",
                      yaxis_title="achieved FLOP/s (simulated)")
    note = "Each point is one operator of one decode iteration."
    if notes:
        note += " No peak FLOP/s or bandwidth recorded for: " + ", ".join(notes) + \
            " (roof not drawn)."
    return [Plot("Roofline placement of each operator", fig, note=note, height_px=480)]


def build(runs: list[RunData], baseline: str | None = None) -> Report:
    """The simulation report for one or more ``sim`` runs."""
    base = _baseline(runs, baseline)
    head, summary = _headline(runs, base) if runs else ([], [])
    sections = [
        section_or_nodata("Throughput and latency", head, "no sim runs"),
        section_or_nodata("Stage breakdown",
                          _breakdown(runs, "stage", ("stage", "name", "kind"),
                                     "Time per stage"),
                          "no 'stage' records in these runs"),
        section_or_nodata("Operator breakdown",
                          _breakdown(runs, "operator", ("operator", "op", "name", "kind"),
                                     "Time per operator"),
                          "no 'operator' records in these runs"),
        section_or_nodata("Utilisation over time", _utilisation(runs),
                          "no timeline events on npu/pim/hbm tracks"),
        section_or_nodata("Energy per token by component", _energy(runs),
                          "no per-component energy metrics"),
        section_or_nodata("Roofline", _roofline(runs),
                          "no operator records with FLOPs, bytes and time"),
    ]
    table = _metrics_table(runs)
    sections.append(section_or_nodata("All metrics", [table] if table else [],
                                      "no metrics recorded"))
    failed = [r for r in runs if r.run.status != "done"]
    if failed:
        sections.insert(0, Section("Run status", tuple(
            Note(f"{r.label} is {r.run.status}" + (f": {r.run.error}" if r.run.error else "")
                 + "; its numbers may be partial.", "warn") for r in failed)))
    models = sorted({r.model for r in runs})
    return Report(kind="simulation", title="Simulation report: " + ", ".join(
        design_name(r) for r in runs), runs=tuple(r.ref for r in runs),
        sections=tuple(sections), summary=tuple(summary),
        subtitle="model: " + ", ".join(models) if models else "")
