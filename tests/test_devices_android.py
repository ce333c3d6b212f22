"""Android over real adb (Debian adb 29 or adbutils' adb 36) against the test adbd."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import threading
import time
from pathlib import Path

import devices_support
import pytest
from devices_support import AdbServer, TestAdbd

from devices import get_device, list_devices
from devices.android.battery import parse_override
from devices.errors import CommandFailed, DeviceUnavailable
from devices.hygiene import Hygiene, pending
from devices.sampler import Sampler
from neumelt.store import Store

adb_server = devices_support.adb_server   # fixtures from tests/devices_support.py
adbd = devices_support.adbd

ORIGINAL = {"system": {"screen_brightness": "143", "screen_brightness_mode": "1",
                       "screen_off_timeout": "30000"},
            "global": {"heads_up_notifications_enabled": "1"}}


def _settings(root: Path) -> dict[str, dict[str, str]]:
    from android_root import settings
    return settings(root)


def _assert_original(root: Path) -> None:
    now = _settings(root)
    for ns, values in ORIGINAL.items():
        for k, v in values.items():
            assert now[ns][k] == v, (ns, k, now[ns][k])


def test_discover_properties_and_commands(adbd: TestAdbd) -> None:
    notes: list[str] = []
    found = list_devices(adb_port=adbd.adb_port, notes=notes)
    assert [d.serial for d in found if d.kind == "android"] == [adbd.serial]
    dev = get_device(adbd.serial, adb_port=adbd.adb_port, root=str(adbd.root),
                     hygiene_dir=adbd.hygiene_dir)
    info = dev.info()
    assert (info.kind, info.model, info.soc, info.cores) == ("android", "Pixel 7", "gs201", 8)
    assert info.os == "Android 14 (API 34)" and info.ram_bytes > 0
    assert dev.properties()["ro.product.cpu.abi"] == "arm64-v8a"
    r = dev.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    hostile = "a b; touch /tmp/neumelt-should-not-exist $(id)"
    assert dev.run(["echo", hostile]).stdout == hostile + "\n"
    assert not os.path.exists("/tmp/neumelt-should-not-exist")
    with pytest.raises(CommandFailed) as err:
        dev.run(["false"]).check(["false"])
    assert err.value.returncode == 1
    off = dev.clock_offset()
    assert off.rtt_s < 2.0 and abs(off.offset_s - (time.time() - time.monotonic())) < 0.5
    names = {s.name: s for s in dev.sources()}
    assert names["battery"].available and names["battery"].quality == "fuel gauge"
    assert not names["power.rails"].available and names["power.rails"].why
    assert names["thermal"].counters[0] == "cpu0-silver-usr"
    mem = dev.process_memory(os.getpid())
    assert mem["rss"] > 0 and mem["pss"] > 0 and mem["anon"] + mem["file"] <= mem["rss"] * 1.01
    meminfo = dev.meminfo(os.getpid())
    assert meminfo["total_pss"] > 0 and meminfo["total_rss"] > 0
    thermal = dev.thermal_status()
    assert thermal["status"] in range(7) and "cpu4-gold-usr" in thermal["temperatures"]


def test_spawn_streams_lines_and_close_stops_it(adbd: TestAdbd) -> None:
    dev = adbd.device()
    marker = dev.path("/data/local/tmp/spawned.pid")
    proc = dev.spawn(["sh", "-c", f"echo $$ > {marker}; i=0; while :; do i=$((i+1)); "
                      "echo tick $i; sleep 0.05; done"])
    got = []
    for line in proc.lines(idle_timeout=10):
        got.append(line)
        if len(got) == 3:
            break
    assert got == ["tick 1", "tick 2", "tick 3"]
    pid = int(Path(marker).read_text())
    proc.close()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "closing the stream must end the device shell"
    done = dev.spawn(["sh", "-c", "echo a; echo b >&2"])
    assert sorted(done.lines(idle_timeout=10)) == ["a", "b"]


def test_push_pull_50mb_byte_identical(adbd: TestAdbd, tmp_path: Path) -> None:
    dev = adbd.device()
    src = tmp_path / "blob.bin"
    src.write_bytes(random.Random(5).randbytes(50 * 1024 * 1024))
    remote = dev.path("/data/local/tmp/models/blob.bin")
    dev.push(str(src), remote)
    back = tmp_path / "back.bin"
    dev.pull(remote, str(back))
    assert back.stat().st_size == 50 * 1024 * 1024
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


def test_forward_reaches_a_device_port(adbd: TestAdbd) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    remote_port = srv.getsockname()[1]

    def echo() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    threading.Thread(target=echo, daemon=True).start()
    dev = adbd.device()
    local = dev.forward(remote_port)
    with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
        c.sendall(b"ping")
        assert c.recv(100) == b"PING"
    srv.close()


def test_sampling_10s_at_10hz_with_hygiene(adbd: TestAdbd, tmp_path: Path) -> None:
    dev = adbd.device()
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("profile", {"what": "10 s sampling"})
    with Hygiene(dev, adbd.hygiene_dir, brightness=77) as report:
        now = _settings(adbd.root)
        assert now["system"]["screen_brightness_mode"] == "0"
        assert now["system"]["screen_brightness"] == "77"
        assert now["system"]["screen_off_timeout"] == "2147483647"
        assert now["global"]["heads_up_notifications_enabled"] == "0"
        assert report.charging is False and report.saved["system/screen_brightness"] == "143"
        rates = {"power": 10, "cpu": 10, "thermal": 10, "memory": 1, "meminfo": 1}
        with Sampler(dev, store, run_id, rates=rates, pids=[os.getpid()]) as s:
            deadline = time.monotonic() + 10
            while not s.n_ticks.get("fast") and time.monotonic() < deadline:
                time.sleep(0.01)                 # 10 s of samples from the first one
            time.sleep(10.2)
    store.finish_run(run_id, "done")
    _assert_original(adbd.root)
    assert pending(dev.serial, adbd.hygiene_dir) is None
    power = store.samples(run_id, source="battery", name="power_w")
    assert len(power) >= 95, len(power)
    assert all(abs(p.value - 0.412345 * 3.87) < 1e-6 for p in power)   # µA, negative = discharging
    ts = [p.t_host_s for p in power]
    assert all(b > a for a, b in zip(ts, ts[1:]))
    assert all(p.t_device_s is not None for p in power)
    assert len(store.samples(run_id, source="thermal", name="cpu4-gold-usr")) >= 95
    assert len(store.samples(run_id, source="cpu", name="util")) >= 94
    assert {g.value for g in store.samples(run_id, source="gpu", name="util")} == {0.23}
    assert {g.value for g in store.samples(run_id, source="gpu", name="freq")} == {585e6}
    rss = store.samples(run_id, source=f"process.{os.getpid()}", name="rss")
    assert 8 <= len(rss) <= 12 and all(r.value > 0 for r in rss)
    uss = store.samples(run_id, source=f"process.{os.getpid()}", name="uss")
    assert len(uss) == len(rss) and all(0 < u.value <= r.value for u, r in zip(uss, rss))
    status = store.samples(run_id, source="thermal", name="status")      # dumpsys, <= 1 Hz
    assert 6 <= len(status) <= 12 and status[0].value == 2.0              # 45.3 C: moderate
    pss = store.samples(run_id, source=f"meminfo.{os.getpid()}", name="total_pss")
    assert 6 <= len(pss) <= 12 and all(p.value > 0 for p in pss)
    info = store.get_run(run_id).info
    assert info["clock_offset_start"]["rtt_s"] < 1 and info["clock_offset_end"]
    assert info["sampler"]["calibration"]["unit"] == "uA"
    assert info["sampler_summary"]["lost"] is False
    metrics = {m.name: m for m in store.metrics(run_id)}
    assert metrics["sampler_host_cpu"].provenance == "measured"
    assert 0 < metrics["sampler_host_cpu"].value < 50
    assert metrics["sampler_device_cpu"].value is not None
    assert metrics["sampler_gaps"].value == len([e for e in store.events(run_id)
                                                 if e.name.startswith("gap")])
    assert s.n_samples == len(store.samples(run_id))
    assert s.overhead()["loop_pid"] is not None       # one long-running loop on the device


def test_killed_daemon_interrupts_and_hygiene_restores_on_reconnect(adbd: TestAdbd,
                                                                    tmp_path: Path) -> None:
    dev = adbd.device()
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("profile", {"what": "kill test"})
    hyg = Hygiene(dev, adbd.hygiene_dir)
    hyg.apply()
    lost = threading.Event()
    s = Sampler(dev, store, run_id, on_lost=lambda why: lost.set()).start()
    time.sleep(2.0)
    adbd.kill()
    assert lost.wait(15), "sampler did not notice the device going away"
    s.stop()
    row = store.get_run(run_id)
    assert row.status == "interrupted" and "device lost" in row.error
    received = store.samples(run_id, source="battery", name="power_w")
    assert len(received) >= 10
    assert s.n_samples == len(store.samples(run_id))
    assert pending(dev.serial, adbd.hygiene_dir) is not None
    assert _settings(adbd.root)["system"]["screen_off_timeout"] == "2147483647"
    hyg.__exit__(None, None, None)             # device gone: must not raise, state kept
    assert pending(dev.serial, adbd.hygiene_dir) is not None
    adbd.start(connect=False)                  # the phone comes back
    t0 = time.monotonic()
    adbd.device()                              # next connection reconnects and restores
    assert time.monotonic() - t0 < 8
    _assert_original(adbd.root)
    assert pending(dev.serial, adbd.hygiene_dir) is None


def test_hygiene_restored_on_ctrl_c_and_charging_warned(adbd: TestAdbd,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    (adbd.root / "sys/class/power_supply/usb/online").write_text("1\n")
    (adbd.root / "sys/class/power_supply/battery/status").write_text("Charging\n")
    dev = adbd.device()
    with pytest.raises(KeyboardInterrupt), Hygiene(dev, adbd.hygiene_dir) as report:
        assert _settings(adbd.root)["system"]["screen_brightness_mode"] == "0"
        assert report.charging is True and report.plugged == ("usb",)
        assert "is charging" in report.warnings[0]
        raise KeyboardInterrupt
    _assert_original(adbd.root)
    assert any("is charging" in r.message for r in caplog.records)


@pytest.mark.parametrize("vendor", ["xiaomi", "samsung"])
def test_vendor_fuel_gauges_calibrate_to_the_same_current(adb_server: AdbServer,
                                                          tmp_path: Path, vendor: str) -> None:
    d = TestAdbd(adb_server, tmp_path, vendor=vendor)
    d.start()
    try:
        cal = d.device().calibration()
        assert cal.how == "detected"
        assert (cal.unit, cal.discharge_sign) == {"xiaomi": ("uA", 1),
                                                  "samsung": ("mA", -1)}[vendor]
        raw = int((d.root / "sys/class/power_supply/battery/current_now").read_text())
        assert cal.current_a(raw) == pytest.approx(0.412, abs=0.001)
        forced = d.device(battery=parse_override("uA,+")).calibration()
        assert (forced.unit, forced.discharge_sign, forced.how) == ("uA", 1, "override")
    finally:
        d.stop()


def test_unknown_serial_is_a_clear_error(adb_server: AdbServer) -> None:
    with pytest.raises(DeviceUnavailable, match="not connected|connect"):
        get_device("127.0.0.1:1", adb_port=adb_server.port, timeout=2.0)
    t0 = time.monotonic()
    with pytest.raises(DeviceUnavailable, match="no device 'R58M0NOPE' .* it lists"):
        get_device("R58M0NOPE", adb_port=adb_server.port)
    assert time.monotonic() - t0 < 2
    from devices_support import free_port
    port = free_port()
    with pytest.raises(DeviceUnavailable, match=f"no adb server on port {port}: run `adb -P"):
        get_device("R58M0NOPE", adb_port=port)       # never starts a server behind your back


def test_adb36_from_adbutils_wheel(tmp_path: Path) -> None:
    import adbutils
    bundled = Path(adbutils.__file__).parent / "binaries" / "adb"
    assert bundled.exists(), "adbutils wheel without its adb binary"
    server = AdbServer(tmp_path, adb=str(bundled))
    server.start()
    d = TestAdbd(server, tmp_path)
    try:
        d.start()
        assert "36." in server.run("version").stdout
        dev = d.device()
        assert dev.run(["sh", "-c", "echo x; exit 7"]).returncode == 7
        assert dev.info().model == "Pixel 7"
    finally:
        d.stop()
        server.stop()
