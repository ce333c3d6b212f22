"""PIM command-program generation for attention GEMVs (numba, cache=True).

``attention_program`` turns the sequence lengths of the requests mapped to one channel into the
in-order Newton/NeuPIMs command stream the channel kernel executes. Call it once with
``fill=False`` to count the commands, then with arrays of that size. Its ``py_func`` is the
pure-Python twin.

Layout (NeuPIMs): a key page holds 32 tokens, one per bank; a token's key vector for all heads
spans ``ceil(heads * d_k * dtype / row_bytes)`` rows, ``row_bytes / (d_k * dtype)`` heads per
row. A value page holds ``row_bytes / dtype`` tokens (one row); a tile covers as many head
dimensions as there are banks.

Logits, per request: GWRITE x ceil(E_tp / global-buffer elements); per 32-token group and key
row: G_ACT of every bank group (ranks interleaved), one P_HEADER per group, one
COMPS_READRES (k = ceil(d_k / multipliers)) per head in the row, PIM_PRECHARGE of every bank.
Attend, per request, 512-token chunk and head: GWRITE (the chunk's scores), then per tile:
G_ACT x bank groups, COMPS_READRES (k = ceil(tokens / multipliers)), PIM_PRECHARGE x banks.
"""

from __future__ import annotations

from numba import njit

GWRITE, G_ACT, PIM_PRE, P_HEADER, COMPS_READRES = 8, 9, 12, 13, 14


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
                      row_bytes, gb_bytes, mult, rows, fill, cmd, tgt, arg):
    """Emit (or count, when ``fill`` is False) one channel's PIM commands.

    ``phase`` 0 = logits (K^T q), 1 = attend (softmax x V). Returns the command count.
    """
    nbanks = nranks * nbg * nbpg
    gb_elems = gb_bytes // dtype_bytes
    heads_per_row = row_bytes // (d_k * dtype_bytes)
    if heads_per_row < 1:
        heads_per_row = 1
    key_rows = (heads + heads_per_row - 1) // heads_per_row
    page_tokens = row_bytes // dtype_bytes
    tiles = (d_k + nbanks - 1) // nbanks
    k_logit = (d_k + mult - 1) // mult
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
                    h1 = min(heads, h0 + heads_per_row)
                    for _h in range(h0, h1):
                        i = _emit(fill, i, cmd, tgt, arg, COMPS_READRES, -1, k_logit)
                    i = _close_block(fill, i, cmd, tgt, arg, nranks, nbg, nbpg)
        else:
            done = 0
            while done < L:
                tok = min(page_tokens, L - done)
                done += tok
                k = (tok + mult - 1) // mult
                for _h in range(heads):
                    i = _emit(fill, i, cmd, tgt, arg, GWRITE, -1, 0)
                    for _t in range(tiles):
                        i = _open_block(fill, i, cmd, tgt, arg, nranks, nbg, krow % rows)
                        krow += 1
                        i = _emit(fill, i, cmd, tgt, arg, COMPS_READRES, -1, k)
                        i = _close_block(fill, i, cmd, tgt, arg, nranks, nbg, nbpg)
    return i
