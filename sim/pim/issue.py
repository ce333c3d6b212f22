"""How fast the NPU can hand PIM commands to the memory controllers.

Two command sets (the NeuPIMs artifact's two DRAM types):

- ``composite`` (NeuPIMs, ``dram_type: neupims``): a GEMV tile is one P_HEADER and one
  COMPS_READRES per head (k COMPs and the READRES folded into one command).
- ``newton`` (the artifact's ``npu+pim`` branch, ``dram_type: newton``, after Newton /
  AiM): the same tile is one P_HEADER, k separate COMP commands and one READRES per head
  (``NeuPIMSLogitSoftmax.cc``, ``NeuPIMSAttend.cc``: ``if dram_type == NEWTON``).

Every command is an instruction the NPU pushes through its PIM load queue, one per NPU
cycle for all channels together (``command_port_per_cycle``); the channels then time them.
A phase cannot end before its last command has left the port, so a phase takes
``max(slowest channel, commands of all channels / port rate)``. With ``composite`` the
port is never the bound (about 70,000 commands against 130,000-cycle channel phases on the
reference batch); with ``newton`` the reference batch needs ~730,000 commands per layer,
which makes attention port-bound. The port does not depend on the row buffer: it is the
command set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.dram import commands as C
from sim.dram.standard import DramStandard

COMMAND_SETS = ("composite", "newton")


@dataclass(frozen=True)
class PortTiming:
    """Commands per phase (all channels) and the cycles the port needs for them."""

    commands: tuple[int, ...]
    cycles: tuple[int, ...]


def phase_commands(std: DramStandard, channel_seq_lens: Sequence[Sequence[int]], shape,
                   phases: Sequence[int], command_set: str) -> tuple[int, ...]:
    """PIM instructions the NPU issues per phase for the whole batch, in ``command_set``."""
    from sim.pim.fast import pim_channel_cycles

    if command_set not in COMMAND_SETS:
        raise ValueError(f"unknown command set {command_set!r}")
    ngroups = std.org.pseudo_channels * std.org.bank_groups
    out = []
    for p in phases:
        n = 0
        for lens in channel_seq_lens:
            if not len(lens):
                continue
            _c, k, _acc = pim_channel_cycles(std, lens, shape, p, refresh=False)
            headers = int(k[C.G_ACT]) // ngroups          # one P_HEADER per row-open tile
            if command_set == "newton":
                n += int(k[C.GWRITE]) + headers + int(k[C.COMP]) + int(k[C.READRES])
            else:
                n += int(k[C.GWRITE]) + headers + int(k[C.COMPS_READRES])
        out.append(n)
    return tuple(out)


def port_timing(std: DramStandard, channel_seq_lens, shape, phases, command_set: str,
                per_cycle: float) -> PortTiming:
    """Commands per phase and ``ceil(commands / per_cycle)`` cycles of the NPU's port."""
    cmds = phase_commands(std, channel_seq_lens, shape, phases, command_set)
    return PortTiming(cmds, tuple(int(np.ceil(c / per_cycle)) for c in cmds))
