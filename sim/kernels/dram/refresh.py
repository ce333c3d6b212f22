"""Refresh: when each rank's all-bank refresh falls due (one rule for the channel kernel, the
stream fast paths and the PIM kernels)."""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def first_refresh(r, nranks, nREFI):
    """Cycle of rank ``r``'s first all-bank refresh deadline: every rank refreshes once per
    ``nREFI``, the ranks of a channel staggered by ``nREFI // nranks``, rank 0 first at
    ``nREFI // nranks`` (DRAMsim3 RANK_LEVEL_STAGGERED, Ramulator 2 AllBank scattered)."""
    return (r + 1) * (nREFI // nranks)
