"""Parsers on recorded real-format output: tegrastats, dumpsys, procfs, iOS, the loop lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devices.android.battery import BatteryCalibration, detect, parse_override
from devices.android.dumpsys import (
    parse_battery,
    parse_getprop,
    parse_meminfo,
    parse_thermalservice,
)
from devices.android.loop import LoopParser, LoopPlan, build_script
from devices.base import ClockOffset
from devices.ios.readers import read_battery, read_energy, read_sysmon
from devices.jetson.tegrastats import parse_line, readings, total_power_w
from devices.procfs import cpu_util, parse_proc_stat, process_memory, temp_c
from neumelt.errors import InputError

DATA = Path(__file__).parent / "data" / "devices"


def _golden() -> dict[str, str]:
    out, label = {}, None
    for line in (DATA / "tegrastats_golden.txt").read_text().splitlines():
        if line.startswith("#"):
            label = line[2:]
        elif line.strip():
            out[label] = line
    return out


GOLDEN = _golden()


def test_tegrastats_agx_orin_jp7() -> None:
    s = parse_line(GOLDEN["AGX Orin, JetPack 7.2 (jetson_stats tests)"])
    assert s.time.year == 2026 and s.time.month == 7 and s.ram_used_b == 20642 * 2**20
    assert len(s.cpus) == 12 and s.cpus[0] == (0.23, 2201e6) and s.cpus[4] is None
    assert s.gpu_util == 0.12 and s.gpu_freq_hz == (1300e6, 1300e6)
    assert s.emc_util == 0.03 and s.emc_freq_hz == 3199e6
    assert s.temps_c == {"cpu": 52.968, "gpu": 47.625, "tj": 53.031}
    assert s.rails["VDD_GPU_SOC"].now_w == 5.139 and s.rails["VDD_GPU_SOC"].peak_w == 5.139
    assert s.engines["NVENC0"] is None and s.engines["NVJPG"] == 115e6
    assert total_power_w(s) == ("VIN_SYS_5V0", 5.5)


def test_tegrastats_agx_orin_jp5_sentinels_and_nc() -> None:
    s = parse_line(next(v for v in GOLDEN.values() if "01-03-2023" in v))
    assert s.swap_total_b == 15268 * 2**20 and s.swap_cached_b == 0 and s.lfb_blocks == 5392
    assert s.temps_c["CV0"] is None and s.temps_c["GPU"] is None and s.temps_c["tj"] == 41.656
    assert "NC" not in s.rails and s.rails["VDDQ_VDD2_1V8AO"].avg_w == 0.304
    assert s.engines == {"VIC_FREQ": 115e6, "APE": 174e6}


def test_tegrastats_nano_xavier_tx2_thor() -> None:
    nano = parse_line(next(v for v in GOLDEN.values() if "IRAM" in v))
    assert nano.time is None and nano.iram_used_b == 0 and nano.cpus[2] is None
    assert nano.rails["POM_5V_IN"].now_w == 0.933 and total_power_w(nano)[0] == "POM_5V_IN"
    assert nano.temps_c["thermal"] == 26.25 and nano.gpu_freq_hz == (921e6,)
    nx = parse_line(next(v for v in GOLDEN.values() if "AUX@35C" in v))
    assert nx.emc_util == 0.0 and nx.emc_freq_hz is None and nx.gpu_freq_hz == ()
    assert total_power_w(nx) == ("VDD_IN", 4.245)
    tx2 = parse_line(next(v for v in GOLDEN.values() if "Tdiode" in v))
    assert tx2.swap_total_b == 0 and tx2.cpus[1] is None and len(tx2.rails) == 6
    assert "RAM" not in tx2.rails and "SWAP" not in tx2.rails
    thor = parse_line(next(v for v in GOLDEN.values() if "GR3D_FREQ @[" in v))
    assert thor.gpu_util is None and thor.gpu_freq_hz == (1575e6,) * 3
    assert total_power_w(thor) == ("VIN", 22.1)
    rows = readings(thor)
    assert ("gpu", "util", None, "fraction") in rows
    assert all(isinstance(r[2], (float, type(None))) for r in rows)


def test_tegrastats_rejects_noise() -> None:
    assert parse_line("") is None and parse_line("tegrastats: command not found") is None


def test_battery_calibration_vendor_conventions() -> None:
    pixel = detect([-412345, -400000, -420000], "Discharging")
    xiaomi = detect([412345, 400000], "Discharging")
    samsung = detect([-412, -399], "Discharging")
    for cal, unit, sign in ((pixel, "uA", -1), (xiaomi, "uA", 1), (samsung, "mA", -1)):
        assert (cal.unit, cal.discharge_sign, cal.how) == (unit, sign, "detected")
        assert cal.current_a(412345 * sign if unit == "uA" else 412 * sign) == pytest.approx(
            0.412, abs=1e-3)
    mi8_charging = detect([-326171], "Charging")      # MatteCarra/AccA#27
    assert mi8_charging.discharge_sign == 1
    kernel_charging = detect([900000], "Charging")
    assert kernel_charging.discharge_sign == -1
    assert detect([0, 0], "Discharging").how == "assumed"
    assert detect([-5000], "Full").how == "assumed"


def test_battery_override() -> None:
    cal = parse_override("mA,+")
    assert cal == BatteryCalibration("mA", 1, "override", "set by the user: mA,+")
    assert cal.current_a(300) == pytest.approx(0.3)
    with pytest.raises(InputError, match="--battery"):
        parse_override("amps")


def test_dumpsys_parsers() -> None:
    bat = parse_battery("Current Battery Service state:\n  AC powered: false\n  USB powered: "
                        "true\n  status: 2\n  level: 85\n  voltage: 4213\n  temperature: 285\n")
    assert bat["status"] == "Charging" and bat["plugged"] == ["usb"]
    assert bat["voltage_v"] == 4.213 and bat["temperature_c"] == 28.5
    th = parse_thermalservice("Thermal Status: 3\nCached temperatures:\n\tTemperature{mValue=1.0,"
                              " mType=0, mName=old, mStatus=0}\nCurrent temperatures from HAL:\n"
                              "\tTemperature{mValue=47.5, mType=0, mName=cpu0, mStatus=2}\n"
                              "Current cooling devices from HAL:\n")
    assert th["status"] == 3 and th["status_name"] == "severe"
    assert th["temperatures"] == {"cpu0": {"temp_c": 47.5, "type": 0, "status": 2}}
    assert parse_getprop("[ro.product.model]: [Pixel 7]\n[x]: []")["ro.product.model"] == "Pixel 7"
    mi = parse_meminfo("** MEMINFO in pid 1 [x] **\n  Native Heap    10234    10200\n"
                       "        TOTAL    50000    100\n App Summary\n    TOTAL PSS:    50000"
                       "            TOTAL RSS:    70000       TOTAL SWAP PSS:        12\n")
    assert mi["native_heap"] == 10234 * 1024 and mi["total_pss"] == 50000 * 1024
    assert mi["total_rss"] == 70000 * 1024 and mi["total_swap_pss"] == 12 * 1024


def test_procfs() -> None:
    mem = process_memory("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 600 kB\n"
                         "RssFile:\t 400 kB\nVmSwap:\t 0 kB\n", None)
    assert mem == {"rss": 1024 * 1024, "pss": None, "anon": 600 * 1024, "file": 400 * 1024,
                   "swap": 0, "hwm": 2048 * 1024, "uss": None}
    rollup = "Rss: 1000 kB\nPss: 800 kB\nPrivate_Clean: 100 kB\nPrivate_Dirty: 500 kB\n"
    assert process_memory(None, rollup)["uss"] == 600 * 1024
    st = parse_proc_stat("cpu  10 0 10 80 0 0 0 0\ncpu0 5 0 5 40 0 0 0 0\n")
    assert st["cpu"] == (80, 100)
    assert cpu_util((80, 100), (120, 200)) == pytest.approx(0.6)
    assert cpu_util((1, 1), (1, 1)) is None
    assert temp_c("45300") == 45.3 and temp_c("-256000") is None and temp_c("301") == 30.1
    assert temp_c("38") == 38.0 and temp_c("garbage") is None


def test_loop_script_runs_under_bash_and_parses(tmp_path: Path) -> None:
    bat = tmp_path / "bat"
    bat.mkdir()
    for name, value in {"current_now": "-500000", "voltage_now": "4000000", "status": "Discharging",
                        "capacity": "50", "temp": "250", "charge_counter": "1000"}.items():
        (bat / name).write_text(value + "\n")
    zone = tmp_path / "tz"
    zone.write_text("-256000\n")
    plan = LoopPlan(period_ms=50, mem_every=2, battery_dir=str(bat), zones=((0, str(zone), "cv0"),),
                    pids=(1,))
    script = build_script(plan)
    out = subprocess.run(["timeout", "0.5", "bash", "-c", script], capture_output=True,
                         text=True).stdout.splitlines()
    assert out[0].startswith("H ")
    parser = LoopParser(plan, ClockOffset(100.0, 0.0, 0.0), detect([-500000], "Discharging"))
    ticks = [t for t in (parser.parse(line) for line in out) if t is not None]
    fast = [t for t in ticks if t.group == "fast"]
    assert 6 <= len(fast) <= 11
    vals = {(r.source, r.name): r.value for r in fast[1].readings}
    assert vals[("battery", "power_w")] == pytest.approx(2.0)
    assert vals[("thermal", "cv0")] is None
    assert 0.0 <= vals[("cpu", "util")] <= 1.0
    assert fast[0].t_host_s == pytest.approx(fast[0].t_device_s - 100.0)
    mem = [t for t in ticks if t.group == "memory"]
    assert mem and dict(((r.source, r.name), r.value) for r in mem[0].readings)[
        ("battery", "level_pct")] == 50.0
    assert parser.overhead()["device_cpu_fraction"] is not None
    gaps = [b.t_device_s - a.t_device_s for a, b in zip(fast, fast[1:])]
    assert max(gaps) < 0.2


def test_ios_sysmon_battery_energy() -> None:
    sm = read_sysmon((DATA / "ios/sysmon_process.jsonl").read_text(), name="LLMFarm")
    foot = [s for s in sm if s.name == "phys_footprint"]
    assert [s.value for s in foot] == [1893728256, 1899970560, 1901019136]
    assert foot[1].t_host_s - foot[0].t_host_s == pytest.approx(0.5)
    cpu = [s for s in sm if s.name == "cpu_util"]
    assert cpu[0].value == pytest.approx(1.874) and cpu[0].unit == "fraction"
    bat = read_battery((DATA / "ios/battery_monitor.jsonl").read_text())
    power = [s for s in bat if s.name == "power_w"]
    assert power[0].value == pytest.approx(1.450 * 3.912) and power[2].value < 0
    assert [s.value for s in bat if s.name == "temp_c"][0] == pytest.approx(31.5)
    en = read_energy((DATA / "ios/energy.jsonl").read_text())
    assert {s.unit for s in en} == {"score"} and not any(s.unit == "J" for s in en)
    assert [s.value for s in en if s.name == "energy.cost"] == [412.5, 430.0]
    with pytest.raises(InputError, match="<sysmon>:2: not JSON"):
        read_sysmon('{"pid": 1}\n{not json')
    pretty = '{\n  "InstantAmperage": -1000,\n  "Voltage": 4000\n}\n{\n  "InstantAmperage": -500\n}\n'
    watts = [s.value for s in read_battery(pretty) if s.name == "power_w"]
    assert watts == [pytest.approx(4.0), None]
