"""Report documents rendered to HTML, markdown, CSV and text: escaping, provenance,
"unavailable" never shown as zero, robustness to missing pieces."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re

import plotly.graph_objects as go
import pytest
from reports_support import XSS, add_profile_run, add_sim_run, populate

from neumelt.store import Metric, Store
from reports.api import build_report, generate
from reports.doc import Note, Plot, Quantity, Report, RunRef, Section, Table, fmt_number
from reports.render import to_csv, to_html, to_markdown, write_report


def _doc(name: str = XSS) -> Report:
    fig = go.Figure(go.Bar(x=[name], y=[1.0]))
    return Report(
        kind="test", title=f"Report for {name}",
        runs=(RunRef(1, "profile", name, "done", "2026-01-01"),),
        sections=(Section(f"Section {name}", (
            Table("t", ("device", "decode", "energy"),
                  ((name, Quantity(12.5, "tok/s", "measured", "host clock"),
                    Quantity(None, "J", "measured", "no sensor")),), primary=True),
            Plot(f"plot {name}", fig, note=name),
            Note(name, "warn"))),),
        summary=(f"device {name}\x1b[31m red",))


def test_untrusted_text_is_escaped_everywhere_in_html():
    html = to_html(_doc())
    assert XSS not in html
    body = html.split("</head>", 1)[1]
    # the only <script> elements are the page's own (one per plot), none injected
    assert len(re.findall(r"<script", body, re.I)) == 1
    assert "<img" not in body
    assert body.count("&lt;script&gt;document.body.setAttribute") >= 4  # title, table, note...
    # inside the plot JSON the payload is JSON-escaped, never a literal </script>
    script = body.split("<script>", 1)[1].split("</script>", 1)[0]
    assert "</" not in script and "<script" not in script


def test_csp_lists_exactly_the_page_scripts_by_hash():
    html = to_html(_doc("gpu"))
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert len(scripts) == 2  # plotly.js + one plot
    for s in scripts:
        digest = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp


def test_unavailable_is_never_zero_and_provenance_is_shown():
    doc = _doc("pixel")
    html = to_html(doc)
    assert "unavailable" in html and 'title="measured: no sensor"' in html
    assert 'class="prov prov-measured"' in html
    md = to_markdown(doc)
    assert "| pixel | 12.5 tok/s (measured) | unavailable (measured) |" in md
    rows = list(csv.reader(io.StringIO(to_csv(doc))))
    assert rows[0] == ["device", "decode", "decode unit", "decode provenance", "energy",
                       "energy unit", "energy provenance"]
    assert rows[1] == ["pixel", "12.5", "tok/s", "measured", "", "J", "measured"]


def test_markdown_escapes_markup_and_pipes():
    md = to_markdown(_doc("a|b <script>x</script>"))
    assert "<script>" not in md
    assert "a\\|b &lt;script&gt;" in md


def test_files_are_written_beside_the_html(tmp_path):
    files = write_report(_doc("gpu"), tmp_path / "sub" / "out")
    assert files.html.name == "out.html"
    assert files.markdown == tmp_path / "sub" / "out.md"
    assert files.csv == tmp_path / "sub" / "out.csv"
    assert all(p.stat().st_size > 0 for p in (files.html, files.markdown, files.csv))


def test_terminal_summary_drops_control_characters():
    from reports.render import summary_text

    text = summary_text(_doc("x"))
    assert "\x1b" not in text and "?[31m red" in text


@pytest.mark.parametrize("x, out", [(1234.5, "1,234"), (0.0123456, "0.0123"), (12.5, "12.5"),
                                    (2.5e-5, "2.50e-05"), (0, "0"), (3.0e9, "3.00e+09")])
def test_number_format(x, out):
    assert fmt_number(x) == out


def test_reports_from_empty_runs_say_no_data(tmp_path):
    store = Store(tmp_path / "s.db")
    sim = store.start_run("sim", {"design": "npu"})
    prof = store.start_run("profile", {"device": "host"})
    sweep = store.start_run("sweep", {})
    store.finish_run(sim, "failed", "crashed")
    for kind, ids in (("sim", [sim]), ("profile", [prof]), ("deploy", [sim, prof]),
                      ("sweep", [sweep])):
        files, report = generate(store, kind, ids, tmp_path / f"{kind}.html")
        html = files.html.read_text()
        assert "No data" in html, kind
        assert len(report.plots()) == 0
    assert "is failed: crashed" in (tmp_path / "sim.html").read_text()


def test_sim_report_ratios_and_breakdowns(tmp_path):
    ids = populate(tmp_path / "s.db")
    store = Store(tmp_path / "s.db")
    report = build_report(store, "sim", ids["sim"], baseline="npu")
    table = report.primary_table()
    ratio = {row[0]: row[5] for row in table.rows}
    assert ratio["npu"].value == pytest.approx(1.0)
    assert ratio["neupims"].value == pytest.approx(2900 / 1250)
    titles = [p.title for p in report.plots()]
    assert any("Roofline" in t for t in titles) and any("utilisation" in t for t in titles)
    energy = next(t for t in report.tables() if t.title.startswith("Energy per token"))
    comps = {(r[0].split()[-1], r[1]): r[2].value for r in energy.rows}
    assert comps[("neupims", "pim")] == pytest.approx(0.12)


def test_profile_report_reads_roles_itl_and_marks_missing_power(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = add_profile_run(store, device="pixel")
    report = build_report(store, "profile", [rid])
    role_table = next(t for t in report.tables() if t.title == "Per-role latency")
    assert {r[0] for r in role_table.rows} == {"planner", "decision", "reflector", "memory"}
    itl = next(t for t in report.tables() if t.title == "Inter-token latency")
    p50, p90, p99 = (itl.rows[0][i].value for i in (2, 3, 4))
    assert 8 <= p50 <= p90 <= p99 <= 12 * 1.4 + 0.01
    timeline = next(p for p in report.plots() if p.title.startswith("Timeline"))
    assert "package_power (powercap)" in timeline.note  # all-None series named, not drawn
    drawn = {tr.name for tr in timeline.figure.data}
    assert not any("package_power" in (n or "") for n in drawn)
    energy = next(t for t in report.tables() if t.title == "Energy metrics")
    assert all(not r[3].available for r in energy.rows)


def test_unknown_metric_names_do_not_break_reports(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = add_sim_run(store, "npu")
    store.add_metrics(rid, [Metric("weird/metric name", 3.0, "furlongs", "estimated", "x")])
    store.add_records(rid, "stage", [("bad", {"stage": "x", "time_s": "not a number"})])
    report = build_report(store, "sim", [rid])
    allm = next(t for t in report.tables() if t.title == "Every metric")
    assert any(r[0] == "weird/metric name" for r in allm.rows)


def _step_run(store: Store, design: str, seconds: float, energy: dict[str, float]) -> int:
    """A run shaped like ``sim.designs.record.record_result`` writes one decode iteration."""
    rid = store.start_run("sim", {"design": design, "model": "gpt3-7b", "batch_size": 512,
                                  "phase": "decode", "layers": "1"}, name=f"step {design}")
    src = f"{design}/fast"
    store.add_metrics(rid, [Metric("seconds", seconds, "s", "simulated", src),
                            Metric("layer_cycles", seconds * 1e9, "cycles", "simulated", src),
                            Metric("energy_total_j", sum(energy.values()), "J", "simulated",
                                   src)]
                      + [Metric(f"energy_{k}_j", v, "J", "simulated", src)
                         for k, v in energy.items()])
    store.add_records(rid, "stage", [("A", {"cycles": 100, "seconds": 1e-7})])
    store.set_run_info(rid, "sim", {"design": design, "phase": "decode", "clock_hz": 1e9,
                                    "layers": 1, "batch": 512,
                                    "counters": {"macs_per_layer": 2.5e10,
                                                 "hbm_bytes_per_layer": 2.3e8}})
    store.finish_run(rid)
    return rid


def test_sim_report_on_single_iteration_runs(tmp_path):
    store = Store(tmp_path / "s.db")
    gpu = _step_run(store, "gpu", 9.39e-4, {"dram": 0.02, "gpu_mac": 0.01})
    neu = _step_run(store, "neupims", 5.63e-4, {"dram": 0.004, "pim": 0.002, "npu_mac": 0.01})
    report = build_report(store, "sim", [gpu, neu])
    rows = {r[0]: r for r in report.primary_table().rows}
    assert rows["neupims"][4] is None  # no throughput for one layer of one iteration
    assert rows["neupims"][5].value == pytest.approx(9.39e-4 / 5.63e-4)  # time speed-up
    assert "neupims (gpt3-7b): iteration 563 µs (simulated)" in report.summary[1]
    energy = next(t for t in report.tables() if t.title.startswith("Energy per token"))
    per = {(r[0].split()[-1], r[1]): r[2] for r in energy.rows}
    assert per[("neupims", "pim")].value == pytest.approx(0.002 / 512)
    assert "/ batch" in per[("neupims", "pim")].source
    assert ("neupims", "total") not in per
    roof = next(p for p in report.plots() if p.title.startswith("Roofline"))
    (pt,) = [t for t in roof.figure.data if t.name == "neupims"]
    assert pt.x[0] == pytest.approx(5e10 / 2.3e8) and pt.y[0] == pytest.approx(5e10 / 5.63e-4)
    assert "whole decoder layer" in roof.note


def test_interrupted_profile_headline_comes_from_call_records(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = store.start_run("profile", {"device": "local", "model": "m.gguf"})
    store.add_records(rid, "calls", [(f"c{i}", {"role": "decision", "t_start_s": float(i),
                                                "t_first_s": i + 0.1 * (i + 1),
                                                "t_end_s": i + 0.9, "ttft_s": 0.1 * (i + 1),
                                                "decode_tps": 20.0 + i, "warmup": i == 0})
                                     for i in range(5)])
    store.finish_run(rid, "interrupted", "KeyboardInterrupt")
    report = build_report(store, "profile", [rid])
    row = report.primary_table().rows[0]
    assert row[5].value == pytest.approx(0.35) and "call records" in row[5].source
    assert row[6].value == pytest.approx(22.5)
    assert any("interrupted" in b.text for s in report.sections for b in s.blocks
               if isinstance(b, Note))
