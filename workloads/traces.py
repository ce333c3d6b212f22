"""Request traces for chat serving: seeded synthetic traces and importers.

A trace is a list of :class:`Request` (arrival time in seconds, prompt and output tokens).
As in Vidur, a synthetic trace is an *arrival process* x a *length generator*:

arrival processes (``arrival=``)
    ``poisson`` (exponential gaps at ``rate`` requests/s), ``gamma`` (bursty gaps with
    coefficient of variation ``cv``), ``fixed`` (every 1/``rate`` s), ``closed`` (``concurrency``
    clients each issuing its next request when the previous one finishes, plus ``think_s``;
    ``arrival_s`` is 0.0 and ``client`` says which client sends it).
length generators (``dataset=``, see :data:`DATASETS`)
    ``sharegpt`` and ``alpaca``: pairs drawn from the real length tables shipped in
    ``workloads/data/`` (NeuPIMs artifact, ``openai-gpt`` tokenizer); ``sharegpt-vllm``,
    ``lmsys`` (multi-turn sessions), ``arena``, ``azure-conv``, ``azure-code``, ``arxiv``:
    lognormal fits to published means (and medians where known); see each entry's note.

Importers (:func:`load_trace`): ShareGPT-format JSON (conversations of ``human``/``gpt`` turns;
tokens estimated at 4 characters per token unless a tokenizer is given) and CSV/TSV traces
with the columns of Vidur (``arrived_at, num_prefill_tokens, num_decode_tokens``), Splitwise /
Azure LLM inference 2023 (``TIMESTAMP, ContextTokens, GeneratedTokens``), BurstGPT
(``Timestamp, Request tokens, Response tokens``), the NeuPIMs artifact (``input_toks,
output_toks`` length tables; a ``seq_len, ch_idx`` decode-batch snapshot becomes requests at
that context with one token to generate) or plain ``arrival_s, prompt_tokens,
output_tokens``; Mooncake-style JSONL (``timestamp`` ms, ``input_length``, ``output_length``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from neumelt.errors import InputError

__all__ = [
    "ARRIVALS",
    "DATASETS",
    "Dataset",
    "Request",
    "load_trace",
    "synthetic_trace",
    "trace_stats",
    "write_trace_csv",
]

ARRIVALS = ("poisson", "gamma", "fixed", "closed")


@dataclass(frozen=True)
class Request:
    """One chat request. ``prompt_tokens`` include ``prefix_tokens`` (earlier turns of the same
    ``session``, reusable from a prefix cache); times in seconds."""

    id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    session: int | None = None
    turn: int = 0
    prefix_tokens: int = 0
    client: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "arrival_s": self.arrival_s, "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens, "session": self.session, "turn": self.turn,
                "prefix_tokens": self.prefix_tokens, "client": self.client}


@dataclass(frozen=True)
class Dataset:
    """A length generator. ``table`` names a shipped TSV of (input, output) pairs; otherwise
    prompt and output lengths are lognormal with the given arithmetic mean and sd (tokens),
    clipped to [``min_tokens``, ``max_*``]. ``turns``/``turn_weights`` make multi-turn sessions.
    """

    name: str
    note: str
    table: str | None = None
    prompt_mean: float = 0.0
    prompt_sd: float = 0.0
    output_mean: float = 0.0
    output_sd: float = 0.0
    min_tokens: int = 1
    max_prompt: int | None = None
    max_output: int | None = None
    turns: tuple[int, ...] = (1,)
    turn_weights: tuple[float, ...] = (1.0,)


def _sd_from_median(mean: float, median: float) -> float:
    """Arithmetic sd of the lognormal with this mean and median."""
    s2 = 2.0 * math.log(mean / median)
    return mean * math.sqrt(math.expm1(s2))


#: Shipped length generators, with where each number comes from.
DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("sharegpt", "ShareGPT pairs, NeuPIMs artifact table (50k seeded subset of 391,726; "
            "openai-gpt tokenizer; mean 80 in / 295 out)", table="sharegpt-lengths.tsv"),
    Dataset("alpaca", "Alpaca pairs, NeuPIMs artifact table (52,002; mean 12 in / 56 out)",
            table="alpaca-lengths.tsv"),
    Dataset("sharegpt-vllm", "ShareGPT as filtered by vLLM (SOSP'23 Fig. 11: mean 161.31 in / "
            "337.99 out); sd 190 / 340 estimate; clip [4, 1024]", prompt_mean=161.31,
            prompt_sd=190, output_mean=337.99, output_sd=340, min_tokens=4, max_prompt=1024,
            max_output=1024),
    Dataset("lmsys", "LMSYS-Chat-1M (ICLR'24 Table 1: 69.5 in / 214.5 out per turn, 2.0 turns; "
            "Llama-2 tokenizer); sd and turn mix 1/2/3/4/6 @ 55/25/10/6/4 estimate",
            prompt_mean=69.5, prompt_sd=90, output_mean=214.5, output_sd=200,
            turns=(1, 2, 3, 4, 6), turn_weights=(55, 25, 10, 6, 4)),
    Dataset("arena", "Chatbot Arena 33k (LMSYS-Chat-1M Table 1: 52.3 in / 189.5 out, 1.2 "
            "turns); sd estimate", prompt_mean=52.3, prompt_sd=70, output_mean=189.5,
            output_sd=180, turns=(1, 2), turn_weights=(80, 20)),
    Dataset("azure-conv", "Azure LLM inference 2023 conversation (Splitwise, via Vidur: mean "
            "1155 / median 1020 in, mean 211 / median 129 out); lognormal from mean+median",
            prompt_mean=1155, prompt_sd=_sd_from_median(1155, 1020), output_mean=211,
            output_sd=_sd_from_median(211, 129), max_prompt=14050, max_output=2048),
    Dataset("azure-code", "Azure LLM inference 2023 code (mean 2048 / median 1469 in, mean 28 / "
            "median 13 out); lognormal from mean+median", prompt_mean=2048,
            prompt_sd=_sd_from_median(2048, 1469), output_mean=28,
            output_sd=_sd_from_median(28, 13), max_prompt=8192, max_output=1024),
    Dataset("arxiv", "arXiv summarization as in Vidur (<= 4k: mean 2588 in, mean 291 / median "
            "167 out); prompt sd 900 estimate", prompt_mean=2588, prompt_sd=900,
            output_mean=291, output_sd=_sd_from_median(291, 167), max_prompt=4096,
            max_output=2048),
)}


def _data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


_TABLES: dict[str, np.ndarray] = {}


def length_table(name: str) -> np.ndarray:
    """(n, 2) int array of (prompt, output) tokens of a shipped table."""
    if name not in _TABLES:
        arr = np.loadtxt(_data_dir() / name, dtype=np.int64, skiprows=1, delimiter="\t")
        _TABLES[name] = arr.reshape(-1, 2)
    return _TABLES[name]


def _lognormal(rng: np.random.Generator, mean: float, sd: float, size: int) -> np.ndarray:
    if sd <= 0:
        return np.full(size, mean)
    s2 = math.log1p((sd / mean) ** 2)
    return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), size)


def _check_positive(name: str, value: Any, integer: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        raise InputError(f"{name} must be a positive {'integer' if integer else 'number'}, "
                         f"got {value!r}", key=name,
                         expected="an integer >= 1" if integer else "a number > 0")


def synthetic_trace(dataset: str = "sharegpt", n: int = 1000, seed: int = 0,
                    arrival: str = "poisson", rate: float | None = 1.0, cv: float = 2.0,
                    concurrency: int = 1, think_s: float | None = None,
                    max_prompt_tokens: int | None = None, max_total_tokens: int | None = None,
                    min_tokens: int | None = None) -> list[Request]:
    """A seeded synthetic trace of ``n`` requests (same arguments -> same trace).

    ``rate`` is requests (sessions, for multi-turn datasets) per second. Requests longer than
    ``max_prompt_tokens`` / ``max_total_tokens`` or shorter than ``min_tokens`` are redrawn
    (the vLLM benchmark filter is ``min_tokens=4, max_prompt_tokens=1024,
    max_total_tokens=2048``). Multi-turn sessions give requests whose prompt carries the
    session history (``prefix_tokens``); the next turn of a session arrives ``think_s``
    after the previous one (default 10 s for multi-turn datasets, an estimate of reading +
    typing time; a closed-loop consumer may instead wait for the previous reply).
    """
    if think_s is None:
        think_s = 10.0 if len(DATASETS.get(dataset, DATASETS["sharegpt"]).turns) > 1 else 0.0
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset '{dataset}'", key="dataset",
                         expected="one of " + ", ".join(DATASETS))
    if arrival not in ARRIVALS:
        raise InputError(f"unknown arrival process '{arrival}'", key="arrival",
                         expected="one of " + ", ".join(ARRIVALS))
    _check_positive("n", n, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}", key="seed",
                         expected="an integer >= 0")
    if arrival in ("poisson", "gamma", "fixed"):
        _check_positive("rate", rate)
    if arrival == "gamma":
        _check_positive("cv", cv)
    if arrival == "closed":
        _check_positive("concurrency", concurrency, integer=True)
    if think_s < 0:
        raise InputError(f"think_s must be >= 0, got {think_s}", key="think_s",
                         expected="seconds >= 0")
    ds = DATASETS[dataset]
    ss = np.random.SeedSequence(int(seed))
    len_rng, arr_rng, turn_rng = (np.random.Generator(np.random.PCG64(s))
                                  for s in ss.spawn(3))
    lo = max(ds.min_tokens, min_tokens or 1)
    hi_p = min(x for x in (ds.max_prompt, max_prompt_tokens, 10**9) if x is not None)
    hi_t = max_total_tokens

    def draw_lengths(k: int) -> np.ndarray:
        """k (prompt, output) pairs passing the filters (redrawn until they pass)."""
        out = np.empty((0, 2), dtype=np.int64)
        tries = 0
        while len(out) < k:
            m = max(2 * (k - len(out)), 64)
            if ds.table:
                tab = length_table(ds.table)
                pairs = tab[len_rng.integers(0, len(tab), m)]
            else:
                p = _lognormal(len_rng, ds.prompt_mean, ds.prompt_sd, m)
                o = _lognormal(len_rng, ds.output_mean, ds.output_sd, m)
                if ds.max_output is not None:
                    o = np.minimum(o, ds.max_output)
                pairs = np.stack([np.maximum(np.rint(p), 1), np.maximum(np.rint(o), 1)],
                                 axis=1).astype(np.int64)
                pairs[:, 0] = np.minimum(pairs[:, 0], hi_p)
            ok = (pairs[:, 0] >= lo) & (pairs[:, 1] >= lo) & (pairs[:, 0] <= hi_p)
            if hi_t is not None:
                ok &= pairs.sum(axis=1) <= hi_t
            out = np.concatenate([out, pairs[ok]])
            tries += 1
            if tries > 1000:
                raise InputError("the length filters reject almost every request",
                                 key="max_prompt_tokens",
                                 expected="looser min/max token limits")
        return out[:k]

    # sessions: draw turns per session until n requests
    w = np.asarray(ds.turn_weights, dtype=float)
    drawn = np.asarray(ds.turns)[turn_rng.choice(len(w), size=n, p=w / w.sum())]
    n_sessions = int(np.searchsorted(np.cumsum(drawn), n) + 1)  # sessions to reach n turns
    turns = [int(k) for k in drawn[:n_sessions]]
    lengths = draw_lengths(n)
    starts = _arrival_times(arrival, n_sessions, rate, cv, arr_rng)
    reqs: list[Request] = []
    rid = 0
    for s, k in enumerate(turns):
        history = 0
        t = starts[s]
        for turn in range(k):
            if rid >= n:
                break
            p, o = int(lengths[rid, 0]), int(lengths[rid, 1])
            prompt = history + p
            if hi_t is not None and prompt + o > hi_t:
                break  # the session outgrew the context budget: end it here
            reqs.append(Request(id=rid, arrival_s=round(float(t), 9), prompt_tokens=prompt,
                                output_tokens=o, session=s if len(ds.turns) > 1 else None,
                                turn=turn, prefix_tokens=history,
                                client=(s % concurrency) if arrival == "closed" else None))
            rid += 1
            history = prompt + o
            if arrival != "closed":
                t += think_s
    if len(reqs) < n:  # sessions cut by max_total_tokens: top up with single-turn requests
        extra = draw_lengths(n - len(reqs))
        last = reqs[-1].arrival_s if reqs else 0.0
        gaps = _arrival_times(arrival, len(extra) + 1, rate, cv, arr_rng)
        for j, (p, o) in enumerate(extra):
            reqs.append(Request(id=len(reqs), arrival_s=round(last + float(gaps[j + 1]), 9),
                                prompt_tokens=int(p), output_tokens=int(o),
                                client=(len(reqs) % concurrency) if arrival == "closed"
                                else None))
    reqs.sort(key=lambda r: (r.arrival_s, r.id))
    return [Request(**{**r.to_dict(), "id": i}) for i, r in enumerate(reqs)]


def _arrival_times(arrival: str, k: int, rate: float | None, cv: float,
                   rng: np.random.Generator) -> np.ndarray:
    if arrival == "closed":
        return np.zeros(k)
    if arrival == "fixed":
        return np.arange(k) / float(rate)
    if arrival == "poisson":
        gaps = rng.exponential(1.0 / float(rate), k)
    else:  # gamma with mean 1/rate and coefficient of variation cv
        shape = 1.0 / (cv * cv)
        gaps = rng.gamma(shape, 1.0 / (float(rate) * shape), k)
    gaps[0] = 0.0
    return np.cumsum(gaps)


# --------------------------------------------------------------------------------------
# Importers
# --------------------------------------------------------------------------------------

#: Recognised CSV column sets: (arrival, prompt, output); arrival may be None.
CSV_LAYOUTS: tuple[tuple[str, str | None, str, str], ...] = (
    ("vidur", "arrived_at", "num_prefill_tokens", "num_decode_tokens"),
    ("splitwise", "TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    ("neumelt", "arrival_s", "prompt_tokens", "output_tokens"),
    ("neupims", None, "input_toks", "output_toks"),
    ("generic", None, "prompt_tokens", "output_tokens"),
    ("generic-len", "arrival_time", "prompt_len", "output_len"),
    ("burstgpt", "Timestamp", "Request tokens", "Response tokens"),
)


def estimate_tokens(text: str) -> int:
    """Rough token count of ``text``: 4 characters per token (estimate, >= 1)."""
    return max(1, round(len(text) / 4))


def load_trace(path: str | Path, fmt: str = "auto", *, rate: float | None = None,
               seed: int = 0, arrival: str = "poisson",
               tokenizer: Callable[[str], int] | None = None,
               limit: int | None = None) -> list[Request]:
    """Read a trace file: ShareGPT JSON (``fmt='sharegpt'``) or a CSV/TSV (``fmt='csv'``).

    Files without arrival times (ShareGPT, NeuPIMs tables) get a seeded ``arrival`` process
    at ``rate`` requests/s (closed loop when ``rate`` is None). Bad files raise
    :class:`InputError` naming the file, the line and the expected columns.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=str(path))
    if fmt == "auto":
        fmt = "sharegpt" if p.suffix.lower() in (".json", ".jsonl") else "csv"
    if fmt not in ("sharegpt", "csv"):
        raise InputError(f"unknown trace format '{fmt}'", key="format",
                         expected="auto, sharegpt or csv")
    try:
        if fmt == "sharegpt" and _is_mooncake(p):
            pairs, arrivals = _read_mooncake(p)
        elif fmt == "sharegpt":
            pairs, arrivals = _read_sharegpt(p, tokenizer or estimate_tokens), None
        else:
            pairs, arrivals = _read_csv(p)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}: {exc.reason})", file=str(path),
                         expected="a UTF-8 CSV/TSV or ShareGPT JSON file") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if limit is not None:
        pairs = pairs[:limit]
        arrivals = arrivals[:limit] if arrivals is not None else None
    if arrivals is None:
        if rate is None:
            times = np.zeros(len(pairs))
            arrival = "closed"
        else:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))
            times = _arrival_times(arrival, len(pairs), rate, 2.0, rng)
    else:
        t0 = min(arrivals) if arrivals else 0.0
        times = np.asarray([a - t0 for a in arrivals])
    reqs = [Request(id=i, arrival_s=round(float(times[i]), 9), prompt_tokens=int(pp),
                    output_tokens=int(oo)) for i, (pp, oo) in enumerate(pairs)]
    reqs.sort(key=lambda r: (r.arrival_s, r.id))
    return [Request(**{**r.to_dict(), "id": i}) for i, r in enumerate(reqs)]


def _is_mooncake(p: Path) -> bool:
    if p.suffix.lower() != ".jsonl":
        return False
    with open(p, encoding="utf-8") as f:
        first = f.readline()
    try:
        d = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(d, dict) and "input_length" in d and "output_length" in d


def _read_mooncake(p: Path) -> tuple[list[tuple[int, int]], list[float] | None]:
    """Mooncake-style JSONL: ``timestamp`` (ms), ``input_length``, ``output_length``."""
    pairs, arrivals = [], []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            pairs.append((_int_tokens(str(d["input_length"])),
                          _int_tokens(str(d["output_length"]))))
            arrivals.append(float(d.get("timestamp", 0)) / 1000.0)
        except (json.JSONDecodeError, KeyError, ValueError, TypeError):
            raise InputError("bad record", file=str(p), line=n,
                             expected='{"timestamp": MS, "input_length": N, '
                                      '"output_length": N}') from None
    return pairs, arrivals


def _read_sharegpt(p: Path, tok: Callable[[str], int]) -> list[tuple[int, int]]:
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".jsonl":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=str(p), line=exc.lineno) from None
    if not isinstance(data, list):
        raise InputError("expected a list of conversations", file=str(p),
                         expected='[{"conversations": [{"from": "human", "value": ...}, ...]}]')
    out = []
    for i, conv in enumerate(data):
        turns = conv.get("conversations") if isinstance(conv, dict) else None
        if not isinstance(turns, list):
            raise InputError("entry has no 'conversations' list", file=str(p),
                             key=f"[{i}].conversations",
                             expected='a list of {"from": "human"|"gpt", "value": TEXT}')
        # first human turn -> prompt; the reply that follows -> output (vLLM's convention)
        for j in range(len(turns) - 1):
            a, b = turns[j], turns[j + 1]
            if not (isinstance(a, dict) and isinstance(b, dict)):
                raise InputError("turn is not a mapping", file=str(p),
                                 key=f"[{i}].conversations[{j}]", expected="{from, value}")
            if a.get("from") in ("human", "user") and b.get("from") in ("gpt", "assistant"):
                pa, ob = a.get("value"), b.get("value")
                if not isinstance(pa, str) or not isinstance(ob, str):
                    raise InputError("turn 'value' is not text", file=str(p),
                                     key=f"[{i}].conversations[{j}].value", expected="a string")
                out.append((tok(pa), tok(ob)))
                break
    return out


def _read_csv(p: Path) -> tuple[list[tuple[int, int]], list[float] | None]:
    text = p.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines:
        raise InputError("empty trace file", file=str(p))
    delim = "\t" if "\t" in lines[0] else ","
    reader = csv.DictReader(lines, delimiter=delim)
    cols = [c.strip() for c in (reader.fieldnames or [])]
    layout = next((lay for lay in CSV_LAYOUTS if lay[2] in cols and lay[3] in cols), None)
    if layout is None and "seq_len" in cols:  # NeuPIMs decode-batch snapshot (seq_len, ch_idx)
        pairs = []
        for n, row in enumerate(csv.DictReader(lines, delimiter=delim), start=2):
            try:
                pairs.append((_int_tokens(row["seq_len"]), 1))
            except (ValueError, TypeError):
                raise InputError(f"non-integer seq_len {row.get('seq_len')!r}", file=str(p),
                                 line=n, key="seq_len", expected="an integer") from None
        return pairs, [0.0] * len(pairs)
    if layout is None:
        expected = "; ".join(f"{lay[0]}: " + ", ".join(c for c in lay[1:] if c)
                             for lay in CSV_LAYOUTS)
        raise InputError(f"unrecognised columns {', '.join(cols)}", file=str(p), line=1,
                         expected=expected)
    _, a_col, p_col, o_col = layout
    if a_col is not None and a_col not in cols:
        a_col = None
    pairs: list[tuple[int, int]] = []
    arrivals: list[float] | None = [] if a_col else None
    for n, row in enumerate(reader, start=2):
        row = {k.strip(): v for k, v in row.items() if k is not None}
        try:
            pp = _int_tokens(row[p_col])
            oo = _int_tokens(row[o_col])
        except (ValueError, TypeError):
            raise InputError(f"non-integer token count ({row.get(p_col)!r}, "
                             f"{row.get(o_col)!r})", file=str(p), line=n,
                             key=f"{p_col}/{o_col}",
                             expected="non-negative integer token counts") from None
        pairs.append((pp, oo))
        if arrivals is not None:
            try:
                arrivals.append(_time_s(row[a_col]))
            except (ValueError, TypeError):
                raise InputError(f"bad arrival time {row.get(a_col)!r}", file=str(p), line=n,
                                 key=a_col, expected="seconds or an ISO date-time") from None
    return pairs, arrivals


def _int_tokens(v: str) -> int:
    x = float(v)
    if not x.is_integer() or x < 0:
        raise ValueError(v)
    return int(x)


def _time_s(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        pass
    s = v.strip()
    if "." in s:  # Azure traces carry 7 fractional digits; datetime takes 6
        head, frac = s.split(".", 1)
        s = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(s).timestamp()


def write_trace_csv(reqs: list[Request], path: str | Path) -> None:
    """Write ``arrival_s, prompt_tokens, output_tokens`` (re-readable by :func:`load_trace`)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["arrival_s", "prompt_tokens", "output_tokens"])
        for r in reqs:
            w.writerow([repr(r.arrival_s), r.prompt_tokens, r.output_tokens])


def trace_stats(reqs: list[Request]) -> dict[str, float]:
    """Mean / median / p90 of prompt and output tokens, duration and rate."""
    if not reqs:
        return {"requests": 0}
    p = np.array([r.prompt_tokens for r in reqs], dtype=float)
    o = np.array([r.output_tokens for r in reqs], dtype=float)
    dur = max(r.arrival_s for r in reqs) - min(r.arrival_s for r in reqs)
    return {
        "requests": len(reqs),
        "prompt_mean_tokens": float(p.mean()), "prompt_median_tokens": float(np.median(p)),
        "prompt_p90_tokens": float(np.percentile(p, 90)),
        "output_mean_tokens": float(o.mean()), "output_median_tokens": float(np.median(o)),
        "output_p90_tokens": float(np.percentile(o, 90)),
        "duration_s": float(dur),
        "rate_per_s": float((len(reqs) - 1) / dur) if dur > 0 else float("nan"),
    }


def trace_from_spec(spec: dict, n: int, seed: int, rate: float | None, doc=None,
                    base_dir: Path | None = None) -> list[Request]:
    """Requests for a template's ``arrivals: {process: trace, trace: {...}}``.

    ``trace`` keys: ``dataset`` (see :data:`DATASETS`) or ``file`` (relative to the template),
    ``arrival`` (poisson | gamma | fixed | closed; default poisson when a rate is given),
    ``rate``, ``max_prompt_tokens``, ``max_total_tokens``, ``min_tokens``, ``format``.
    """
    allowed = {"dataset", "file", "arrival", "rate", "max_prompt_tokens", "max_total_tokens",
               "min_tokens", "format", "cv"}

    def err(key: str, msg: str, expected: str | None = None) -> InputError:
        if doc is not None:
            return doc.error(f"arrivals.trace{('.' + key) if key else ''}", msg, expected)
        return InputError(msg, key=f"arrivals.trace.{key}", expected=expected)

    for k in spec:
        if k not in allowed:
            raise err(k, f"unknown key '{k}'", "one of " + ", ".join(sorted(allowed)))
    r = spec.get("rate", rate)
    arrival = spec.get("arrival", "poisson" if r is not None else "closed")
    try:
        if "file" in spec:
            f = Path(spec["file"])
            if not f.is_absolute() and base_dir is not None:
                f = base_dir / f
            return load_trace(f, spec.get("format", "auto"), rate=r, seed=seed,
                              arrival=arrival, limit=n)
        if "dataset" not in spec:
            raise err("", "needs 'dataset' or 'file'", "dataset: sharegpt | file: PATH")
        return synthetic_trace(spec["dataset"], n=n, seed=seed, arrival=arrival, rate=r,
                               cv=spec.get("cv", 2.0),
                               max_prompt_tokens=spec.get("max_prompt_tokens"),
                               max_total_tokens=spec.get("max_total_tokens"),
                               min_tokens=spec.get("min_tokens"))
    except InputError as exc:
        if exc.file:
            raise
        raise err(exc.key.split(".")[-1] if exc.key else "", exc.detail, exc.expected) \
            from None
