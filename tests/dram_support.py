"""Shared helpers for the DRAM / PIM tests (generators of seeded request streams and logs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.dram.controller import ControllerConfig, run_channel
from sim.dram.standard import DramStandard
from sim.pim.program import channel_program, npu_read_requests
from sim.pim.shapes import AttentionShape

DATA = Path(__file__).parent / "data" / "dram"
GPT3_7B_TP4 = AttentionShape(heads=8, d_k=128, e_tp=1024)


def random_channel_requests(std: DramStandard, n: int, seed: int, *, banks: int | None = None,
                            rows: int = 8, write_frac: float = 0.3, gap: int = 3):
    """Seeded requests for one channel: arrival, is_write, flat bank, row, column arrays.
    Few rows per bank so hits, misses and conflicts all occur."""
    rng = np.random.default_rng(seed)
    nb = banks or std.org.banks
    arrival = np.cumsum(rng.integers(0, gap + 1, n)).astype(np.int64)
    is_write = rng.random(n) < write_frac
    bank = rng.integers(0, nb, n).astype(np.int64)
    row = rng.integers(0, rows, n).astype(np.int64)
    col = rng.integers(0, std.org.bursts_per_row, n).astype(np.int64)
    return arrival, is_write, bank, row, col


def channel_log(out) -> np.ndarray:
    """Kernel log rows + a channel column (0), the checker's format."""
    return np.concatenate([out.log, np.zeros((len(out.log), 1), np.int64)], axis=1)


def pim_mixed_log(std: DramStandard, row_buffer: str, seq_lens, read_bytes: int, seed: int,
                  *, random_reads: int = 0, phase: int = 0):
    """Run one channel with a PIM program plus NPU reads (sequential and random) and return
    (ChannelOut, log)."""
    cmd, tgt, arg = channel_program(std, seq_lens, GPT3_7B_TP4, phase)
    a, w, b, r, c = npu_read_requests(std, read_bytes)
    if random_reads:
        ra, rw, rb, rr, rc = random_channel_requests(std, random_reads, seed, gap=20)
        a = np.concatenate([a, ra])
        w = np.concatenate([w, rw])
        b = np.concatenate([b, rb])
        r = np.concatenate([r, rr + std.org.rows // 4])
        c = np.concatenate([c, rc])
        order = np.argsort(a, kind="stable")
        a, w, b, r, c = a[order], w[order], b[order], r[order], c[order]
    out = run_channel(std, ControllerConfig(), row_buffer, a, w, b, r, c, cmd, tgt, arg,
                      log_capacity=10_000_000)
    return out, channel_log(out)
