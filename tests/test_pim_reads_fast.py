"""The NPU read stream behind the PIM fast path: the resumable sequential kernel
(``stream_seq_run`` with checkpoints) gives exactly the cycles of the stream kernel run on the
laid-out requests (``npu_read_requests`` + ``stream_fast_channel``), for any length."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dram_support import DATA

from sim.dram.standard import load_standard
from sim.kernels.dram import SEQ_I, seq_state_init, stream_seq_run, stream_seq_run_py
from sim.pim.fast import _SEQ_READS, _SeqReads, reads_cycles, reads_cycles_reference

STANDARDS = [load_standard("hbm2-neupims"), load_standard("hbm3"),
             load_standard(DATA / "hbm2-2ch-fastref.yaml")]


def _lengths(seed: int) -> list[int]:
    """Byte counts: tiny, around burst / queue / checkpoint boundaries, and long (refresh)."""
    rng = np.random.default_rng(seed)
    edges = [1, 31, 32, 33, 64, 1000, 32 * 1024 - 1, 32 * 1024 + 1, 32 * 1056, 32 * 65_600]
    return edges + [int(x) for x in rng.integers(1, 4_000_000, 12)]


@pytest.mark.parametrize("std", STANDARDS, ids=lambda s: s.name)
@pytest.mark.parametrize("refresh", [True, False])
def test_reads_cycles_equal_the_laid_out_stream(std, refresh):
    _SEQ_READS.clear()
    for nbytes in _lengths(7):
        assert reads_cycles(std, nbytes, refresh) == reads_cycles_reference(std, nbytes, refresh)
    assert reads_cycles(std, 0, refresh) == 0


@pytest.mark.parametrize("mapping", ["rochrabgbaco", "robabgrachco", "rorabachcobg"])
def test_reads_cycles_follow_other_address_mappings(mapping):
    std = dataclasses.replace(STANDARDS[2], address_mapping=mapping)
    for nbytes in _lengths(11)[:14]:
        assert reads_cycles(std, nbytes) == reads_cycles_reference(std, nbytes)


def test_longer_query_rebuilds_and_stays_exact():
    std = STANDARDS[2]
    _SEQ_READS.clear()
    small = reads_cycles(std, 64_000)
    seq = next(iter(_SEQ_READS.values()))
    h0 = seq.horizon
    big = std.org.burst_bytes * (h0 + 5_000)
    assert reads_cycles(std, big) == reads_cycles_reference(std, big)
    assert seq.horizon > h0
    assert reads_cycles(std, 64_000) == small
    assert big > 64_000 and reads_cycles(std, big) > small


def test_sequential_kernel_equals_its_twin_and_resumes():
    std = STANDARDS[2]                      # short nREFI: refreshes fall inside the stream
    seq = _SeqReads(std, True)
    args = (seq.fields, seq.widths, *seq.geom, *seq.timing)
    n = 3_000
    size = len(seq._init_state())
    ck_a = np.zeros((n // 100 + 2, size), dtype=np.int64)
    ck_b = np.zeros_like(ck_a)
    out_a, na = stream_seq_run(seq._init_state(), n, 100, ck_a, *args)
    out_b, nb = stream_seq_run_py(seq._init_state(), n, 100, ck_b, *args)
    assert (int(out_a), int(na)) == (int(out_b), int(nb)) and na > 20
    assert np.array_equal(ck_a[:na], ck_b[:nb])
    # resuming from a checkpoint equals running from the start
    for k in (3, 10, na - 1):
        st = ck_a[k].copy()
        assert st[SEQ_I] >= 100 * k
        resumed, _ = stream_seq_run(st, n, 0, ck_a[:0], *args)
        assert resumed == out_a
    assert stream_seq_run(seq_state_init(seq.nbanks, seq.geom[2], seq.nREFI), 0, 0, ck_a[:0],
                          *args)[0] == 0
