"""Perfetto / Chrome trace export: valid JSON in the Trace Event Format."""

from __future__ import annotations

import json

from reports_support import add_profile_run, add_sim_run

from neumelt.store import Event, Sample, Store
from reports.data import load_runs
from reports.trace import build_trace, write_trace


def _check_chrome_trace(doc: dict) -> None:
    """The Trace Event Format rules a viewer relies on."""
    assert isinstance(doc["traceEvents"], list) and doc["traceEvents"]
    for ev in doc["traceEvents"]:
        assert ev["ph"] in ("X", "i", "C", "M"), ev
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int)
        assert isinstance(ev["name"], str)
        if ev["ph"] == "M":
            assert ev["name"] in ("process_name", "thread_name", "process_sort_index",
                                  "thread_sort_index")
            continue
        assert isinstance(ev["ts"], (int, float)) and ev["ts"] >= 0
        if ev["ph"] == "X":
            assert isinstance(ev["dur"], (int, float)) and ev["dur"] >= 0
        if ev["ph"] == "C":
            assert ev["args"] and all(isinstance(v, (int, float)) for v in ev["args"].values())
        if ev["ph"] == "i":
            assert ev["s"] in ("t", "p", "g")


def test_sim_trace_has_npu_pim_and_channel_lanes(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = add_sim_run(store, "neupims")
    path, n = write_trace(load_runs(store, [rid]), tmp_path / "t.json")
    doc = json.loads(path.read_text())
    _check_chrome_trace(doc)
    assert n == len(doc["traceEvents"])
    threads = {e["args"]["name"]: e["tid"] for e in doc["traceEvents"]
               if e["ph"] == "M" and e["name"] == "thread_name"}
    assert list(threads) == ["npu", "pim", "pim/ch0", "pim/ch1", "pim/ch2", "pim/ch3"]
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    events = store.events(rid)
    assert len(spans) == len(events)
    t0 = min(e.t_start_s for e in events)
    first = next(e for e in events if e.track == "pim/ch2")
    span = next(s for s in spans if s["tid"] == threads["pim/ch2"])
    assert span["ts"] == (first.t_start_s - t0) * 1e6
    assert abs(span["dur"] - first.dur_s * 1e6) < 1e-9
    assert span["args"] == {"channel": 2}


def test_profile_trace_has_calls_phases_and_counters(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = add_profile_run(store, device="pixel")
    store.add_events(rid, [Event("marker", "tap", 101.0)])  # an instant
    doc = build_trace(load_runs(store, [rid]))
    _check_chrome_trace(json.loads(json.dumps(doc, allow_nan=False)))
    evs = doc["traceEvents"]
    counters = {e["name"] for e in evs if e["ph"] == "C"}
    assert counters == {"rss_bytes [B] (runtime.memory)", "cpu_temp [C] (thermal_zone0)",
                        "cpu0_freq [Hz] (cpufreq)"}  # all-None power is a gap, not zeros
    n_temp = sum(1 for e in evs if e["name"].startswith("cpu_temp"))
    assert n_temp == len([s for s in store.samples(rid) if s.name == "cpu_temp"])
    threads = {e["tid"]: e["args"]["name"] for e in evs
               if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(threads.values()) == {"slot0", "call phases", "session", "marker"}
    calls = {c["id"]: c for _, _, c in store.records(rid, "calls")}
    phases = [e for e in evs if e["ph"] == "X" and threads[e["tid"]] == "call phases"]
    assert len(phases) == 2 * len(calls)
    prefill = next(e for e in phases if e["name"] == "planner prefill")
    c = next(c for c in calls.values() if c["role"] == "planner")
    t0 = min(min(e.t_start_s for e in store.events(rid)),
             min(s.t_host_s for s in store.samples(rid)))
    assert prefill["ts"] == (c["t_start_s"] - t0) * 1e6
    assert abs(prefill["dur"] - (c["t_first_s"] - c["t_start_s"]) * 1e6) < 1e-6
    tokens = [e for e in evs if e["ph"] == "i" and e["name"] == "token"]
    assert len(tokens) == sum(len(c["token_times_s"]) for c in calls.values())
    assert any(e["ph"] == "i" and e["name"] == "tap" for e in evs)


def test_overlapping_simulated_requests_get_lanes(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = store.start_run("sim", {"design": "npu"})
    reqs = [(str(i), {"role": "decision", "ready_s": a, "first_token_s": a + 0.1,
                      "done_s": b}) for i, (a, b) in enumerate([(0, 1), (0.5, 2), (1.0, 3),
                                                                  (2.5, 4)])]
    store.add_records(rid, "requests", reqs)
    doc = build_trace(load_runs(store, [rid]))
    _check_chrome_trace(doc)
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    by_tid: dict[int, list] = {}
    for e in spans:
        by_tid.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    assert len(by_tid) == 2  # (0,1),(1,3) on one lane; (0.5,2),(2.5,4) on the other
    for iv in by_tid.values():
        iv.sort()
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(iv, iv[1:]))


def test_two_runs_are_two_processes_and_nan_is_dropped(tmp_path):
    store = Store(tmp_path / "s.db")
    a = add_sim_run(store, "npu")
    b = store.start_run("profile", {"device": "host"})
    store.add_samples(b, [Sample("s", "power", 0.0, float("nan"), "W"),
                          Sample("s", "power", 1.0, 2.5, "W")])
    store.add_events(b, [Event("call", "c", 0.0, 1.0, {"x": float("inf")})])
    doc = build_trace(load_runs(store, [a, b]))
    text = json.dumps(doc, allow_nan=False)  # raises on NaN/inf
    _check_chrome_trace(json.loads(text))
    assert {e["pid"] for e in doc["traceEvents"]} == {1, 2}
    power = [e for e in doc["traceEvents"] if e["ph"] == "C" and e["pid"] == 2]
    assert [p["args"]["value"] for p in power] == [2.5]


def test_overlapping_spans_of_one_track_are_spread_over_lanes(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = store.start_run("sim", {"design": "neupims"})
    store.add_events(rid, [Event("pim", "a", 0.0, 2.0), Event("pim", "b", 1.0, 2.0),
                           Event("pim", "c", 3.5, 1.0), Event("npu", "x", 0.0, 1.0)])
    doc = build_trace(load_runs(store, [rid]))
    _check_chrome_trace(doc)
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    lane = {e["name"]: names[e["tid"]] for e in doc["traceEvents"] if e["ph"] == "X"}
    assert lane == {"a": "pim", "b": "pim (2)", "c": "pim", "x": "npu"}
    assert list(names.values()) == ["npu", "pim", "pim (2)"]
