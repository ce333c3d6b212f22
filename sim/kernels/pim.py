"""PIM command-program generation for attention GEMVs (numba, cache=True).

``attention_program`` turns the sequence lengths of the requests mapped to one channel into the
in-order Newton/NeuPIMs command stream the channel kernel executes. Call it once with
``fill=False`` to count the commands, then with arrays of that size. Its ``py_func`` is the
pure-Python twin.

Layout (NeuPIMs): a key page holds 32 tokens, one per bank; a token's key vector for all heads
spans ``ceil(heads * d_k * dtype / row_bytes)`` rows, ``row_bytes / (d_k * dtype)`` heads per
row. A value page holds ``row_bytes / dtype`` tokens (one row); a tile covers as many head
dimensions as there are banks.

Grouped-query attention (``group`` query heads per KV head): the layout is that of the KV
heads, each KV row is opened once and serves the group's query vectors (one COMPS_READRES
per query head), so row activations and KV bytes scale with KV heads, MACs with query heads;
the global buffer holds the group's inputs (as it holds the whole E_tp query in logits).

Logits, per request: GWRITE x ceil(E_tp / global-buffer elements); per 32-token group and key
row: G_ACT of every bank group (ranks interleaved), one P_HEADER per group, one
COMPS_READRES (k = ceil(d_k / multipliers)) per head in the row, PIM_PRECHARGE of every bank.
Attend, per request, 512-token chunk and head: GWRITE (the chunk's scores), then per tile:
G_ACT x bank groups, COMPS_READRES (k = ceil(tokens / multipliers)), PIM_PRECHARGE x banks.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.cache import tie_caches
from sim.kernels.dram.refresh import first_refresh

GWRITE, G_ACT, PIM_PRE, P_HEADER, COMPS_READRES = 8, 9, 12, 13, 14


@njit(cache=True)
def _layout(heads, d_k, dtype_bytes, nbanks, row_bytes, gb_bytes, mult):
    """KV layout of one channel: global-buffer elements, heads per key row, key rows per
    token group, tokens per value page, head-dimension tiles, COMPs per logit."""
    gb_elems = gb_bytes // dtype_bytes
    heads_per_row = row_bytes // (d_k * dtype_bytes)
    if heads_per_row < 1:
        heads_per_row = 1
    key_rows = (heads + heads_per_row - 1) // heads_per_row
    page_tokens = row_bytes // dtype_bytes
    tiles = (d_k + nbanks - 1) // nbanks
    k_logit = (d_k + mult - 1) // mult
    return gb_elems, heads_per_row, key_rows, page_tokens, tiles, k_logit


@njit(cache=True)
def _emit(fill, i, cmd, tgt, arg, c, tg, a):
    if fill:
        cmd[i] = c
        tgt[i] = tg
        arg[i] = a
    return i + 1


@njit(cache=True)
def _open_block(fill, i, cmd, tgt, arg, nranks, nbg, row):
    for g in range(nbg):
        for r in range(nranks):
            i = _emit(fill, i, cmd, tgt, arg, G_ACT, r * nbg + g, row)
    return i


@njit(cache=True)
def _close_block(fill, i, cmd, tgt, arg, nranks, nbg, nbpg):
    for g in range(nbg):
        for r in range(nranks):
            gg = r * nbg + g
            for k in range(nbpg):
                i = _emit(fill, i, cmd, tgt, arg, PIM_PRE, gg * nbpg + k, 0)
    return i


@njit(cache=True)
def attention_program(seq_lens, phase, heads, d_k, e_tp, dtype_bytes, nranks, nbg, nbpg,
                      row_bytes, gb_bytes, mult, rows, fill, cmd, tgt, arg, group=1):
    """Emit (or count, when ``fill`` is False) one channel's PIM commands.

    ``phase`` 0 = logits (K^T q), 1 = attend (softmax x V). ``heads`` are query heads;
    ``group`` query heads share one KV head (grouped-query attention; 1 = MHA): the KV
    rows of a KV head are opened once and serve the group's query vectors, one
    COMPS_READRES each. Returns the command count.
    """
    nbanks = nranks * nbg * nbpg
    kv_heads = heads // group if group > 1 else heads
    gb_elems, heads_per_row, key_rows, page_tokens, tiles, k_logit = _layout(
        kv_heads, d_k, dtype_bytes, nbanks, row_bytes, gb_bytes, mult)
    i = 0
    krow = 0
    for L in seq_lens:
        if L <= 0:
            continue
        if phase == 0:
            for _ in range((e_tp + gb_elems - 1) // gb_elems):
                i = _emit(fill, i, cmd, tgt, arg, GWRITE, -1, 0)
            groups = (L + nbanks - 1) // nbanks
            for _g in range(groups):
                for kr in range(key_rows):
                    i = _open_block(fill, i, cmd, tgt, arg, nranks, nbg, krow % rows)
                    krow += 1
                    if kr == 0:
                        i = _emit(fill, i, cmd, tgt, arg, P_HEADER, -1, 0)
                    h0 = kr * heads_per_row
                    h1 = min(kv_heads, h0 + heads_per_row)
                    for _h in range((h1 - h0) * group):
                        i = _emit(fill, i, cmd, tgt, arg, COMPS_READRES, -1, k_logit)
                    i = _close_block(fill, i, cmd, tgt, arg, nranks, nbg, nbpg)
        else:
            done = 0
            while done < L:
                tok = min(page_tokens, L - done)
                done += tok
                k = (tok + mult - 1) // mult
                for _h in range(kv_heads):
                    # the group's score chunks into the global buffer, one GWRITE each
                    for _q in range(group):
                        i = _emit(fill, i, cmd, tgt, arg, GWRITE, -1, 0)
                    for _t in range(tiles):
                        i = _open_block(fill, i, cmd, tgt, arg, nranks, nbg, krow % rows)
                        krow += 1
                        for _q in range(group):
                            i = _emit(fill, i, cmd, tgt, arg, COMPS_READRES, -1, k)
                        i = _close_block(fill, i, cmd, tgt, arg, nranks, nbg, nbpg)
    return i


@njit(cache=True)
def _fast_block(t_free, hist, last_pre_bg, last_gact_rank, last_gact_bg, next_ref, last_pre_rank,
                refresh_on, nranks, nbg, nbpg, ks, nk, header, nRCDRD, nRAS, nRP, nRRD_S,
                nRRD_L, nFAW, win_count, g_weight, nCOMP, comps_min, nRFC, nREFI, gact_t, acc,
                read_gap):
    """Closed-form timing of one row-open block (G_ACT x groups, COMPS_READRES x nk,
    PIM_PRECHARGE x banks); returns the cycle after the last PIM_PRECHARGE."""
    x = t_free
    j = 0
    for g in range(nbg):
        for r in range(nranks):
            gg = r * nbg + g
            if j > 0 and x < gact_t[j - 1] + 1:
                x = gact_t[j - 1] + 1
            v = last_pre_bg[gg] + nRP
            if v > x:
                x = v
            v = last_gact_rank[r] + nRRD_S
            if v > x:
                x = v
            v = last_gact_bg[gg] + nRRD_L
            if v > x:
                x = v
            v = hist[r, win_count - g_weight] + nFAW
            if v > x:
                x = v
            if refresh_on and g == 0 and next_ref[r] <= x:
                # refresh due: REF once the rank is precharged, then nRFC before G_ACT
                ref_t = next_ref[r]
                v = last_pre_rank[r] + nRP
                if v > ref_t:
                    ref_t = v
                if ref_t + nRFC > x:
                    x = ref_t + nRFC
                next_ref[r] += nREFI
            gact_t[j] = x
            for i in range(win_count - 1, g_weight - 1, -1):
                hist[r, i] = hist[r, i - g_weight]
            for i in range(g_weight):
                hist[r, i] = x
            last_gact_rank[r] = x
            last_gact_bg[gg] = x
            j += 1
    last = gact_t[j - 1]
    c = last + nRCDRD
    if header and c < last + 2:
        c = last + 2
    acc[0] += c - gact_t[0]
    c0 = c
    prev_d = 0
    for i in range(nk):
        k = ks[i]
        d = nCOMP * ((k if k > comps_min else comps_min) + 1)
        c += d
        acc[2] += d
        if i > 0 and read_gap > d:
            # a read's burst must end before this MAC's READRES burst: the last
            # read_gap - d cycles of the previous MAC carry no reads
            acc[2] -= min(prev_d, read_gap - d)
        prev_d = d
    acc[1] += c - c0
    p = c - 1
    j = 0
    for g in range(nbg):
        for r in range(nranks):
            gg = r * nbg + g
            for _ in range(nbpg):
                p = p + 1
                v = gact_t[j] + nRAS
                if v > p:
                    p = v
            last_pre_bg[gg] = p
            last_pre_rank[r] = p
            j += 1
    return p + 1


@njit(cache=True)
def attention_fast_channel(seq_lens, phase, heads, d_k, e_tp, dtype_bytes, nranks, nbg, nbpg,
                           row_bytes, gb_bytes, mult, nRCDRD, nRAS, nRP, nRRD_S, nRRD_L, nFAW,
                           win_count, g_weight, nCOMP, comps_min, nGWRITE, nRFC, nREFI,
                           refresh_on, counts, acc, read_gap, group=1):
    """Fast path: stage cycles of one channel from per-block closed forms (no per-command
    event loop). ``counts`` (int64[15]) receives the command counts; ``acc`` (int64[3]) the
    cycles spent opening rows (first G_ACT to first MAC), in all-bank MACs, and in MACs during
    which a normal read may issue (its burst, ``read_gap`` = nCL + 2 nBL cycles after issue,
    must end before the next MAC's READRES burst). ``group`` query heads per KV head, as
    in :func:`attention_program`. Returns cycles."""
    nbanks = nranks * nbg * nbpg
    ngroups = nranks * nbg
    kv_heads = heads // group if group > 1 else heads
    gb_elems, heads_per_row, key_rows, page_tokens, tiles, k_logit = _layout(
        kv_heads, d_k, dtype_bytes, nbanks, row_bytes, gb_bytes, mult)
    wc = win_count if win_count > 0 else 1
    hist = np.full((nranks, wc), -(1 << 40), dtype=np.int64)
    last_pre_bg = np.full(ngroups, -(1 << 40), dtype=np.int64)
    last_gact_bg = np.full(ngroups, -(1 << 40), dtype=np.int64)
    last_gact_rank = np.full(nranks, -(1 << 40), dtype=np.int64)
    last_pre_rank = np.full(nranks, -(1 << 40), dtype=np.int64)
    next_ref = np.zeros(nranks, dtype=np.int64)
    for r in range(nranks):
        next_ref[r] = first_refresh(r, nranks, nREFI)
    gact_t = np.zeros(ngroups, dtype=np.int64)
    ks = np.zeros(max(heads_per_row, 1) * max(group, 1), dtype=np.int64)
    t = np.int64(0)
    end = np.int64(0)
    nblocks = 0
    for L in seq_lens:
        if L <= 0:
            continue
        if phase == 0:
            ngw = (e_tp + gb_elems - 1) // gb_elems
            for _ in range(ngw):
                t = t + nGWRITE
                counts[GWRITE] += 1
            groups = (L + nbanks - 1) // nbanks
            for _g in range(groups):
                for kr in range(key_rows):
                    h0 = kr * heads_per_row
                    h1 = min(kv_heads, h0 + heads_per_row)
                    nk = (h1 - h0) * group
                    for i in range(nk):
                        ks[i] = k_logit
                    t = _fast_block(t, hist, last_pre_bg, last_gact_rank, last_gact_bg,
                                    next_ref, last_pre_rank, refresh_on, nranks, nbg, nbpg, ks,
                                    nk, kr == 0, nRCDRD, nRAS, nRP, nRRD_S, nRRD_L, nFAW,
                                    win_count, g_weight, nCOMP, comps_min, nRFC, nREFI, gact_t,
                                    acc, read_gap)
                    nblocks += 1
                    counts[COMPS_READRES] += nk
                    counts[10] += nk * k_logit
                    counts[11] += nk
                    if kr == 0:
                        counts[P_HEADER] += 1
        else:
            done = 0
            while done < L:
                tok = min(page_tokens, L - done)
                done += tok
                k = (tok + mult - 1) // mult
                for q in range(group):
                    ks[q] = k
                for _h in range(kv_heads):
                    t = t + nGWRITE * group
                    counts[GWRITE] += group
                    for _t in range(tiles):
                        t = _fast_block(t, hist, last_pre_bg, last_gact_rank, last_gact_bg,
                                        next_ref, last_pre_rank, refresh_on, nranks, nbg, nbpg,
                                        ks, group, False, nRCDRD, nRAS, nRP, nRRD_S, nRRD_L,
                                        nFAW, win_count, g_weight, nCOMP, comps_min, nRFC,
                                        nREFI, gact_t, acc, read_gap)
                        nblocks += 1
                        counts[COMPS_READRES] += group
                        counts[10] += k * group
                        counts[11] += group
        end = t
    counts[G_ACT] += nblocks * ngroups
    counts[PIM_PRE] += nblocks * nbanks
    # refreshes issued up to the end
    if refresh_on:
        for r in range(nranks):
            first = first_refresh(r, nranks, nREFI)
            if end > first:
                counts[6] += (end - first) // nREFI + 1
    return end


def _make_twins():
    import types

    g = dict(globals())
    for name in ("_layout", "_emit", "_open_block", "_close_block", "_fast_block",
                 "first_refresh"):
        g[name] = globals()[name].py_func
    return (types.FunctionType(attention_program.py_func.__code__, g, "attention_program_py",
                               attention_program.py_func.__defaults__),
            types.FunctionType(attention_fast_channel.py_func.__code__, g,
                               "attention_fast_channel_py",
                               attention_fast_channel.py_func.__defaults__))


# pure-Python twins (no compiled code on their path)
attention_program_py, attention_fast_channel_py = _make_twins()

tie_caches(globals())  # recompile when any kernel source changes (sim/kernels/cache.py)
