"""DRAM standards as data: presets, derived figures, compiled tables and bad input."""

from __future__ import annotations

import pytest

from neumelt.errors import InputError
from sim.dram import commands as C
from sim.dram.standard import eval_latency, list_presets, load_standard


def test_presets_load_with_their_figures():
    assert {"hbm2-neupims", "hbm3"} <= set(list_presets())
    s = load_standard("hbm2-neupims")
    t = s.timing
    assert (t.nCL, t.nRCDRD, t.nRP, t.nRAS, t.nRFC, t.nREFI, t.nFAW) == (14, 14, 14, 34, 260,
                                                                          3900, 30)
    assert s.org.banks == 32 and s.org.row_bytes == 1024 and s.org.burst_bytes == 64
    assert s.org.capacity_bytes == 32 * 2**30                    # 32 channels x 1 GB
    assert s.peak_bandwidth_bytes_per_s == pytest.approx(1024e9)  # 32 x 32 GB/s
    assert s.clock_hz == pytest.approx(1e9)
    h = load_standard("hbm3")
    # 32 pseudo-channels x 32 bit x 6.4 Gb/s = 819.2 GB/s
    assert h.peak_bandwidth_bytes_per_s == pytest.approx(819.2e9)
    assert h.cycles(15.0) == 24  # 15 ns at 625 ps, rounded up
    assert h.timing.nRC >= h.timing.nRAS + h.timing.nRP


def test_constraints_compile_to_tables_per_row_buffer_mode():
    s = load_standard("hbm2-neupims")
    single, dual = s.tables("single"), s.tables("dual")

    def lat(tb, prev, level, nxt):
        for k in range(tb.con_ptr[prev], tb.con_ptr[prev + 1]):
            if tb.con_level[k] == level and tb.con_next[k] == nxt:
                return int(tb.con_lat[k])
        return None

    assert lat(dual, C.ACT, C.LEVEL_BANK, C.RD) == 14
    assert lat(dual, C.WR, C.LEVEL_BANK, C.PRE) == 4 + 2 + 16       # nCWL + nBL + nWR
    assert lat(dual, C.ACT, C.LEVEL_BANK, C.G_ACT) == 6             # dual: nRRD_L
    assert lat(single, C.ACT, C.LEVEL_BANK, C.G_ACT) == 48          # single: nRC
    assert lat(dual, C.RD, C.LEVEL_CHANNEL, C.COMP) is None         # relaxed in dual mode
    assert lat(single, C.RD, C.LEVEL_CHANNEL, C.COMP) == 2
    assert dual.win_count == 4 and dual.win_cycles == 30
    assert dual.win_weight[C.ACT] == 1 and dual.win_weight[C.G_ACT] == 4


def test_latency_expressions():
    names = {"nCL": 14, "nBL": 2, "nCWL": 4}
    assert eval_latency("nCL + nBL + 2 - nCWL", names) == 14
    assert eval_latency("max(nCL, 20) // 2", names) == 10
    with pytest.raises(InputError, match="unknown timing name"):
        eval_latency("nCL + nFOO", names)
    with pytest.raises(InputError, match="unsupported expression"):
        eval_latency("__import__('os')", names)


def _write(tmp_path, text):
    p = tmp_path / "std.yaml"
    p.write_text(text)
    return p


BASE_TIMING = """timing:
  nBL: 2
  nCL: 14
  nCWL: 4
  nRCDRD: 14
  nRCDWR: 14
  nRP: 14
  nRAS: {ras}
  nRC: 48
  nRRD_S: 4
  nRRD_L: 6
  nFAW: 30
  nWR: 16
  nCCD_S: 1
  nCCD_L: 2
  nWTR_S: 6
  nWTR_L: 8
  nRTP_S: 4
  nRTP_L: 6
  nRTRS: 1
  nRFC: 260
  nREFI: 3900
"""


def test_contradicting_timings_name_file_key_and_line(tmp_path):
    p = _write(tmp_path, "name: bad\nbase: hbm2-neupims\n" + BASE_TIMING.format(ras=60))
    with pytest.raises(InputError) as e:
        load_standard(str(p))
    msg = str(e.value)
    assert str(p) in msg and "timing" in msg and "nRAS (60) > nRC (48)" in msg
    assert e.value.line == 3


def test_unknown_keys_and_commands_are_errors(tmp_path):
    p = _write(tmp_path, "name: bad\nbase: hbm2-neupims\ntiming_x: 1\n")
    with pytest.raises(InputError, match="unknown key 'timing_x'"):
        load_standard(str(p))
    p = _write(tmp_path, "name: bad\nbase: hbm2-neupims\n" + BASE_TIMING.format(ras=34)
               + "constraints:\n  - {level: bank, prev: ACT, next: [FOO], latency: nRC}\n")
    with pytest.raises(InputError) as e:
        load_standard(str(p))
    assert "unknown command 'FOO'" in str(e.value) and e.value.line == 26
    p = _write(tmp_path, "name: bad\nbase: hbm2-neupims\n"
               "constraints:\n  - {level: bank, prev: ACT, next: [COMP], latency: nRC}\n")
    with pytest.raises(InputError, match="must be at level 'channel'"):
        load_standard(str(p))


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InputError, match="hbm2-neupims, hbm3"):
        load_standard("hbm9")
