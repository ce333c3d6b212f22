"""Where the time of an iteration goes: a split of ``total_cycles`` into named parts.

Every design fills :attr:`IterationResult.breakdown` with the same keys, in cycles of the
result's clock, for the whole iteration; the parts sum to ``total_cycles`` exactly (tested).
The split follows the critical path: in a stage where two units overlap, the longer lane
is charged and the shorter one is hidden.

==================  ===========================================================
part                what
==================  ===========================================================
gemm                GEMMs and vector operators (norms, activations, KV writes) on
                    the NPU's arrays / vector units or the GPU, at their solo speed
attention           decode attention: PIM commands on the slowest channel (or the
                    arrays / GPU kernel) plus softmax, at solo speed
contention_stall    an overlapped stage's time beyond the longer lane's solo time
                    (NPU weight reads and PIM sharing the channels; with one row
                    buffer, the NPU waiting for the PIM to release the banks)
mode_switch         single row buffer: closing the NPU's open rows before PIM
                    (write recovery + PREA), and refresh falling inside the PIM
                    phases (REF x nRFC, slowest channel)
command_issue       PIM phases waiting for the NPU's PIM command port (Newton
                    command set: one COMP per 16-element MAC, handed out channel
                    by channel; sim.pim.issue)
communication       TP all-reduce and PP activation hops on the critical path
idle                GPU kernel-launch gaps; nothing on the NPU designs
==================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PARTS: tuple[str, ...] = ("gemm", "attention", "contention_stall", "mode_switch",
                          "command_issue", "communication", "idle")


def empty() -> dict[str, int]:
    """A breakdown with every part at zero."""
    return dict.fromkeys(PARTS, 0)


def add(into: dict[str, int], other: Mapping[str, int], times: int = 1) -> dict[str, int]:
    """``into += times * other`` part by part; returns ``into``."""
    for k in PARTS:
        into[k] += int(other.get(k, 0)) * int(times)
    return into


def total(parts: Mapping[str, int]) -> int:
    return int(sum(int(parts.get(k, 0)) for k in PARTS))


def proportional(shares: Mapping[str, float], cycles: int) -> dict[str, int]:
    """Integer parts of ``cycles`` in proportion to ``shares`` (largest remainders), summing
    to ``cycles`` exactly."""
    out = empty()
    s = sum(max(0.0, float(v)) for v in shares.values())
    if cycles <= 0 or s <= 0:
        out["idle"] = max(0, int(cycles))
        return out
    raw = {k: max(0.0, float(v)) / s * cycles for k, v in shares.items()}
    for k, v in raw.items():
        out[k] += int(v)
    left = int(cycles) - total(out)
    for k in sorted(raw, key=lambda k: raw[k] - int(raw[k]), reverse=True)[:left]:
        out[k] += 1
    return out


def ops_parts(ops: Iterable, comm_prefix: str = "allreduce") -> dict[str, int]:
    """NPU operators of a part run alone: all-reduces are communication, the rest gemm."""
    out = empty()
    for o in ops:
        out["communication" if o.name.startswith(comm_prefix) else "gemm"] += int(o.cycles)
    return out
