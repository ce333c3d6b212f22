"""Address mapping named like DRAMsim3's: ``rorabgbachco`` lists fields from MSB to LSB.

Fields: ``ro`` row, ``ra`` rank (pseudo-channel), ``bg`` bank group, ``ba`` bank, ``ch`` channel,
``co`` column (counted in bursts). The low ``log2(burst_bytes)`` bits are the offset inside a
burst and are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neumelt.errors import InputError
from sim.dram.standard import DramStandard

FIELDS = ("ro", "ra", "bg", "ba", "ch", "co")
# Common schemes (any order of the six fields is accepted).
MAPPINGS = ("rorabgbachco", "rochrabgbaco", "robabgrachco", "chrobabgraco", "rorabachcobg",
            "rorabgchbaco")


def _log2(v: int) -> int:
    return int(v).bit_length() - 1


@dataclass(frozen=True)
class Decoded:
    """Decoded request coordinates (numpy int64 arrays, one entry per address)."""

    channel: np.ndarray
    rank: np.ndarray
    bank_group: np.ndarray
    bank: np.ndarray
    row: np.ndarray
    column: np.ndarray

    def flat_bank(self, bank_groups: int, banks_per_group: int) -> np.ndarray:
        return (self.rank * bank_groups + self.bank_group) * banks_per_group + self.bank


@dataclass(frozen=True)
class AddressMapping:
    scheme: str
    widths: dict[str, int]
    offset_bits: int

    @classmethod
    def of(cls, std: DramStandard, scheme: str = "rorabgbachco") -> AddressMapping:
        parts = [scheme[i:i + 2] for i in range(0, len(scheme), 2)]
        if len(scheme) != 12 or sorted(parts) != sorted(FIELDS):
            raise InputError(f"invalid address mapping {scheme!r}", key="mapping",
                             expected="six two-letter fields ro ra bg ba ch co, each once, "
                                      "e.g. rorabgbachco")
        o = std.org
        widths = {"ro": _log2(o.rows), "ra": _log2(o.pseudo_channels), "bg": _log2(o.bank_groups),
                  "ba": _log2(o.banks_per_group), "ch": _log2(o.channels),
                  "co": _log2(o.bursts_per_row)}
        return cls(scheme=scheme, widths=widths, offset_bits=_log2(o.burst_bytes))

    @property
    def address_bits(self) -> int:
        return self.offset_bits + sum(self.widths.values())

    def shifts_masks(self) -> tuple[np.ndarray, np.ndarray]:
        """Bit shift and mask of each field in the order ro, ra, bg, ba, ch, co."""
        shift: dict[str, int] = {}
        pos = self.offset_bits
        for f in reversed([self.scheme[i:i + 2] for i in range(0, 12, 2)]):
            shift[f] = pos
            pos += self.widths[f]
        sh = np.array([shift[f] for f in FIELDS], dtype=np.int64)
        mk = np.array([(1 << self.widths[f]) - 1 for f in FIELDS], dtype=np.int64)
        return sh, mk

    def decode(self, addresses: np.ndarray) -> Decoded:
        a = np.asarray(addresses, dtype=np.int64) >> self.offset_bits
        out: dict[str, np.ndarray] = {}
        for f in reversed([self.scheme[i:i + 2] for i in range(0, 12, 2)]):
            w = self.widths[f]
            out[f] = a & ((1 << w) - 1)
            a = a >> w
        return Decoded(channel=out["ch"], rank=out["ra"], bank_group=out["bg"], bank=out["ba"],
                       row=out["ro"], column=out["co"])

    def encode(self, channel: int, rank: int, bank_group: int, bank: int, row: int,
               column: int) -> int:
        vals = {"ch": channel, "ra": rank, "bg": bank_group, "ba": bank, "ro": row, "co": column}
        a = 0
        for f in [self.scheme[i:i + 2] for i in range(0, 12, 2)]:
            a = (a << self.widths[f]) | (int(vals[f]) & ((1 << self.widths[f]) - 1))
        return a << self.offset_bits
