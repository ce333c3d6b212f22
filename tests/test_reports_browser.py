"""Every report kind opened from a file:// URL in real headless Chromium, offline.

One Chromium launch for the module (DevTools protocol over a pipe): for each report kind,
no console errors or uncaught exceptions, the expected number of plots rendered as SVG,
no request other than the file itself, the injected ``<script>`` never ran; at 1280 px no
element is wider than the viewport and no table needs a scroll bar, no two text boxes of
a plot (annotations, labels, titles) overlap, and every axis is titled (numeric axes and
colour bars with a unit). A full-page screenshot of each is kept as a test artifact: under
``$NEUMELT_TEST_ARTIFACTS`` when set, else the test's temp dir; its path is printed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from reports_support import XSS, Chromium, chromium_path, layout_problems, populate

from neumelt.store import Store
from reports.api import generate
from reports.deploy_report import Budgets

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="needs Debian's chromium (installed by .ci/run)")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    ids = populate(root / "neumelt.db")
    store = Store(root / "neumelt.db")
    out = {}
    try:
        for kind, runs, opts in (
                ("sim", ids["sim"], {}),
                ("profile", ids["profile"], {}),
                ("deploy", ids["sim"] + ids["profile"],
                 {"budgets": Budgets(max_ttft_s=1.0, min_tps=20, ram_headroom=0.2),
                  "mixed": True}),
                ("sweep", ids["sweep"], {})):
            files, report = generate(store, kind, runs, root / f"{kind}.html", **opts)
            out[kind] = (files, report)
    finally:
        store.close()
    return root, out


@pytest.fixture(scope="module")
def browser():
    with Chromium(timeout_s=60) as b:
        yield b


@pytest.fixture(scope="module")
def pages(reports, browser):
    root, out = reports
    shots = Path(os.environ.get("NEUMELT_TEST_ARTIFACTS") or root)
    shots.mkdir(parents=True, exist_ok=True)
    opened = {}
    for kind, (files, _) in out.items():
        opened[kind] = browser.open_page(files.html.resolve().as_uri(),
                                         shots / f"report-{kind}.png", full_page=True)
        print(f"screenshot of the {kind} report: {opened[kind]['screenshot']}")
    return opened


# deploy: two like-for-like groups (gpt3-7b designs: Pareto + memory; the SmolLM2 phone:
# memory), the phone's per-phase timeline, its temperatures
@pytest.mark.parametrize("kind, expected_plots", [("sim", 6), ("profile", 3), ("deploy", 5),
                                                  ("sweep", 2)])
def test_report_renders_offline_without_errors(reports, pages, kind, expected_plots):
    _, out = reports
    report = out[kind][1]
    page = pages[kind]
    assert len(report.plots()) == expected_plots
    assert page["console_errors"] == [] and page["log_errors"] == []
    assert page["exceptions"] == []
    assert page["plots"] == expected_plots
    assert page["divsWithSvg"] == expected_plots  # every plot div holds a drawn plotly SVG
    assert all(u.startswith("file://") for u in page["requests"]), page["requests"]
    assert page["pwned"] is None
    shot = page["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_reports_reference_nothing_outside_the_file(reports):
    _, out = reports
    for files, _ in out.values():
        html = files.html.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
        assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", html, re.I)
        assert not re.search(r"<(img|iframe)[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", html, re.I)
        assert "cdn.plot.ly/plotly" not in html.split("</head>", 1)[1]
        assert "connect-src 'none'" in html


def test_script_in_device_name_and_prompt_does_not_execute(reports, pages):
    _, out = reports
    for kind in ("profile", "deploy"):
        html = out[kind][0].html.read_text(encoding="utf-8")
        assert XSS not in html
        assert "&lt;script&gt;document.body.setAttribute" in html
        assert pages[kind]["pwned"] is None


def test_csp_stops_a_script_that_escaping_missed(reports, browser):
    """Defence in depth: a raw script spliced into the page is refused by the page's CSP."""
    root, out = reports
    html = out["sweep"][0].html.read_text(encoding="utf-8")
    evil = html.replace("<main>", "<main>" + XSS, 1)
    path = root / "tampered.html"
    path.write_text(evil, encoding="utf-8")
    page = browser.open_page(path.resolve().as_uri(), root / "tampered.png")
    assert page["pwned"] is None
    assert page["divsWithSvg"] == 2  # the page's own scripts still run


@pytest.mark.parametrize("kind", ["sim", "profile", "deploy", "sweep"])
def test_report_reads_at_a_glance_at_1280_px(pages, kind):
    layout = pages[kind]["layout"]
    assert layout["viewport"] == 1280
    assert len(layout["plots"]) == pages[kind]["plots"] > 0
    assert all(p["axes"] for p in layout["plots"])
    assert layout_problems(layout) == []


def test_layout_check_catches_what_it_is_for():
    """The checker itself, on measurements a bad page gives."""
    bad = {"viewport": 1280, "pageWidth": 1500, "wide": ["table \"x\" right=1500"],
           "scrolls": ["div.scroll content 1500 px in 1200 px"],
           "plots": [{"id": "plot-0", "title": "t", "boxes": 2, "overlaps": [["a", "b"]],
                      "axes": [{"name": "xaxis", "type": "linear", "title": "TTFT"},
                               {"name": "yaxis", "type": "category", "title": ""},
                               {"name": "coloraxis", "type": "colorbar",
                                "title": "energy (J)"}]}]}
    problems = layout_problems(bad)
    assert len(problems) == 6, problems
    assert any("xaxis title 'TTFT' names no unit" in p for p in problems)
    assert any("yaxis has no title" in p for p in problems)


def test_deploy_report_shows_groups_recommendations_and_whole_memory(reports, pages):
    _, out = reports
    html = out["deploy"][0].html.read_text(encoding="utf-8")
    for text in ("Recommendation per group", "Group 1: gpt3-7b on mobile-agent-v2",
                 "Recommended: neupims (f16): higher decode speed per request",
                 "Memory per device", "KV cache at peak", "activations / runtime",
                 "Energy not comparable, so not ranked", "Mixed comparison across groups",
                 "Where the time goes"):
        assert text in html, text
