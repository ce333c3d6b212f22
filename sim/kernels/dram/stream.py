"""Fast paths for sequential streams in one channel: the per-segment closed form
(:func:`stream_fast_channel`) and its resumable, layout-driven form for the NPU read stream
(:func:`stream_seq_run`, state vector of :func:`seq_state_init`), with pure-Python twins."""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.dram.refresh import first_refresh


@njit(cache=True)
def stream_fast_channel(arrival, rank, bg, bank, row, is_write, nbg, nbpg, nranks, nBL, nCCD_S, nCCD_L,
                        nRTRS, nRCD, nCAS, nRAS, nRP, nTAIL, nRFC, nREFI, refresh_on, queue):
    """Fast path for a sequential stream in one channel (all reads or all writes).

    Closed form per row segment: the first column command of a segment waits for its row
    (nRCD after an ACT issued ahead, or nTAIL + nRP + nRCD when its bank must first close
    another row); the rest follow at the column-to-column gap (nCCD_L within a bank group,
    max(nCCD_S, nBL) across groups, nBL + nRTRS across ranks). A refresh that falls due stops
    the rank's stream: PREA (after nRAS / nTAIL), nRP, REF, nRFC, then ACT + nRCD -- unless
    the next rank's requests are within ``queue`` requests: then the controller serves those
    meanwhile and the blocked bursts are paid for (their bus time) once the refresh is over.
    ``nTAIL`` = nRTP for reads, nCWL + nBL + nWR for writes; ``nCAS`` = nCL or nCWL.
    Returns the cycle of the last data beat.
    """
    n = rank.shape[0]
    if n == 0:
        return 0
    nbanks = nranks * nbg * nbpg
    open_row = np.full(nbanks, -1, dtype=np.int64)
    act_t = np.full(nbanks, -(1 << 40), dtype=np.int64)
    last_col_bank = np.full(nbanks, -(1 << 40), dtype=np.int64)
    last_col_rank = np.full(nranks, -(1 << 40), dtype=np.int64)
    last_act_rank = np.full(nranks, -(1 << 40), dtype=np.int64)
    next_ref = np.zeros(nranks, dtype=np.int64)
    for r in range(nranks):
        next_ref[r] = first_refresh(r, nranks, nREFI)
    t = np.int64(-(1 << 40))
    prev_r = -1
    prev_g = -1
    defer_n = 0
    defer_until = np.int64(0)
    i = 0
    while i < n:
        r = rank[i]
        g = r * nbg + bg[i]
        b = g * nbpg + bank[i]
        if prev_r < 0:
            x = np.int64(0)
        elif r != prev_r:
            x = t + nBL + nRTRS
        elif g == prev_g:
            x = t + (nCCD_L if nCCD_L > nBL else nBL)
        else:
            x = t + (nCCD_S if nCCD_S > nBL else nBL)
        if arrival[i] > x:
            x = arrival[i]
        if refresh_on and next_ref[r] <= x:
            # every deadline passed since the rank was last used: PREA, REF, nRFC each
            resume = np.int64(-(1 << 40))
            while next_ref[r] <= x:
                pre = next_ref[r]
                v = last_col_rank[r] + nTAIL
                if v > pre:
                    pre = v
                v = last_act_rank[r] + nRAS
                if v > pre:
                    pre = v
                if resume > pre:
                    pre = resume
                resume = pre + nRP + nRFC
                next_ref[r] += nREFI
            for bb in range(r * nbg * nbpg, (r + 1) * nbg * nbpg):
                open_row[bb] = -1
            if resume > x:
                j = i
                while j < n and j - i < queue and rank[j] == r:
                    j += 1
                if j < n and j - i < queue and defer_n == 0:
                    # serve the other rank meanwhile; pay the blocked bursts' bus time later
                    defer_n = j - i
                    defer_until = resume + nRCD
                    i = j
                    continue
                x = resume
        if open_row[b] != row[i]:
            a = x - nRCD
            if a < arrival[i]:
                a = arrival[i]
            if open_row[b] >= 0:
                v = last_col_bank[b] + nTAIL + nRP
                if act_t[b] + nRAS + nRP > v:
                    v = act_t[b] + nRAS + nRP
                if v > a:
                    a = v
            if a < 0:
                a = 0
            open_row[b] = row[i]
            act_t[b] = a
            last_act_rank[r] = a
            if a + nRCD > x:
                x = a + nRCD
        if defer_n > 0 and x >= defer_until:
            x += defer_n * nBL
            defer_n = 0
        t = x
        last_col_bank[b] = t
        last_col_rank[r] = t
        prev_r = r
        prev_g = g
        i += 1
    if defer_n > 0:
        if t < defer_until:
            t = defer_until
        t += defer_n * nBL
    return t + nCAS + nBL


# Layout of the state vector of :func:`stream_seq_run` (int64): scalars, then per-bank and
# per-rank arrays.
SEQ_T, SEQ_PREV_R, SEQ_PREV_G, SEQ_DEFER_N, SEQ_DEFER_UNTIL, SEQ_I = 0, 1, 2, 3, 4, 5
SEQ_HEAD = 6


def seq_state_size(nbanks: int, nranks: int) -> int:
    """Length of a :func:`stream_seq_run` state vector."""
    return SEQ_HEAD + 3 * nbanks + 3 * nranks


def seq_state_init(nbanks: int, nranks: int, nREFI: int) -> np.ndarray:
    """The state of a sequential stream before its first request."""
    s = np.full(seq_state_size(nbanks, nranks), -(1 << 40), dtype=np.int64)
    s[SEQ_PREV_R] = -1
    s[SEQ_PREV_G] = -1
    s[SEQ_DEFER_N] = 0
    s[SEQ_DEFER_UNTIL] = 0
    s[SEQ_I] = 0
    s[SEQ_HEAD:SEQ_HEAD + nbanks] = -1                      # open row per bank
    nr0 = SEQ_HEAD + 3 * nbanks + 2 * nranks
    for r in range(nranks):
        s[nr0 + r] = first_refresh(r, nranks, nREFI)        # next refresh deadline
    return s


@njit(cache=True)
def _seq_coords(k, fields, widths, nbg, nbpg, half_rows):
    """(rank, bank group, flat bank, row) of burst ``k`` of a sequential stream: the fields of
    the address mapping (channel removed) from the LSB up, ``fields`` ids 0 ro, 1 ra, 2 bg,
    3 ba, 5 co; the row field takes every bit above it; rows from the upper half."""
    rest = k
    ra = 0
    bgv = 0
    ba = 0
    ro = 0
    for f in range(fields.shape[0]):
        fid = fields[f]
        w = widths[f]
        v = rest if fid == 0 else rest & ((1 << w) - 1)
        if fid == 0:
            ro = v
        elif fid == 1:
            ra = v
        elif fid == 2:
            bgv = v
        elif fid == 3:
            ba = v
        rest = rest >> w
    return ra, bgv, (ra * nbg + bgv) * nbpg + ba, half_rows + ro % half_rows


@njit(cache=True)
def stream_seq_run(state, n, ckpt_every, ckpts, fields, widths, nbg, nbpg, nranks, half_rows,
                   nBL, nCCD_S, nCCD_L, nRTRS, nRCD, nCAS, nRAS, nRP, nTAIL, nRFC, nREFI,
                   refresh_on, queue):
    """:func:`stream_fast_channel` for the sequential read stream of ``n`` bursts that
    ``sim.pim.attention.npu_read_requests`` lays out (all arriving at 0), without building the
    request arrays, resumable: ``state`` (see :func:`seq_state_init`) is advanced in place
    from its request index to ``n``. With ``ckpt_every`` > 0, the state at the top of the
    loop is copied into ``ckpts[k]`` when the request index first reaches k x ckpt_every
    (a checkpoint taken at index i is valid for any stream of at least i + queue bursts: no
    decision before it looked past that). Returns (cycle of the last data beat, checkpoints
    written)."""
    nbanks = nranks * nbg * nbpg
    o_row = SEQ_HEAD
    o_act = o_row + nbanks
    o_colb = o_act + nbanks
    o_colr = o_colb + nbanks
    o_actr = o_colr + nranks
    o_ref = o_actr + nranks
    t = state[SEQ_T]
    prev_r = state[SEQ_PREV_R]
    prev_g = state[SEQ_PREV_G]
    defer_n = state[SEQ_DEFER_N]
    defer_until = state[SEQ_DEFER_UNTIL]
    i = state[SEQ_I]
    nck = 0
    while i < n:
        if ckpt_every > 0 and i >= nck * ckpt_every and nck < ckpts.shape[0]:
            state[SEQ_T] = t
            state[SEQ_PREV_R] = prev_r
            state[SEQ_PREV_G] = prev_g
            state[SEQ_DEFER_N] = defer_n
            state[SEQ_DEFER_UNTIL] = defer_until
            state[SEQ_I] = i
            ckpts[nck, :] = state
            nck += 1
        r, bgv, b, row = _seq_coords(i, fields, widths, nbg, nbpg, half_rows)
        g = r * nbg + bgv
        if prev_r < 0:
            x = np.int64(0)
        elif r != prev_r:
            x = t + nBL + nRTRS
        elif g == prev_g:
            x = t + (nCCD_L if nCCD_L > nBL else nBL)
        else:
            x = t + (nCCD_S if nCCD_S > nBL else nBL)
        if x < 0:
            x = np.int64(0)
        if refresh_on and state[o_ref + r] <= x:
            resume = np.int64(-(1 << 40))
            while state[o_ref + r] <= x:
                pre = state[o_ref + r]
                v = state[o_colr + r] + nTAIL
                if v > pre:
                    pre = v
                v = state[o_actr + r] + nRAS
                if v > pre:
                    pre = v
                if resume > pre:
                    pre = resume
                resume = pre + nRP + nRFC
                state[o_ref + r] += nREFI
            for bb in range(r * nbg * nbpg, (r + 1) * nbg * nbpg):
                state[o_row + bb] = -1
            if resume > x:
                j = i
                while j < n and j - i < queue:
                    rj, _g, _b, _w = _seq_coords(j, fields, widths, nbg, nbpg, half_rows)
                    if rj != r:
                        break
                    j += 1
                if j < n and j - i < queue and defer_n == 0:
                    defer_n = j - i
                    defer_until = resume + nRCD
                    i = j
                    continue
                x = resume
        if state[o_row + b] != row:
            a = x - nRCD
            if a < 0:
                a = np.int64(0)
            if state[o_row + b] >= 0:
                v = state[o_colb + b] + nTAIL + nRP
                if state[o_act + b] + nRAS + nRP > v:
                    v = state[o_act + b] + nRAS + nRP
                if v > a:
                    a = v
            state[o_row + b] = row
            state[o_act + b] = a
            state[o_actr + r] = a
            if a + nRCD > x:
                x = a + nRCD
        if defer_n > 0 and x >= defer_until:
            x += defer_n * nBL
            defer_n = 0
        t = x
        state[o_colb + b] = t
        state[o_colr + r] = t
        prev_r = r
        prev_g = g
        i += 1
    state[SEQ_T] = t
    state[SEQ_PREV_R] = prev_r
    state[SEQ_PREV_G] = prev_g
    state[SEQ_DEFER_N] = defer_n
    state[SEQ_DEFER_UNTIL] = defer_until
    state[SEQ_I] = i
    if n <= 0:
        return np.int64(0), nck
    if defer_n > 0:
        if t < defer_until:
            t = defer_until
        t += defer_n * nBL
    return t + nCAS + nBL, nck


def _make_stream_twin():
    import types

    g = dict(globals())
    g["first_refresh"] = first_refresh.py_func
    return types.FunctionType(stream_fast_channel.py_func.__code__, g, "stream_fast_channel_py")


stream_fast_channel_py = _make_stream_twin()


def _make_seq_twin():
    import types

    g = dict(globals())
    g["_seq_coords"] = _seq_coords.py_func
    g["first_refresh"] = first_refresh.py_func
    return types.FunctionType(stream_seq_run.py_func.__code__, g, "stream_seq_run_py")


stream_seq_run_py = _make_seq_twin()
