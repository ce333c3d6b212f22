"""``neumelt demo`` end to end through the real CLI, kept small: the simulated decode
iterations of all four designs, a profile of the first calls of a Mobile-Agent-v2 task on
this host with llama.cpp and a tiny GGUF, then the reports. A missing runtime is reported
and the report is still written."""

from __future__ import annotations

import json
import os

import pytest
from profiler_support import write_tiny_llama


def _llama_cpp_installed() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _llama_cpp_installed(), reason="needs llama-cpp-python (.[llm])")
def test_demo_simulates_profiles_and_writes_the_deployment_report(cli, tmp_path):
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    r = cli("demo", "-o", "out", "--skip", "serving", "--profile-model", str(model),
            "--max-calls", "8", "--scale", "0.05", "--delay-scale", "0", "--idle-s", "0.2",
            "--json", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    steps = doc["steps"]
    assert steps["iterations"]["state"] == "ok" and len(steps["iterations"]["runs"]) == 4
    assert steps["serving"]["state"] == "skipped"
    assert steps["profile"]["state"] == "ok" and len(steps["profile"]["runs"]) == 1
    out = tmp_path / "out"
    html = (out / "deployment.html").read_text(encoding="utf-8")
    assert "tiny" in html and "local)" in html
    assert "profiled a reduced task" in html
    # like for like, a recommendation with its reason, whole memory with provenance
    assert "Recommendation per group" in html and "Recommended: " in html
    assert "the only candidate meeting every budget" in html
    for column in ("weights", "KV cache at peak", "activations / runtime", "capacity"):
        assert f"<th>{column}</th>" in html
    import csv
    rows = list(csv.DictReader((out / "deployment.csv").open(encoding="utf-8")))
    assert len(rows) == 1 and rows[0]["group"] == "1"
    weights = float(rows[0]["weights"]) * 2 ** 30
    assert weights == pytest.approx(model.stat().st_size, rel=1e-6)  # the GGUF, measured
    assert rows[0]["weights provenance"] == "measured"
    assert rows[0]["KV cache at peak provenance"] == "estimated"
    assert float(rows[0]["memory total"]) > float(rows[0]["weights"])
    for name in ("deployment.md", "deployment.csv", "simulation.html", "profile.html"):
        assert (out / name).stat().st_size > 0
    sim = json.loads((out / "trace-simulated.json").read_text())
    threads = {e["args"]["name"] for e in sim["traceEvents"]
               if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"npu", "pim"} <= threads and any(t.startswith("pim/ch") for t in threads)
    prof = json.loads((out / "trace-profile.json").read_text())
    assert any(e["ph"] == "C" for e in prof["traceEvents"])  # memory counters at least
    assert any(e["ph"] == "X" and e["name"].endswith("prefill") for e in prof["traceEvents"])
    assert "Open the deployment report" not in r.stdout  # --json prints JSON only
    assert "step 3/4: profile" in r.stderr


def test_demo_without_the_runtime_says_so_and_still_writes_the_report(cli, tmp_path):
    blocked = tmp_path / "blocked"
    for mod in ("llama_cpp", "xllamacpp"):   # neither runtime
        (blocked / mod).mkdir(parents=True)
        (blocked / mod / "__init__.py").write_text(
            f"raise ImportError('{mod} blocked for this test')\n")
    path = os.pathsep.join(p for p in (str(blocked), os.environ.get("PYTHONPATH", "")) if p)
    r = cli("demo", "-o", "out", "--skip", "serving", "--skip", "iterations",
            env={"PYTHONPATH": path}, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "profile    skipped  no llama.cpp runtime is installed" in r.stdout
    html = (tmp_path / "out" / "deployment.html").read_text(encoding="utf-8")
    assert "No data" in html or "no candidates" in html.lower()
    assert "Open the deployment report: file://" in r.stdout
