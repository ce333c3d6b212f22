"""IDD-based DRAM energy (DRAMsim3's formulas, with the tCK factor) plus PIM commands.

Per-command increments, in joules (V x mA x cycles x tCK):
ACT+PRE pair  VDD * (IDD0*nRC - (IDD3N*nRAS + IDD2N*(nRC - nRAS)))
RD burst      VDD * (IDD4R - IDD3N) * nBL        WR burst  VDD * (IDD4W - IDD3N) * nBL
REF           VDD * (IDD5AB - IDD3N) * nRFC
background    VDD * IDD3N per rank-cycle with a row open, VDD * IDD2N otherwise
PIM (Newton)  COMP = comp_energy_reads x RD; G_ACT = g_act_energy_acts x ACT;
              GWRITE = global_buffer_bytes / burst_bytes x WR; READRES = readres_bytes /
              burst_bytes x RD.
Components: act_pre, rd, wr, ref, background, pim_compute (COMP), pim_io (GWRITE, READRES);
``total`` is their sum, computed from them.
"""

from __future__ import annotations

from sim.dram import commands as C
from sim.dram.standard import DramStandard

COMPONENTS = ("act_pre", "rd", "wr", "ref", "background", "pim_compute", "pim_io")


def increments_j(std: DramStandard) -> dict[str, float]:
    """Energy per command (J) and per rank-cycle of background (J)."""
    p, t = std.power, std.timing
    tck = std.tck_ps * 1e-12
    ma = 1e-3
    act = p.VDD * (p.IDD0 * t.nRC - (p.IDD3N * t.nRAS + p.IDD2N * (t.nRC - t.nRAS))) * ma * tck
    rd = p.VDD * (p.IDD4R - p.IDD3N) * t.nBL * ma * tck
    wr = p.VDD * (p.IDD4W - p.IDD3N) * t.nBL * ma * tck
    ref = p.VDD * (p.IDD5AB - p.IDD3N) * t.nRFC * ma * tck
    burst = std.org.burst_bytes
    return {
        "act": act, "rd": rd, "wr": wr, "ref": ref,
        "act_standby_cycle": p.VDD * p.IDD3N * ma * tck,
        "pre_standby_cycle": p.VDD * p.IDD2N * ma * tck,
        "comp": std.pim.comp_energy_reads * rd,
        "g_act": std.pim.g_act_energy_acts * act,
        "gwrite": std.pim.global_buffer_bytes / burst * wr,
        "readres": std.pim.readres_bytes / burst * rd,
    }


def energy_breakdown(std: DramStandard, counts: dict[str, int], active_rank_cycles: int,
                     total_rank_cycles: int) -> dict[str, float]:
    """Energy by component (J) with ``total`` = sum of components.

    ``counts`` are command counts by name (COMP and READRES include those inside
    COMPS_READRES); ``active_rank_cycles`` sums, over ranks, the cycles with any row open;
    ``total_rank_cycles`` = ranks x simulated cycles.
    """
    e = increments_j(std)
    n = {name: int(counts.get(name, 0)) for name in C.COMMAND_NAMES}
    parts = {
        "act_pre": n["ACT"] * e["act"] + n["G_ACT"] * e["g_act"],
        "rd": (n["RD"] + n["RDA"]) * e["rd"],
        "wr": (n["WR"] + n["WRA"]) * e["wr"],
        "ref": n["REF"] * e["ref"],
        "background": active_rank_cycles * e["act_standby_cycle"]
        + max(total_rank_cycles - active_rank_cycles, 0) * e["pre_standby_cycle"],
        "pim_compute": n["COMP"] * e["comp"],
        "pim_io": n["GWRITE"] * e["gwrite"] + n["READRES"] * e["readres"],
    }
    total = 0.0
    for k in COMPONENTS:
        total += parts[k]
    parts["total"] = total
    return parts
