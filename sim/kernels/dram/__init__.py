"""DRAM + PIM kernels (numba, cache=True), one module per job:

- :mod:`~sim.kernels.dram.channel`: scheduling: the FR-FCFS channel loop
  (:func:`channel_kernel`, one channel), every channel in one compiled call
  (:func:`simulate_channels`, :func:`decode_partition`), and the pure-Python twin
  ``channel_kernel_py``;
- :mod:`~sim.kernels.dram.constraints`: bank state and timing constraints (readiness of a
  command at a target, what an issued command imposes, the tables pruned and grouped);
- :mod:`~sim.kernels.dram.refresh`: when each rank's refresh falls due (:func:`first_refresh`);
- :mod:`~sim.kernels.dram.stats`: the ``stats`` slots (``ST_*``) and active-standby accounting;
- :mod:`~sim.kernels.dram.stream`: the sequential-stream fast paths and their twins;
- :mod:`~sim.kernels.dram.codes`: command codes (mirroring :mod:`sim.dram.commands`).

Helpers that a kernel in another module calls are ``njit(inline="always")`` (or run once per
call), so the split costs the hot loop nothing; :func:`sim.kernels.cache.tie_caches` makes
every cached kernel recompile when any kernel source changes (numba alone checks only the
function's own file). Every name is importable from here as from
the one module this package replaces (``from sim.kernels.dram import channel_kernel``).
"""

from __future__ import annotations

from sim.kernels.cache import tie_caches
from sim.kernels.dram import channel, codes, constraints, refresh, stats, stream
from sim.kernels.dram.channel import (
    channel_kernel,
    channel_kernel_py,
    decode_partition,
    simulate_channels,
)
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
from sim.kernels.dram.refresh import first_refresh
from sim.kernels.dram.stats import (
    N_STATS_BASE,
    ST_ACTIVE0,
    ST_ERROR,
    ST_FINAL,
    ST_HITS,
    ST_ISSUED,
    ST_NLOG,
    ST_NORMAL_END,
    ST_PIM_END,
)
from sim.kernels.dram.stream import (
    SEQ_DEFER_N,
    SEQ_DEFER_UNTIL,
    SEQ_HEAD,
    SEQ_I,
    SEQ_PREV_G,
    SEQ_PREV_R,
    SEQ_T,
    seq_state_init,
    seq_state_size,
    stream_fast_channel,
    stream_fast_channel_py,
    stream_seq_run,
    stream_seq_run_py,
)

__all__ = [
    "ACT", "COMP", "COMPS_READRES", "GWRITE", "G_ACT", "INF", "NCMD", "N_STATS_BASE",
    "PIM_PRE", "PRE", "PREA", "P_HEADER", "RD", "RDA", "READRES", "REF", "SEQ_DEFER_N",
    "SEQ_DEFER_UNTIL", "SEQ_HEAD", "SEQ_I", "SEQ_PREV_G", "SEQ_PREV_R", "SEQ_T", "ST_ACTIVE0",
    "ST_ERROR", "ST_FINAL", "ST_HITS", "ST_ISSUED", "ST_NLOG", "ST_NORMAL_END", "ST_PIM_END",
    "WR", "WRA", "channel_kernel", "channel_kernel_py", "decode_partition", "first_refresh",
    "seq_state_init", "seq_state_size", "simulate_channels", "stream_fast_channel",
    "stream_fast_channel_py", "stream_seq_run", "stream_seq_run_py",
]

for _module in (channel, codes, constraints, refresh, stats, stream):
    tie_caches(vars(_module))
