"""Steady-state decode batches of continuous batching, sampled from a length table.

Under iteration-level batching a request occupies a batch slot for as many iterations
as it has output tokens, so a snapshot of a full batch sees requests in proportion to
their output length (length-biased sampling), each at a uniformly random point of its
generation. A slot's context is then ``prompt + k`` with ``k`` uniform in
``1..output``. The NeuPIMs paper extrapolates throughput from such snapshots (10 per
configuration); on ShareGPT this sampler gives a mean context of about 290 tokens and a
median of about 219, against 299.9 and 216.5 in the artifact's 512-request GPT3-7B batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def steady_state_batches(prompt_tokens: Sequence[int], output_tokens: Sequence[int],
                         batch: int, n_batches: int, seed: int,
                         max_context: int = 2048) -> list[list[int]]:
    """``n_batches`` lists of ``batch`` context lengths (tokens), seeded.

    Requests whose prompt alone reaches ``max_context`` are dropped; outputs are cut so
    that prompt + output <= ``max_context`` (the model's context window).
    """
    p = np.asarray(prompt_tokens, dtype=np.int64)
    o = np.asarray(output_tokens, dtype=np.int64)
    keep = (p >= 1) & (p < max_context) & (o >= 1)
    p, o = p[keep], o[keep]
    if p.size == 0:
        raise ValueError("no request fits the context window")
    o = np.minimum(o, max_context - p)
    w = o / o.sum()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        idx = rng.choice(p.size, size=batch, p=w)
        k = np.floor(rng.random(batch) * o[idx]).astype(np.int64) + 1
        out.append([int(x) for x in p[idx] + k])
    return out
