"""The profile command against the ADB test device (real adb server, wire-protocol adbd).

The daemon's shell runs on this host, so llama-cpp-python's OpenAI-compatible server,
started through ``adb shell``, stands in for llama-server; its port is forwarded by adb.
One test pushes a stand-in "arm64 build" (a ``llama-server`` script taking llama-server's
flags, plus its ``libllama.so``) the way a real build is pushed; the others start
llama-cpp-python's server directly (``--server llama-cpp-python``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from devices_support import adb_server, adbd  # noqa: E402,F401
from profiler_support import write_tiny_llama  # noqa: E402

from neumelt.store import Store  # noqa: E402

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] (extra llm) missing")


def _env(tmp: Path) -> dict[str, str]:
    import os

    return dict(os.environ, XDG_STATE_HOME=str(tmp / "state"))  # hygiene state stays here


def _cmd(db: Path, d, model: Path, *extra: str) -> list[str]:
    from devices_support import free_port

    return [sys.executable, "-m", "neumelt", "--db", str(db), "profile", "--device", d.serial,
            "--adb-port", str(d.adb_port), "--device-root", str(d.root), "--model", str(model),
            "--server", "llama-cpp-python", "--server-python", sys.executable,
            "--port", str(free_port()), "--scale", "0.05", "--idle-s", "0.5",
            "--sample-hz", "10", "--quiet", *extra]


STANDIN = """#!/bin/sh
# Stand-in for an arm64 llama-server build: same flags, served by llama-cpp-python.
# It refuses to start unless its shared library was pushed beside it and found through
# LD_LIBRARY_PATH, as a dynamically linked llama.cpp build would.
[ -f "$LD_LIBRARY_PATH/libllama.so" ] || {{ echo "libllama.so not found" >&2; exit 3; }}
while [ $# -gt 0 ]; do
  case "$1" in
    -m) M="$2"; shift 2;; --host) H="$2"; shift 2;; --port) P="$2"; shift 2;;
    -c) C="$2"; shift 2;; -t) T="$2"; shift 2;; -tb|-np) shift 2;; *) shift;;
  esac
done
exec {python} -m llama_cpp.server --model "$M" --host "$H" --port "$P" --n_ctx "$C" \\
  --n_threads "$T" --n_threads_batch "$T" --verbose False --interrupt_requests False
"""


def _standin_build(tmp: Path) -> Path:
    d = tmp / "build-arm64" / "bin"
    d.mkdir(parents=True)
    (d / "libllama.so").write_bytes(b"\x7fELF stand-in")
    exe = d / "llama-server"
    exe.write_text(STANDIN.format(python=sys.executable))
    exe.chmod(0o755)
    return exe


def _kill_servers(store: Store, run_id: int) -> None:
    info = store.get_run(run_id).info
    for k, v in info.items():
        if k.startswith("load.") and isinstance(v, dict):
            for pid in v.get("pids") or []:
                subprocess.run(["kill", "-9", str(pid)], capture_output=True)


def test_profile_over_adb_one_timeline(adbd, tmp_path: Path) -> None:  # noqa: F811
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    db = tmp_path / "adb.db"
    exe = _standin_build(tmp_path)
    cmd = [a if a != "llama-cpp-python" else "llama-server" for a in
           _cmd(db, adbd, model, "--delay-scale", "0", "--max-calls", "20",
                "--repetitions", "1", "--warmup", "0", "--json", "--server-binary", str(exe),
                "--keep-device-files")]
    r = subprocess.run(cmd,
                       capture_output=True, text=True, timeout=240, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    store = Store(db)
    try:
        run = store.get_run(doc["run_id"])
        assert run.status == "done" and run.info["device"]["kind"] == "android"
        # the model was pushed to the device and served from there
        assert run.info["model_pushed"] is True
        remote = adbd.root / "data/local/tmp/neumelt/tiny.gguf"
        assert remote.read_bytes() == model.read_bytes()
        assert run.info["load.0"]["server"] == "llama-server"
        # the build (binary and its shared library) was pushed next to the model
        pushed = adbd.root / "data/local/tmp/neumelt"
        assert (pushed / "llama-server").read_bytes() == exe.read_bytes()
        assert (pushed / "libllama.so").is_file()
        calls = doc["calls"]
        assert calls and all(c["counts_ok"] for c in calls)
        assert all(0 <= c["ttft_s"] <= c["e2e_s"] for c in calls)
        # the clock offset was measured and samples share the events' host timeline
        assert "offset_s" in run.info["clock_offset_start"]
        samples = store.samples(run.id)
        power = [s for s in samples if s.name == "power_w"]
        assert len(power) >= 10
        assert any(s.t_device_s is not None for s in samples)
        evs = store.events(run.id)
        first = min(c["t_start_s"] for c in calls)
        last = max(c["t_end_s"] for c in calls)
        assert power[0].t_host_s < first and power[-1].t_host_s > first
        assert any(first <= s.t_host_s <= last + 1.0 for s in samples)
        assert {e.name for e in evs} >= {"idle_baseline", "load", "call_start", "first_token",
                                         "token", "call_end"}
        # the fuel gauge gives power, so energy is measured and attributed per phase
        s = run.info["summary"]
        assert s["power_tier"] == "fuel gauge" and s["idle_power_w"] > 0
        assert all(c["energy_gross_j"] > 0 for c in calls)
        assert s["memory"]["rss_bytes"] > 0
        assert s["thermal"]["max_c"] is not None
        assert all(c["energy_net_j"] is not None for c in calls)
        # hygiene was applied during the run and restored after it
        hyg = run.info["hygiene.0"]
        assert hyg["applied"]["system/screen_brightness_mode"] == "0"
        dev = adbd.device()
        assert dev.run(["settings", "get", "system", "screen_brightness_mode"]).stdout.strip() \
            == hyg["saved"]["system/screen_brightness_mode"]
        # the server was stopped at the end
        pid = run.info["load.0"]["pids"][0]
        assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    finally:
        _kill_servers(store, doc["run_id"])
        store.close()


def test_device_lost_mid_run_then_resume(adbd, tmp_path: Path) -> None:  # noqa: F811
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    db = tmp_path / "lost.db"
    cmd = _cmd(db, adbd, model, "--delay-scale", "0.01", "--max-calls", "40",
               "--repetitions", "1", "--warmup", "0")
    store = Store(db)   # schema first, so this test and the child never migrate at once
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(tmp_path))
    run_id = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = store.list_runs(kind="profile")
            if runs and len(store.records(runs[0].id, "calls")) >= 5:
                run_id = runs[0].id
                break
            time.sleep(0.05)
        assert run_id is not None, "the run never got going"
        adbd.kill()                     # the phone vanishes mid-run
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err[-2000:]
        assert "--resume" in err
        run = store.get_run(run_id)
        assert run.status == "interrupted"
        kept = {k for _, k, _ in store.records(run_id, "calls")}
        n_samples = len(store.samples(run_id))
        assert len(kept) >= 5 and n_samples > 0

        adbd.start()                    # back on the same port
        r = subprocess.run([sys.executable, "-m", "neumelt", "--db", str(db), "profile",
                            "--resume", str(run_id), "--quiet", "--json"],
                           capture_output=True, text=True, timeout=240, env=_env(tmp_path))
        assert r.returncode == 0, r.stderr[-2000:]
        run = store.get_run(run_id)
        assert run.status == "done"
        assert run.info["model_pushed"] is False     # same bytes on the device: not pushed
        keys = [k for _, k, _ in store.records(run_id, "calls")]
        assert len(keys) == len(set(keys))           # nothing ran twice
        assert kept <= set(keys)                     # what was done is kept
        n_calls = sum(1 for k in keys)
        n_delays = len(store.records(run_id, "delays"))
        assert n_calls + n_delays == 40              # every node of the task, once
        assert len(store.samples(run_id)) > n_samples
        segs = [e for e in store.events(run_id, "session") if e.name == "segment"]
        assert len(segs) == 2
        assert all(d["counts_ok"] for _, _, d in store.records(run_id, "calls"))
    finally:
        if proc.poll() is None:
            proc.kill()
        if run_id is not None:
            _kill_servers(store, run_id)
        store.close()


def test_cooldown_waits_for_temperature_not_a_fixed_sleep(adbd) -> None:  # noqa: F811
    import threading

    from profiler.session import cooldown

    dev = adbd.device()
    zone = adbd.root / "sys/class/thermal/thermal_zone1/temp"
    base = 45.3
    zone.write_text("61000\n")                        # hot after a repetition
    timer = threading.Timer(1.5, lambda: zone.write_text("46100\n"))
    timer.start()
    try:
        t0 = time.monotonic()
        r = cooldown(dev, base, 2.0, 30.0)
        waited = time.monotonic() - t0
    finally:
        timer.cancel()
    assert 1.4 <= waited < 10 and r["temp_c"] == pytest.approx(46.1)
    assert r["waited_s"] == pytest.approx(waited, abs=0.5)
    assert cooldown(dev, base, 2.0, 30.0)["waited_s"] < 1.0   # already cool: no wait
    zone.write_text("70000\n")
    assert cooldown(dev, base, 2.0, 1.2)["timed_out"] is True
