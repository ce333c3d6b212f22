"""How fast the NPU can hand PIM commands to the memory controllers.

Two command sets (the NeuPIMs artifact's two DRAM types):

- ``composite`` (NeuPIMs, ``dram_type: neupims``): a GEMV tile is one P_HEADER and one
  COMPS_READRES per head (k COMPs and the READRES folded into one command).
- ``newton`` (the artifact's ``npu+pim`` branch, ``dram_type: newton``, after Newton /
  AiM): the same tile is one P_HEADER, k separate COMP commands and one READRES per head
  (``NeuPIMSLogitSoftmax.cc``, ``NeuPIMSAttend.cc``: ``if dram_type == NEWTON``).

Every command is an instruction the NPU pushes through its PIM load queue. In the
``npu+pim`` branch the core pops one per NPU cycle for all channels together
(``NeuPIMSystolicWS::pim_ld_queue_cycle``: ``if``; ``command_port_per_cycle``) into
per-channel memory queues; in the NeuPIMs branch the same function drains the whole queue
in one cycle (``while``), so the composite designs have no port to wait for. The batch is
one PIM tile per operator (its scratchpad bound is the config's ``sram_size``, 134,218 KB,
not the 1,024 KB ``spad_size`` key, which the loader never reads), handed out request by
request in the scheduler's order — channel by channel for the artifact's baselines
(``PimConfig.issue_order``). :func:`ordered_port_timing` times that: a channel cannot start a
request before the port reaches it. On the reference batch the Newton set needs ~733,000
commands per layer; channel by channel, attention takes 448,159 + 490,395 cycles against
the port's 374,280 + 358,832 and the channels' own 94,264 + 127,200 (refresh aside).

Not modelled: the artifact's controller starts a GEMV tile or GWRITE only if it fits
before the next refresh deadline (``NewtonCommandQueue::CanMeetRefreshDeadline``), which
makes its REFs cost about twice ours (tests/data/neupims_artifact, ``command_log``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.dram import commands as C
from sim.dram.standard import DramStandard

COMMAND_SETS = ("composite", "newton")


def _port_commands(std: DramStandard, counts: np.ndarray, command_set: str) -> int:
    """Instructions the NPU issues for the fast path's command ``counts`` of a program:
    GWRITEs, one P_HEADER per row-open tile (its G_ACTs / bank groups of both
    pseudo-channels), and the GEMV commands of ``command_set``."""
    headers = int(counts[C.G_ACT]) // (std.org.pseudo_channels * std.org.bank_groups)
    if command_set == "newton":
        return int(counts[C.GWRITE]) + headers + int(counts[C.COMP]) + int(counts[C.READRES])
    return int(counts[C.GWRITE]) + headers + int(counts[C.COMPS_READRES])


def phase_commands(std: DramStandard, channel_seq_lens: Sequence[Sequence[int]], shape,
                   phases: Sequence[int], command_set: str) -> tuple[int, ...]:
    """PIM instructions the NPU issues per phase for the whole batch, in ``command_set``."""
    from sim.pim.fast import pim_channel_cycles

    if command_set not in COMMAND_SETS:
        raise ValueError(f"unknown command set {command_set!r}")
    out = []
    for p in phases:
        n = 0
        for lens in channel_seq_lens:
            if not len(lens):
                continue
            _c, k, _acc = pim_channel_cycles(std, lens, shape, p, refresh=False)
            n += _port_commands(std, k, command_set)
        out.append(n)
    return tuple(out)


@dataclass(frozen=True)
class OrderedPortTiming:
    """Attention phases whose commands leave the NPU's port in batch order (see
    :func:`ordered_port_timing`), in cycles of the HBM clock: ``cycles`` per phase, the
    port alone (``port_cycles``: all commands / rate), and the commands per phase."""

    cycles: tuple[int, ...]
    port_cycles: tuple[int, ...]
    commands: tuple[int, ...]


def ordered_port_timing(std: DramStandard, requests: Sequence[tuple[int, int]], shape,
                        phases: Sequence[int], command_set: str, per_cycle: float,
                        port_to_dram: float = 1.0, refresh: bool = True) -> OrderedPortTiming:
    """A phase whose commands are handed out request by request, in batch order, through one
    port, as the NeuPIMs artifact's core does: an operator's whole batch is one PIM tile
    (its scratchpad is the config's ``sram_size``, 134,218 KB, so no batch is split), the
    tile's instructions wait in one PIM load queue, and the core pops one per cycle into
    per-channel memory queues (``NeuPIMSystolicWS::pim_ld_queue_cycle``).

    ``requests`` are ``(seq_len, channel)`` in batch order. The port takes
    ``port_to_dram / per_cycle`` HBM cycles per command. Channel ``c`` serves its requests in
    that order: a request starts when its first command has arrived and the channel is free,
    takes its channel time, and ends no earlier than its last command's arrival. A request's
    channel time is what it adds to the fast path's cycles of the channel's requests so far
    (:func:`sim.pim.fast.pim_channel_cycles` of the prefix), so with ``refresh`` the REFs
    that fall inside the channel's busy time are charged where they fall (a channel that
    the port keeps waiting could refresh while idle; channel by channel it rarely waits
    after its first request, as its requests take longer than their commands). A phase ends
    with its last channel.
    Against ``max(slowest channel, port)`` this adds what a channel waits for the port to
    reach its next request while the port serves the other channels."""
    from sim.pim.fast import pim_channel_cycles

    if command_set not in COMMAND_SETS:
        raise ValueError(f"unknown command set {command_set!r}")
    if not per_cycle > 0 or not port_to_dram > 0:
        raise ValueError("per_cycle and port_to_dram must be > 0")
    step = port_to_dram / per_cycle
    out_c, out_p, out_n = [], [], []
    for p in phases:
        free: dict[int, float] = {}
        served: dict[int, list[int]] = {}
        busy: dict[int, tuple[int, int]] = {}    # channel -> (cycles, commands) so far
        port = end = 0.0
        n_all = 0
        for seq_len, c in requests:
            c = int(c)
            lens = served.setdefault(c, [])
            lens.append(int(seq_len))
            cyc, k, _acc = pim_channel_cycles(std, lens, shape, p, refresh=refresh)
            upto = (int(cyc), _port_commands(std, k, command_set))
            before = busy.get(c, (0, 0))
            svc, n = upto[0] - before[0], upto[1] - before[1]
            busy[c] = upto
            first = port + step
            port += n * step
            fin = max(max(free.get(c, 0.0), first) + svc, port)
            free[c] = fin
            end = max(end, fin)
            n_all += n
        out_c.append(int(np.ceil(end)))
        out_p.append(int(np.ceil(n_all * step)))
        out_n.append(n_all)
    return OrderedPortTiming(tuple(out_c), tuple(out_p), tuple(out_n))
