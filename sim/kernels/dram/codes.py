"""Command codes and constants every DRAM/PIM kernel shares (plain ints: numba freezes them
into the compiled code)."""

from __future__ import annotations

import numpy as np

# command codes (mirror sim.dram.commands; kernels cannot import Python dicts)
ACT, PRE, RD, WR, RDA, WRA, REF, PREA = 0, 1, 2, 3, 4, 5, 6, 7
GWRITE, G_ACT, COMP, READRES, PIM_PRE, P_HEADER, COMPS_READRES = 8, 9, 10, 11, 12, 13, 14
NCMD = 15
INF = np.int64(1) << np.int64(62)
