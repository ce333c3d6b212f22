"""End to end on this host: real llama.cpp (llama-cpp-python) on a tiny random GGUF."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from profiler_support import write_tiny_llama  # noqa: E402

from neumelt.app.cli import main  # noqa: E402
from neumelt.store import Store  # noqa: E402

pytest.importorskip("llama_cpp", reason="llama-cpp-python (extra llm) is not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("model") / "tiny.gguf")


def _profile(db: Path, model: Path, *extra: str, capsys=None) -> tuple[int, dict | None]:
    rc = main(["--db", str(db), "profile", "--device", "local", "--model", str(model),
               "--workload", "mobile-agent-v2", "--scale", "0.05", "--delay-scale", "0",
               "--idle-s", "0.2", "--json", *extra])
    out = capsys.readouterr().out if capsys else ""
    return rc, (json.loads(out) if out.strip() else None)


def test_mobile_agent_v2_end_to_end_every_call(tmp_path: Path, tiny: Path, capsys) -> None:
    from workloads.agents import expand

    rc, doc = _profile(tmp_path / "r.db", tiny, "--tasks", "2", "--repetitions", "1",
                       "--warmup", "1", capsys=capsys)
    assert rc == 0
    expected = [r for r in expand("mobile-agent-v2", seed=0, instances=2) if r.kind == "call"]
    calls = doc["calls"]
    # every call of the expanded graph, in the warm-up pass and the measured pass
    assert Counter((c["inst"], c["id"]) for c in calls) == Counter(
        {(r.inst, r.id): 2 for r in expected})
    by_key = {(r.inst, r.id): r for r in expected}
    for c in calls:
        rec = by_key[(c["inst"], c["id"])]
        # requested counts are what the runtime itself counted
        assert c["output_tokens"] == c["output_tokens_requested"] == max(1, round(
            rec.output_tokens * 0.05))
        assert c["prompt_tokens"] == c["prompt_tokens_requested"]
        assert c["counts_ok"] is True
        assert c["t_start_s"] <= c["t_first_s"] <= c["t_end_s"]
        assert 0 <= c["ttft_s"] <= c["e2e_s"]
        assert len(c["token_times_s"]) == c["output_tokens"]
    # a continuation is sent its parent's prompt and output: it is longer and mostly cached
    mem = [c for c in calls if c["continues"] and c["rep"] == 1]
    assert mem, "mobile-agent-v2 has memory calls continuing the decision"
    for c in mem:
        parent = next(p for p in calls if p["id"] == c["continues"] and p["inst"] == c["inst"]
                      and p["rep"] == c["rep"])
        assert c["prompt_tokens"] > parent["prompt_tokens"]
        assert c["prompt_tokens_cached"] >= parent["prompt_tokens"] // 2
    assert doc["status"] == "done" and doc["summary"]["counts_ok"] is True
    assert doc["summary"]["n_measured_calls"] == len(expected)
    assert doc["runtime"]["name"] == "llama-cpp-python"

    store = Store(tmp_path / "r.db")
    run = store.get_run(doc["run_id"])
    assert run.kind == "profile" and run.status == "done"
    assert "images_as_text" in run.info
    evs = store.events(run.id)
    names = Counter(e.name for e in evs)
    assert names["call_start"] == names["call_end"] == names["first_token"] == len(calls)
    assert names["token"] == sum(c["output_tokens"] for c in calls)
    assert {"idle_baseline", "load"} <= set(names)
    metrics = {m.name: m for m in store.metrics(run.id)}
    assert metrics["ttft_s.p50"].provenance == "measured" and metrics["ttft_s.p50"].value > 0
    assert "llama-cpp-python" in metrics["ttft_s.p50"].source
    # no power counters on this VM: energy is unavailable (None), never 0
    assert metrics["energy_gross_j.mean"].value is None
    assert metrics["energy_per_output_token_j.mean"].value is None
    assert metrics["memory.rss"].value > 0 and metrics["memory.file"].value is not None
    assert metrics["load_s"].value > 0
    assert len(store.records(run.id, "tasks")) == 4
    store.close()


def test_table_output_and_repetitions(tmp_path: Path, tiny: Path, capsys) -> None:
    rc = main(["--db", str(tmp_path / "t.db"), "profile", "--model", str(tiny),
               "--scale", "0.03", "--delay-scale", "0", "--max-calls", "25", "--idle-s", "0",
               "--repetitions", "2", "--warmup", "1", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "ttft_s" in out and "measured" in out and "unavailable" in out
    assert "token counts match" in out
    store = Store(tmp_path / "t.db")
    (run,) = store.list_runs(kind="profile")
    calls = [d for _, _, d in store.records(run.id, "calls")]
    assert sorted({c["rep"] for c in calls}) == [0, 1, 2]
    assert all(c["warmup"] == (c["rep"] == 0) for c in calls)
    s = run.info["summary"]
    assert s["n_measured_calls"] == len([c for c in calls if not c["warmup"]])
    # per-task figures keep every repetition's sample
    assert len(s["tasks"]["span_s"]["samples"]) == 2
    # cool-down between repetitions is temperature based; this VM has no sensor: skipped
    cds = [e for e in store.events(run.id, "session") if e.name == "cooldown"]
    assert len(cds) == 2 and all("no temperature sensor" in e.data["skipped"] for e in cds)
    store.close()


def test_cli_runtime_parses_llama_cpp_timing_print(tmp_path: Path, tiny: Path, capsys) -> None:
    rc, doc = _profile(tmp_path / "c.db", tiny, "--runtime", "cli", "--cli-binary",
                       f"{sys.executable} -m profiler.runtimes.pycompletion",
                       "--max-calls", "4", "--repetitions", "1", "--warmup", "0",
                       capsys=capsys)
    assert rc == 0
    calls = doc["calls"]
    assert len(calls) == 3  # first node is a delay
    for c in calls:
        assert c["counts_ok"] and c["server_timings"]["form"] == "llama_perf_context_print"
        assert c["prefill_tps"] == pytest.approx(c["runtime_prefill_tps"])


def test_bad_input_exits_2(tmp_path: Path, tiny: Path, capsys) -> None:
    assert main(["--db", str(tmp_path / "b.db"), "profile", "--model",
                 str(tmp_path / "missing.gguf")]) == 2
    assert "missing.gguf" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "b.db"), "profile", "--model", str(tiny),
                 "--workload", "no-such-agent"]) == 2
    assert "no-such-agent" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "b.db"), "profile", "--model", str(tiny),
                 "--tasks", "0"]) == 2
    assert "--tasks" in capsys.readouterr().err
    # a context too small for the workload is refused before anything runs
    assert main(["--db", str(tmp_path / "b.db"), "profile", "--model", str(tiny),
                 "--ctx", "1024"]) == 2
    err = capsys.readouterr().err
    assert "--ctx" in err and "needs about" in err
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf")
    assert main(["--db", str(tmp_path / "b.db"), "profile", "--model", str(bad),
                 "--idle-s", "0", "--max-calls", "2"]) == 2
    assert "bad.gguf" in capsys.readouterr().err


def test_import_llama_bench_jsonl_and_timing_print(tmp_path: Path, capsys) -> None:
    data = Path(__file__).parent / "data" / "profiler"
    db = tmp_path / "i.db"
    assert main(["--db", str(db), "profile", "import",
                 str(data / "llama_bench_b5163_cuda.jsonl"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["test"] for r in doc["rows"]] == ["pp512", "tg128"]
    assert main(["--db", str(db), "profile", "import",
                 str(data / "print_timings_melt_2024.txt")]) == 0
    assert "decode_tps" in capsys.readouterr().out
    store = Store(db)
    runs = store.list_runs(kind="import")
    assert len(runs) == 2 and all(r.status == "done" for r in runs)
    bench = next(r for r in runs if r.config["format"] == "llama-bench jsonl")
    ms = {(m.scope, m.name): m for m in store.metrics(bench.id)}
    m = ms[("bench:qwen2 7B Q4_K - Medium:tg128:t8", "avg_ts")]
    assert m.value == pytest.approx(118.881588) and m.provenance == "measured"
    assert "8cf427ff" in m.source
    assert len(store.records(bench.id, "llama_bench")) == 2
    store.close()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n_prompt": 1}\n')
    assert main(["--db", str(db), "profile", "import", str(bad)]) == 2


def test_ctrl_c_leaves_run_interrupted_and_stops_promptly(tmp_path: Path, tiny: Path) -> None:
    import signal
    import subprocess
    import time

    db = tmp_path / "int.db"
    Store(db).close()   # schema first, so this test and the child never migrate at once
    proc = subprocess.Popen([sys.executable, "-m", "neumelt", "--db", str(db), "profile",
                             "--model", str(tiny), "--scale", "0.05", "--idle-s", "0",
                             "--repetitions", "1", "--warmup", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # wait until the first delay (OCR, ~9 s) runs
            s = Store(db)
            runs = s.list_runs(kind="profile")
            ev = s.events(runs[0].id, "session") if runs else []
            s.close()
            if any(e.name == "load" for e in ev):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 5.0      # the sleeping delay is cut short
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    s = Store(db)
    (run,) = s.list_runs(kind="profile")
    assert run.status == "interrupted"
    s.close()
