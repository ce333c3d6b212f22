"""The local host (real psutil and /proc), recorded sysfs trees (RAPL, INA3221), the sampler."""

from __future__ import annotations

import glob
import os
import shutil
import time
from pathlib import Path

import pytest

from devices import get_device
from devices.base import POWER_QUALITY
from devices.errors import DeviceUnavailable
from devices.jetson.device import JetsonDevice
from devices.local import LocalDevice
from devices.sampler import Sampler
from devices.sysfs import rapl_delta_uj
from neumelt.store import Store

DATA = Path(__file__).parent / "data" / "devices"


def test_local_sources_match_what_this_host_has() -> None:
    dev = get_device("local")
    srcs = {s.name: s for s in dev.sources()}
    has_rapl = bool(glob.glob("/sys/class/powercap/intel-rapl:*/energy_uj"))
    has_zones = bool(glob.glob("/sys/class/thermal/thermal_zone*/temp"))
    assert srcs["power.rapl"].available == has_rapl
    assert srcs["thermal"].available == has_zones
    for s in srcs.values():
        assert s.available or s.why, s
        if s.kind == "power":
            assert s.quality in POWER_QUALITY
    assert srcs["cpu"].available and srcs["memory"].available
    info = dev.info()
    assert info.kind == "local" and info.cores >= 1 and info.ram_bytes > 2**20
    mem = dev.process_memory(os.getpid())
    assert mem["rss"] > 0 and mem["hwm"] >= mem["rss"]
    r = dev.run(["sh", "-c", "echo $0; exit 5", "a b"])
    assert (r.returncode, r.stdout) == (5, "a b\n")


def test_rapl_wraparound_and_battery_on_recorded_tree(tmp_path: Path) -> None:
    assert rapl_delta_uj(100, 300, 1000) == 200
    assert rapl_delta_uj(900, 100, 1000) == 200
    assert rapl_delta_uj(900, 100, None) is None
    root = tmp_path / "root"
    shutil.copytree(DATA / "rapl_sysfs", root)
    dev = LocalDevice(sysfs_root=str(root), nvml=False)
    srcs = {s.name: s for s in dev.sources()}
    assert srcs["power.rapl"].available
    assert srcs["power.rapl"].counters == ("package-0", "package-0/core")
    assert srcs["battery"].available and srcs["battery"].quality == "fuel gauge"
    read = dev._power_reader()
    first = {r.name: r.value for r in read()}
    assert "package-0.power_w" not in first and first["BAT0.power_w"] == pytest.approx(7.35)
    pkg = root / "sys/class/powercap/intel-rapl:0/energy_uj"
    pkg.write_text("1000000\n")                  # wrapped past 262143328850
    time.sleep(0.05)
    second = {r.name: r.value for r in read()}
    expected_j = (1000000 + 262143328850 - 262143000000) / 1e6
    assert second["package-0.energy_j"] == pytest.approx(expected_j)
    assert second["package-0.power_w"] > 0


def test_jetson_rails_and_thermal_sentinels_on_orin_nano_tree() -> None:
    dev = JetsonDevice(sysfs_root=str(DATA / "orin_nano_sysfs"))
    srcs = {s.name: s for s in dev.sources()}
    assert srcs["power.ina3221"].counters == ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")
    assert srcs["power.ina3221"].quality == "on-device rails"
    rails = {r.name: r.value for r in dev.rails_reader()}
    assert rails["VDD_IN.power_w"] == pytest.approx(5.072 * 1.216)
    assert rails["VDD_SOC.current_a"] == pytest.approx(0.288)
    temps = {r.name: r.value for r in dev._thermal_reader()}
    assert temps["cv0-thermal"] is None and temps["cpu-thermal"] == 48.5
    stream = dev.open_counters({"power": 20, "thermal": 20, "cpu": 0, "memory": 0})
    seen = set()
    for tick in stream.ticks():
        seen.add(tick.group)
        if len(seen) == 2:
            stream.close()
    assert seen == {"power", "thermal"}


def test_sampler_on_local_host(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("profile", {"t": "local"})
    dev = LocalDevice()
    with Sampler(dev, store, run_id, rates={"cpu": 10, "memory": 2}, pids=[os.getpid()]) as s:
        time.sleep(1.6)
    util = store.samples(run_id, source="cpu", name="util")
    assert 12 <= len(util) <= 18
    assert all(0.0 <= u.value <= 1.0 for u in util)
    rss = store.samples(run_id, source=f"process.{os.getpid()}", name="rss")
    assert len(rss) >= 3 and all(r.value > 0 for r in rss)
    info = store.get_run(run_id).info
    assert info["clock_offset_start"] and info["clock_offset_end"]
    assert abs(info["clock_drift_ppm"]) < 1000
    assert info["sampler_summary"]["samples"] == s.n_samples == len(store.samples(run_id))
    m = {x.name: x for x in store.metrics(run_id)}
    assert m["sampler_host_cpu"].unit == "% of one core" and m["sampler_host_cpu"].value >= 0
    assert store.get_run(run_id).status == "running"      # the caller finishes the run


def test_ios_without_pymobiledevice3_is_a_clear_message() -> None:
    try:
        import pymobiledevice3  # noqa: F401
        has = True
    except ImportError:
        has = False
    with pytest.raises(DeviceUnavailable) as err:
        get_device("ios")
    if not has:
        assert "pip install 'neumelt[ios]'" in str(err.value)
    else:
        assert "usbmuxd" in str(err.value)


class _StallingHost(LocalDevice):
    """The real local host whose cpu reader stalls once (a busy device): the gap must show."""

    def open_counters(self, rates, pids=()):  # noqa: ANN001, ANN201
        from devices.polling import PolledStream
        real = self._cpu_reader()
        calls = [0]

        def stalling():  # noqa: ANN202
            calls[0] += 1
            if calls[0] == 5:
                time.sleep(0.45)
            return real()
        return PolledStream({"cpu": (20.0, stalling)})


def test_sampler_records_gaps(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("profile", {})
    with Sampler(_StallingHost(nvml=False), store, run_id) as s:
        time.sleep(1.0)
    gaps = [e for e in store.events(run_id, track="sampler") if e.name == "gap cpu"]
    assert len(gaps) == 1 and gaps[0].dur_s >= 0.4 and gaps[0].data["missed"] >= 7
    assert s.gaps[0][2] == pytest.approx(gaps[0].dur_s)
    assert {m.name: m.value for m in store.metrics(run_id)}["sampler_gaps"] == 1


def test_tegrastats_stream_from_a_running_process() -> None:
    from devices.base import ClockOffset
    from devices.errors import DeviceGone
    from devices.jetson.device import TegrastatsStream
    line = (DATA / "tegrastats_golden.txt").read_text().splitlines()[5]
    script = f"for i in 1 2 3; do echo '{line}'; sleep 0.05; done"
    stream = TegrastatsStream(["bash", "-c", script], ClockOffset(10.0, 0.0, 0.0), 0.05)
    ticks = []
    with pytest.raises(DeviceGone, match="tegrastats ended"):
        for t in stream.ticks():
            ticks.append(t)
    assert len(ticks) == 3
    vals = {(r.source, r.name): r.value for r in ticks[0].readings}
    assert vals[("power.rails", "POM_5V_IN.power_w")] == pytest.approx(0.933)
    assert ticks[0].t_device_s == pytest.approx(ticks[0].t_host_s + 10.0)


def test_local_spawn() -> None:
    dev = LocalDevice(nvml=False)
    with dev.spawn(["sh", "-c", "echo one; echo two >&2; exit 3"]) as proc:
        assert list(proc.lines(idle_timeout=10)) == ["one", "two"]
        proc.proc.wait(5)
        assert proc.returncode == 3
