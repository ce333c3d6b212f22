"""Event-driven per-channel DRAM + PIM controller kernel (numba, cache=True): scheduling.

One call simulates one channel: FR-FCFS over a read queue and a write queue with write-drain
watermarks, open or closed page, per-rank all-bank refresh, and an in-order PIM command
program (Newton-style all-bank commands) sharing the channel in single or dual row-buffer
mode. Time jumps from event to event (the next cycle at which any command can issue, an
arrival or a refresh deadline), which is exactly equivalent to a cycle-by-cycle FR-FCFS
controller that issues at most one command per cycle.

Timing constraints come in as compiled tables (see ``sim.dram.standard.Tables``): for each
issued command, ``con_ptr/con_level/con_next/con_lat`` give the earliest cycle at which each
following command may issue at the bank, bank group, rank, channel or sibling-rank level
(:mod:`sim.kernels.dram.constraints`). :func:`simulate_channels` decodes and partitions a
request stream by channel and runs every channel in one compiled call.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.kernels.dram.codes import (
    ACT,
    COMP,
    COMPS_READRES,
    G_ACT,
    GWRITE,
    INF,
    NCMD,
    P_HEADER,
    PIM_PRE,
    PRE,
    PREA,
    RD,
    RDA,
    READRES,
    REF,
    WR,
    WRA,
)
from sim.kernels.dram.constraints import _apply, _group_by_level, _prune_constraints, _ready
from sim.kernels.dram.refresh import first_refresh
from sim.kernels.dram.stats import (
    ST_ACTIVE0,
    ST_ERROR,
    ST_FINAL,
    ST_HITS,
    ST_ISSUED,
    ST_NLOG,
    ST_NORMAL_END,
    ST_PIM_END,
    _set_open,
)


@njit(cache=True, error_model="numpy")
def channel_kernel(arr, kind, bank, row, col, p_cmd, p_tgt, p_arg,
                   nranks, nbg, nbpg, con_ptr, con_level, con_next, con_lat,
                   win_weight, win_count, win_cycles,
                   nCL, nCWL, nBL, nREFI, refresh_on, nCOMP, comps_min, nGWRITE,
                   dual, closed_page, rq_size, wq_size, wm_high, wm_low,
                   done, p_time, counts, stats, log):
    """Simulate one channel. Requests must be sorted by arrival cycle.

    Inputs: ``arr`` arrival cycle, ``kind`` 0 read / 1 write, ``bank`` flat bank index
    ((rank * nbg + bg) * nbpg + bank), ``row``, ``col``; PIM program ``p_cmd`` (codes),
    ``p_tgt`` (bank for PIM_PRE, global bank group for G_ACT, else -1), ``p_arg`` (row for
    G_ACT, k COMPs for COMPS_READRES). Outputs: ``done`` completion cycle of each request
    (data transferred), ``p_time`` issue cycle of each PIM command, ``counts`` per command,
    ``stats`` (see ST_*; per-rank active-standby cycles from ST_ACTIVE0), ``log`` rows
    (cycle, cmd, rank, bank group, bank, row, arg) up to its capacity.
    """
    nb_rank = nbg * nbpg
    nbanks = nranks * nb_rank
    ngroups = nranks * nbg
    # global bank group and rank of each bank (lookups: the hot path divides nothing)
    bank_g = np.arange(nbanks, dtype=np.int64) // nbpg
    bank_r = bank_g // nbg
    e_bank = np.zeros((nbanks, NCMD), dtype=np.int64)
    e_bg = np.zeros((ngroups, NCMD), dtype=np.int64)
    e_rank = np.zeros((nranks, NCMD), dtype=np.int64)
    e_chan = np.zeros(NCMD, dtype=np.int64)
    e_sib = np.zeros((nranks, NCMD), dtype=np.int64)
    wc = win_count if win_count > 0 else 1
    hist = np.full((nranks, wc), -INF // 2, dtype=np.int64)
    open_row = np.full(nbanks, -1, dtype=np.int64)
    pim_row = np.full(nbanks, -1, dtype=np.int64)
    hits_r = np.zeros(nbanks, dtype=np.int64)
    hits_w = np.zeros(nbanks, dtype=np.int64)
    rank_open = np.zeros(nranks, dtype=np.int64)
    rank_pim = np.zeros(nranks, dtype=np.int64)
    open_since = np.zeros(nranks, dtype=np.int64)
    active = np.zeros(nranks, dtype=np.int64)
    next_ref = np.zeros(nranks, dtype=np.int64)
    for r in range(nranks):
        next_ref[r] = first_refresh(r, nranks, nREFI)
    ref_pending = np.zeros(nranks, dtype=np.int64)
    # refresh summary: the earliest deadline of a rank without a pending refresh (INF when
    # none) and how many ranks have one pending, so the per-rank loops run only when needed
    ref_due = INF
    for r in range(nranks):
        if next_ref[r] < ref_due:
            ref_due = next_ref[r]
    ref_npend = 0
    # queues: per-bank FIFO linked lists through ``link`` (request index -> next request)
    link = np.full(arr.shape[0], -1, dtype=np.int64)
    head_r = np.full(nbanks, -1, dtype=np.int64)
    tail_r = np.full(nbanks, -1, dtype=np.int64)
    head_w = np.full(nbanks, -1, dtype=np.int64)
    tail_w = np.full(nbanks, -1, dtype=np.int64)
    cnt_r = np.zeros(nbanks, dtype=np.int64)
    cnt_w = np.zeros(nbanks, dtype=np.int64)
    # banks with queued requests, per queue (unordered lists with positions)
    act_r = np.zeros(nbanks, dtype=np.int64)
    act_w = np.zeros(nbanks, dtype=np.int64)
    pos_r = np.full(nbanks, -1, dtype=np.int64)
    pos_w = np.full(nbanks, -1, dtype=np.int64)
    nact_r = 0
    nact_w = 0
    # per-bank FR-FCFS candidate cache: command (-1 stale, -2 none), request, priority
    cc_cmd = np.full(nbanks, -1, dtype=np.int64)
    cc_q = np.zeros(nbanks, dtype=np.int64)
    cc_prio = np.zeros(nbanks, dtype=np.int64)
    prev_mode = False
    prev_block = False
    # guard[c, p]: cycles a normal command c pushes a pending PIM command p back (rank/channel
    # level); a normal command that would delay the PIM program's head does not issue
    # data bus: end of the last normal burst, and the READRES slot of the last COMPS_READRES
    bus_end = np.int64(0)
    rr_lo = np.int64(-1)
    rr_hi = np.int64(-1)
    faw_on = win_count > 0 and win_weight[ACT] > 0
    faw_idx = win_count - win_weight[ACT] if faw_on else 0
    guard = np.zeros((NCMD, NCMD), dtype=np.int64)
    for c in range(NCMD):
        for k in range(con_ptr[c], con_ptr[c + 1]):
            if con_level[k] >= 2 and con_lat[k] > guard[c, con_next[k]]:
                guard[c, con_next[k]] = con_lat[k]
    # the tables this channel applies on issue (``guard`` above uses the full ones)
    k_ptr, k_level, k_next, k_lat = _prune_constraints(con_ptr, con_level, con_next, con_lat,
                                                       nranks, p_cmd.shape[0] > 0)
    # and grouped by level, so the hot path applies a bank command without branching on it
    lptr, l_next, l_lat = _group_by_level(k_ptr, k_level, k_next, k_lat)
    missed = np.zeros(arr.shape[0], dtype=np.int8)
    n = arr.shape[0]
    m = p_cmd.shape[0]
    log_cap = log.shape[0]
    nlog = 0
    rq_n = 0
    wq_n = 0
    nxt = 0
    served = 0
    p_idx = 0
    pim_busy = np.int64(0)
    pim_end = np.int64(0)
    normal_end = np.int64(0)
    bus_free = np.int64(0)
    hits = 0
    issued = 0
    t = np.int64(0)
    write_mode = False
    while True:
        # admit arrivals (in order; a full queue holds the rest back)
        while nxt < n and arr[nxt] <= t:
            q = nxt
            b = bank[q]
            if kind[q] == 0:
                if rq_n >= rq_size:
                    break
                rq_n += 1
                cnt_r[b] += 1
                if cnt_r[b] == 1 or open_row[b] == row[q]:
                    # a tail request that misses the open row changes no candidate (the
                    # head decides ACT / PRE, the oldest hit decides RD)
                    cc_cmd[b] = -1
                if pos_r[b] < 0:
                    pos_r[b] = nact_r
                    act_r[nact_r] = b
                    nact_r += 1
                if tail_r[b] < 0:
                    head_r[b] = q
                else:
                    link[tail_r[b]] = q
                tail_r[b] = q
                if open_row[b] == row[q]:
                    hits_r[b] += 1
            else:
                if wq_n >= wq_size:
                    break
                wq_n += 1
                cnt_w[b] += 1
                if cnt_w[b] == 1 or open_row[b] == row[q]:
                    cc_cmd[b] = -1
                if pos_w[b] < 0:
                    pos_w[b] = nact_w
                    act_w[nact_w] = b
                    nact_w += 1
                if tail_w[b] < 0:
                    head_w[b] = q
                else:
                    link[tail_w[b]] = q
                tail_w[b] = q
                if open_row[b] == row[q]:
                    hits_w[b] += 1
            nxt += 1
        if served == n and p_idx == m:
            break
        if refresh_on and t >= ref_due:
            for r in range(nranks):
                if ref_pending[r] == 0 and t >= next_ref[r]:
                    ref_pending[r] = 1
                    ref_npend += 1
                    next_ref[r] += nREFI
                    for b in range(r * nb_rank, (r + 1) * nb_rank):
                        cc_cmd[b] = -1
            ref_due = INF
            for r in range(nranks):
                if ref_pending[r] == 0 and next_ref[r] < ref_due:
                    ref_due = next_ref[r]
        if write_mode:
            if wq_n == 0 or (wq_n <= wm_low and rq_n > 0):
                write_mode = False
        elif wq_n >= wm_high or (rq_n == 0 and wq_n > 0):
            write_mode = True
        tmin = t if t > bus_free else bus_free
        best_t = INF
        best_c = -1
        best_kind = 0
        best_idx = -1
        best_q = -1
        best_prio = 9
        best_age = INF
        # 1. refresh (highest priority)
        for r in range(nranks if ref_npend > 0 else 0):
            if ref_pending[r] == 0 or rank_pim[r] > 0:
                continue
            c = REF
            for b in range(r * nb_rank, (r + 1) * nb_rank):
                if open_row[b] >= 0:
                    c = PREA
                    break
            rt = _ready(c, 2, r, nbg, nbpg, nranks, e_bank, e_bg, e_rank, e_chan, e_sib)
            if rt < tmin:
                rt = tmin
            if rt < best_t:
                best_t, best_c, best_kind, best_idx, best_q, best_prio = rt, c, 2, r, -1, 0
        # 2. the PIM program's head command
        pim_blocks_act = False
        pim_rt = INF
        pim_ck = 0
        pim_rank = -1
        pim_dur = 0
        if p_idx < m:
            c = p_cmd[p_idx]
            tg = p_tgt[p_idx]
            if dual == 0 and c != GWRITE and c != P_HEADER:
                pim_blocks_act = True
            rt0 = tmin if tmin > pim_busy else pim_busy
            ck = -1
            if c == G_ACT:
                r = tg // nbg
                if ref_pending[r] == 0 or rank_pim[r] > 0:
                    need = -1
                    if dual == 0:
                        for b in range(tg * nbpg, (tg + 1) * nbpg):
                            if open_row[b] >= 0:
                                need = b
                                break
                    if need >= 0:
                        ck, kk, ix = PRE, 0, need
                    else:
                        ck, kk, ix = G_ACT, 1, tg
            elif c == PIM_PRE:
                ck, kk, ix = PIM_PRE, 0, tg
            else:
                ck, kk, ix = c, 3, 0
            if ck >= 0:
                rt = _ready(ck, kk, ix, nbg, nbpg, nranks, e_bank, e_bg, e_rank, e_chan, e_sib)
                w = win_weight[ck]
                if w > 0:
                    rr = ix // nbg if kk == 1 else ix // nb_rank
                    hv = hist[rr, win_count - w] + win_cycles
                    if hv > rt:
                        rt = hv
                if ck == COMPS_READRES:
                    k = p_arg[p_idx]
                    pim_dur = nCOMP * ((k if k > comps_min else comps_min) + 1)
                    if rt + pim_dur - nBL < bus_end:  # its READRES burst follows the last burst
                        rt = bus_end - pim_dur + nBL
                if rt < rt0:
                    rt = rt0
                pim_rt = rt
                pim_ck = ck
                if ck == G_ACT:
                    pim_rank = ix // nbg
                if rt < best_t:
                    best_t, best_c, best_kind, best_idx, best_q, best_prio = rt, ck, kk, ix, -1, 1
        # 3. normal requests, FR-FCFS within the current mode's queue, one candidate per bank
        if write_mode != prev_mode or pim_blocks_act != prev_block:
            for b in range(nbanks):
                cc_cmd[b] = -1
            prev_mode = write_mode
            prev_block = pim_blocks_act
        nact = nact_w if write_mode else nact_r
        for ai in range(nact):
            b = act_w[ai] if write_mode else act_r[ai]
            c = cc_cmd[b]
            if c == -1:
                c = -2
                r = bank_r[b]
                if write_mode:
                    q = head_w[b]
                    h = hits_w[b]
                else:
                    q = head_r[b]
                    h = hits_r[b]
                prio = 3
                if ref_pending[r] == 0 and (dual != 0 or pim_row[b] < 0):
                    orow = open_row[b]
                    if orow < 0:
                        if not pim_blocks_act:
                            c = ACT
                    elif h > 0:
                        while row[q] != orow:
                            q = link[q]
                        prio = 2
                        if write_mode:
                            c = WRA if (closed_page != 0 and h <= 1) else WR
                        else:
                            c = RDA if (closed_page != 0 and h <= 1) else RD
                    else:
                        # never close a row the other queue still hits (it was opened for
                        # one of them: DRAMsim3 serves the command queue, Ramulator 2 its
                        # active buffer first): serve its oldest hit instead of PRE
                        ho = hits_r[b] if write_mode else hits_w[b]
                        if ho > 0:
                            q = head_r[b] if write_mode else head_w[b]
                            while row[q] != orow:
                                q = link[q]
                            prio = 2
                            if write_mode:
                                c = RDA if (closed_page != 0 and ho <= 1) else RD
                            else:
                                c = WRA if (closed_page != 0 and ho <= 1) else WR
                        else:
                            c = PRE
                cc_cmd[b] = c
                cc_q[b] = q
                cc_prio[b] = prio
            if c == -2:
                continue
            # a lower bound of its issue cycle (every term below only raises it): most banks
            # lose to the best so far on it, or tie at tmin and lose on priority / age
            lb = max(e_bank[b, c], tmin)
            if c == ACT and faw_on:
                lb = max(lb, hist[bank_r[b], faw_idx] + win_cycles)
            if dual == 0:
                lb = max(lb, pim_busy)
            q = cc_q[b]
            prio = cc_prio[b]
            if lb > best_t or (lb == best_t and (prio > best_prio or
                                                 (prio == best_prio and q > best_age))):
                continue
            # its readiness from the tables (what :func:`_ready` computes for one bank)
            g = bank_g[b]
            r = bank_r[b]
            rt = max(max(e_bank[b, c], e_bg[g, c]), max(e_rank[r, c], e_chan[c]))
            if nranks > 1:
                for r2 in range(nranks):
                    if r2 != r:
                        rt = max(rt, e_sib[r2, c])
            if c == ACT and win_weight[ACT] > 0:
                hv = hist[bank_r[b], win_count - win_weight[ACT]] + win_cycles
                if hv > rt:
                    rt = hv
            if rt < tmin:
                rt = tmin
            if dual == 0 and rt < pim_busy:
                rt = pim_busy
            if rr_hi > rt and c != ACT and c != PRE:
                lat = nCL if (c == RD or c == RDA) else nCWL
                if rt + lat < rr_hi and rt + lat + nBL > rr_lo:
                    rt = rr_hi - lat      # data would collide with the READRES burst
            if pim_rt < INF:
                # PIM first: skip a normal command that would push the PIM head back
                if rt + guard[c, pim_ck] > pim_rt:
                    continue
                if pim_ck == COMPS_READRES and c != ACT and c != PRE:
                    # its burst must end before the READRES burst of the pending MAC
                    lat = nCL if (c == RD or c == RDA) else nCWL
                    if rt + lat + nBL - pim_dur + nBL > pim_rt:
                        continue
                if c == ACT and pim_ck == G_ACT and bank_r[b] == pim_rank and win_count > 0:
                    kw = win_count - win_weight[G_ACT]
                    nv = rt + win_cycles if kw == 0 else hist[pim_rank, kw - 1] + win_cycles
                    if nv > pim_rt:
                        continue
            if rt < best_t or (rt == best_t and (prio < best_prio or
                                                 (prio == best_prio and q < best_age))):
                best_t, best_c, best_kind, best_idx, best_q, best_prio = rt, c, 0, b, q, prio
                best_age = q
        # next event that could change the decision
        t_ev = INF
        if nxt < n:
            if (kind[nxt] == 0 and rq_n < rq_size) or (kind[nxt] != 0 and wq_n < wq_size):
                t_ev = arr[nxt]
        if refresh_on and ref_due < t_ev:
            t_ev = ref_due
        if best_c < 0 and t_ev == INF:
            stats[ST_ERROR] = 1  # nothing can ever issue: a deadlock in the model
            break
        if t_ev <= best_t:
            t = t_ev
            continue
        # issue best_c at best_t
        t = best_t
        bus_free = t + 1
        c = best_c
        counts[c] += 1
        issued += 1
        ix = best_idx
        if nlog < log_cap:
            if best_kind == 0:
                rr, gg, bb = ix // nb_rank, (ix // nbpg) % nbg, ix % nbpg
            elif best_kind == 1:
                rr, gg, bb = ix // nbg, ix % nbg, -1
            elif best_kind == 2:
                rr, gg, bb = ix, -1, -1
            else:
                rr, gg, bb = -1, -1, -1
            log[nlog, 0] = t
            log[nlog, 1] = c
            log[nlog, 2] = rr
            log[nlog, 3] = gg
            log[nlog, 4] = bb
            log[nlog, 5] = -1
            log[nlog, 6] = -1
            if best_q >= 0:
                log[nlog, 5] = row[best_q]
                log[nlog, 6] = col[best_q]
            elif c == G_ACT:
                log[nlog, 5] = p_arg[p_idx]
            elif c == COMPS_READRES:
                log[nlog, 6] = p_arg[p_idx]
            nlog += 1
        if best_kind == 0:
            # the constraints it imposes (bank-addressed: one target per level; branch-free
            # maxima, as which side wins is data-dependent and mispredicts often)
            g = bank_g[ix]
            r = bank_r[ix]
            for k in range(lptr[c, 0], lptr[c, 1]):
                nx = l_next[k]
                e_bank[ix, nx] = max(e_bank[ix, nx], t + l_lat[k])
            for k in range(lptr[c, 1], lptr[c, 2]):
                nx = l_next[k]
                e_bg[g, nx] = max(e_bg[g, nx], t + l_lat[k])
            for k in range(lptr[c, 2], lptr[c, 3]):
                nx = l_next[k]
                e_rank[r, nx] = max(e_rank[r, nx], t + l_lat[k])
            for k in range(lptr[c, 3], lptr[c, 4]):
                nx = l_next[k]
                e_chan[nx] = max(e_chan[nx], t + l_lat[k])
            for k in range(lptr[c, 4], lptr[c, 5]):
                nx = l_next[k]
                e_sib[r, nx] = max(e_sib[r, nx], t + l_lat[k])
        else:
            _apply(c, best_kind, ix, t, nbg, nbpg, nranks, k_ptr, k_level, k_next, k_lat,
                   e_bank, e_bg, e_rank, e_chan, e_sib)
        w = win_weight[c]
        if w > 0:
            rr = bank_r[ix] if best_kind == 0 else (ix // nbg if best_kind == 1 else ix // nb_rank)
            for j in range(win_count - 1, w - 1, -1):
                hist[rr, j] = hist[rr, j - w]
            for j in range(w):
                hist[rr, j] = t
        if best_kind == 0:
            cc_cmd[ix] = -1
        elif best_kind == 1:
            for b in range(ix * nbpg, (ix + 1) * nbpg):
                cc_cmd[b] = -1
        elif best_kind == 2:
            for b in range(ix * nb_rank, (ix + 1) * nb_rank):
                cc_cmd[b] = -1
        if best_prio == 1 and c != PRE:
            p_time[p_idx] = t
            p_idx += 1
        if c == ACT:
            q = best_q
            missed[q] = 1
            was = open_row[ix] >= 0 or pim_row[ix] >= 0
            open_row[ix] = row[q]
            _set_open(bank_r[ix], was, True, t, rank_open, open_since, active)
            hr = 0
            qq = head_r[ix]
            while qq >= 0:
                if row[qq] == row[q]:
                    hr += 1
                qq = link[qq]
            hw = 0
            qq = head_w[ix]
            while qq >= 0:
                if row[qq] == row[q]:
                    hw += 1
                qq = link[qq]
            hits_r[ix] = hr
            hits_w[ix] = hw
        elif c == PRE:
            open_row[ix] = -1
            hits_r[ix] = 0
            hits_w[ix] = 0
            _set_open(bank_r[ix], True, pim_row[ix] >= 0, t, rank_open, open_since, active)
        elif c == RD or c == WR or c == RDA or c == WRA:
            q = best_q
            if c == RD or c == RDA:
                done[q] = t + nCL + nBL
                hits_r[ix] -= 1
                rq_n -= 1
                cnt_r[ix] -= 1
                if cnt_r[ix] == 0:
                    nact_r -= 1
                    last = act_r[nact_r]
                    act_r[pos_r[ix]] = last
                    pos_r[last] = pos_r[ix]
                    pos_r[ix] = -1
                if head_r[ix] == q:
                    head_r[ix] = link[q]
                    if tail_r[ix] == q:
                        tail_r[ix] = -1
                else:
                    pq = head_r[ix]
                    while link[pq] != q:
                        pq = link[pq]
                    link[pq] = link[q]
                    if tail_r[ix] == q:
                        tail_r[ix] = pq
            else:
                done[q] = t + nCWL + nBL
                hits_w[ix] -= 1
                wq_n -= 1
                cnt_w[ix] -= 1
                if cnt_w[ix] == 0:
                    nact_w -= 1
                    last = act_w[nact_w]
                    act_w[pos_w[ix]] = last
                    pos_w[last] = pos_w[ix]
                    pos_w[ix] = -1
                if head_w[ix] == q:
                    head_w[ix] = link[q]
                    if tail_w[ix] == q:
                        tail_w[ix] = -1
                else:
                    pq = head_w[ix]
                    while link[pq] != q:
                        pq = link[pq]
                    link[pq] = link[q]
                    if tail_w[ix] == q:
                        tail_w[ix] = pq
            link[q] = -1
            if done[q] > normal_end:
                normal_end = done[q]
            if done[q] > bus_end:
                bus_end = done[q]
            served += 1
            if missed[q] == 0:
                hits += 1
            if c == RDA or c == WRA:
                open_row[ix] = -1
                hits_r[ix] = 0
                hits_w[ix] = 0
                _set_open(bank_r[ix], True, pim_row[ix] >= 0, t, rank_open, open_since, active)
        elif c == PREA:
            for b in range(ix * nb_rank, (ix + 1) * nb_rank):
                if open_row[b] >= 0:
                    open_row[b] = -1
                    hits_r[b] = 0
                    hits_w[b] = 0
                    _set_open(bank_r[b], True, pim_row[b] >= 0, t, rank_open, open_since,
                              active)
        elif c == REF:
            ref_pending[ix] = 0
            ref_npend -= 1
            if next_ref[ix] < ref_due:
                ref_due = next_ref[ix]
        elif c == G_ACT:
            rr = ix // nbg
            for b in range(ix * nbpg, (ix + 1) * nbpg):
                was = open_row[b] >= 0 or pim_row[b] >= 0
                if pim_row[b] < 0:
                    rank_pim[rr] += 1
                pim_row[b] = p_arg[p_idx - 1]
                _set_open(bank_r[b], was, True, t, rank_open, open_since, active)
        elif c == PIM_PRE:
            if pim_row[ix] >= 0:
                rank_pim[ix // nb_rank] -= 1
            pim_row[ix] = -1
            _set_open(bank_r[ix], True, open_row[ix] >= 0, t, rank_open, open_since, active)
        elif c == COMPS_READRES:
            k = p_arg[p_idx - 1]
            dur = nCOMP * ((k if k > comps_min else comps_min) + 1)
            pim_busy = t + dur
            rr_hi = t + dur
            rr_lo = rr_hi - nBL
            counts[COMP] += k
            counts[READRES] += 1
            if pim_busy > pim_end:
                pim_end = pim_busy
        elif c == GWRITE:
            if t + nGWRITE > pim_end:
                pim_end = t + nGWRITE
        if best_prio == 1 and c != COMPS_READRES and c != GWRITE and c != PRE:
            if t + 1 > pim_end:
                pim_end = t + 1
    final = t + 1
    if normal_end > final:
        final = normal_end
    if pim_end > final:
        final = pim_end
    if n == 0 and m == 0:
        final = 0
    for r in range(nranks):
        if rank_open[r] > 0:
            active[r] += final - open_since[r]
        stats[ST_ACTIVE0 + r] = active[r]
    stats[ST_FINAL] = final
    stats[ST_PIM_END] = pim_end
    stats[ST_HITS] = hits
    stats[ST_NLOG] = nlog
    stats[ST_NORMAL_END] = normal_end
    stats[ST_ISSUED] = issued
    return nlog


@njit(cache=True, error_model="numpy")
def decode_partition(addr, arrival, is_write, shifts, masks, nbg, nbpg, nch):
    """Decode byte addresses (``shifts``/``masks`` of the fields ro, ra, bg, ba, ch, co) and
    sort the requests by channel with a stable counting sort (input in arrival order).

    Returns (order, bounds, arrival, is_write, flat bank, row, column), the last five in
    channel order; channel ``c`` owns ``bounds[c]:bounds[c + 1]``."""
    n = addr.shape[0]
    s_ro, s_ra, s_bg, s_ba, s_ch, s_co = (shifts[0], shifts[1], shifts[2], shifts[3],
                                          shifts[4], shifts[5])
    m_ro, m_ra, m_bg, m_ba, m_ch, m_co = (masks[0], masks[1], masks[2], masks[3], masks[4],
                                          masks[5])
    ch = np.empty(n, dtype=np.int32)
    bounds = np.zeros(nch + 1, dtype=np.int64)
    for i in range(n):
        c = (addr[i] >> s_ch) & m_ch
        ch[i] = c
        bounds[c + 1] += 1
    for c in range(nch):
        bounds[c + 1] += bounds[c]
    pos = bounds[:nch].copy()
    order = np.empty(n, dtype=np.int64)
    s_arr = np.empty(n, dtype=np.int64)
    s_wr = np.empty(n, dtype=np.int8)
    s_bank = np.empty(n, dtype=np.int64)
    s_row = np.empty(n, dtype=np.int64)
    s_col = np.empty(n, dtype=np.int64)
    for i in range(n):
        a = addr[i]
        c = ch[i]
        j = pos[c]
        pos[c] = j + 1
        order[j] = i
        s_arr[j] = arrival[i]
        s_wr[j] = 1 if is_write[i] else 0
        s_bank[j] = (((a >> s_ra) & m_ra) * nbg + ((a >> s_bg) & m_bg)) * nbpg + ((a >> s_ba)
                                                                                  & m_ba)
        s_row[j] = (a >> s_ro) & m_ro
        s_col[j] = (a >> s_co) & m_co
    return order, bounds, s_arr, s_wr, s_bank, s_row, s_col


@njit(cache=True, error_model="numpy")
def simulate_channels(addr, arrival, is_write, shifts, masks, p_cmd, p_tgt, p_arg,
                      nranks, nbg, nbpg, nch, con_ptr, con_level, con_next, con_lat,
                      win_weight, win_count, win_cycles,
                      nCL, nCWL, nBL, nREFI, refresh_on, nCOMP, comps_min, nGWRITE,
                      dual, closed_page, rq_size, wq_size, wm_high, wm_low,
                      completion, counts, stats, log, nlogs):
    """Decode, partition by channel and run :func:`channel_kernel` on every channel in one
    call (requests in arrival order; fields as in :func:`decode_partition`). Each channel's
    requests are gathered into small reused buffers (no request-sized temporaries besides
    the channel order). ``completion`` (input order) receives each
    request's completion cycle; ``counts`` the summed command counts; ``stats[ch]`` each
    channel's stats row (0 for a channel without requests); ``log`` ((channels x capacity) x 7)
    the per-channel logs one after the other, ``nlogs[ch]`` their lengths. Returns the first channel that
    deadlocked, or -1."""
    n = addr.shape[0]
    s_ro, s_ra, s_bg, s_ba, s_ch, s_co = (shifts[0], shifts[1], shifts[2], shifts[3],
                                          shifts[4], shifts[5])
    m_ro, m_ra, m_bg, m_ba, m_ch, m_co = (masks[0], masks[1], masks[2], masks[3], masks[4],
                                          masks[5])
    bounds = np.zeros(nch + 1, dtype=np.int64)
    for i in range(n):
        bounds[((addr[i] >> s_ch) & m_ch) + 1] += 1
    biggest = 0
    for c in range(nch):
        if bounds[c + 1] > biggest:
            biggest = bounds[c + 1]
        bounds[c + 1] += bounds[c]
    pos = bounds[:nch].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = (addr[i] >> s_ch) & m_ch
        order[pos[c]] = i
        pos[c] += 1
    b_arr = np.empty(biggest, dtype=np.int64)
    b_wr = np.empty(biggest, dtype=np.int8)
    b_bank = np.empty(biggest, dtype=np.int64)
    b_row = np.empty(biggest, dtype=np.int64)
    b_col = np.empty(biggest, dtype=np.int64)
    done = np.empty(biggest, dtype=np.int64)
    cap = log.shape[0] // nch if nch > 0 else 0
    m = p_cmd.shape[0]
    p_time = np.empty(m, dtype=np.int64)
    ch_counts = np.zeros(NCMD, dtype=np.int64)
    for ch in range(nch):
        lo = bounds[ch]
        k = bounds[ch + 1] - lo
        if k == 0 and m == 0:
            continue
        for j in range(k):
            i = order[lo + j]
            a = addr[i]
            b_arr[j] = arrival[i]
            b_wr[j] = 1 if is_write[i] else 0
            b_bank[j] = (((a >> s_ra) & m_ra) * nbg + ((a >> s_bg) & m_bg)) * nbpg + (
                (a >> s_ba) & m_ba)
            b_row[j] = (a >> s_ro) & m_ro
            b_col[j] = (a >> s_co) & m_co
            done[j] = -1
        for j in range(m):
            p_time[j] = -1
        ch_counts[:] = 0
        channel_kernel(b_arr[:k], b_wr[:k], b_bank[:k], b_row[:k], b_col[:k],
                       p_cmd, p_tgt, p_arg, nranks, nbg, nbpg, con_ptr, con_level, con_next,
                       con_lat, win_weight, win_count, win_cycles, nCL, nCWL, nBL, nREFI,
                       refresh_on, nCOMP, comps_min, nGWRITE, dual, closed_page, rq_size,
                       wq_size, wm_high, wm_low, done[:k], p_time, ch_counts, stats[ch],
                       log[ch * cap:(ch + 1) * cap])
        if stats[ch, ST_ERROR] != 0:
            return ch
        nlogs[ch] = stats[ch, ST_NLOG]
        for c in range(NCMD):
            counts[c] += ch_counts[c]
        for j in range(k):
            completion[order[lo + j]] = done[j]
    return -1


def _make_twin():
    """Pure-Python twin of :func:`channel_kernel`: its source run by CPython, with the helper
    kernels replaced by their Python sources too (nothing compiled on this path)."""
    import types

    g = dict(globals())
    for name in ("_ready", "_apply", "_set_open", "_prune_constraints", "_group_by_level",
                 "first_refresh"):
        g[name] = globals()[name].py_func
    return types.FunctionType(channel_kernel.py_func.__code__, g, "channel_kernel_py")


channel_kernel_py = _make_twin()
