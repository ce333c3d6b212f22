"""Defects the fuzz tier found, one regression test each (all fixed)."""

from __future__ import annotations

import pytest

from neumelt.errors import InputError


def test_dram_trace_numbers_past_64_bits_and_far_arrivals_are_bad_input(tmp_path):
    from sim.dram.trace import MAX_CYCLE, read_trace

    for text, what in [("LD 0xffffffffffffffffffff\n", "64 bits"),
                       ("0x40 READ 99999999999999999999999\n", "64 bits"),
                       (f"0x0 READ 0\n0x40 READ {MAX_CYCLE + 1}\n", "longest trace")]:
        p = tmp_path / "t.trace"
        p.write_text(text)
        with pytest.raises(InputError, match=what) as exc:
            read_trace(p)
        assert "t.trace:" in str(exc.value)
