"""llama.cpp timing prints (both forms) and llama-bench jsonl, on real-format outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from neumelt.errors import InputError
from profiler.parsers import parse_bench_jsonl, parse_perf_print

DATA = Path(__file__).parent / "data" / "profiler"


def test_current_form_from_llama_cli_on_android():
    t = parse_perf_print((DATA / "llama_cli_perf_android_arm64.txt").read_text())
    assert t.form == "llama_perf_context_print"
    assert t.load_s == pytest.approx(0.83571)
    assert (t.prompt_tokens, t.eval_runs, t.total_tokens, t.sample_runs) == (13, 31, 44, 45)
    assert t.prompt_eval_s == pytest.approx(0.41237)
    # llama.cpp's own "tokens per second" columns agree with count / time
    assert t.prefill_tps == pytest.approx(31.52, rel=1e-3)
    assert t.decode_tps == pytest.approx(14.73, rel=1e-3)
    assert t.graphs_reused == 30


def test_current_form_printed_by_bundled_llama_cpp():
    t = parse_perf_print((DATA / "perf_context_llama_cpp_python_0_3_36_tiny.txt").read_text())
    assert t.form == "llama_perf_context_print"
    assert t.sample_s is None and t.prompt_tokens == 42 and t.eval_runs == 19
    assert t.total_tokens == t.prompt_tokens + t.eval_runs


def test_old_form_melt():
    t = parse_perf_print((DATA / "print_timings_melt_2024.txt").read_text())
    assert t.form == "llama_print_timings"
    assert (t.prompt_tokens, t.eval_runs, t.sample_runs) == (51, 20, 21)
    assert t.total_s == pytest.approx(11.65383) and t.total_tokens is None
    assert t.prefill_tps == pytest.approx(20.39, rel=1e-3)
    assert t.decode_tps == pytest.approx(19.20, rel=1e-3)


def test_old_form_with_total_tokens():
    t = parse_perf_print((DATA / "print_timings_b1500_total_tokens.txt").read_text())
    assert t.total_tokens == 247 and t.eval_runs == 127
    assert t.decode_tps == pytest.approx(13.35, rel=1e-3)


def test_last_block_wins_when_several_runs_are_printed():
    a = (DATA / "print_timings_melt_2024.txt").read_text()
    b = (DATA / "llama_cli_perf_android_arm64.txt").read_text()
    assert parse_perf_print(a + b).prompt_tokens == 13
    assert parse_perf_print(b + a).prompt_tokens == 51


def test_no_timing_lines_is_bad_input():
    with pytest.raises(InputError, match="no llama.cpp timing"):
        parse_perf_print("hello\nworld\n")


def test_bench_jsonl_current_build():
    rows = parse_bench_jsonl((DATA / "llama_bench_b5163_cuda.jsonl").read_text())
    assert [r.test for r in rows] == ["pp512", "tg128"]
    pp, tg = rows
    assert pp.backend == "CUDA" and pp.n_threads == 8
    assert pp.avg_ts == pytest.approx(7263.609157)
    assert len(pp.samples_ns) == 5 and len(tg.samples_ts) == 5
    # avg_ts = n / time: mean of the per-sample rates
    assert tg.avg_ts == pytest.approx(sum(tg.samples_ts) / 5, rel=1e-4)
    assert pp.raw["tensor_buft_overrides"] == "none"  # unknown keys kept


def test_bench_jsonl_old_build_without_backends_field():
    rows = parse_bench_jsonl((DATA / "llama_bench_b3070_android_cpu.jsonl").read_text())
    assert [r.test for r in rows] == ["pp128", "tg32"]
    assert rows[0].backend == "CPU" and rows[0].n_depth == 0
    assert rows[1].avg_ns == pytest.approx(2287449610)


def test_bench_json_array_and_depth():
    text = (DATA / "llama_bench_b5163_cuda.jsonl").read_text().splitlines()[0]
    rows = parse_bench_jsonl("[" + text.replace('"n_depth": 0', '"n_depth": 4096') + "]")
    assert rows[0].test == "pp512@d4096"


def test_bench_bad_line_names_line():
    good = (DATA / "llama_bench_b5163_cuda.jsonl").read_text().splitlines()[0]
    with pytest.raises(InputError) as err:
        parse_bench_jsonl(good + "\n{not json\n", file="x.jsonl")
    assert "x.jsonl:2" in str(err.value)
    with pytest.raises(InputError, match="avg_ts"):
        parse_bench_jsonl('{"n_prompt": 1, "n_gen": 0, "avg_ns": 5}\n')
