"""What one attention stage on PIM returns (:class:`AttentionResult`), built the same way by
the command-level stage (:mod:`sim.pim.attention`) and its fast path (:mod:`sim.pim.fast`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.dram import commands as C
from sim.dram.energy import energy_breakdown
from sim.dram.standard import DramStandard


@dataclass(frozen=True)
class AttentionResult:
    """Timing, command counts and energy of one attention stage on PIM."""

    cycles: int
    channel_cycles: np.ndarray
    logits_cycles: int
    attend_cycles: int
    npu_reads_done_cycle: int | None
    commands: dict[str, int]
    energy_j: dict[str, float]
    fidelity: str
    error_bound: float | None
    row_buffer: str = "dual"
    commands_issued: int = 0
    seconds: float = 0.0
    channel_phase_cycles: np.ndarray = field(default=None, repr=False)  # [channels, phases]

    @classmethod
    def from_phases(cls, std: DramStandard, per: np.ndarray, phases: Sequence[int],
                    counts: np.ndarray, active: int, read_done: np.ndarray, reads, *,
                    fidelity: str, error_bound: float | None, row_buffer: str,
                    issued: int) -> AttentionResult:
        """The stage from per-channel, per-phase cycles ``per`` [channels, phases]: phases run
        one after the other, each as long as its slowest channel. ``counts`` per command code,
        ``active`` active-standby rank-cycles (for the IDD energy), ``read_done`` per channel
        the cycle its NPU reads finished (-1 none), ``reads`` the NPU bytes per channel."""
        phase_max = per.max(axis=0) if len(per) else np.zeros(len(phases), np.int64)
        total = int(phase_max.sum())
        names = {C.COMMAND_NAMES[i]: int(counts[i]) for i in range(C.N_COMMANDS) if counts[i]}
        energy = energy_breakdown(std, names, active,
                                  total * std.org.channels * std.org.pseudo_channels)
        return cls(
            cycles=total, channel_cycles=per.sum(axis=1),
            logits_cycles=int(phase_max[0]) if 0 in phases else 0,
            attend_cycles=int(phase_max[-1]) if 1 in phases else 0,
            npu_reads_done_cycle=int(read_done.max()) if reads and read_done.max() >= 0 else None,
            commands=names, energy_j=energy, fidelity=fidelity, error_bound=error_bound,
            row_buffer=row_buffer, commands_issued=issued, seconds=std.seconds(total),
            channel_phase_cycles=per)
