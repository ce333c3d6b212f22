"""What one channel runs during an attention stage: its PIM command program
(:func:`channel_program`) and the layout of concurrent sequential NPU reads
(:func:`npu_read_requests`). Used by the command-level stage and by the fast path's probe."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.dram.mapping import AddressMapping
from sim.dram.standard import DramStandard
from sim.kernels.pim import attention_program
from sim.pim.shapes import AttentionShape


def channel_program(std: DramStandard, seq_lens: Sequence[int], shape: AttentionShape,
                    phase: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The PIM command program (cmd, target, arg arrays) of one channel for one phase."""
    o = std.org
    lens = np.asarray([int(s) for s in seq_lens], dtype=np.int64)
    args = (lens, phase, shape.heads, shape.d_k, shape.e_tp, shape.dtype_bytes,
            o.pseudo_channels, o.bank_groups, o.banks_per_group, o.row_bytes,
            std.pim.global_buffer_bytes, std.pim.multipliers_per_bank, o.rows)
    empty = np.zeros(0, dtype=np.int64)
    n = attention_program(*args, False, empty, empty, empty, shape.group)
    cmd = np.zeros(n, dtype=np.int64)
    tgt = np.zeros(n, dtype=np.int64)
    arg = np.zeros(n, dtype=np.int64)
    attention_program(*args, True, cmd, tgt, arg, shape.group)
    return cmd, tgt, arg


def npu_read_requests(std: DramStandard, nbytes: int) -> tuple[np.ndarray, ...]:
    """Sequential NPU reads of ``nbytes`` in one channel, laid out by the standard's address
    mapping with the channel field removed (so consecutive bursts interleave banks and bank
    groups as the mapping does), rows from the upper half of each bank. All arrive at 0."""
    o = std.org
    n = -(-int(nbytes) // o.burst_bytes)
    amap = AddressMapping.of(std, std.address_mapping)
    rest = np.arange(n, dtype=np.int64)
    fields = {}
    for f in reversed([amap.scheme[i:i + 2] for i in range(0, 12, 2)]):
        if f == "ch":
            continue
        w = amap.widths[f]
        fields[f] = rest & ((1 << w) - 1) if f != "ro" else rest
        rest = rest >> w
    bank = (fields["ra"] * o.bank_groups + fields["bg"]) * o.banks_per_group + fields["ba"]
    row = o.rows // 2 + fields["ro"] % (o.rows // 2)
    return np.zeros(n, np.int64), np.zeros(n, bool), bank, row, fields["co"]
