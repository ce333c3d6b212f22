"""The quick start's light path: without llama-cpp-python, ``neumelt demo`` profiles through
llama.cpp's server from the prebuilt xllamacpp wheel (extra ``demo``, no compiling)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from profiler_support import write_tiny_llama

from neumelt.store import Store

pytest.importorskip("xllamacpp", reason="xllamacpp (extra demo) is not installed")


def test_demo_profiles_through_the_prebuilt_server_without_llama_cpp_python(cli, tmp_path: Path
                                                                           ) -> None:
    blocked = tmp_path / "blocked"
    (blocked / "llama_cpp").mkdir(parents=True)
    (blocked / "llama_cpp" / "__init__.py").write_text(
        "raise ImportError('llama_cpp blocked for this test')\n")
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    path = os.pathsep.join(p for p in (str(blocked), os.environ.get("PYTHONPATH", "")) if p)
    r = cli("demo", "-o", "out", "--skip", "serving", "--skip", "iterations",
            "--profile-model", str(model), "--max-calls", "8", "--scale", "0.05",
            "--delay-scale", "0", "--idle-s", "0.2", "--json", env={"PYTHONPATH": path},
            timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    prof = doc["steps"]["profile"]
    assert prof["state"] == "ok", prof
    assert "runtime xllamacpp" in r.stderr
    store = Store(tmp_path / "neumelt.db")
    try:
        (run_id,) = prof["runs"]
        run = store.get_run(run_id)
        assert run.status == "done"
        assert run.config["runtime"] == "server" and run.config["server"] == "xllamacpp"
        assert run.info["load.0"]["server"] == "xllamacpp"
        calls = [d for _, _, d in store.records(run_id, "calls")]
        assert calls and all(c["counts_ok"] for c in calls)
        # llama.cpp's server counted what the client streamed
        assert all(c["server_timings"]["predicted_n"] == c["output_tokens"] for c in calls)
        assert (tmp_path / "out" / "profile.html").is_file()
    finally:
        store.close()
