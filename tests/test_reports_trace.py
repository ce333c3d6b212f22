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
    assert counters == {"rss_bytes [B] (psutil)", "cpu_temp [°C] (thermal_zone0)",
                        "cpu0_freq [Hz] (cpufreq)"}  # all-None power is a gap, not zeros
    n_temp = sum(1 for e in evs if e["name"].startswith("cpu_temp"))
    assert n_temp == len([s for s in store.samples(rid) if s.name == "cpu_temp"])
    phases = [e for e in evs if e["ph"] == "X" and e["name"] in ("prefill", "decode")]
    assert len(phases) == 18
    assert any(e["ph"] == "i" and e["name"] == "tap" for e in evs)


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
    power = [e for e in doc["traceEvents"] if e["ph"] == "C"]
    assert [p["args"]["value"] for p in power] == [2.5]
