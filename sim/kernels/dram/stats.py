"""Statistics of the channel kernel: the slots of its ``stats`` output row and the
active-standby accounting (cycles during which a rank has a bank open, for IDD energy)."""

from __future__ import annotations

from numba import njit

# stats slots
ST_FINAL, ST_PIM_END, ST_HITS, ST_ERROR, ST_NLOG, ST_NORMAL_END, ST_ISSUED, ST_ACTIVE0 = (
    0, 1, 2, 3, 4, 5, 6, 7)
N_STATS_BASE = 7


@njit(cache=True, inline="always", error_model="numpy")
def _set_open(r, was, now, t, rank_open, open_since, active):
    """A bank of rank ``r`` goes from open (``was``) to ``now``: active-standby accounting."""
    if was == now:
        return
    if now:
        if rank_open[r] == 0:
            open_since[r] = t
        rank_open[r] += 1
    else:
        rank_open[r] -= 1
        if rank_open[r] == 0:
            active[r] += t - open_since[r]
