"""Test inputs for the serving loop: a small deterministic cost function.

``LinearCost`` is a legitimate test input, not a mock of a real part: the serving loop
only needs *a* cost model, and this one makes time and energy easy to predict. It
follows the same protocol as ``sim.serving.cost.DesignCostModel``.
"""

from __future__ import annotations

from sim.serving.cost import IterationCost
from sim.serving.kv import KVPool, PagedLayout, PimLayout
from sim.serving.request import ServeRequest, Workload


class LinearCost:
    """seconds = base + per_req * n + per_ctx * sum(context) + per_prefill * prefill tokens.

    Energy: ``npu`` J per computed token, ``dram`` J per context token read.
    """

    source = "linear/test"

    def __init__(self, base=1e-3, per_req=1e-5, per_ctx=1e-8, per_prefill=2e-5):
        self.base, self.per_req = base, per_req
        self.per_ctx, self.per_prefill = per_ctx, per_prefill
        self.calls = []

    def iteration(self, decode_seq_lens, decode_channels, prefill_tokens, prefill_context):
        self.calls.append((list(decode_seq_lens), None if decode_channels is None
                           else list(decode_channels), list(prefill_tokens)))
        n = len(decode_seq_lens) + len(prefill_tokens)
        ctx = sum(decode_seq_lens)
        pt = sum(prefill_tokens)
        s = self.base + self.per_req * n + self.per_ctx * ctx + self.per_prefill * pt
        return IterationCost(s, {"npu": 1e-3 * (len(decode_seq_lens) + pt), "dram": 1e-6 * ctx},
                             {"npu": 0.5, "hbm_bw": 0.25}, "fast")


def trace(n, seed=0, rate=50.0, max_prompt=300, max_out=200):
    """A seeded little chat trace: Poisson arrivals, uniform lengths."""
    import random
    rng = random.Random(seed)
    t = 0.0
    reqs = []
    for i in range(n):
        t += rng.expovariate(rate)
        reqs.append(ServeRequest(id=str(i), arrival_s=t,
                                 prompt_tokens=rng.randint(1, max_prompt),
                                 output_tokens=rng.randint(1, max_out)))
    return Workload("test", tuple(reqs))


def paged_pool(tokens_capacity, block=16, watermark=0.01):
    return KVPool(PagedLayout(capacity_bytes=tokens_capacity * 100, bytes_per_token=100,
                              block_tokens=block), watermark=watermark)


def pim_pool(channels=4, pages=400, layers=2, heads=2, d_head=64, policy="greedy"):
    return KVPool(PimLayout(channels=channels, banks=32, row_elems=512, page_bytes=32768,
                            pages_per_channel=pages, layers=layers, kv_heads=heads,
                            d_head=d_head), policy=policy)
