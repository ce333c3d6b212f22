"""Hostile names in every report kind (sim, profile, deploy, sweep, trace): run names,
config values, device strings, metric names/units/sources, record keys, timeline tracks
and sample sources holding HTML, quotes, shell metacharacters, path separators, table
separators and line breaks. HTML must escape them (no markup of theirs, no way out of an
inline <script>), Markdown tables keep their columns, CSV parses back row by row, and
the trace stays valid JSON."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import pytest
from reports_support import add_profile_run, add_sim_run, add_sweep_run

from neumelt.store import Event, Metric, Sample, Store

PAYLOADS = ["</script><script>document.title='pwned'</script>",
            "\"><img src=x onerror=alert(1)>", "'; DROP TABLE runs; --", "$(touch /tmp/x)",
            "../../etc/passwd", "a|b\nc\r\nd", "<!--", "]]>", "\u2028\u2029", "</style>",
            "{{7*7}}", "=cmd|' /C calc'!A0"]
EVIL = " ".join(PAYLOADS)


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "h.db"
    st = Store(path)
    sims = [add_sim_run(st, d, seed=i, model=EVIL) for i, d in enumerate(("gpu", "neupims"))]
    prof = add_profile_run(st, device=EVIL, model=f"/models/{EVIL}.gguf")
    sweep = add_sweep_run(st)
    # names a spreadsheet would run as formulas, where they start a CSV cell
    sims.append(add_sim_run(st, "npu", seed=5, model=PAYLOADS[-1]))
    prof_f = add_profile_run(st, seed=6, device=PAYLOADS[-1])
    for rid in [*sims, prof, sweep]:
        st.add_metrics(rid, [Metric(f"x{EVIL}", 1.0, EVIL, "measured", EVIL, scope=EVIL)])
        st.add_events(rid, [Event(EVIL, EVIL, 0.5, 0.1, {EVIL: EVIL})])
        st.add_samples(rid, [Sample(EVIL, EVIL, 0.5, 1.0, EVIL)])
        st.add_record(rid, "calls" if rid == prof else "stage", EVIL, {"note": EVIL})
        st.set_run_info(rid, EVIL, EVIL)
    st.close()
    con = sqlite3.connect(path)
    con.execute("UPDATE runs SET name=?", (EVIL,))
    for rid in (sims[0], prof, sweep):  # a name a spreadsheet would run as a formula
        con.execute("UPDATE runs SET name=? WHERE id=?", (PAYLOADS[-1], rid))
    con.commit()
    con.close()
    return path, {"sim": sims, "profile": [prof, prof_f], "deploy": [*sims, prof, prof_f],
                  "sweep": [sweep]}


def _scripts_balanced(html: str) -> None:
    for tag in ("script", "style"):
        opens = len(re.findall(rf"<{tag}\b", html, re.I))
        closes = len(re.findall(rf"</{tag}\s*>", html, re.I))
        assert opens == closes, f"{opens} <{tag}> for {closes} </{tag}>: a name broke out"


def _md_tables_keep_columns(md: str) -> None:
    block: list[int] = []
    for line in md.split("\n") + [""]:  # CommonMark ends lines at LF/CR only
        if line.startswith("|"):
            block.append(len(re.findall(r"(?<!\\)\|", line)))
        elif block:
            assert len(set(block)) == 1, f"a markdown table row has extra columns: {block}"
            block = []


@pytest.mark.parametrize("kind", ["sim", "profile", "deploy", "sweep"])
def test_every_report_kind_escapes_hostile_names(hostile_store, tmp_path, kind):
    from reports.api import generate

    path, ids = hostile_store
    store = Store(path)
    try:
        files, report = generate(store, kind, ids[kind], tmp_path / f"{kind}.html")
    finally:
        store.close()
    html = files.html.read_text(encoding="utf-8")
    for p in PAYLOADS[:2]:  # markup of their own (the rest also occur in plotly.js)
        assert p not in html, f"{p!r} is in the HTML unescaped"
    assert "onerror=alert(1)>" not in html and "document.title='pwned'</script>" not in html
    _scripts_balanced(html)
    _md_tables_keep_columns(files.markdown.read_text(encoding="utf-8"))
    rows = list(csv.reader(io.StringIO(files.csv.read_text(encoding="utf-8"))))
    assert rows
    cells = [cell for row in rows for cell in row]
    if kind != "sweep":  # (a sweep's table holds coordinates and figures, no names)
        assert any(PAYLOADS[-1] in c for c in cells), "the formula-like name is not in the CSV"
    assert not [c for c in cells if c.startswith(("=", "+", "@"))], \
        "a CSV cell starts a spreadsheet formula"


def test_trace_of_hostile_names_is_valid_json(hostile_store, tmp_path):
    from reports.data import load_runs
    from reports.trace import write_trace

    path, ids = hostile_store
    store = Store(path)
    try:
        out, n = write_trace(load_runs(store, ids["sim"] + ids["profile"]), tmp_path / "t.json")
    finally:
        store.close()
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert n == len(doc["traceEvents"]) > 0
    assert PAYLOADS[0] in json.dumps(doc, ensure_ascii=False)  # the names are there, as data
