"""Replay a command log against another simulator's timing tables (an independent check).

The tables are DRAMsim3's (``dramsim3::Timing``, dumped for a configuration as JSON: for each
issued command, the earliest gap to each following command at five scopes -- same bank,
other banks of the bank group, other bank groups of the rank, other ranks, same rank) plus its
four-activation window. A log row (cycle, command, rank, bank group, bank, row, arg,
channel) -- the format of ``simulate_requests(..., log_capacity=N)`` -- violates a table when a
command issues before the gap after an earlier one has passed.

neumelt's PREA (one command closing every open bank of a rank before REF) is checked as the
PRECHARGE of each bank it closes, which is how DRAMsim3 prepares a refresh.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from sim.dram import commands as C

DS3_NAMES = ("READ", "READ_PRECHARGE", "WRITE", "WRITE_PRECHARGE", "ACTIVATE", "PRECHARGE",
             "REFRESH_BANK", "REFRESH")
_OF = {C.RD: "READ", C.RDA: "READ_PRECHARGE", C.WR: "WRITE", C.WRA: "WRITE_PRECHARGE",
       C.ACT: "ACTIVATE", C.PRE: "PRECHARGE", C.REF: "REFRESH"}
SCOPES = ("same_bank", "other_banks_same_bankgroup", "other_bankgroups_same_rank",
          "other_ranks")
NEG = -(1 << 40)


@dataclass(frozen=True)
class TableViolation:
    index: int          # row of the log
    cycle: int
    channel: int
    command: str        # DRAMsim3 name
    earliest: int       # earliest legal cycle by the tables
    rule: str           # "table" or "tFAW"


def _gap_matrices(tables: dict, nranks: int, nbg: int, nbpg: int) -> np.ndarray:
    """G[p, b, n, b2]: gap from command p at bank b to command n at bank b2 (NEG: none)."""
    nt, nb = len(DS3_NAMES), nranks * nbg * nbpg
    g = np.full((nt, nb, nt, nb), NEG, dtype=np.int64)
    idx = {n: i for i, n in enumerate(DS3_NAMES)}
    rank = np.arange(nb) // (nbg * nbpg)
    group = np.arange(nb) // nbpg
    for b in range(nb):
        scope_of = np.where(np.arange(nb) == b, 0,
                            np.where(group == group[b], 1, np.where(rank == rank[b], 2, 3)))
        for s, scope in enumerate(SCOPES):
            for p, nexts in tables.get(scope, {}).items():
                if p not in idx:
                    continue
                for n, lat in nexts.items():
                    if n in idx:
                        cols = scope_of == s
                        g[idx[p], b, idx[n], cols] = np.maximum(g[idx[p], b, idx[n], cols], lat)
    return g


def check_against_tables(log: np.ndarray, tables: dict) -> list[TableViolation]:
    """Every command of ``log`` that issues earlier than ``tables`` allow."""
    cfg = tables["config"]
    nr, nbg, nbpg = cfg["ranks"], cfg["bankgroups"], cfg["banks_per_group"]
    nbr = nbg * nbpg
    g = _gap_matrices(tables, nr, nbg, nbpg)
    idx = {n: i for i, n in enumerate(DS3_NAMES)}
    same_rank = np.full((len(DS3_NAMES), len(DS3_NAMES)), NEG, dtype=np.int64)
    for p, nexts in tables.get("same_rank", {}).items():
        for n, lat in nexts.items():
            if p in idx and n in idx:
                same_rank[idx[p], idx[n]] = lat
    tfaw = cfg["tFAW"]
    out: list[TableViolation] = []
    order = np.lexsort((np.arange(len(log)), log[:, 0], log[:, 7]))
    state: dict[int, tuple] = {}
    for i in order:
        cyc, cmd, rank, bg, bank, _row, _arg, ch = (int(v) for v in log[i])
        if ch not in state:
            state[ch] = (np.full((len(DS3_NAMES), nr * nbr), NEG, dtype=np.int64),
                         [deque(maxlen=4) for _ in range(nr)], np.zeros(nr * nbr, bool))
        earliest, acts, is_open = state[ch]
        if cmd == C.PREA:
            banks = [b for b in range(rank * nbr, (rank + 1) * nbr) if is_open[b]]
            name = "PRECHARGE"
        elif cmd == C.REF:
            banks, name = list(range(rank * nbr, (rank + 1) * nbr)), "REFRESH"
        elif cmd in _OF:
            banks, name = [(rank * nbg + bg) * nbpg + bank], _OF[cmd]
        else:
            continue            # PIM commands: not in DRAMsim3's tables
        k = idx[name]
        need = max((int(earliest[k, b]) for b in banks), default=NEG)
        if name == "ACTIVATE" and len(acts[rank]) == 4:
            if cyc < acts[rank][0] + tfaw:
                out.append(TableViolation(int(i), cyc, ch, name, acts[rank][0] + tfaw, "tFAW"))
        if cyc < need:
            out.append(TableViolation(int(i), cyc, ch, name, need, "table"))
        for b in banks:
            np.maximum(earliest, cyc + g[k, b], out=earliest)
        if name == "REFRESH":
            for b in banks:
                earliest[:, b] = np.maximum(earliest[:, b], cyc + same_rank[k])
        if name == "ACTIVATE":
            acts[rank].append(cyc)
            is_open[banks[0]] = True
        elif name in ("PRECHARGE", "READ_PRECHARGE", "WRITE_PRECHARGE"):
            is_open[banks] = False
    return out
