"""Profile report: what real runs on a device did, from ``profile`` runs.

Per run, on one clock (the host monotonic clock the samples and events share):

- a timeline with power, memory, temperatures and clocks (samples), and the calls drawn
  as spans (prefill and decode coloured apart, from events or call records);
- per-role latency breakdown for agent workloads (call records with a ``role``);
- per-token latency distribution (inter-token latencies from call records or events);
- energy per phase (metrics in J naming a phase; unavailable energy is listed, not zero).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from reports.data import (
    STAT_EXCLUDE,
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

PHASE_COLOURS = {"prefill": "#ff7f0e", "decode": "#1f77b4", "load": "#7f7f7f",
                 "tokenize": "#bcbd22", "sample": "#17becf", "delay": "#c7c7c7",
                 "call": "#9467bd", "other": "#8c564b"}
KIND_ORDER = ("power", "memory", "device memory", "temperature", "frequency", "utilisation",
              "electrical")
KIND_AXIS = {"power": "W", "memory": "MiB", "device memory": "MiB", "temperature": "°C",
             "frequency": "MHz", "utilisation": "%", "electrical": ""}

HEADLINE = (
    ("TTFT p50", (r"ttft.*p50", r"^ttft(_mean)?(_s|_ms)?$", r"ttft"), ("s",)),
    ("decode p50", (r"decode_tps\.p50", r"^decode_tok_s$", r"decode.*(tok|tps)", r"^tps$",
                    r"tok_?s|tok/s"), ("tok/s",)),
    ("prefill p50", (r"prefill_tps\.p50", r"^prefill_tok_s$", r"prefill.*(tok|tps)"),
     ("tok/s",)),
    ("ITL p50", (r"itl.*p50", r"itl"), ("s",)),
    ("peak memory", (r"memory\.hwm", r"peak.*(rss|pss|mem)", r"(rss|pss|mem).*(peak|max)",
                     r"memory\.(rss|pss)", r"rss|pss"), ("B",)),
    ("energy / token", (r"energy.*per.*token", r"j_per_tok"), ("J/token",)),
    ("energy / task", (r"energy_per_task", r"task\.energy_gross_j", r"energy.*per.*task"),
     ("J",)),
    ("max temp", (r"thermal\.max", r"temp.*max|max.*temp", r"temp"), ("°C",)),
)
CALL_TABLES = ("calls", "call", "request", "requests")


def call_rows(run: RunData) -> list[tuple[str, dict]]:
    """The run's per-call records without warm-up calls (all of them if all are warm-up)."""
    rows = run.table(*CALL_TABLES)
    measured = [(k, d) for k, d in rows if not d.get("warmup")]
    return measured or rows


def phase_of(name: str, track: str = "") -> str:
    """Classify an event into a phase colour: prefill, decode, load, ..."""
    text = f"{track} {name}".lower()
    for phase in ("prefill", "decode", "load", "tokenize", "sample", "delay"):
        if phase in text:
            return phase
    if "prompt" in text:
        return "prefill"
    if "generat" in text or "eval" in text:
        return "decode"
    if "call" in text or "request" in text:
        return "call"
    return "other"


def _headline_rows(runs: list[RunData]) -> tuple[Table, list[str]]:
    rows = []
    summary = []
    for r in runs:
        cells = []
        for _, pats, units in HEADLINE:
            q = find_metric(r, pats, units=units)
            if q is not None and q.unit == "B" and q.available:
                q = Quantity(q.value / 2 ** 20, "MiB", q.provenance, q.source)
            cells.append(q)
        measured = [d for _, d in call_rows(r)]
        for i, (field, stat) in enumerate((("ttft_s", 50), ("decode_tps", 50),
                                           ("prefill_tps", 50))):
            if cells[i] is None:  # e.g. an interrupted run: summarise its call records
                vals = [v for v in (finite(d.get(field)) for d in measured) if v is not None]
                if vals:
                    cells[i] = Quantity(_percentile(vals, stat), "s" if i == 0 else "tok/s",
                                        "measured", f"p50 of {len(vals)} call records")
        if cells[-1] is None:  # max temp: fall back to the temperature samples
            temps = [s for s in r.samples if s.value is not None
                     and sample_kind(s.name, s.unit) == "temperature"]
            if temps:
                hot = max(temps, key=lambda s: s.value)
                cells[-1] = Quantity(hot.value, "°C", "measured",
                                     f"max of {hot.name} ({hot.source})")
        rows.append((r.label, r.target, r.model, r.quant, r.run.status, *cells))
        parts = [f"{h[0]} {c.text()}" for h, c in zip(HEADLINE, cells) if c is not None]
        summary.append(f"{r.label} {r.target} {r.model}: " + ("; ".join(parts) or
                                                            "no headline metrics"))
    return Table("Headline metrics", ("run", "device", "model", "quant", "status",
                                      *[h[0] for h in HEADLINE]), tuple(rows),
                 primary=True), summary


def _spans(run: RunData) -> list[tuple[str, str, float, float, str]]:
    """(track, name, start_s, dur_s, phase): calls split into prefill and decode from the
    call records (first-token time), plus every other span event (session phases, delays).
    A call event already drawn from its record is not drawn twice."""
    out = []
    drawn_tracks: set[str] = set()
    for key, row in run.table(*CALL_TABLES):
        start = pick_num(row, "t_start_s", "start_s", "t_submit_s", "ready_s")
        first = pick_num(row, "t_first_s", "first_token_s")
        end = pick_num(row, "t_end_s", "done_s")
        ttft = pick_num(row, "ttft_s", "ttft_ms", "prefill_s", "prefill_ms")
        total = pick_num(row, "e2e_s", "latency_s", "duration_s", "dur_s", "latency_ms")
        if start is None:
            continue
        if first is None and ttft is not None:
            first = start + ttft
        if end is None and total is not None:
            end = start + total
        track = f"slot{row['slot']}" if row.get("slot") is not None else "calls"
        label = f"{row.get('role') or 'call'} {row.get('id') or key}"
        if row.get("warmup"):
            label += " (warm-up)"
        drawn_tracks.add(track)
        if first is not None:
            out.append((track, f"{label} prefill", start, max(0.0, first - start), "prefill"))
            if end is not None and end > first:
                out.append((track, f"{label} decode", first, end - first, "decode"))
        elif end is not None:
            out.append((track, label, start, end - start, "call"))
    for e in run.events:
        if e.dur_s is None or e.dur_s < 0:
            continue
        if out and e.name.startswith("call ") and (e.track in drawn_tracks or
                                                   e.track.startswith("slot")):
            continue
        out.append((e.track, e.name, e.t_start_s, e.dur_s, phase_of(e.name, e.track)))
    return out


def _timeline(run: RunData) -> Plot | None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    spans = _spans(run)
    groups = group_samples(run.samples)
    by_kind: dict[str, list] = defaultdict(list)
    for (source, name, unit), series in groups.items():
        kind = sample_kind(name, unit)
        if kind and any(s.value is not None for s in series):
            by_kind[kind].append((source, name, unit, series))
    kinds = [k for k in KIND_ORDER if k in by_kind]
    if not spans and not kinds:
        return None
    times = [s[2] for s in spans] + [x.t_host_s for g in groups.values() for x in g]
    t0 = min(times)
    n_rows = len(kinds) + (1 if spans else 0)
    titles = (["calls (prefill / decode)"] if spans else []) + [
        f"{k} ({KIND_AXIS[k]})" if KIND_AXIS[k] else k for k in kinds]
    fig = make_subplots(rows=n_rows, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=titles)
    row = 1
    if spans:
        tracks = []
        for s in spans:
            if s[0] not in tracks:
                tracks.append(s[0])
        shown = set()
        for phase in sorted({s[4] for s in spans}):
            ph = [s for s in spans if s[4] == phase]
            fig.add_trace(go.Bar(
                orientation="h", base=[s[2] - t0 for s in ph], x=[s[3] for s in ph],
                y=[plot_text(s[0]) for s in ph], name=phase,
                marker_color=PHASE_COLOURS.get(phase, "#8c564b"),
                hovertext=[plot_text(f"{s[1]}: {s[3] * 1e3:.1f} ms") for s in ph],
                hoverinfo="text", legendgroup="phase", showlegend=phase not in shown),
                row=1, col=1)
            shown.add(phase)
        fig.update_yaxes(categoryorder="array", categoryarray=[plot_text(t) for t in tracks],
                         row=1, col=1)
        row = 2
    for kind in kinds:
        for source, name, unit, series in by_kind[kind]:
            pts = [s for s in series if s.value is not None]
            ys = []
            for s in pts:
                v, canon = to_canonical(s.value, unit)
                if kind in ("memory", "device memory") and canon == "B":
                    v = v / 2 ** 20
                elif kind == "frequency" and canon == "Hz":
                    v = v / 1e6
                elif kind == "utilisation" and max(p.value for p in pts) <= 1.0:
                    v = v * 100
                ys.append(v)
            fig.add_trace(go.Scatter(
                x=[s.t_host_s - t0 for s in pts], y=ys, mode="lines",
                name=plot_text(f"{name} ({source})"), legendgroup=kind), row=row, col=1)
        row += 1
    fig.update_layout(barmode="overlay", hovermode="closest")
    fig.update_xaxes(title_text="time since start (s, host clock)", row=n_rows, col=1)
    if spans:
        fig.update_yaxes(title_text="slot / track", row=1, col=1)
    for i, kind in enumerate(kinds, 2 if spans else 1):
        fig.update_yaxes(title_text=f"{kind} ({KIND_AXIS[kind] or 'value'})", row=i, col=1)
    missing = sorted(f"{name} ({source})" for (source, name, _), series in groups.items()
                     if all(s.value is None for s in series))
    note = ("Calls and counters share the host clock. Gaps in a counter are readings that "
            "were unavailable (never drawn as zero).")
    if missing:
        note += " Unavailable throughout the run: " + ", ".join(missing) + "."
    return Plot(f"Timeline of {run.label} {run.target} {run.model}", fig,
                height_px=180 + 170 * n_rows, note=note)


def _roles(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    rows = []
    per_role: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        for _key, row in call_rows(r):
            role = str(row.get("role") or "call")
            ttft = pick_num(row, "ttft_s", "ttft_ms", "prefill_s", "prefill_ms")
            total = pick_num(row, "latency_s", "e2e_s", "duration_s", "dur_s", "latency_ms")
            decode = pick_num(row, "decode_s", "decode_ms")
            if decode is None and total is not None and ttft is not None:
                decode = max(0.0, total - ttft)
            if ttft is not None:
                per_role[role]["prefill (TTFT)"].append(ttft)
            if decode is not None:
                per_role[role]["decode"].append(decode)
            if total is not None:
                per_role[role]["total"].append(total)
    if not per_role:
        return []
    roles = list(per_role)
    fig = go.Figure()
    for phase, colour in (("prefill (TTFT)", PHASE_COLOURS["prefill"]),
                          ("decode", PHASE_COLOURS["decode"])):
        fig.add_trace(go.Bar(name=phase, x=[plot_text(r) for r in roles],
                             y=[sum(per_role[r][phase]) for r in roles], marker_color=colour))
    fig.update_layout(barmode="stack", xaxis_title="agent role",
                      yaxis_title="time per task, summed over calls (s, measured)")
    for role in roles:
        d = per_role[role]
        n = max(len(v) for v in d.values())
        mean_total = (sum(d["total"]) / len(d["total"])) if d["total"] else None
        rows.append((role, n,
                     Quantity(sum(d["prefill (TTFT)"]) or None, "s", "measured"),
                     Quantity(sum(d["decode"]) or None, "s", "measured"),
                     Quantity(mean_total, "s", "measured")))
    return [Plot("Latency per agent role", fig),
            Table("Per-role latency", ("role", "calls", "prefill total", "decode total",
                                       "mean call latency"), tuple(rows))]


def _token_latencies(run: RunData) -> list[float]:
    out: list[float] = []
    for _, row in call_rows(run):
        times = row.get("token_times_s")
        if isinstance(times, list) and len(times) > 1:
            ts = [finite(x) for x in times]
            out.extend(b - a for a, b in zip(ts, ts[1:]) if a is not None and b is not None)
            continue
        for key, scale in (("itl_s", 1.0), ("token_latencies_s", 1.0), ("itl_ms", 1e-3),
                           ("token_latencies_ms", 1e-3)):
            vals = row.get(key)
            if isinstance(vals, list):
                out.extend(v * scale for v in vals if finite(v) is not None)
                break
    if not out:
        for _, row in run.table("token"):
            v = pick_num(row, "latency_s", "itl_s", "latency_ms", "itl_ms")
            if v is not None:
                out.append(v)
    if not out:
        out = [e.dur_s for e in run.events if e.dur_s and "token" in e.name.lower()]
    return out


def _percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _token_dist(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    fig = go.Figure()
    rows = []
    for r in runs:
        lat = _token_latencies(r)
        if not lat:
            continue
        fig.add_trace(go.Histogram(x=[v * 1e3 for v in lat], name=plot_text(r.label),
                                   opacity=0.75, nbinsx=40))
        rows.append((r.label, len(lat), *[Quantity(_percentile(lat, p) * 1e3, "ms", "measured")
                                          for p in (50, 90, 99)],
                     Quantity(1.0 / (sum(lat) / len(lat)), "tok/s", "measured")))
    if not rows:
        return []
    fig.update_layout(barmode="overlay", xaxis_title="inter-token latency (ms, measured)",
                      yaxis_title="tokens (count, measured)")
    return [Plot("Per-token latency distribution", fig),
            Table("Inter-token latency", ("run", "tokens", "p50", "p90", "p99",
                                          "1 / mean ITL"), tuple(rows))]


def _call_phase_energy(run: RunData) -> dict[str, Quantity]:
    """Prefill and decode energy summed over measured calls (``call_energy`` records);
    unavailable if any call's share is unavailable."""
    rows = [d for k, d in run.table("call_energy")]
    if not rows:
        return {}
    warm = {k for k, d in run.table(*CALL_TABLES) if d.get("warmup")}
    rows = [d for k, d in run.table("call_energy") if k not in warm] or rows
    out = {}
    for phase in ("prefill", "decode"):
        vals = [finite(d.get(f"{phase}_gross_j")) for d in rows]
        src = str(rows[0].get("source") or "power samples")
        total = None if any(v is None for v in vals) else sum(vals)
        out[phase] = Quantity(total, "J", "measured", src)
    return out


def _energy_phase(runs: list[RunData]) -> list:
    import plotly.graph_objects as go

    rows = []
    bars: dict[str, dict[str, float]] = {}
    for r in runs:
        for phase, total in _call_phase_energy(r).items():
            rows.append((r.label, phase, f"sum of per-call {phase} energy", total))
            if total.available:
                bars.setdefault(r.label, {})[phase] = total.value
        for m in r.metrics:
            name = m.name.lower()
            if "energy" not in name or re.search(STAT_EXCLUDE, name):
                continue
            value, unit = to_canonical(m.value, m.unit)
            if unit not in ("J", "J/token"):
                continue
            phase = next((p for p in ("prefill", "decode", "idle", "load", "task", "total",
                                      "token", "call") if p in name), name)
            q = Quantity(value, unit, m.provenance, m.source)
            rows.append((r.label, phase, m.name, q))
            if unit == "J" and q.available and phase in ("prefill", "decode", "idle", "load"):
                bars.setdefault(r.label, {})[phase] = value
    if not rows:
        return []
    blocks: list = []
    if bars:
        fig = go.Figure()
        phases = sorted({p for b in bars.values() for p in b})
        for p in phases:
            fig.add_trace(go.Bar(name=p, x=[plot_text(k) for k in bars],
                                 y=[bars[k].get(p) for k in bars],
                                 marker_color=PHASE_COLOURS.get(p, "#8c564b")))
        fig.update_layout(barmode="group", yaxis_title="energy (J, measured)",
                          xaxis_title="run")
        blocks.append(Plot("Energy per phase", fig))
    else:
        blocks.append(Note("Energy per phase is unavailable on these runs (no power sensor "
                           "reported a value); see the table.", "warn"))
    blocks.append(Table("Energy metrics", ("run", "phase", "metric", "energy"), tuple(rows)))
    return blocks


def _sensors(runs: list[RunData]) -> list:
    """What each device could and could not measure (the profiler's source list)."""
    rows = []
    for r in runs:
        sources = r.run.info.get("sources")
        if isinstance(sources, str):
            rows.append((r.label, "—", "—", "no", sources))
            continue
        for src in sources or []:
            if not isinstance(src, dict):
                continue
            rows.append((r.label, str(src.get("name", "?")), str(src.get("kind", "?")),
                         "yes" if src.get("available") else "no",
                         str(src.get("quality") or "") if src.get("available")
                         else str(src.get("why") or "unavailable")))
        runtime = r.run.info.get("runtime")
        if isinstance(runtime, dict) and runtime.get("source"):
            rows.append((r.label, "runtime", "llm runtime", "yes", str(runtime["source"])))
    if not rows:
        return []
    return [Table("Sensors and sources", ("run", "source", "kind", "available",
                                          "quality / why not"), tuple(rows),
                  note="A quantity from an unavailable source is reported as unavailable, "
                       "never as zero.")]


def build(runs: list[RunData]) -> Report:
    """The profile report for one or more ``profile`` runs."""
    table, summary = _headline_rows(runs)
    sections = [Section("Headline", (table,))]
    sensors = _sensors(runs)
    if sensors:
        sections.append(Section("Sensors", tuple(sensors)))
    for r in runs:
        plot = _timeline(r)
        sections.append(section_or_nodata(
            f"Timeline: {r.label} {r.target}", [plot] if plot else [],
            "no samples or call events in this run"))
    sections += [
        section_or_nodata("Latency per agent role", _roles(runs),
                          "no call records with roles and latencies"),
        section_or_nodata("Per-token latency", _token_dist(runs),
                          "no inter-token latencies recorded"),
        section_or_nodata("Energy per phase", _energy_phase(runs),
                          "no energy metrics recorded"),
    ]
    for r in runs:
        if r.run.status != "done":
            sections.insert(1, Section(f"Run status: {r.label}", (Note(
                f"{r.label} is {r.run.status}" + (f": {r.run.error}" if r.run.error else "")
                + "; its numbers may be partial.", "warn"),)))
    return Report(kind="profile", title="Profile report: " + ", ".join(
        f"{r.target} / {r.model}" for r in runs), runs=tuple(r.ref for r in runs),
        sections=tuple(sections), summary=tuple(summary))

