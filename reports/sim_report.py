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

from reports.data import (
    STAT_EXCLUDE,
    RunData,
    find_metric,
    finite,
    norm_unit,
    pick,
    pick_num,
    to_canonical,
)
from reports.doc import Note, Plot, Quantity, Report, Section, Table
from reports.render import plot_text, section_or_nodata

THROUGHPUT = (r"^throughput(_tok(ens)?_?(per_)?s)?$", r"^throughput", r"^decode_throughput",
              r"^(?!.*(prefill|wall)).*tok(ens)?_?(per_?)?s", r"tps$",
              r"^(?!.*(prefill|wall)).*throughput")
LATENCY_COLUMNS = (
    (r"ttft.*p50", r"ttft"),
    (r"tpot.*p50", r"itl.*p50", r"tpot|itl|time_per_output"),
    (r"^seconds$", r"iteration_s$", r"iteration|step_time"),
    (r"task_latency.*p50", r"e2e.*p50", r"latency|e2e"),
)
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
        lat = [find_metric(r, pats, units=("s",)) for pats in LATENCY_COLUMNS]
        ratio = None
        if tp and tp.available and base_tp and base_tp.available and base_tp.value:
            ratio = Quantity(tp.value / base_tp.value, "×", "simulated",
                             f"throughput ratio to {design_name(base)}")
        elif base is not None and lat[2] is not None and lat[2].available and lat[2].value:
            b = find_metric(base, LATENCY_COLUMNS[2], units=("s",))
            if b is not None and b.available:  # one iteration on each: speed-up in time
                ratio = Quantity(b.value / lat[2].value, "×", "simulated",
                                 f"iteration-time speed-up over {design_name(base)}")
        rows.append((design_name(r), r.model, r.quant, r.label, tp, ratio, *lat))
        if tp is not None:
            head = tp.text()
        elif lat[2] is not None:
            head = f"iteration {lat[2].text()}"
        else:
            head = "throughput unavailable"
        summary.append(f"{design_name(r)} ({r.model}): {head}"
                       + (f", {ratio.number()}× {design_name(base)}" if ratio else ""))
    blocks.append(Table(
        "Throughput and latency per design",
        ("design", "model", "quant", "run", "throughput", f"× {design_name(base)}" if base
         else "ratio", "TTFT p50", "TPOT p50", "iteration", "request latency p50"),
        tuple(rows), primary=True,
        note="Ratios divide each design's throughput by the baseline design's (or, for "
             "single-iteration runs, the baseline's iteration time by the design's)."))
    tps = [(design_name(r), _throughput(r)) for r in runs]
    tps = [(d, q) for d, q in tps if q and q.available]
    if tps:
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(
            x=[plot_text(d) for d, _ in tps], y=[q.value for _, q in tps],
            text=[f"{q.number()} tok/s" for _, q in tps], textposition="outside",
            marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(tps))],
            hovertext=[plot_text(f"{q.provenance}: {q.source}") for _, q in tps]))
        fig.update_layout(yaxis_title="throughput (tok/s, simulated)", xaxis_title="design")
        blocks.append(Plot("Throughput per design (simulated)", fig))
    return blocks, summary


def _time_of(row: dict) -> float | None:
    return pick_num(row, "seconds", "time_s", "dur_s", "latency_s", "t_s", "duration_s", "time_ms",
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
    scale, axis_unit = 1.0, unit
    if unit == "s":
        top = max(sum(v.values()) for v in per_design.values())
        scale, axis_unit = _time_axis(top)
    for i, lab in enumerate(labels):
        fig.add_trace(go.Bar(name=plot_text(lab), x=[plot_text(d) for d in designs],
                             y=[per_design[d].get(lab, 0.0) * scale for d in designs],
                             marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="stack", yaxis_title=f"time ({axis_unit}, simulated)",
                      xaxis_title="design")
    rows = []
    for d in designs:
        total = sum(per_design[d].values()) or 1.0
        for lab in labels:
            if lab in per_design[d]:
                v = per_design[d][lab]
                rows.append((d, lab, Quantity(v, unit, "simulated"),
                             Quantity(100 * v / total, "%", "simulated")))
    note = ("Per decoder layer where the simulator reports one layer. With sub-batch "
            "interleaving, NPU and PIM stages of different sub-batches overlap in time, so a "
            "stack can be taller than the iteration.") if table == "stage" else \
        "Time each operator keeps its unit busy; operators on different units can overlap."
    return [Plot(title, fig, note=note),
            Table(f"{title} (table)", ("design", table, "time", "share"), tuple(rows))]


def _lane(track: str) -> tuple[str, bool] | None:
    """Timeline track -> (lane, is a PIM channel). ``pim/ch3`` -> ("PIM", True),
    ``npu/vector`` -> ("NPU vector", False); tracks that are not hardware units -> None."""
    low = track.lower()
    if re.match(r"pim[/_ -]?ch(annel)?[/_ -]?\d+$", low):
        return "PIM", True
    head, _, rest = low.partition("/")
    if head in ("npu", "pim", "gpu", "hbm", "dram", "vector", "sram"):
        name = head.upper() + (f" {rest}" if rest else "")
        return name, False
    return None


def _busy_series(run: RunData, bins: int = 60) -> dict[str, tuple[list[float], list[float]]]:
    """Busy fraction per unit over time from events: {lane: (t_s from start, util)}.

    Each track's spans are merged (overlaps count once); ``pim/ch<N>`` tracks are averaged
    into one PIM lane (mean channel busy fraction) when present.
    """
    spans = [(e.track, e.t_start_s, e.dur_s) for e in run.events if e.dur_s and e.dur_s > 0]
    if not spans:
        return {}
    t0 = min(s[1] for s in spans)
    t1 = max(s[1] + s[2] for s in spans)
    if t1 <= t0:
        return {}
    width = (t1 - t0) / bins
    tracks: dict[str, list[tuple[float, float]]] = defaultdict(list)
    lanes: dict[str, dict[bool, list[str]]] = defaultdict(lambda: defaultdict(list))
    for track, start, dur in spans:
        lane = _lane(track)
        if lane is None:
            continue
        if track not in tracks:
            lanes[lane[0]][lane[1]].append(track)
        tracks[track].append((start, start + dur))
    out = {}
    for lane, kinds in lanes.items():
        use = kinds[True] or kinds[False]
        util = [0.0] * bins
        for t in use:
            for i, busy in enumerate(bin_busy(tracks[t], t0, width, bins)):
                util[i] += busy
        out[lane] = ([(i + 0.5) * width for i in range(bins)],
                     [min(1.0, u / len(use)) for u in util])
    return out


def bin_busy(intervals: list[tuple[float, float]], t0: float, width: float, bins: int
             ) -> list[float]:
    """Fraction of each time bin ``[t0 + i*width, t0 + (i+1)*width)`` covered by the union
    of ``intervals``."""
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    busy = [0.0] * bins
    for a, b in merged:
        i0 = max(0, int((a - t0) / width))
        i1 = min(bins - 1, int((b - t0) / width))
        for i in range(i0, i1 + 1):
            lo = t0 + i * width
            busy[i] += max(0.0, min(b, lo + width) - max(a, lo)) / width
    return busy


def _time_axis(span_s: float) -> tuple[float, str]:
    for scale, unit in ((1.0, "s"), (1e3, "ms"), (1e6, "µs")):
        if span_s * scale >= 1.0:
            return scale, unit
    return 1e9, "ns"


def _utilisation(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    series = []  # (design, lane, t_s list, util fraction list)
    for r in runs:
        for lane, (ts, util) in _busy_series(r).items():
            series.append((f"{r.label} {design_name(r)}", lane, ts, util))
        names = sorted({s.name for s in r.samples if "util" in s.name.lower()
                        or s.name.lower().startswith("kv_usage")})
        for s_name in names:
            pts = [s for s in r.samples if s.name == s_name and s.value is not None]
            if not pts:
                continue
            t0 = pts[0].t_host_s
            frac = 1.0 if max(p.value for p in pts) <= 1.0 else 0.01
            lane = re.sub(r"^utili[sz]ation[._]", "", s_name)
            series.append((f"{r.label} {design_name(r)}", lane,
                           [p.t_host_s - t0 for p in pts], [p.value * frac for p in pts]))
    blocks: list = []
    if series:
        from plotly.subplots import make_subplots

        designs = list(dict.fromkeys(d for d, _, _, _ in series))
        lanes = list(dict.fromkeys(lane for _, lane, _, _ in series))
        colour = {lane: PALETTE[i % len(PALETTE)] for i, lane in enumerate(lanes)}
        span = max((max(ts) for _, _, ts, _ in series if ts), default=0.0)
        scale, unit = _time_axis(span)
        fig = make_subplots(rows=len(designs), cols=1, shared_xaxes=True,
                            vertical_spacing=0.08 if len(designs) < 5 else 0.04,
                            subplot_titles=[plot_text(d) for d in designs])
        shown: set[str] = set()
        for design, lane, ts, util in series:
            fig.add_trace(go.Scatter(x=[t * scale for t in ts], y=[100 * u for u in util],
                                     mode="lines", name=plot_text(lane), legendgroup=lane,
                                     showlegend=lane not in shown,
                                     line={"color": colour[lane]}),
                          row=designs.index(design) + 1, col=1)
            shown.add(lane)
        fig.update_yaxes(range=[0, 105], title_text="busy (%)")
        fig.update_xaxes(title_text=f"simulated time ({unit})", row=len(designs), col=1)
        blocks.append(Plot("NPU / PIM / HBM utilisation over time (simulated)", fig,
                           height_px=120 + 190 * len(designs),
                           note="Busy fraction of each unit per time bin of the simulated "
                                "timeline (PIM: mean over channels), or the utilisation the "
                                "serving simulator sampled; one panel per design."))
    rows = []
    for r in runs:
        for m in r.metrics:
            low = m.name.lower()
            if (low.startswith(("util_", "utilisation.", "utilization.")) or
                    low in ("busy_fraction", "kv_peak_fraction")) and m.unit in (
                    "fraction", "", "ratio", "%"):
                v = m.value
                if v is not None and m.unit != "%":
                    v = 100 * v
                rows.append((design_name(r), m.name, Quantity(v, "%", m.provenance, m.source)))
    if rows:
        blocks.append(Table("Mean utilisation", ("design", "unit", "mean busy"), tuple(rows)))
    return blocks


def _tokens_per_iteration(run: RunData) -> float | None:
    """Tokens one simulated decode iteration produces (its batch), for per-token energy."""
    info = run.run.info.get("sim") if isinstance(run.run.info.get("sim"), dict) else {}
    phase = info.get("phase") or run.attr("phase")
    batch = finite(info.get("batch")) or finite(run.attr("batch_size"))
    return batch if (phase in (None, "decode") and batch) else None


def _energy_components(run: RunData) -> dict[str, Quantity]:
    """Energy per token by component: metrics in J/token that name a component; else J per
    component divided by generated tokens (serving) or by the batch (one decode step)."""
    out: dict[str, Quantity] = {}
    tokens = find_metric(run, (r"^output_tokens$", r"generated_tokens|tokens_generated",))
    per = (tokens.value, "generated tokens") if tokens and tokens.available and tokens.value \
        else None
    if per is None:
        batch = _tokens_per_iteration(run)
        per = (batch, "batch (one token per request per decode iteration)") if batch else None
    for m in run.metrics:
        name = m.name.lower()
        if "energy" not in name or re.search(STAT_EXCLUDE, name):
            continue
        value, unit = to_canonical(m.value, m.unit)
        comp = _component(name)
        if comp is None or "task" in name:
            continue
        if norm_unit(unit) == "J/token":
            out[comp] = Quantity(value, "J/token", m.provenance, m.source)
        elif unit == "J" and per is not None and comp not in out:
            out[comp] = Quantity(None if value is None else value / per[0], "J/token",
                                 m.provenance, f"{m.source}: {m.name} / {per[1]}")
    return out


_ENERGY_WORDS = {"energy", "per", "token", "tok", "j", "pj", "mj", "uj", "iteration",
                 "output", "gross", "net", "mean"}


def _component(name: str) -> str | None:
    """The component a metric names once the energy words are removed:
    ``energy_per_token_j.pim`` -> ``pim``, ``energy_dram_background_j`` -> ``dram_background``;
    None for totals."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    rest = [w for w in words if w not in _ENERGY_WORDS]
    if not rest or "total" in rest:
        return None
    return "_".join(rest)


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
    fig.update_layout(barmode="stack", yaxis_title="energy per token (J/token, simulated)",
                      xaxis_title="design")
    rows = tuple((d, comp, per[d][comp]) for d in per for comp in comps if comp in per[d])
    partial = []
    for r in runs:
        info = r.run.info.get("sim") if isinstance(r.run.info.get("sim"), dict) else {}
        if isinstance(info.get("layers"), int):
            partial.append(f"{r.label} ({info['layers']} layer{'s' * (info['layers'] != 1)})")
    note = ("Step runs count the energy of the decoder layers they simulated: "
            + ", ".join(partial) + ".") if partial else ""
    return [Plot("Energy per token by component", fig, note=note),
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


def _layer_point(run: RunData) -> tuple[float, float, str] | None:
    """(FLOP/byte, FLOP/s, hover) of one whole layer from the step simulator's counters."""
    info = run.run.info.get("sim") if isinstance(run.run.info.get("sim"), dict) else {}
    counters = info.get("counters") if isinstance(info.get("counters"), dict) else {}
    macs = finite(counters.get("macs_per_layer"))
    nbytes = finite(counters.get("hbm_bytes_per_layer"))
    cycles = find_metric(run, (r"^layer_cycles$",), exclude="")
    hz = finite(info.get("clock_hz"))
    if not macs or not nbytes or cycles is None or not cycles.available or not hz:
        return None
    t = cycles.value / hz
    flops = 2 * macs
    return flops / nbytes, flops / t, (f"{design_name(run)} decoder layer: {flops:.3g} FLOP, "
                                       f"{nbytes:.3g} B, {t * 1e6:.1f} µs")


def _roofline(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    fig = go.Figure()
    n = 0
    notes = []
    layer_only: list[str] = []
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
            point = _layer_point(r)
            if point is None:
                continue
            xs, ys, hover = [point[0]], [point[1]], [plot_text(point[2])]
            layer_only.append(design_name(r))
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
                      yaxis_title="achieved compute (FLOP/s, simulated)")
    note = "Each point is one operator of one decode iteration."
    if layer_only:
        note += (" For " + ", ".join(layer_only) + " the runs record no per-operator FLOPs or "
                 "bytes, so one point places the whole decoder layer (2 x MACs over HBM bytes "
                 "per layer, layer time).")
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
