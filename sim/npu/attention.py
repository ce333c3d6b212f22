"""Decode attention on the NPU itself (designs without PIM).

Per request and KV head, the logits are ``[g x d_k] @ [d_k x L]`` and the attend
``[g x L] @ [L x d_k]`` (``g`` query heads share the KV head): the KV cache plays the role
of the weights, so every tile of ``d_k x 128`` keys or ``128 x d_k`` values is loaded from
HBM and preloaded into an array for only ``g`` rows. This is the memory-bound, array-idle
case that PIM exists for. Softmax runs on the vector units between the two phases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.mapping.blocks import AttentionDims
from sim.npu.config import NpuHw
from sim.npu.gemm import load_window, run_schedule, tile_compute_cycles
from sim.npu.vector import vector_timing


@dataclass(frozen=True)
class NpuAttention:
    """cycles = logits + softmax + attend (a barrier between phases); counters as in
    :class:`sim.npu.block.OpTiming`."""

    cycles: int
    logits_cycles: int
    softmax_cycles: int
    attend_cycles: int
    macs: int
    element_ops: int
    hbm_read_bytes: int
    sram_bytes: int


def _phase(hw: NpuHw, dims: AttentionDims, lens: np.ndarray, logits: bool) -> tuple[int, int]:
    sa = hw.systolic
    db = hw.dtype_bytes
    tile_len = sa.width if logits else sa.height
    full = lens // tile_len
    rem = lens % tile_len
    # per request: `full` tiles of tile_len tokens and maybe one of `rem` tokens, per KV head
    n_full = int(full.sum()) * dims.kv_heads
    rems = np.repeat(rem[rem > 0], dims.kv_heads)
    toks = np.concatenate([np.full(n_full, tile_len, dtype=np.int64), rems.astype(np.int64)])
    load = (toks * dims.d_head * db).astype(np.float64)
    if logits:   # K^T tile: d_k weight rows, `toks` columns
        comp = np.full(toks.shape[0], tile_compute_cycles(hw, dims.d_head, dims.group))
    else:        # V tile: `toks` weight rows, d_k columns
        comp = np.full(toks.shape[0], tile_compute_cycles(hw, tile_len, dims.group))
        for r in np.unique(rems):
            comp[toks == r] = tile_compute_cycles(hw, int(r), dims.group)
    write = np.zeros_like(load)
    window = load_window(hw, sa.height * sa.width * db)
    end, _busy, _hbm = run_schedule(hw, load, write, comp, window)
    return int(math.ceil(end)) + sa.fill_drain_cycles, int(load.sum())


@lru_cache(maxsize=1024)
def npu_attention(hw: NpuHw, dims: AttentionDims, seq_lens: tuple[int, ...]) -> NpuAttention:
    """Decode attention of a batch with context lengths ``seq_lens`` on NPU ``hw``."""
    lens = np.asarray(seq_lens, dtype=np.int64)
    if lens.size == 0:
        return NpuAttention(0, 0, 0, 0, 0, 0, 0, 0)
    lc, lb = _phase(hw, dims, lens, True)
    ac, ab = _phase(hw, dims, lens, False)
    total = int(lens.sum())
    sm = vector_timing(hw, "softmax", dims.heads * total)
    macs = 2 * dims.heads * dims.d_head * total
    return NpuAttention(cycles=lc + sm.cycles + ac, logits_cycles=lc, softmax_cycles=sm.cycles,
                        attend_cycles=ac, macs=macs, element_ops=sm.element_ops,
                        hbm_read_bytes=lb + ab, sram_bytes=2 * (lb + ab))


# ---- the NeuPIMs artifact's `npu-only` branch ------------------------------------------
#: Vector-unit latencies of the artifact's NPU (cycles per add / exp / mul / add-tree level).
ARTIFACT_VECTOR_LATENCY = {"add": 1, "exp": 1, "mul": 1, "add_tree": 1}


def _add_tree_iterations(n: np.ndarray, width: int) -> np.ndarray:
    """Passes of a ``width``-lane add tree reducing ``n`` elements (all levels)."""
    out = np.zeros_like(n)
    cur = n.copy()
    more = cur > width
    out[~more] = 1
    while more.any():
        nxt = -(-cur[more] // width)
        out[more] += nxt
        cur[more] = nxt
        done = np.zeros_like(more)
        done[more] = cur[more] <= width
        out[done] += 1
        more = more & ~done
    return out


def artifact_attention_cycles(hw: NpuHw, dims: AttentionDims, lens: np.ndarray,
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-request (logits, softmax, attend) cycles of the artifact's NPU-only attention.

    What the branch does (read from the public artifact, casys-kaist/NeuPIMs ``npu-only``):
    one tile per request, and per query head a strict chain ``logits GEMV -> softmax ->
    attend GEMVs`` on one systolic array, nothing batched across requests or heads:

    - logits: one preloaded GEMV instruction. The pipeline is empty (the softmax before it
      drained it), so it starts after a preload of ``2 * height - 1`` cycles (255) and
      finishes ``height + width - 2 + max(size, 4)`` later, ``size = L // 8``;
    - softmax on the vector unit: ``2 x add-tree passes + ceil(L / width) x (add + exp +
      mul)`` cycles (1-cycle latencies);
    - attend: ``ceil((L + 127) / 128)`` preloaded GEMV instructions (the branch's loop
      bound), the first after the empty-pipeline preload, each next one ``height`` cycles
      after the previous start, the last finishing ``height + width - 2 + max(d_k / 8, 4)``
      after its start.

    ``lens`` are context lengths (tokens); arrays are per request, all heads summed.
    """
    sa = hw.systolic
    h, w = sa.height, sa.width
    empty_preload = 2 * h - 1
    fill = h + w - 2
    lens = np.asarray(lens, dtype=np.int64)
    logits = empty_preload + fill + np.maximum(lens // 8, 4)
    lat = ARTIFACT_VECTOR_LATENCY
    vw = hw.vector.width
    softmax = (2 * _add_tree_iterations(lens, vw) * lat["add_tree"]
               + (-(-lens // vw)) * (lat["add"] + lat["exp"] + lat["mul"]))
    n_attend = -(-(lens + 127) // 128)
    attend = empty_preload + h * (n_attend - 1) + fill + max(dims.d_head // 8, 4)
    heads = dims.heads
    return heads * logits, heads * softmax, heads * attend


@lru_cache(maxsize=1024)
def artifact_npu_attention(hw: NpuHw, dims: AttentionDims,
                           seq_lens: tuple[int, ...]) -> NpuAttention:
    """Decode attention as the artifact's ``npu-only`` branch runs it (see
    :func:`artifact_attention_cycles`): requests and heads strictly serialised; the K and V
    loads (``MOVIN``) overlap the chain and do not lengthen it."""
    lens = np.asarray(seq_lens, dtype=np.int64)
    if lens.size == 0:
        return NpuAttention(0, 0, 0, 0, 0, 0, 0, 0)
    lg, sm, at = artifact_attention_cycles(hw, dims, lens)
    lc, sc, ac = int(lg.sum()), int(sm.sum()), int(at.sum())
    total = int(lens.sum())
    kv_bytes = 2 * dims.heads * dims.d_head * total * hw.dtype_bytes
    sm_t = vector_timing(hw, "softmax", dims.heads * total)
    return NpuAttention(cycles=lc + sc + ac, logits_cycles=lc, softmax_cycles=sc,
                        attend_cycles=ac, macs=2 * dims.heads * dims.d_head * total,
                        element_ops=sm_t.element_ops, hbm_read_bytes=kv_bytes,
                        sram_bytes=2 * kv_bytes)
