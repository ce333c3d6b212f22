"""A real llama.cpp ``llama-server`` binary under the profiler.

* Through the test ADB daemon and the real ``adb`` client: the binary and a generated GGUF
  are pushed, the server is started on the "device", an agent workload runs through
  ``neumelt profile --device SERIAL --server-binary ...``, counters are sampled on the
  device, the server's log is pulled, the server is stopped and the device is left as it
  was found (no process, no file, no port forward).
* TTFT and inter-token latency checked against an outside observer of the very same
  requests: a timing proxy between the profiler and the server (tests/sse_support.py,
  no neumelt code) stamps each request and each streamed token on the host clock.

The binary is llama.cpp's own, built from the source the llama-cpp-python sdist vendors
(``python -m profiler.runtimes.llamacpp_tools build``, run by .ci/run). Where it has not
been built, the same llama.cpp server code prebuilt in the xllamacpp wheel (extra demo)
stands in (nothing is pushed then but the model), except under
``NEUMELT_REQUIRE_LLAMA_TOOLS=1`` (CI), where a missing binary fails.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from devices_support import adb_server, adbd, free_port  # noqa: E402,F401
from profiler_support import write_tiny_llama  # noqa: E402
from sse_support import TimingProxy, stream_completion  # noqa: E402

from neumelt.store import Store  # noqa: E402
from profiler.runtimes.llamacpp_tools import find_tool  # noqa: E402

LLAMA_SERVER = find_tool("llama-server")
if LLAMA_SERVER is None:
    msg = ("llama.cpp's llama-server is not built: python -m profiler.runtimes.llamacpp_tools "
           "build")
    if os.environ.get("NEUMELT_REQUIRE_LLAMA_TOOLS") == "1":
        raise RuntimeError(msg)
    # elsewhere: the same llama.cpp server code, prebuilt in the xllamacpp wheel (extra demo)
    pytest.importorskip("xllamacpp", reason=msg + " and xllamacpp is not installed")


def _server_args() -> list[str]:
    """``neumelt profile`` options selecting the server under test."""
    if LLAMA_SERVER is not None:
        return ["--server", "llama-server", "--server-binary", str(LLAMA_SERVER)]
    return ["--server", "xllamacpp", "--server-python", sys.executable]


def _server_argv(model: Path, port: int) -> list[str]:
    exe = [str(LLAMA_SERVER)] if LLAMA_SERVER is not None else \
        [sys.executable, "-m", "profiler.runtimes.xllama_server"]
    return exe + ["-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-c", "4096",
                  "-t", "1", "-tb", "1", "-np", "1"]


#: The profiler stamps a token when its client reads it; the observer stamps the same bytes
#: when the kernel received them on the proxy's socket. So the profiler is never earlier
#: (causality), and it trails by the relay plus its client's read latency. The accepted
#: trail: 20 ms, 1 % of the deploy report's default TTFT budget (--max-ttft 2 s), below which
#: no TTFT decision against that budget changes. Checked on medians (a stray scheduler delay
#: of the busy host is measurement noise the profiler reports as such, in its percentiles).
LAG_BOUND_S = 0.020
#: kernel stamps are CLOCK_REALTIME, moved onto CLOCK_MONOTONIC by one offset: allow for
#: that conversion (NTP slewing over a test is far below this)
CLOCK_SLACK_S = 0.001

WORKLOAD = """schema: agentwl/v1
name: observed
description: 5 independent calls of 48 prompt and 16 output tokens.
defaults: {model: main}
models: {main: {kind: llm}}
arrivals: {process: closed, instances: 1, concurrency: 1}
graph:
  - id: ask
    kind: loop
    count: 5
    body:
      - {id: q, kind: call, prompt: 48, output: 16}
"""


def _version() -> str:
    r = subprocess.run([str(LLAMA_SERVER), "--version"], capture_output=True, text=True,
                       timeout=30)
    return r.stdout + r.stderr


def _root_processes(root: Path, exclude: set[int]) -> list[str]:
    """Processes of this host that run from, or name, the device root (the adbd excepted)."""
    out = []
    for p in psutil.process_iter(["pid", "exe", "cmdline"]):
        if p.info["pid"] in exclude:
            continue
        cmd = " ".join(p.info["cmdline"] or [])
        if (p.info["exe"] or "").startswith(str(root)) or str(root) in cmd:
            out.append(f"{p.info['pid']}: {cmd[:200]}")
    return out


def test_real_llama_server_over_adb_leaves_the_device_clean(adbd, tmp_path: Path) -> None:  # noqa: F811
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    db = tmp_path / "real.db"
    cmd = [sys.executable, "-m", "neumelt", "--db", str(db), "profile", "--device", adbd.serial,
           "--adb-port", str(adbd.adb_port), "--device-root", str(adbd.root),
           "--model", str(model), *_server_args(), "--port", str(free_port()),
           "--workload", "mobile-agent-v2", "--scale", "0.05", "--delay-scale", "0",
           "--max-calls", "12", "--repetitions", "1", "--warmup", "0", "--idle-s", "0.5",
           "--sample-hz", "10", "--quiet", "--json"]
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    store = Store(db)
    try:
        run = store.get_run(doc["run_id"])
        assert run.status == "done" and run.info["device"]["kind"] == "android"
        load = run.info["load.0"]
        remote_dir = f"{adbd.root}/data/local/tmp/neumelt"
        pushed = {f"{remote_dir}/tiny.gguf"}
        if LLAMA_SERVER is not None:
            assert load["server"] == "llama-server"
            # the server that answered is the binary that was pushed: its build info
            number, commit = load["props"]["build_info"][1:].split("-", 1)   # b<n>-<commit>
            assert f"(build {number}, commit {commit})" in _version()
            pushed.add(f"{remote_dir}/llama-server")
        else:
            assert load["server"] == "xllamacpp"
        assert set(run.info["device_files"]) >= pushed
        calls = doc["calls"]
        assert len(calls) >= 5 and all(c["counts_ok"] for c in calls)
        for c in calls:   # llama-server's own counters agree with the stream
            t = c["server_timings"]
            assert t["predicted_n"] == c["output_tokens"] == len(c["token_times_s"])
            assert t["prompt_n"] == c["prompt_tokens_evaluated"]
            assert 0 < c["ttft_s"] <= c["e2e_s"]
            assert t["prompt_ms"] / 1e3 <= c["ttft_s"]   # its prefill is inside our TTFT
        # counters sampled on the device during the run, on the host timeline
        first = min(c["t_start_s"] for c in calls)
        last = max(c["t_end_s"] for c in calls)
        samples = store.samples(run.id)
        names = {s.name for s in samples}
        assert {"power_w", "util"} <= names
        assert any(s.unit == "C" for s in samples)
        load_ev = [e for e in store.events(run.id, "session") if e.name == "load"][0]
        assert any(load_ev.t_start_s <= s.t_host_s <= last + 1.0 and first < last
                   for s in samples if s.name == "util")   # while the server was up
        rss = [s.value for s in store.samples(run.id, source="runtime.memory", name="rss_bytes")
               if s.value]
        assert rss and min(rss) > model.stat().st_size    # the server process, read on device
        # its log was pulled into the store: one timing block per request it served
        (log,) = [d for _, k, d in store.records(run.id, "device_logs")]
        assert log["text"].count("prompt eval time") == len(calls)
        # stopped and cleaned: no process, no files, no forward left
        cleanup = run.info["device_cleanup"]
        assert cleanup["workdir_removed"] is True
        assert not Path(remote_dir).exists()
        pid = load["pids"][0]
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert _root_processes(adbd.root, {adbd.proc.pid}) == []
        fwd = adbd.server.run("forward", "--list").stdout
        assert adbd.serial not in fwd
    finally:
        store.close()


def test_ttft_and_itl_agree_with_an_outside_observer_of_the_same_requests(tmp_path: Path
                                                                          ) -> None:
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    port = free_port()
    server = subprocess.Popen(_server_argv(model, port), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                stream_completion("127.0.0.1", port, {"prompt": "the", "max_tokens": 1})
                break
            except (OSError, RuntimeError):
                assert time.monotonic() < deadline, "llama-server did not come up"
                time.sleep(0.2)
        # an outside client on its own: same server, tokens streamed and timed
        own = stream_completion("127.0.0.1", port, {"prompt": "the cat " * 40, "max_tokens": 24,
                                                    "ignore_eos": True, "temperature": 0})
        assert len(own.token_times_s) == 24 and own.ttft_s > 0
        assert own.timings["prompt_ms"] / 1e3 <= own.ttft_s
        wl = tmp_path / "observed.yaml"
        wl.write_text(WORKLOAD)
        with TimingProxy(port) as proxy:
            db = tmp_path / "obs.db"
            r = subprocess.run(
                [sys.executable, "-m", "neumelt", "--db", str(db), "profile", "--device",
                 "local", "--runtime", "server", "--server-url",
                 f"http://127.0.0.1:{proxy.port}", "--model", str(model), "--workload",
                 str(wl), "--vision-model", "none", "--delay-scale", "0", "--repetitions",
                 "1", "--warmup", "0", "--idle-s", "0", "--quiet", "--json"],
                capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr[-3000:]
            seen = proxy.streamed()
            assert proxy.kernel_stamps > 0 and proxy.user_stamps == 0
        doc = json.loads(r.stdout)
        calls = sorted(doc["calls"], key=lambda c: c["t_start_s"])
        assert len(calls) == len(seen) == 5
        starts, lags, d_ttft, gaps_prof, gaps_obs = [], [], [], [], []
        for c, o in zip(calls, seen):
            prof = c["token_times_s"]
            assert len(prof) == len(o.token_times_s) == c["output_tokens"] == 16
            assert c["server_timings"]["predicted_n"] == o.timings["predicted_n"] == 16
            starts.append(o.t_request_s - c["t_start_s"])
            lags += [p - w for p, w in zip(prof, o.token_times_s)]
            d_ttft.append(c["ttft_s"] - o.ttft_s)
            gaps_prof += [b - a for a, b in zip(prof, prof[1:])]
            gaps_obs += o.itl_s
        # causality: the request leaves the profiler before the proxy receives it; each token
        # reaches the proxy before the profiler reads it
        assert min(starts) >= -CLOCK_SLACK_S, starts
        assert min(lags) >= -CLOCK_SLACK_S, lags
        # the trail, on medians: request start, tokens, TTFT (start + first-token trail), ITL
        assert statistics.median(starts) <= LAG_BOUND_S
        assert statistics.median(lags) <= LAG_BOUND_S
        assert 0 <= statistics.median(d_ttft) + CLOCK_SLACK_S <= 2 * LAG_BOUND_S
        s = doc["summary"]["calls"]
        assert abs(s["ttft_s"]["p50"] - statistics.median(c["ttft_s"] - d for c, d in
                                                          zip(calls, d_ttft))) <= 2 * LAG_BOUND_S
        assert abs(s["itl_s"]["p50"] - statistics.median(gaps_obs)) <= LAG_BOUND_S
        assert abs(statistics.median(gaps_prof) - statistics.median(gaps_obs)) <= LAG_BOUND_S
    finally:
        server.terminate()
        server.wait(10)


AARCH64 = os.environ.get("NEUMELT_LLAMA_SERVER_AARCH64", "") or str(
    find_tool("llama-server", "aarch64") or "")
AARCH64_MISSING = ("no arm64 llama-server: build it with python -m profiler.runtimes."
                   "llamacpp_tools build --arch aarch64 (Debian's g++-aarch64-linux-gnu and "
                   "qemu-user-static), or set NEUMELT_LLAMA_SERVER_AARCH64")


@pytest.mark.skipif(not AARCH64 and os.environ.get("NEUMELT_REQUIRE_LLAMA_TOOLS") != "1",
                    reason=AARCH64_MISSING + "; .ci/run builds it")
def test_the_arm64_binary_a_phone_would_run_under_qemu_through_adb(  # noqa: F811
        adbd, tmp_path: Path) -> None:  # noqa: F811
    """The static arm64 build, pushed like a phone build and run under qemu-user."""
    import shutil

    assert AARCH64, AARCH64_MISSING
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    assert qemu, "qemu-user is not installed (apt-get install qemu-user-static)"
    binary = Path(AARCH64)
    assert b"\x7fELF\x02\x01\x01" in binary.read_bytes()[:8]
    assert binary.read_bytes()[18] == 0xB7             # e_machine EM_AARCH64
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    db = tmp_path / "arm.db"
    r = subprocess.run(
        [sys.executable, "-m", "neumelt", "--db", str(db), "profile", "--device", adbd.serial,
         "--adb-port", str(adbd.adb_port), "--device-root", str(adbd.root), "--model",
         str(model), "--server", "llama-server", "--server-binary", str(binary),
         "--server-launcher", qemu, "--port", str(free_port()), "--scale", "0.05",
         "--delay-scale", "0", "--max-calls", "6", "--repetitions", "1", "--warmup", "0",
         "--idle-s", "0.5", "--quiet", "--json"],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state")))
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["calls"] and all(c["counts_ok"] for c in doc["calls"])
    store = Store(db)
    try:
        run = store.get_run(doc["run_id"])
        assert f"{adbd.root}/data/local/tmp/neumelt/{binary.name}" in run.info["device_files"]
        assert run.info["device_cleanup"]["workdir_removed"] is True
        assert run.info["load.0"]["server"] == "llama-server"
    finally:
        store.close()
    assert _root_processes(adbd.root, {adbd.proc.pid}) == []
