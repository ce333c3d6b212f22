"""Decode batches: a CSV file of ``seq_len[,ch_idx]`` rows, or ``N`` requests drawn with a seed.

The NeuPIMs artifact's batch files have a header ``seq_len,ch_idx``: each row is one
request's current context length (tokens) and the PIM channel its KV cache lives in.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neumelt.errors import InputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "neupims"
REFERENCE_BATCH = DATA_DIR / "share-gpt2-bs512-ms7B-tp4-clb-0.csv"


@dataclass(frozen=True)
class Batch:
    """seq_lens: context length per request (tokens); channel_idx: PIM channel per request
    or None; source: where it came from."""

    seq_lens: tuple[int, ...]
    channel_idx: tuple[int, ...] | None
    source: str


def load_batch_csv(path: str | Path) -> Batch:
    """Read a ``seq_len[,ch_idx]`` CSV; every bad row is an :class:`InputError` with its line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise InputError("file not found", file=str(path)) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header or header[0].strip() != "seq_len":
        raise InputError("first line must be a header starting with 'seq_len'", file=str(path),
                         line=1, expected="seq_len[,ch_idx]")
    cols = [h.strip() for h in header]
    has_ch = "ch_idx" in cols
    ich = cols.index("ch_idx") if has_ch else -1
    lens: list[int] = []
    chans: list[int] = []
    for lineno, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            s = int(row[0])
            c = int(row[ich]) if has_ch else 0
        except (ValueError, IndexError):
            raise InputError(f"bad row {','.join(row)!r}", file=str(path), line=lineno,
                             expected="integers seq_len" + (",ch_idx" if has_ch else ""),
                             ) from None
        if s <= 0 or c < 0:
            raise InputError(f"bad row {','.join(row)!r}", file=str(path), line=lineno,
                             expected="seq_len > 0 and ch_idx >= 0")
        lens.append(s)
        chans.append(c)
    if not lens:
        raise InputError("no requests in the batch file", file=str(path))
    return Batch(tuple(lens), tuple(chans) if has_ch else None, str(path))


def synthetic_batch(n: int, seed: int = 0, mean_len: int = 300, max_len: int = 2048) -> Batch:
    """``n`` requests with context lengths from a seeded geometric-like (exponential)
    distribution of mean ``mean_len`` tokens, clipped to [1, ``max_len``]; no channels."""
    if n <= 0:
        raise InputError(f"batch size must be positive, got {n}", key="batch",
                         expected="a positive integer or a CSV file")
    rng = np.random.default_rng(seed)
    lens = np.clip(np.rint(rng.exponential(mean_len, size=n)), 1, max_len).astype(int)
    return Batch(tuple(int(x) for x in lens), None,
                 f"synthetic n={n} seed={seed} mean={mean_len}")


def dataset_batch(n: int, dataset: str, seed: int = 0, max_len: int = 2048) -> Batch:
    """``n`` requests mid-decode drawn from a shipped length table (``sharegpt`` or
    ``alpaca``, :func:`workloads.traces.length_table`): a request's context is its prompt
    plus a uniformly drawn share of its output tokens, clipped to ``max_len``; seeded."""
    if n <= 0:
        raise InputError(f"batch size must be positive, got {n}", key="batch",
                         expected="a positive integer or a CSV file")
    if dataset not in ("sharegpt", "alpaca"):
        raise InputError(f"unknown length table {dataset!r}", key="lengths",
                         expected="'exp', 'sharegpt' or 'alpaca'")
    from workloads.traces import length_table

    table = length_table(f"{dataset}-lengths.tsv")
    rng = np.random.default_rng(seed)
    rows = table[rng.integers(0, len(table), size=n)]
    done = rng.integers(0, np.maximum(rows[:, 1], 1))
    lens = np.clip(rows[:, 0] + done, 1, max_len)
    return Batch(tuple(int(x) for x in lens), None, f"{dataset} n={n} seed={seed}")


def parse_batch(spec: str, seed: int = 0, mean_len: int = 300, max_len: int = 2048,
                lengths: str = "exp") -> Batch:
    """``--batch FILE|N``: a CSV path, the word ``reference`` or an integer (lengths from
    ``lengths``: ``exp`` with mean ``mean_len``, or the ``sharegpt`` / ``alpaca`` table)."""
    if spec == "reference":
        return load_batch_csv(REFERENCE_BATCH)
    if spec.isdigit():
        if lengths != "exp":
            return dataset_batch(int(spec), lengths, seed, max_len)
        return synthetic_batch(int(spec), seed, mean_len, max_len)
    if not Path(spec).exists():
        raise InputError(f"{spec!r} is neither a batch size nor an existing CSV file",
                         key="batch", expected="a positive integer, 'reference' or a CSV file")
    return load_batch_csv(spec)
