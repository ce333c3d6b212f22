"""Fuzz tier: random workload YAML, sweep specs, DRAMsim3 / Ramulator 2 traces, request
traces, tegrastats, dumpsys, llama-bench and llama.cpp timing prints, and CLI argument
combinations. Property: the reader returns or raises an InputError naming the file (and
key or line); never another exception, never unbounded time or memory. In-process for
speed (derandomized: the same cases on every run), plus a few real CLI processes."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from fuzz_targets import check, strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=40, deadline=20000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
STRATEGIES = strategies()


def _fuzz(kind: str, examples: int = 40):
    @settings(FUZZ, max_examples=examples)
    @given(text=STRATEGIES[kind])
    def run(tmp_path, text):
        check(kind, text, tmp_path)
    return run


test_fuzz_workload_yaml = _fuzz("workload yaml", 20)  # each expands a template
test_fuzz_sweep_spec = _fuzz("sweep spec", 20)      # each expands a grid
test_fuzz_dram_trace = _fuzz("dram trace")
test_fuzz_request_trace = _fuzz("request trace")
test_fuzz_tegrastats = _fuzz("tegrastats")
test_fuzz_dumpsys = _fuzz("dumpsys", 25)
test_fuzz_llama_bench = _fuzz("llama-bench")
test_fuzz_llama_perf_print = _fuzz("llama perf print")


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzz_binary_garbage_in_every_reader(tmp_path, data):
    from fuzz_targets import READERS

    for kind in READERS:
        check(kind, data, tmp_path)


# -- CLI argument combinations ------------------------------------------------------------
def _leaves():
    import argparse

    from neumelt.app.cli import build_parser

    out = []

    def walk(parser, prefix):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append((prefix, parser))
        for s in subs:
            for name, p in s.choices.items():
                walk(p, prefix + [name])
    walk(build_parser(), [])
    return out


LEAVES = _leaves()
ARG_VALUES = st.one_of(st.sampled_from(["0", "-1", "1e999", "nan", "2", "abc", "", "--",
                                        "local", "gpt3-7b", "neupims", "9" * 30]),
                       st.text(max_size=8))


@st.composite
def argv(draw):
    path, parser = draw(st.sampled_from(LEAVES))
    opts = [a for a in parser._actions if a.option_strings and "-h" not in a.option_strings]
    args = list(path)
    for a in draw(st.lists(st.sampled_from(opts), max_size=4)) if opts else []:
        args.append(a.option_strings[-1])
        if a.nargs != 0:
            args.append(draw(st.sampled_from(a.choices)) if a.choices and draw(st.booleans())
                        else draw(ARG_VALUES))
    for _ in range(draw(st.integers(0, 2))):
        args.append(draw(ARG_VALUES))
    return args


@settings(max_examples=60, deadline=5000, derandomize=True, database=None)
@given(args=argv())
def test_fuzz_cli_arguments_parse_or_exit_2_naming_the_argument(args):
    from neumelt.app.cli import build_parser

    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(args)
        except SystemExit as exc:
            assert exc.code in (0, 2), (args, exc.code)
            if exc.code == 2:
                assert "error:" in err.getvalue(), (args, err.getvalue())
                assert "Traceback" not in err.getvalue()


CHEAP = [["models", "show"], ["workloads", "show"], ["workloads", "expand"],
         ["runs", "show"], ["runs", "export"], ["runs", "list"]]


@settings(max_examples=40, deadline=10000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmd=st.sampled_from(CHEAP), rest=st.lists(ARG_VALUES, max_size=3),
       flags=st.lists(st.sampled_from(["--json", "--seed", "--context", "--format",
                                       "--full", "--kind", "--vision", "--instances"]),
                      max_size=2))
def test_fuzz_cheap_commands_run_for_real(tmp_path, cmd, rest, flags):
    from neumelt.app.cli import main

    args = ["--db", str(tmp_path / "c.db"), *cmd, *rest]
    for f in flags:
        args += [f] if f in ("--json", "--full") else [f, rest[0] if rest else "7"]
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        try:
            rc = main(args)
        except SystemExit as exc:
            rc = exc.code
    assert rc in (0, 2), (args, rc, err.getvalue()[-500:])
    if rc == 2:
        assert "error" in err.getvalue() and "Traceback" not in err.getvalue()


# -- a few real CLI processes on hostile files ---------------------------------------------
def _hostile_template() -> str:
    import yaml
    from fuzz_targets import ROOT

    doc = yaml.safe_load((ROOT / "workloads" / "templates" / "mobile-agent-v2.yaml").read_text())
    doc["name"] = "<script>alert(1)</script>"
    doc["vars"] = {"$(reboot)": "`id`"}
    return yaml.safe_dump(doc)


def _huge_spec() -> str:
    import yaml
    from fuzz_targets import ROOT

    doc = yaml.safe_load((ROOT / "sim" / "sweep" / "examples" / "serving_designs.yaml")
                         .read_text())
    doc["random"] = {"samples": 10 ** 12, "seed": 1, "axes": {"batch": {"choice": [1, 2]}}}
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("name,text,argv", [
    ("w.yaml", _hostile_template, ["workloads", "validate", "{f}"]),
    ("t.trace", lambda: "LD 0x40\nST 0xffffffffffffffffffff\n",
     ["sim", "dram", "--preset", "hbm2-neupims", "--trace", "{f}", "--no-store"]),
    ("teg.log", lambda: "<b>no</b> tegrastats $(here)\n\x00\n",
     ["devices", "import", "tegrastats", "{f}"]),
    ("b.jsonl", lambda: '[1, {"n_prompt": "x"}]', ["profile", "import", "{f}"]),
    ("s.yaml", _huge_spec, ["sweep", "run", "{f}", "--dry-run"]),
])
def test_real_cli_on_hostile_files_exits_2_naming_the_file(tmp_path, name, text, argv):
    from faults_support import run

    f = tmp_path / name
    f.write_text(text())
    res = run(["--db", str(tmp_path / "c.db"), *[a.replace("{f}", str(f)) for a in argv]],
              tmp_path, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 2 and name in res.stderr, res.stderr[-800:]
