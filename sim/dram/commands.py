"""DRAM and PIM command codes shared by the loader, the kernels and the checker's log format.

Codes are small integers so that numba kernels index timing tables with them. Levels name where
a timing constraint lives (JEDEC hierarchy: channel > rank/pseudo-channel > bank group > bank).
"""

from __future__ import annotations

ACT, PRE, RD, WR, RDA, WRA, REF, PREA = 0, 1, 2, 3, 4, 5, 6, 7
GWRITE, G_ACT, COMP, READRES, PIM_PRE, P_HEADER, COMPS_READRES = 8, 9, 10, 11, 12, 13, 14
N_COMMANDS = 15

COMMAND_NAMES: tuple[str, ...] = (
    "ACT", "PRE", "RD", "WR", "RDA", "WRA", "REF", "PREA",
    "GWRITE", "G_ACT", "COMP", "READRES", "PIM_PRECHARGE", "P_HEADER", "COMPS_READRES",
)
# Accepted spellings in YAML (PIM_PRE is the short name of PIM_PRECHARGE).
COMMAND_CODES: dict[str, int] = {n: i for i, n in enumerate(COMMAND_NAMES)}
COMMAND_CODES["PIM_PRE"] = PIM_PRE

PIM_COMMANDS = frozenset({GWRITE, G_ACT, COMP, READRES, PIM_PRE, P_HEADER, COMPS_READRES})
# What a command addresses: a bank, a bank group, a rank (pseudo-channel) or the whole channel.
TARGET_BANK, TARGET_BG, TARGET_RANK, TARGET_CHANNEL = 0, 1, 2, 3
COMMAND_TARGET: tuple[int, ...] = (
    TARGET_BANK, TARGET_BANK, TARGET_BANK, TARGET_BANK, TARGET_BANK, TARGET_BANK,  # ACT..WRA
    TARGET_RANK, TARGET_RANK,                                                      # REF, PREA
    TARGET_CHANNEL, TARGET_BG, TARGET_CHANNEL, TARGET_CHANNEL, TARGET_BANK,        # GWRITE..PIM_PRE
    TARGET_CHANNEL, TARGET_CHANNEL,                                                # P_HEADER, COMPS
)

LEVEL_BANK, LEVEL_BG, LEVEL_RANK, LEVEL_CHANNEL, LEVEL_SIBLING = 0, 1, 2, 3, 4
LEVEL_CODES: dict[str, int] = {
    "bank": LEVEL_BANK, "bank_group": LEVEL_BG, "rank": LEVEL_RANK,
    "pseudo_channel": LEVEL_RANK, "channel": LEVEL_CHANNEL, "sibling_rank": LEVEL_SIBLING,
}
