"""Defects the fuzz tier found, one regression test each (all fixed)."""

from __future__ import annotations

import pytest

from neumelt.errors import InputError


def test_dram_trace_numbers_past_64_bits_and_far_arrivals_are_bad_input(tmp_path):
    from sim.dram.trace import MAX_CYCLE, read_trace

    for text, what in [("LD 0xffffffffffffffffffff\n", "64 bits"),
                       ("0x40 READ 99999999999999999999999\n", "64 bits"),
                       (f"0x0 READ 0\n0x40 READ {MAX_CYCLE + 1}\n", "longest trace")]:
        p = tmp_path / "t.trace"
        p.write_text(text)
        with pytest.raises(InputError, match=what) as exc:
            read_trace(p)
        assert "t.trace:" in str(exc.value)


def test_llama_bench_rows_of_the_wrong_type_name_file_line_and_key(tmp_path):
    from profiler.parsers import parse_bench_jsonl

    good = '"n_prompt": 512, "n_gen": 0, "avg_ns": 1e9, "avg_ts": 512.0'
    for text, key in [("[1]", None), ("[null]", None),
                      ('{' + good.replace("512,", '"x",', 1) + '}', "n_prompt"),
                      ('{' + good + ', "samples_ns": {"a": 1}}', "samples_ns"),
                      ('{' + good + ', "n_threads": null}', "n_threads"),
                      ('{' + good.replace("512.0", "NaN") + '}', "avg_ts")]:
        with pytest.raises(InputError) as exc:
            parse_bench_jsonl(text, file="b.jsonl")
        assert "b.jsonl" in str(exc.value)
        if key:
            assert f"key '{key}'" in str(exc.value)


def test_llama_perf_print_odd_numbers_and_the_file_named(tmp_path):
    from profiler.parsers import parse_perf_print

    t = parse_perf_print("llama_print_timings:       total time = -rf  11653.83 ms\n"
                         "llama_print_timings:        load time =    12.5 ms\n")
    assert t.load_s == pytest.approx(0.0125) and t.total_s is None
    with pytest.raises(InputError, match="p.txt"):
        parse_perf_print("llama_print_timings: total time = - ms", file="p.txt")


def test_request_trace_that_is_not_utf8_is_bad_input(tmp_path):
    from workloads.traces import load_trace

    p = tmp_path / "t.csv"
    p.write_bytes(b"\x80prompt,output\n1,2\n")
    with pytest.raises(InputError, match="t.csv.*not UTF-8"):
        load_trace(p)


def test_sweep_spec_of_a_trillion_points_is_refused_before_expanding(tmp_path):
    import yaml

    from sim.sweep.spec import MAX_POINTS, expand, load_spec

    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({
        "name": "huge", "evaluator": "roofline", "base": {"seq_len": 300},
        "grid": {"batch": [64, 128]},
        "random": {"samples": 10 ** 12, "seed": 1, "axes": {"channels": {"choice": [8]}}}}))
    spec, doc = load_spec(p)
    with pytest.raises(InputError, match=f"s.yaml.*random.samples.*more than {MAX_POINTS:,}"):
        expand(spec, doc)
