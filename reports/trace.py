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


def _track_order(track: str) -> tuple[int, str, int, str]:
    """npu first, then pim, then pim/ch0..N, then other tracks by name with trailing
    numbers in numeric order (slot2 before slot10, requests/2 before requests/10)."""
    t = track.lower()
    m = re.match(r"^(.*?)(\d+)(\D*)$", t)
    prefix, num = (m.group(1) + "#" + m.group(3), int(m.group(2))) if m else (t, -1)
    if t.startswith("npu"):
        rank = 0
    elif t.startswith("pim"):
        rank = 2 if m else 1
    elif t.startswith(("gpu", "hbm", "dram")):
        rank = 3
    else:
        rank = 4
    return (rank, prefix, num, t)


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


def _lanes(intervals: list[tuple[float, float]]) -> list[int]:
    """Greedy interval partitioning: a lane per interval so that no two overlap in a lane
    (complete events on one thread must nest, so overlapping requests need lanes)."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    ends: list[float] = []
    lane = [0] * len(intervals)
    for i in order:
        a, b = intervals[i]
        for k, end in enumerate(ends):
            if end <= a:
                lane[i], ends[k] = k, b
                break
        else:
            lane[i] = len(ends)
            ends.append(b)
    return lane


def _split_overlaps(spans: list[tuple[str, str, float, float | None, dict]]
                    ) -> list[tuple[str, str, float, float | None, dict]]:
    """Complete events on one thread must nest; spans of a track that overlap are spread
    over extra lanes ``<track> (2)``, ``<track> (3)`` ... (instants stay on the track)."""
    by_track: dict[str, list[int]] = {}
    for i, s in enumerate(spans):
        if s[3] is not None and finite(s[3]) is not None and s[3] >= 0:
            by_track.setdefault(s[0], []).append(i)
    out = list(spans)
    for track, idx in by_track.items():
        ivs = [(spans[i][2], spans[i][2] + spans[i][3]) for i in idx]
        lanes = _lanes(ivs)
        if max(lanes) == 0:
            continue
        for i, lane in zip(idx, lanes):
            if lane:
                t, name, start, dur, data = spans[i]
                out[i] = (f"{track} ({lane + 1})", name, start, dur, data)
    return out


def _phase_spans(run: RunData) -> list[tuple[str, str, float, float | None, dict]]:
    """Prefill and decode spans of every call/request record that has start, first-token
    and end times, on ``<slot> phases`` tracks (profiles) or ``requests/<lane>`` tracks
    (simulated serving)."""
    rows = []
    for table in ("calls", "call", "requests", "request"):
        for key, row in run.records.get(table, []):
            start = pick_num(row, "t_start_s", "ready_s", "start_s", "arrival_s")
            first = pick_num(row, "t_first_s", "first_token_s")
            end = pick_num(row, "t_end_s", "done_s")
            if start is None or end is None or end < start:
                continue
            if first is None:
                ttft = pick_num(row, "ttft_s")
                first = None if ttft is None else start + ttft
            rows.append((table, key, row, start, first, end))
        if rows:
            break
    if not rows:
        return []
    simulated = run.run.kind == "sim"
    lanes = _lanes([(r[3], r[5]) for r in rows]) if simulated else [0] * len(rows)
    out = []
    for (table, key, row, start, first, end), lane in zip(rows, lanes):
        if simulated:
            track = f"requests/{lane}"
        else:
            track = (f"slot{row['slot']} phases" if row.get("slot") is not None
                     else "call phases")
        label = str(row.get("role") or table)
        args = {"key": key, "role": row.get("role"), "prompt_tokens": row.get("prompt_tokens"),
                "output_tokens": row.get("output_tokens"), "warmup": row.get("warmup")}
        args = {k: v for k, v in args.items() if v is not None}
        if first is not None and start <= first <= end:
            out.append((track, f"{label} prefill", start, first - start, args))
            out.append((track, f"{label} decode", first, end - first, args))
        else:
            out.append((track, label, start, end - start, args))
    return out


def run_trace_events(run: RunData, pid: int) -> tuple[list[dict[str, Any]], float]:
    """Trace events for one run; returns (events, time offset subtracted in s)."""
    spans = [(e.track, e.name, e.t_start_s, e.dur_s, e.data or {}) for e in run.events]
    spans = _split_overlaps(spans + _phase_spans(run))
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
    from reports.render import write_whole

    write_whole(path, json.dumps(doc, separators=(",", ":"), allow_nan=False))
    return path, len(doc["traceEvents"])
