"""Replay a command log and report every violated timing or state rule.

Written from the JEDEC/Newton rules and the standard's *named timing values* (nRCDRD, nFAW,
...), deliberately not from the engine's compiled constraint tables: each rule below is an
explicit check of one timing relation, so a rule missing from a preset's constraint list (or
an engine bug) shows up as a violation.

Log rows: (cycle, command code, rank, bank group, bank, row, arg, channel) as produced by
``simulate_requests(..., log_capacity=N)``; bank group / bank are -1 where the command does not
address one (bank group is the group inside the rank).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np

from sim.dram import commands as C
from sim.dram.standard import DramStandard

NEVER = -(10 ** 15)


@dataclass(frozen=True)
class Violation:
    index: int        # row of the log
    cycle: int
    channel: int
    command: str
    rule: str         # e.g. "nRCDRD", "bank not open", "nFAW"
    detail: str


class _Channel:
    def __init__(self, std: DramStandard) -> None:
        o = std.org
        self.nbg, self.nbpg = o.bank_groups, o.banks_per_group
        nb = o.banks
        self.open_row = [-1] * nb
        self.pim_row = [-1] * nb
        self.last: dict[tuple[str, int], int] = defaultdict(lambda: NEVER)  # (cmd, bank)
        self.last_bg: dict[tuple[str, int], int] = defaultdict(lambda: NEVER)  # (cmd, global bg)
        self.last_rank: dict[tuple[str, int], int] = defaultdict(lambda: NEVER)
        self.last_ch: dict[str, int] = defaultdict(lambda: NEVER)
        self.acts: dict[int, deque] = defaultdict(deque)  # rank -> activation cycles (weighted)
        self.comps_end = NEVER
        self.last_ref = [0] * o.pseudo_channels
        self.last_cycle = NEVER
        self.bus: deque = deque()  # data-bus bursts (start, end) not yet over

    def bank(self, rank: int, bg: int, bank: int) -> int:
        return (rank * self.nbg + bg) * self.nbpg + bank

    def banks_of_rank(self, rank: int) -> range:
        n = self.nbg * self.nbpg
        return range(rank * n, (rank + 1) * n)


def check_log(std: DramStandard, log: np.ndarray, row_buffer: str = "dual",
              *, check_refresh: bool = True) -> list[Violation]:
    """Every rule broken by the commands in ``log`` (sorted by channel, then cycle)."""
    t = std.timing
    p = std.pim
    dual = row_buffer == "dual"
    o = std.org
    ranks = o.pseudo_channels
    chans: dict[int, _Channel] = {}
    out: list[Violation] = []
    rows = np.asarray(log, dtype=np.int64)
    order = np.lexsort((np.arange(len(rows)), rows[:, 0], rows[:, 7])) if len(rows) else []
    rd_to_wr_same = t.nCL + t.nBL + 2 - t.nCWL
    wr_to_pre = t.nCWL + t.nBL + t.nWR

    for i in order:
        cyc, code, rank, bg, bk, row, arg, ch = (int(v) for v in rows[i])
        name = C.COMMAND_NAMES[code]
        st = chans.setdefault(ch, _Channel(std))

        def need(earliest: int, rule: str, detail: str = "", _c=cyc, _i=i, _ch=ch, _n=name):
            if _c < earliest:
                out.append(Violation(int(_i), _c, _ch, _n, rule,
                                     detail or f"issued at {_c}, allowed from {earliest}"))

        def bad(rule: str, detail: str, _c=cyc, _i=i, _ch=ch, _n=name):
            out.append(Violation(int(_i), _c, _ch, _n, rule, detail))

        if cyc == st.last_cycle:
            bad("command bus", "two commands in one cycle on one channel")
        st.last_cycle = cyc

        def data(lo: int, hi: int, _st=st, _c=cyc) -> None:
            """The data bus carries one burst at a time (RD, WR, GWRITE, READRES)."""
            while _st.bus and _st.bus[0][1] <= _c:
                _st.bus.popleft()
            for a, b_ in _st.bus:
                if a < hi and lo < b_:
                    bad("data bus", f"burst [{lo}, {hi}) overlaps [{a}, {b_})")
                    break
            _st.bus.append((lo, hi))
            if len(_st.bus) > 1 and _st.bus[-2][1] > hi:
                _st.bus = deque(sorted(_st.bus, key=lambda x: x[1]))

        b = st.bank(rank, bg, bk) if bk >= 0 else -1
        gg = rank * st.nbg + bg if bg >= 0 else -1
        L, LB, LR, LC = st.last, st.last_bg, st.last_rank, st.last_ch

        def faw(weight: int, _r=rank, _c=cyc, st=st) -> None:
            win = st.acts[_r]
            while win and win[0] <= _c - t.nFAW:
                win.popleft()
            if len(win) + weight > 4:
                bad("nFAW", f"{len(win) + weight} activations within {t.nFAW} cycles")
            for _ in range(weight):
                win.append(_c)

        def other_ranks(cmd: str, _r=rank, LR=LR) -> int:
            return max((LR[(cmd, r2)] for r2 in range(ranks) if r2 != _r), default=NEVER)

        if code in (C.ACT, C.PRE, C.RD, C.WR, C.RDA, C.WRA) and not dual:
            if st.pim_row[b] >= 0:
                bad("PIM owns bank", "normal command to a bank whose row buffer PIM holds")
            need(st.comps_end, "PIM busy", "normal command while an all-bank MAC runs")

        if code == C.ACT:
            if st.open_row[b] >= 0:
                bad("bank open", f"ACT to a bank with row {st.open_row[b]} open")
            need(L[("PRE", b)] + t.nRP, "nRP")
            need(LR[("PREA", rank)] + t.nRP, "nRP (PREA)")
            need(L[("ACT", b)] + t.nRC, "nRC")
            need(L[("RDA", b)] + t.nRTP_L + t.nRP, "nRTP+nRP (RDA)")
            need(L[("WRA", b)] + wr_to_pre + t.nRP, "nWR+nRP (WRA)")
            need(LR[("REF", rank)] + t.nRFC, "nRFC")
            need(LB[("ACT", gg)] + t.nRRD_L, "nRRD_L")
            need(LR[("ACT", rank)] + t.nRRD_S, "nRRD_S")
            if dual:
                need(L[("G_ACT", b)] + t.nRRD_L, "nRRD_L (G_ACT->ACT, dual)")
            else:
                need(L[("G_ACT", b)] + t.nRC, "nRC (G_ACT->ACT)")
                need(L[("PIM_PRE", b)] + t.nRP, "nRP (PIM_PRE->ACT)")
            faw(1)
            st.open_row[b] = row
            L[("ACT", b)] = LB[("ACT", gg)] = LR[("ACT", rank)] = cyc
        elif code in (C.RD, C.RDA, C.WR, C.WRA):
            is_rd = code in (C.RD, C.RDA)
            if st.open_row[b] != row:
                bad("row not open", f"column access to row {row}, open row {st.open_row[b]}")
            if is_rd:
                need(L[("ACT", b)] + t.nRCDRD, "nRCDRD")
                need(LB[("RD", gg)] + t.nCCD_L, "nCCD_L")
                need(LR[("RD", rank)] + max(t.nCCD_S, t.nBL), "nCCD_S/nBL")
                need(other_ranks("RD") + t.nBL + t.nRTRS, "nBL+nRTRS")
                need(LB[("WR", gg)] + t.nCWL + t.nBL + t.nWTR_L, "nWTR_L")
                need(LR[("WR", rank)] + t.nCWL + t.nBL + t.nWTR_S, "nWTR_S")
                need(other_ranks("WR") + t.nCWL + t.nBL + t.nRTRS - t.nCL, "WR->RD other rank")
                need(LC["READRES"] + t.nBL, "nBL (READRES->RD)")
            else:
                need(L[("ACT", b)] + t.nRCDWR, "nRCDWR")
                need(LB[("WR", gg)] + t.nCCD_L, "nCCD_L")
                need(LR[("WR", rank)] + max(t.nCCD_S, t.nBL), "nCCD_S/nBL")
                need(other_ranks("WR") + t.nBL + t.nRTRS, "nBL+nRTRS")
                need(LR[("RD", rank)] + rd_to_wr_same, "RD->WR turnaround")
                need(other_ranks("RD") + t.nCL + t.nBL + t.nRTRS - t.nCWL, "RD->WR other rank")
            need(LC["GWRITE"] + p.nGWRITE_BUS, "nGWRITE_BUS")
            lat = t.nCL if is_rd else t.nCWL
            data(cyc + lat, cyc + lat + t.nBL)
            kind = "RD" if is_rd else "WR"
            L[(kind, b)] = LB[(kind, gg)] = LR[(kind, rank)] = LC[kind] = cyc
            if code in (C.RDA, C.WRA):
                L[(name, b)] = LR[(name, rank)] = cyc
                st.open_row[b] = -1
        elif code == C.PRE:
            need(L[("ACT", b)] + t.nRAS, "nRAS")
            need(L[("RD", b)] + t.nRTP_L, "nRTP")
            need(L[("WR", b)] + wr_to_pre, "nWR")
            st.open_row[b] = -1
            L[("PRE", b)] = cyc
        elif code == C.PREA:
            for bb in st.banks_of_rank(rank):
                need(L[("ACT", bb)] + t.nRAS, "nRAS (PREA)")
                need(L[("RD", bb)] + t.nRTP_L, "nRTP (PREA)")
                need(L[("WR", bb)] + wr_to_pre, "nWR (PREA)")
                need(L[("RDA", bb)] + t.nRTP_L + t.nRP, "RDA->PREA")
                need(L[("WRA", bb)] + wr_to_pre + t.nRP, "WRA->PREA")
                st.open_row[bb] = -1
            LR[("PREA", rank)] = cyc
        elif code == C.REF:
            for bb in st.banks_of_rank(rank):
                if st.open_row[bb] >= 0 or st.pim_row[bb] >= 0:
                    bad("bank open", f"REF with bank {bb} open")
                need(L[("PRE", bb)] + t.nRP, "nRP (REF)")
                need(L[("PIM_PRE", bb)] + t.nRP, "nRP (PIM_PRE->REF)")
                need(L[("RDA", bb)] + t.nRTP_L + t.nRP, "RDA->REF")
                need(L[("WRA", bb)] + wr_to_pre + t.nRP, "WRA->REF")
            need(LR[("PREA", rank)] + t.nRP, "nRP (PREA->REF)")
            need(LR[("REF", rank)] + t.nRFC, "nRFC")
            if check_refresh and cyc - st.last_ref[rank] > 9 * t.nREFI:
                bad("refresh interval", f"{cyc - st.last_ref[rank]} cycles since the last REF "
                    f"(limit 9 x nREFI = {9 * t.nREFI})")
            st.last_ref[rank] = cyc
            LR[("REF", rank)] = cyc
        elif code == C.G_ACT:
            for k in range(st.nbpg):
                bb = st.bank(rank, bg, k)
                if st.pim_row[bb] >= 0:
                    bad("PIM row open", f"G_ACT with PIM row open in bank {bb}")
                need(L[("PIM_PRE", bb)] + t.nRP, "nRP (PIM_PRE->G_ACT)")
                if dual:
                    need(L[("ACT", bb)] + t.nRRD_L, "nRRD_L (ACT->G_ACT, dual)")
                else:
                    if st.open_row[bb] >= 0:
                        bad("bank open", f"G_ACT over open normal row in bank {bb} (single)")
                    need(L[("ACT", bb)] + t.nRC, "nRC (ACT->G_ACT)")
                    need(L[("PRE", bb)] + t.nRP, "nRP (PRE->G_ACT)")
                st.pim_row[bb] = row
                L[("G_ACT", bb)] = cyc
            need(LR[("G_ACT", rank)] + t.nRRD_S, "nRRD_S (G_ACT)")
            need(LB[("G_ACT", gg)] + t.nRRD_L, "nRRD_L (G_ACT)")
            need(LR[("REF", rank)] + t.nRFC, "nRFC (G_ACT)")
            need(LC["GWRITE"] + p.nGWRITE, "nGWRITE")
            need(st.comps_end, "PIM busy")
            faw(p.g_act_weight)
            LR[("G_ACT", rank)] = LB[("G_ACT", gg)] = LC["G_ACT"] = cyc
        elif code in (C.COMPS_READRES, C.COMP, C.READRES):
            if code != C.READRES and any(r < 0 for r in st.pim_row):
                bad("PIM rows not open", "all-bank MAC with a bank's PIM row closed")
            if code != C.READRES:
                need(LC["G_ACT"] + t.nRCDRD, "nRCDRD (G_ACT->COMP)")
            need(LC["GWRITE"] + p.nGWRITE, "nGWRITE")
            need(st.comps_end, "PIM busy")
            need(LC["COMP"] + p.nCOMP, "nCOMP")
            if not dual and code != C.READRES:
                need(LC["RD"] + t.nCCD_L, "nCCD_L (RD->COMP, single)")
                need(LC["WR"] + t.nCWL + t.nBL + t.nWTR_L, "nWTR_L (WR->COMP, single)")
            if code == C.READRES:
                need(LC["RD"] + t.nBL, "nBL (RD->READRES)")
                LC["READRES"] = cyc
            elif code == C.COMP:
                LC["COMP"] = cyc
            else:
                st.comps_end = cyc + p.nCOMP * (max(arg, p.comps_min) + 1)
                data(st.comps_end - t.nBL, st.comps_end)   # the READRES burst
        elif code == C.PIM_PRE:
            if st.pim_row[b] < 0:
                bad("PIM row not open", f"PIM_PRECHARGE of bank {b} with no PIM row")
            need(L[("G_ACT", b)] + t.nRAS, "nRAS (G_ACT->PIM_PRE)")
            need(st.comps_end, "PIM busy")
            st.pim_row[b] = -1
            L[("PIM_PRE", b)] = cyc
        elif code == C.GWRITE:
            need(LC["GWRITE"] + p.nGWRITE, "nGWRITE")
            need(st.comps_end, "PIM busy")
            need(LC["RD"] + rd_to_wr_same, "RD->GWRITE turnaround")
            need(LC["WR"] + t.nBL, "nBL (WR->GWRITE)")
            need(LC["READRES"] + t.nBL, "nBL (READRES->GWRITE)")
            data(cyc + t.nCWL, cyc + t.nCWL + p.nGWRITE_BUS)
            LC["GWRITE"] = cyc
        elif code == C.P_HEADER:
            need(LC["GWRITE"] + p.nGWRITE, "nGWRITE")
            need(st.comps_end, "PIM busy")
    return out
