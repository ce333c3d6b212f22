"""Parsers for llama.cpp's own performance output. One pure function per format.

Formats (quoted from real runs, see ``tests/data/profiler/``):

* current llama.cpp (PR #10693 onwards), printed by ``llama-cli``/``llama-completion`` and
  ``llama_perf_context_print()``::

      llama_perf_sampler_print:    sampling time =   4.06 ms /    45 runs   (...)
      llama_perf_context_print:        load time = 835.71 ms
      llama_perf_context_print: prompt eval time = 412.37 ms /    13 tokens (... 31.52 tokens per second)
      llama_perf_context_print:        eval time = 2104.85 ms /   31 runs   (... 14.73 tokens per second)
      llama_perf_context_print:       total time = 2531.12 ms /    44 tokens
      llama_perf_context_print:    graphs reused =         30

* the older form (MELT's llama.cpp fork and builds before late 2024)::

      llama_print_timings:        load time =     525.17 ms
      llama_print_timings:      sample time =       4.28 ms /    21 runs   (...)
      llama_print_timings: prompt eval time =    2501.52 ms /    51 tokens (...)
      llama_print_timings:        eval time =    1041.43 ms /    20 runs   (...)
      llama_print_timings:       total time =   11653.83 ms

* ``llama-bench -o jsonl``: one JSON object per line; fields grow between builds, so rows
  are kept whole (unknown keys preserved) and read by name.

Times are normalised to seconds (``_s``), counts are tokens.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from neumelt.errors import InputError

_LINE = re.compile(
    r"^(?P<prefix>llama_perf_context_print|llama_perf_sampler_print|llama_print_timings):"
    r"\s*(?P<what>[a-z ]+?)\s*=\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"\s*(?P<unit>ms)?"
    r"(?:\s*/\s*(?P<count>\d+)\s*(?P<count_unit>tokens|runs))?"
)


@dataclass(frozen=True)
class PerfTimings:
    """llama.cpp's own timing block for one run (seconds, token counts). Absent fields None."""

    form: str                      # "llama_perf_context_print" | "llama_print_timings"
    load_s: float | None = None
    sample_s: float | None = None
    sample_runs: int | None = None
    prompt_eval_s: float | None = None
    prompt_tokens: int | None = None
    eval_s: float | None = None
    eval_runs: int | None = None
    total_s: float | None = None
    total_tokens: int | None = None
    graphs_reused: int | None = None

    @property
    def prefill_tps(self) -> float | None:
        """Prompt tokens per second as llama.cpp computes it."""
        if self.prompt_eval_s and self.prompt_tokens is not None and self.prompt_eval_s > 0:
            return self.prompt_tokens / self.prompt_eval_s
        return None

    @property
    def decode_tps(self) -> float | None:
        """Decode (eval) tokens per second as llama.cpp computes it."""
        if self.eval_s and self.eval_runs is not None and self.eval_s > 0:
            return self.eval_runs / self.eval_s
        return None


def parse_perf_print(text: str, file: str = "") -> PerfTimings:
    """Parse the last llama.cpp timing block in ``text`` (either form; read from ``file``).

    Raises :class:`InputError` (naming ``file``) when no timing line is present.
    """
    blocks: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    form = None
    for raw in text.splitlines():
        line = raw.strip()
        m = _LINE.match(line)
        if not m:
            continue
        prefix, what = m["prefix"], m["what"].strip()
        value = float(m["value"])
        count = int(m["count"]) if m["count"] else None
        # A run's block starts at its sampler line (current form) or its "load time".
        if current is None or (what == "load time" and "load_s" in current) or (
                prefix == "llama_perf_sampler_print" and "sample_s" in current):
            current = {}
            blocks.append(current)
        if prefix != "llama_perf_sampler_print":
            form = prefix
        sec = value / 1000.0 if m["unit"] == "ms" else value
        if what == "load time":
            current["load_s"] = sec
        elif what in ("sample time", "sampling time"):
            current["sample_s"], current["sample_runs"] = sec, count
        elif what == "prompt eval time":
            current["prompt_eval_s"], current["prompt_tokens"] = sec, count
        elif what == "eval time":
            current["eval_s"], current["eval_runs"] = sec, count
        elif what == "total time":
            current["total_s"], current["total_tokens"] = sec, count
        elif what == "graphs reused":
            current["graphs_reused"] = int(value)
    if not blocks or form is None:
        raise InputError("no llama.cpp timing lines found", file=file or None,
                         expected="'llama_perf_context_print:' or 'llama_print_timings:' lines")
    return PerfTimings(form=form, **blocks[-1])


# -- llama-bench -------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchRow:
    """One ``llama-bench`` result row; ``raw`` keeps every field the build wrote."""

    test: str                      # "pp512", "tg128", "pp512+tg128", with "@d<depth>"
    n_prompt: int
    n_gen: int
    n_depth: int
    avg_ts: float
    stddev_ts: float
    avg_ns: float
    stddev_ns: float
    samples_ns: tuple[float, ...]
    samples_ts: tuple[float, ...]
    model_filename: str
    model_type: str
    build_commit: str
    n_threads: int | None
    backend: str
    test_time: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


_BENCH_REQUIRED = ("n_prompt", "n_gen", "avg_ns", "avg_ts")
_OLD_BACKENDS = ("cuda", "vulkan", "kompute", "metal", "sycl", "opencl", "gpu_blas", "blas")


def _backend(obj: dict[str, Any]) -> str:
    if "backends" in obj:
        return str(obj["backends"]) or "CPU"
    on = [k.upper() for k in _OLD_BACKENDS if obj.get(k) is True]
    return ",".join(on) or "CPU"


def _num(obj: dict[str, Any], key: str, kind: type, where: str, line: int | None,
         default: Any = None) -> Any:
    """``obj[key]`` as ``kind`` (int or float); InputError naming file, line and key."""
    v = obj.get(key, default)
    if v is None and default is None and key not in obj:
        return None
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ok and kind is int and not float(v).is_integer():
        ok = False
    if not ok:
        raise InputError(f"llama-bench field '{key}' is {v!r}", file=where or None,
                         line=line, key=key,
                         expected="an integer" if kind is int else "a finite number")
    return kind(v)


def _nums(obj: dict[str, Any], key: str, where: str, line: int | None) -> tuple[float, ...]:
    vals = obj.get(key) or []
    if not isinstance(vals, list):
        raise InputError(f"llama-bench field '{key}' is {vals!r}", file=where or None,
                         line=line, key=key, expected="a list of numbers")
    return tuple(_num({key: v}, key, float, where, line) for v in vals)


def parse_bench_row(obj: dict[str, Any], where: str = "", line: int | None = None) -> BenchRow:
    """Turn one decoded ``llama-bench`` JSON object into a :class:`BenchRow`."""
    if not isinstance(obj, dict):
        raise InputError(f"llama-bench row is {type(obj).__name__} {str(obj)[:40]!r}",
                         file=where or None, line=line, expected="a JSON object per row")
    for key in _BENCH_REQUIRED:
        if key not in obj:
            raise InputError(f"llama-bench row lacks '{key}'", file=where or None, key=key,
                             line=line, expected="a llama-bench -o jsonl/json row")
    n_p, n_g = _num(obj, "n_prompt", int, where, line), _num(obj, "n_gen", int, where, line)
    n_d = _num(obj, "n_depth", int, where, line, default=0) if obj.get("n_depth") else 0
    parts = ([f"pp{n_p}"] if n_p else []) + ([f"tg{n_g}"] if n_g else [])
    test = "+".join(parts) or "none"
    if n_d:
        test += f"@d{n_d}"
    return BenchRow(
        test=test, n_prompt=n_p, n_gen=n_g, n_depth=n_d,
        avg_ts=_num(obj, "avg_ts", float, where, line),
        stddev_ts=_num(obj, "stddev_ts", float, where, line, default=0.0),
        avg_ns=_num(obj, "avg_ns", float, where, line),
        stddev_ns=_num(obj, "stddev_ns", float, where, line, default=0.0),
        samples_ns=_nums(obj, "samples_ns", where, line),
        samples_ts=_nums(obj, "samples_ts", where, line),
        model_filename=str(obj.get("model_filename", "")),
        model_type=str(obj.get("model_type", "")),
        build_commit=str(obj.get("build_commit", "")),
        n_threads=_num(obj, "n_threads", int, where, line),
        backend=_backend(obj), test_time=str(obj.get("test_time", "")), raw=dict(obj))


def parse_bench_jsonl(text: str, file: str = "") -> list[BenchRow]:
    """Parse ``llama-bench -o jsonl`` text (also accepts ``-o json``: one JSON array)."""
    stripped = text.strip()
    if not stripped:
        raise InputError("empty llama-bench file", file=file or None,
                         expected="llama-bench -o jsonl output")
    if stripped.startswith("["):
        try:
            objs = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=file or None,
                             line=exc.lineno) from None
        return [parse_bench_row(o, file) for o in objs]
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=file or None, line=i,
                             expected="one llama-bench JSON object per line") from None
        if not isinstance(obj, dict):
            raise InputError("line is not a JSON object", file=file or None, line=i,
                             expected="one llama-bench JSON object per line")
        rows.append(parse_bench_row(obj, file, line=i))
    return rows
