"""Fuzz targets: every user-facing input reader, called in-process the way its CLI
command calls it, plus generators of hostile documents (hypothesis strategies).

The property, for any input: the reader returns, or raises :class:`InputError` whose
message names the file (and, where the document has structure, the key or line). Any
other exception is a defect. ``CASES`` counts the cases tried per input kind (read by
``benchmarks/reliability.py``).
"""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from neumelt.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CASES: Counter = Counter()
MAX_PEAK_BYTES = 256 << 20   # a reader may not allocate more than this on a small file

HOSTILE = ["<script>alert(1)</script>", "\"'; rm -rf / #", "$(reboot)", "`id`",
           "../../etc/passwd", "a/b\\c", "\x00\x1b[31m", "&amp;<b>", "名前 ñ", "-rf",
           "%s%n", "{{x}}", "${HOME}", "\u202e", "a" * 300]


def _tiny_store(tmp: Path):
    from neumelt.store import Store

    return Store(tmp / "fuzz.db")


def read_workload(path: Path, tmp: Path) -> None:
    from workloads.agents import expand

    expand(str(path), seed=0, instances=1)


def read_dram_trace(path: Path, tmp: Path) -> None:
    """What ``sim dram --preset hbm2-neupims --trace FILE`` checks before simulating."""
    from sim.dram.standard import load_standard
    from sim.dram.trace import check_capacity, read_trace

    std = load_standard("hbm2-neupims")
    check_capacity(read_trace(path), std.org.capacity_bytes, std.name)


def read_request_trace(path: Path, tmp: Path) -> None:
    from workloads.traces import load_trace

    load_trace(path)


def read_tegrastats(path: Path, tmp: Path) -> None:
    from devices.importers import import_tegrastats

    with _tiny_store(tmp) as store:
        import_tegrastats(store, str(path))


def read_llama_bench(path: Path, tmp: Path) -> None:
    from profiler.parsers import parse_bench_jsonl

    parse_bench_jsonl(path.read_text(errors="replace"), file=str(path))


def read_llama_perf(path: Path, tmp: Path) -> None:
    from profiler.parsers import parse_perf_print

    parse_perf_print(path.read_text(errors="replace"), file=str(path))


def read_dumpsys(path: Path, tmp: Path) -> None:
    """Device output, not a user's file: the parsers must never raise at all."""
    from devices.android import dumpsys

    text = path.read_text(errors="replace")
    for fn in (dumpsys.parse_battery, dumpsys.parse_thermalservice, dumpsys.parse_meminfo,
               dumpsys.parse_getprop):
        out = fn(text)
        assert isinstance(out, dict), fn.__name__


def read_sweep_spec(path: Path, tmp: Path) -> None:
    from sim.sweep.spec import expand, load_spec

    spec, doc = load_spec(path)
    expand(spec, doc)


READERS: dict[str, Callable[[Path, Path], None]] = {
    "workload yaml": read_workload, "dram trace": read_dram_trace,
    "request trace": read_request_trace, "tegrastats": read_tegrastats,
    "llama-bench": read_llama_bench, "llama perf print": read_llama_perf,
    "dumpsys": read_dumpsys, "sweep spec": read_sweep_spec,
}
SUFFIX = {"workload yaml": ".yaml", "sweep spec": ".yaml", "request trace": ".csv",
          "llama-bench": ".jsonl"}


def check(kind: str, text: str | bytes, tmp: Path, name: str = "fuzzed") -> str:
    """Feed ``text`` to the reader of ``kind``; returns "ok" or "input error".

    AssertionError (the defect, with the exception) for anything else: another exception,
    an InputError that does not name the file, or more than MAX_PEAK_BYTES allocated.
    """
    CASES[kind] += 1
    path = tmp / f"{name}{SUFFIX.get(kind, '.txt')}"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    tracemalloc.start()
    try:
        READERS[kind](path, tmp)
        outcome = "ok"
    except InputError as exc:
        assert path.name in str(exc), (
            f"{kind}: InputError does not name the file: {exc}")
        outcome = "input error"
    except Exception as exc:  # the defect
        raise AssertionError(f"{kind}: {type(exc).__name__}: {exc}") from exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{kind}: {peak / 2**20:.0f} MiB for a small file"
    return outcome


# -- strategies -------------------------------------------------------------------------
def _nodes(doc: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, path + (i,))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
    st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(HOSTILE), st.text(max_size=12),
    st.lists(st.integers(-5, 10 ** 6), max_size=3),
    st.dictionaries(st.sampled_from(["a", "min", "max", "mean", "dist"]),
                    st.integers(-5, 10 ** 9), max_size=2))


def _like(old: Any) -> st.SearchStrategy:
    """Mostly a value of the same type (of any size), sometimes anything."""
    if isinstance(old, bool):
        same = st.booleans()
    elif isinstance(old, int):
        same = st.one_of(st.integers(-3, 3), st.integers(0, 10 ** 12), st.just(old * 1000))
    elif isinstance(old, float):
        same = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(old * 1e6))
    elif isinstance(old, str):
        same = st.one_of(st.sampled_from(HOSTILE), st.just(old + "x"), st.just(""))
    else:
        return values
    return st.one_of(same, same, same, values)


@st.composite
def mutated_yaml(draw, seeds: list[Path]) -> str:
    """A shipped document with 1-4 random edits: a value replaced, a key deleted or added,
    a type changed; sometimes the YAML text itself broken."""
    base = draw(st.sampled_from(seeds))
    doc = _mutate(draw, yaml.safe_load(base.read_text()))
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if draw(st.integers(0, 9)) == 0:  # broken YAML text
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from([":", "\t", "- [", "{", "'", "&a *b"])) + \
            text[cut:]
    return text


@st.composite
def mutated_jsonl(draw, seeds: list[str]) -> str:
    """1-4 rows of shipped llama-bench output, each with 0-3 random edits (or a whole row
    replaced by another JSON value); sometimes a JSON array instead of lines."""
    import json

    rows = []
    for _ in range(draw(st.integers(1, 4))):
        doc = json.loads(draw(st.sampled_from(seeds)))
        if draw(st.integers(0, 7)) == 0:
            doc = draw(values)
        elif draw(st.booleans()):
            doc = _mutate(draw, doc, max_edits=3)
        rows.append(doc)
    if draw(st.integers(0, 5)) == 0:
        return json.dumps(rows)
    return "\n".join(json.dumps(r) for r in rows)


def _mutate(draw, doc: Any, max_edits: int = 4) -> Any:
    for _ in range(draw(st.integers(1, max_edits))):
        nodes = _nodes(doc)
        path = draw(st.sampled_from(nodes))
        op = draw(st.sampled_from(["replace", "delete", "add", "replace"]))
        if not path:
            if op == "replace" and draw(st.booleans()):
                doc = draw(values)
            continue
        parent = _get(doc, path[:-1])
        if op == "replace":
            parent[path[-1]] = draw(_like(parent[path[-1]]))
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(HOSTILE[:4] + ["extra", "seed"]))] = draw(values)
        elif isinstance(parent, list):
            parent.append(draw(values))
        if not isinstance(doc, (dict, list)):
            break
    return doc


def _token(kind: str, valid: bool = False) -> st.SearchStrategy[str]:
    if valid:  # well formed, but of any size
        n = st.one_of(st.integers(0, 2 ** 34), st.integers(0, 2 ** 80))
        return n.map(hex) if kind == "addr" else n.map(str)
    if kind == "addr":
        return st.one_of(st.integers(0, 2 ** 40).map(hex), st.integers(0, 2 ** 40).map(str),
                         st.integers(2 ** 62, 2 ** 80).map(hex), st.just("-1"),
                         st.just("0x"), st.text(max_size=6))
    if kind == "op":
        return st.sampled_from(["READ", "WRITE", "read", "LD", "ST", "st", "RD", "", "X"])
    return st.one_of(st.integers(0, 10 ** 6).map(str), st.integers(0, 10 ** 6).map(str),
                     st.integers(2 ** 62, 2 ** 80).map(str), st.just("-5"), st.just("1.5"),
                     st.text(max_size=4))


@st.composite
def dram_trace(draw) -> str:
    lines = []
    main = draw(st.sampled_from(["dramsim3", "ramulator2"]))
    for _ in range(draw(st.integers(0, 12))):
        form = draw(st.sampled_from([main] * 20 + ["dramsim3", "ramulator2", "comment",
                                                  "junk"]))
        valid = draw(st.integers(0, 15)) > 0  # most lines well formed, a few not
        if form == "dramsim3":
            lines.append(f"{draw(_token('addr', valid))} "
                         f"{draw(st.sampled_from(['READ', 'WRITE']) if valid else _token('op'))}"
                         f" {draw(_token('cyc', valid))}")
        elif form == "ramulator2":
            lines.append(f"{draw(st.sampled_from(['LD', 'ST']) if valid else _token('op'))} "
                         f"{draw(_token('addr', valid))}")
        elif form == "comment":
            lines.append("# " + draw(st.text(max_size=10)))
        else:
            lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


def _line_mutations(seed_lines: list[str], header: str = "") -> st.SearchStrategy[str]:
    """0-6 seed lines with 0-3 tokens each replaced (hostile text, huge numbers, cut
    tokens); ``header`` (if any) first, mutated only sometimes."""
    @st.composite
    def make(draw) -> str:
        lines = draw(st.lists(st.sampled_from(seed_lines), min_size=0, max_size=6))
        out = []
        for line in lines:
            toks = line.split(" ")
            for _ in range(draw(st.integers(0, 3))):
                if not toks:
                    break
                i = draw(st.integers(0, len(toks) - 1))
                toks[i] = draw(st.one_of(
                    st.sampled_from(HOSTILE), st.text(max_size=8),
                    st.integers(-(2 ** 70), 2 ** 70).map(str),
                    st.just(toks[i].replace("/", "//")), st.just(toks[i] + "@"),
                    st.just(toks[i][: max(0, len(toks[i]) // 2)])))
            out.append(" ".join(toks))
        if header and draw(st.integers(0, 5)) > 0:
            out.insert(0, header)
        return "\n".join(out)
    return make()


def seed_lines(path: Path, limit: int = 40) -> list[str]:
    lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    return lines[:limit] or ["x"]


def strategies() -> dict[str, st.SearchStrategy]:
    """One strategy per input kind (documents as text)."""
    templates = sorted((ROOT / "workloads" / "templates").glob("*.yaml"))
    # the small shipped specs (random_explore takes seconds to expand under tracemalloc)
    specs = [ROOT / "sim" / "sweep" / "examples" / f"{n}.yaml"
             for n in ("serving_designs", "roofline_grid")]
    bench = (seed_lines(DATA / "profiler" / "llama_bench_b3070_android_cpu.jsonl") +
             seed_lines(DATA / "profiler" / "llama_bench_b5163_cuda.jsonl"))
    perf = []
    for p in sorted((DATA / "profiler").glob("*.txt")):
        perf += seed_lines(p)
    csv = seed_lines(DATA / "workloads" / "share-gpt2-bs512-ms7B-tp4-clb-0.csv", 20)
    csv = [line.replace(",", " , ") for line in csv]  # so that edits hit single fields
    dumpsys_lines = ["  AC powered: false", "  level: 87", "  voltage: 4123",
                     "  temperature: 312", "  Current Temperatures:", "Temperature{mValue="
                     "35.5, mType=0, mName=CPU0, mStatus=0}", "TOTAL PSS:   123456",
                     "  TOTAL:   98765", "[ro.product.model]: [Pixel 8]", "  status: 2",
                     "Native Heap   1234   1200", "TOTAL RSS:  55555", "  scale: 100"]
    return {
        "workload yaml": mutated_yaml(templates),
        "sweep spec": mutated_yaml(specs),
        "dram trace": dram_trace(),
        "tegrastats": _line_mutations(seed_lines(DATA / "devices" / "tegrastats_golden.txt")),
        "llama-bench": mutated_jsonl(bench),
        "llama perf print": _line_mutations(perf),
        "request trace": _line_mutations(csv[1:], header=csv[0]).map(
            lambda t: t.replace(" , ", ",")),
        "dumpsys": _line_mutations(dumpsys_lines),
    }
