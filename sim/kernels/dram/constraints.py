"""Bank state and timing constraints of the channel kernel: the earliest cycle a command may
issue at a target (:func:`_ready`), what an issued bank-group, rank or channel-wide command
imposes on the banks, bank groups and ranks under it (:func:`_apply`), and the constraint
tables trimmed (:func:`_prune_constraints`) and grouped by level (:func:`_group_by_level`)
once per call. The kernel applies a bank command's constraints inline (its hot path).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.dram.codes import GWRITE, NCMD


@njit(cache=True, inline="always", error_model="numpy")
def _ready(c, tkind, idx, nbg, nbpg, nranks, e_bank, e_bg, e_rank, e_chan, e_sib):
    """Earliest cycle command ``c`` may issue at target (kind, index) from the tables."""
    if tkind == 3:
        return e_chan[c]
    t = e_chan[c]
    if tkind == 0:
        b0, b1 = idx, idx + 1
        g0, g1 = idx // nbpg, idx // nbpg + 1
        r = g0 // nbg
    elif tkind == 1:
        b0, b1 = idx * nbpg, (idx + 1) * nbpg
        g0, g1 = idx, idx + 1
        r = idx // nbg
    else:
        b0, b1 = idx * nbg * nbpg, (idx + 1) * nbg * nbpg
        g0, g1 = idx * nbg, (idx + 1) * nbg
        r = idx
    for b in range(b0, b1):
        if e_bank[b, c] > t:
            t = e_bank[b, c]
    for g in range(g0, g1):
        if e_bg[g, c] > t:
            t = e_bg[g, c]
    if e_rank[r, c] > t:
        t = e_rank[r, c]
    for r2 in range(nranks):
        if r2 != r and e_sib[r2, c] > t:
            t = e_sib[r2, c]
    return t


@njit(cache=True, inline="always", error_model="numpy")
def _apply(c, tkind, idx, t, nbg, nbpg, nranks, con_ptr, con_level, con_next, con_lat,
           e_bank, e_bg, e_rank, e_chan, e_sib):
    """Record the constraints that command ``c`` issued at cycle ``t`` imposes on every bank,
    bank group, rank and sibling rank under its target: a bank group (``tkind`` 1), a rank (2)
    or the channel (3). The kernel applies a bank-addressed command's constraints itself (the
    hot path: one target per level)."""
    nb_rank = nbg * nbpg
    if tkind == 1:
        b0, b1 = idx * nbpg, (idx + 1) * nbpg
        g0, g1 = idx, idx + 1
        r0 = idx // nbg
        r1 = r0 + 1
    elif tkind == 2:
        b0, b1 = idx * nb_rank, (idx + 1) * nb_rank
        g0, g1 = idx * nbg, (idx + 1) * nbg
        r0, r1 = idx, idx + 1
    else:
        b0, b1 = 0, nranks * nb_rank
        g0, g1 = 0, nranks * nbg
        r0, r1 = 0, nranks
    for k in range(con_ptr[c], con_ptr[c + 1]):
        lvl = con_level[k]
        nx = con_next[k]
        v = t + con_lat[k]
        if lvl == 3:
            if v > e_chan[nx]:
                e_chan[nx] = v
        elif lvl == 0:
            for b in range(b0, b1):
                if v > e_bank[b, nx]:
                    e_bank[b, nx] = v
        elif lvl == 1:
            for g in range(g0, g1):
                if v > e_bg[g, nx]:
                    e_bg[g, nx] = v
        elif lvl == 2:
            for r in range(r0, r1):
                if v > e_rank[r, nx]:
                    e_rank[r, nx] = v
        elif tkind != 3:
            if v > e_sib[r0, nx]:
                e_sib[r0, nx] = v


@njit(cache=True, error_model="numpy")
def _prune_constraints(con_ptr, con_level, con_next, con_lat, nranks, pim):
    """The constraint tables without entries no decision of this channel can read (exact):
    constraints on PIM commands when there is no PIM program (``pim`` False), sibling-rank
    constraints with one rank, and a bank or bank-group constraint that a coarser level of
    the same command (bank group, rank or channel: every readiness check that reads the finer
    one also reads it) matches or exceeds on the same next command. Returns (ptr, level,
    next, lat)."""
    nk = con_level.shape[0]
    keep = np.ones(nk, dtype=np.bool_)
    ptr = np.zeros(NCMD + 1, dtype=np.int64)
    for c in range(NCMD):
        for k in range(con_ptr[c], con_ptr[c + 1]):
            lvl = con_level[k]
            nx = con_next[k]
            if (not pim and nx >= GWRITE) or (lvl == 4 and nranks == 1):
                keep[k] = False
            elif lvl <= 1:
                for k2 in range(con_ptr[c], con_ptr[c + 1]):
                    if (con_next[k2] == nx and lvl < con_level[k2] <= 3
                            and con_lat[k2] >= con_lat[k]):
                        keep[k] = False
                        break
            if keep[k]:
                ptr[c + 1] += 1
    for c in range(NCMD):
        ptr[c + 1] += ptr[c]
    nkeep = ptr[NCMD]
    level = np.empty(nkeep, dtype=np.int64)
    nxt = np.empty(nkeep, dtype=np.int64)
    lat = np.empty(nkeep, dtype=np.int64)
    j = 0
    for k in range(nk):
        if keep[k]:
            level[j] = con_level[k]
            nxt[j] = con_next[k]
            lat[j] = con_lat[k]
            j += 1
    return ptr, level, nxt, lat


@njit(cache=True, error_model="numpy")
def _group_by_level(con_ptr, con_level, con_next, con_lat):
    """The constraint tables grouped by level within each command: entries of command ``c``
    at level ``lv`` (0 bank, 1 bank group, 2 rank, 3 channel, 4 sibling rank) are
    ``lptr[c, lv]:lptr[c, lv + 1]`` of (``next``, ``lat``). Returns (lptr, next, lat)."""
    nk = con_ptr[NCMD]
    lptr = np.zeros((NCMD, 6), dtype=np.int64)
    nxt = np.empty(nk, dtype=np.int64)
    lat = np.empty(nk, dtype=np.int64)
    j = 0
    for c in range(NCMD):
        for lv in range(5):
            lptr[c, lv] = j
            for k in range(con_ptr[c], con_ptr[c + 1]):
                if con_level[k] == lv:
                    nxt[j] = con_next[k]
                    lat[j] = con_lat[k]
                    j += 1
        lptr[c, 5] = j
    return lptr, nxt, lat
