"""KV capacity in the real memory layouts: paged blocks and NeuPIMs PIM pages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neumelt.errors import RunError
from sim.serving.kv import KVPool, PagedLayout, PimLayout


def gpt3_7b_tp4(pages=32768):
    # E_tp = 1024 (8 heads x 128), 32 layers, 32 banks, 1 KB rows of fp16.
    return PimLayout(channels=32, banks=32, row_elems=512, page_bytes=32 * 1024,
                     pages_per_channel=pages, layers=32, kv_heads=8, d_head=128)


def test_pim_pages_match_the_neupims_layout():
    lay = gpt3_7b_tp4()
    # keys: ceil(1024/512) = 2 pages per 32 tokens; values: 8 heads x ceil(128/32) = 32
    # pages per 512 tokens
    assert lay.key_pages(1) == 2 and lay.key_pages(32) == 2 and lay.key_pages(33) == 4
    assert lay.value_pages(1) == 32 and lay.value_pages(512) == 32 and lay.value_pages(513) == 64
    assert lay.units(300) == 32 * (2 * 10 + 32)
    # a full layout wastes nothing: 512 tokens of K and V = 2 x 512 x 1024 x 2 bytes per layer
    assert lay.units(512) * lay.page_bytes == 32 * 2 * 512 * 1024 * 2


def test_pim_layout_charges_partial_value_pages_whole():
    lay = gpt3_7b_tp4()
    dense_bytes = 2 * 100 * 1024 * 2 * 32  # K+V of 100 tokens, 32 layers
    assert lay.units(100) * lay.page_bytes > 3 * dense_bytes


def test_paged_blocks_round_up():
    lay = PagedLayout(capacity_bytes=10_000 * 64, bytes_per_token=64, block_tokens=16)
    assert lay.units(1) == 1 and lay.units(16) == 1 and lay.units(17) == 2
    assert lay.units_per_channel == 625


def test_pool_refuses_admission_beyond_capacity_and_grow_reports_full():
    pool = KVPool(PagedLayout(capacity_bytes=4 * 16, bytes_per_token=1, block_tokens=16),
                  watermark=0.0)
    assert pool.admit("a", 32) == 0
    assert pool.admit("b", 32) == 0
    assert pool.admit("c", 1) is None
    assert pool.grow("a", 33) is False
    pool.release("b")
    assert pool.grow("a", 33) is True and pool.total_used == 3
    with pytest.raises(RunError):
        pool.admit("a", 1)


def test_greedy_channels_balance_and_rr_rotates():
    lay = PimLayout(channels=4, banks=32, row_elems=512, page_bytes=32768,
                    pages_per_channel=1000, layers=1, kv_heads=1, d_head=64)
    greedy = KVPool(lay, policy="greedy")
    chans = [greedy.admit(i, 64 if i % 2 else 600) for i in range(8)]
    assert sorted(set(chans)) == [0, 1, 2, 3]
    assert max(greedy.used) - min(greedy.used) <= lay.units(600)
    rr = KVPool(lay, policy="rr")
    assert [rr.admit(i, 10) for i in range(6)] == [0, 1, 2, 3, 0, 1]


def test_max_tokens_one_request_is_the_largest_that_fits():
    pool = KVPool(gpt3_7b_tp4(pages=5000))
    m = pool.max_tokens_one_request()
    assert pool.layout.units(m) <= 5000 < pool.layout.units(m + 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["admit", "grow", "release"]),
                          st.integers(0, 9), st.integers(1, 700)), max_size=80),
       st.sampled_from(["greedy", "rr"]))
def test_pool_usage_never_exceeds_capacity(ops, policy):
    lay = PimLayout(channels=3, banks=32, row_elems=512, page_bytes=32768,
                    pages_per_channel=60, layers=2, kv_heads=1, d_head=64)
    pool = KVPool(lay, policy=policy, watermark=0.05)
    live: dict[int, int] = {}
    for op, rid, tokens in ops:
        if op == "admit" and rid not in live:
            if pool.admit(rid, tokens) is not None:
                live[rid] = tokens
        elif op == "grow" and rid in live:
            if pool.grow(rid, live[rid] + tokens):
                live[rid] += tokens
        elif op == "release" and rid in live:
            pool.release(rid)
            del live[rid]
        assert all(u <= pool.capacity for u in pool.used)
        expect = [0, 0, 0]
        for r, t in live.items():
            expect[pool.channel_of(r)] += lay.units(t)
        assert expect == pool.used
    assert pool.peak_used <= pool.total_capacity
    assert math.isclose(pool.usage(), pool.total_used / pool.total_capacity)
