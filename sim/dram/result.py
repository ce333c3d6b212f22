"""What a request-level DRAM simulation returns: :class:`DramResult`, shared by the
command-level engine (:mod:`sim.dram.engine`) and the stream fast path (:mod:`sim.dram.fast`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LOG_COLUMNS = ("cycle", "command", "rank", "bank_group", "bank", "row", "arg", "channel")


@dataclass(frozen=True)
class DramResult:
    """Outcome of a request-level simulation (cycles of the standard's command clock)."""

    standard: str
    cycles: int                          # last data transfer, all channels
    completion_cycles: np.ndarray        # per request, input order
    channel_cycles: np.ndarray           # per channel
    commands: dict[str, int]             # issued per command (all channels)
    commands_issued: int
    reads: int
    writes: int
    bytes: int
    row_hits: int
    row_hit_rate: float                  # column accesses without their own ACT / all
    bandwidth_bytes_per_s: float         # bytes / simulated time
    peak_fraction: float                 # of the standard's peak data-bus bandwidth
    seconds: float                       # simulated time
    energy_j: dict[str, float]           # components + total
    fidelity: str = "command"
    error_bound: float | None = None
    command_log: np.ndarray | None = field(default=None, repr=False)  # rows of LOG_COLUMNS

    def summary(self) -> dict:
        return {
            "standard": self.standard, "fidelity": self.fidelity, "cycles": self.cycles,
            "seconds": self.seconds, "reads": self.reads, "writes": self.writes,
            "bytes": self.bytes, "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "peak_fraction": self.peak_fraction, "row_hit_rate": self.row_hit_rate,
            "commands": self.commands, "commands_issued": self.commands_issued,
            "energy_j": self.energy_j, "error_bound": self.error_bound,
        }
