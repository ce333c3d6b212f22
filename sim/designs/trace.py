"""Chrome / Perfetto trace (JSON ``traceEvents``) of one simulated iteration.

Each track of :attr:`IterationResult.events` becomes a thread of one process named after
the design; times are microseconds of simulated time (cycles / clock). Open the file in
https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.designs.result import IterationResult


def chrome_trace(res: IterationResult) -> dict[str, Any]:
    """The trace document of ``res`` (one layer's stages and operators)."""
    us = 1e6 / res.clock_hz
    tracks: list[str] = []
    for track, *_ in res.events:
        if track not in tracks:
            tracks.append(track)

    def order(t: str) -> tuple[int, int, str]:
        if t.startswith("pim/ch"):
            return (2, int(t[6:]) if t[6:].isdigit() else 0, t)
        return (0 if not t.startswith("pim") else 1, 0, t)

    tids = {t: i + 1 for i, t in enumerate(sorted(tracks, key=order))}
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
         "args": {"name": f"{res.design} ({res.phase}, simulated, {res.fidelity})"}}]
    for t, tid in tids.items():
        events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid,
                       "args": {"name": t}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid,
                       "args": {"sort_index": tid}})
    for track, name, start, dur in res.events:
        events.append({"name": name, "ph": "X", "pid": 1, "tid": tids[track],
                       "ts": start * us, "dur": dur * us,
                       "args": {"start_cycle": start, "dur_cycles": dur}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"design": res.design, "clock_hz": res.clock_hz,
                          "provenance": "simulated", "stages_cycles": res.stages}}


def write_chrome_trace(res: IterationResult, path: str | Path) -> Path:
    p = Path(path)
    p.write_text(json.dumps(chrome_trace(res)), encoding="utf-8")
    return p
