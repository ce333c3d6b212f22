"""Export runs as Chrome / Perfetto trace JSON (opens in ui.perfetto.dev or chrome://tracing).

The Trace Event Format: a JSON object ``{"traceEvents": [...], "displayTimeUnit": "ns"}``.
Each run becomes one process (``pid``); each store track (``npu``, ``pim``, ``pim/ch3``,
``call``, ``prefill`` ...) becomes one thread (``tid``) named by ``ph: "M"`` metadata.
Spans are complete events (``ph: "X"`` with ``ts`` and ``dur`` in microseconds), instants
``ph: "i"``, and sampled series (power, memory, temperature, clocks) are counter events
(``ph: "C"``, one counter track per source/name/unit). Times are shifted so that each
run starts at 0; the shift is kept in ``otherData``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from reports.data import RunData, finite, group_samples, pick_num

MAX_EVENTS = 2_000_000


def _track_order(track: str) -> tuple[int, int, str]:
    """npu first, then pim, then pim/ch0..N numerically, then anything else by name."""
    t = track.lower()
    m = re.search(r"(?:ch|channel)[/_ -]?(\d+)$", t)
    if t == "npu" or t.startswith("npu"):
        return (0, 0, t)
    if m and t.startswith("pim"):
        return (2, int(m.group(1)), t)
    if t.startswith("pim"):
        return (1, 0, t)
    if m:
        return (3, int(m.group(1)), t)
    return (4, 0, t)


def _clean(obj: Any) -> Any:
    """JSON-safe args: non-finite floats become None, everything else stays."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def _spans_from_records(run: RunData) -> list[tuple[str, str, float, float | None, dict]]:
    """When a run has no events, draw its call/request rows that carry start and duration."""
    out = []
    for table in ("call", "request"):
        for key, row in run.records.get(table, []):
            start = pick_num(row, "t_start_s", "start_s", "t_submit_s", "arrival_s")
            dur = pick_num(row, "dur_s", "latency_s", "e2e_s", "duration_s", "latency_ms")
            if start is None:
                continue
            name = str(row.get("role") or row.get("name") or f"{table} {key}")
            out.append((table, name, start, dur, row))
    return out


def run_trace_events(run: RunData, pid: int) -> tuple[list[dict[str, Any]], float]:
    """Trace events for one run; returns (events, time offset subtracted in s)."""
    spans = [(e.track, e.name, e.t_start_s, e.dur_s, e.data or {}) for e in run.events]
    if not spans:
        spans = _spans_from_records(run)
    groups = group_samples(run.samples)
    times = [s[2] for s in spans] + [x.t_host_s for g in groups.values() for x in g]
    t0 = min(times) if times else 0.0
    tracks = sorted({s[0] for s in spans}, key=_track_order)
    tids = {t: i + 1 for i, t in enumerate(tracks)}
    kind = "simulated" if run.run.kind == "sim" else run.run.kind
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
         "args": {"name": f"{run.label} ({kind}: {run.target}, {run.model})"}},
        {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
         "args": {"sort_index": pid}},
    ]
    for track, tid in tids.items():
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                       "args": {"name": track}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                       "args": {"sort_index": tid}})
    for track, name, start, dur, data in spans:
        ts = (start - t0) * 1e6
        ev: dict[str, Any] = {"name": name, "cat": track.split("/")[0], "ts": ts,
                              "pid": pid, "tid": tids[track]}
        if dur is not None and finite(dur) is not None and dur >= 0:
            ev["ph"] = "X"
            ev["dur"] = dur * 1e6
        else:
            ev["ph"] = "i"
            ev["s"] = "t"
        if data:
            ev["args"] = _clean(data)
        events.append(ev)
    counter_tid = len(tids) + 1
    for (source, name, unit), series in sorted(groups.items()):
        label = f"{name} [{unit}] ({source})" if unit else f"{name} ({source})"
        for s in series:
            if s.value is None or finite(s.value) is None:
                continue  # unavailable readings are gaps, never zeros
            events.append({"ph": "C", "name": label, "ts": (s.t_host_s - t0) * 1e6,
                           "pid": pid, "tid": counter_tid, "args": {"value": float(s.value)}})
    return events, t0


def build_trace(runs: list[RunData]) -> dict[str, Any]:
    """One trace document for several runs (one process each)."""
    events: list[dict[str, Any]] = []
    offsets = {}
    for i, run in enumerate(runs):
        evs, t0 = run_trace_events(run, pid=i + 1)
        events.extend(evs)
        offsets[str(run.run.id)] = {"t0_s": t0, "kind": run.run.kind,
                                    "clock": "simulated time" if run.run.kind == "sim"
                                    else "host monotonic clock"}
    if len(events) > MAX_EVENTS:
        raise ValueError(f"trace would hold {len(events):,} events (limit {MAX_EVENTS:,})")
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "neumelt", "runs": offsets}}


def write_trace(runs: list[RunData], path: str | Path) -> tuple[Path, int]:
    """Write the trace JSON; returns (path, number of events)."""
    doc = build_trace(runs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
    return path, len(doc["traceEvents"])
