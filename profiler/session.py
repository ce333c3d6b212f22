"""A profile session: idle baseline, model load, repetitions of agent tasks, metrics.

Flow (every step is a span on the run's ``session`` track, host-monotonic seconds):

1. open the device and start its Sampler (power, CPU, thermal, memory into the store);
2. idle baseline (``idle_s``) before anything is loaded: its mean power is the baseline
   that net energy subtracts;
3. load: start the runtime (in-process, or a server launched on the device and its port
   forwarded); the runtime process's memory is polled from here on;
4. ``warmup + repetitions`` passes over ``tasks`` task instances, each task replayed as a
   call graph (:mod:`profiler.replay`); between passes a cool-down waits until the hottest
   thermal zone is back within ``cooldown_delta_c`` of its baseline (no fixed sleeps; a
   device without thermal zones gets no cool-down, and the run says so);
5. metrics: per call (written as each call ends), per task, per run; energy by trapezoid
   over each phase, gross and net of idle, per output token and per task.

A lost device (or server) leaves the run ``interrupted`` with everything so far kept;
:func:`resume` finishes the calls not yet recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shlex
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.files import dpath, push_if_changed
from neumelt.errors import InputError, RunError
from neumelt.store import Event, Metric, Store
from profiler import energy as en
from profiler.metrics import call_timing, summarize_calls, summarize_tasks
from profiler.prompts import PromptBuilder
from profiler.replay import Node, Outcome, TaskReplayer, nodes_from_records
from profiler.sampling import MemoryPoller, device_sampler, read_max_temp_c

try:
    from devices.errors import DeviceError, DeviceGone
except ImportError:  # pragma: no cover
    DeviceError = DeviceGone = RunError  # type: ignore[misc,assignment]


@dataclass(frozen=True)
class ProfileConfig:
    """Everything that defines a profile run (stored as the run's config; used by resume)."""

    device: str = "local"
    model: str = ""
    workload: str = "mobile-agent-v2"
    seed: int = 0
    tasks: int = 1
    repetitions: int = 1
    warmup: int = 1
    runtime: str = "local"            # local (llama-cpp-python in-process) | server | cli
    server: str = "llama-cpp-python"  # llama-server | llama-cpp-python (for runtime=server)
    server_binary: str = ""           # llama-server to push to the device
    server_python: str = "python3"    # python on the device (llama-cpp-python server)
    server_args: str = ""             # extra llama-server flags, shell-split ("--cache-ram 0")
    server_launcher: str = ""         # command the binary runs under ("taskset f0", qemu)
    server_url: str = ""              # an already running OpenAI-compatible server
    cli_binary: str = ""              # llama-cli / llama-completion (runtime=cli)
    remote_dir: str = "/data/local/tmp/neumelt"
    port: int = 8089
    n_ctx: int = 0                    # context per slot, tokens (0: sized to the workload)
    threads: int = 1
    slots: int = 0                    # 0: ask the runtime
    scale: float = 1.0                # multiplies prompt/output/prefix token counts
    delay_scale: float = 1.0          # multiplies non-LLM delays (0 skips them)
    max_calls: int = 0                # keep the first N nodes of each task (0: all)
    image_tokens_per_image: int = 0   # for images without a token count (0: leave out)
    vision_model: str = "qwen2-vl-2b"  # workloads model whose vision rule sizes images
    idle_s: float = 10.0
    cooldown_delta_c: float = 2.0
    cooldown_timeout_s: float = 300.0
    sample_hz: float = 10.0
    memory_hz: float = 1.0
    adb_port: int = 0                 # adb server port for an ADB device (0: default)
    device_root: str = ""             # path prefix on the device (test daemons only)
    model_sha256: str = ""
    keep_device_files: bool = False   # leave pushed model/binary/log on the device after a run


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_device(cfg: ProfileConfig) -> Any:
    """The device named by ``cfg.device`` ("local" or an ADB serial)."""
    from devices import get_device

    if cfg.device == "local":
        return get_device("local")
    kwargs: dict[str, Any] = {"adb_port": cfg.adb_port} if cfg.adb_port else {}
    if cfg.device_root:
        kwargs["root"] = cfg.device_root
    return get_device(cfg.device, **kwargs)


def _expand(cfg: ProfileConfig) -> dict[int, list[Node]]:
    from workloads.agents import expand

    model = cfg.vision_model if cfg.vision_model not in ("", "none") else None
    records = expand(cfg.workload, seed=cfg.seed, instances=cfg.tasks, model=model)
    nodes = nodes_from_records(records, scale=cfg.scale, delay_scale=cfg.delay_scale,
                               image_tokens_per_image=cfg.image_tokens_per_image or None)
    tasks: dict[int, list[Node]] = {}
    for n in nodes:
        tasks.setdefault(n.inst, []).append(n)
    if cfg.max_calls:
        for inst, ns in tasks.items():
            keep = ns[:cfg.max_calls]
            ids = {n.id for n in keep}
            tasks[inst] = [dataclasses.replace(
                n, deps=tuple(d for d in n.deps if d in ids),
                continues=n.continues if n.continues in ids else None,
                after_partial=tuple(p for p in n.after_partial if p[0] in ids)) for n in keep]
    return tasks


def check_context(tasks: dict[int, list[Node]], n_ctx: int) -> int:
    """Largest context (tokens) a call needs; InputError when it exceeds ``n_ctx``.

    A continuation carries its parent's whole context, so chains add up.
    """
    need: dict[tuple[int, str], int] = {}
    worst, where = 0, ""
    for inst, nodes in tasks.items():
        for n in nodes:
            if n.kind != "call":
                continue
            ctx = n.prompt_tokens + n.image_tokens + n.output_tokens + 1
            if n.continues:
                ctx += need.get((inst, n.continues), 0)
            need[(inst, n.id)] = ctx
            if ctx > worst:
                worst, where = ctx, n.id
    if worst > n_ctx:
        raise InputError(f"call '{where}' needs about {worst} tokens of context (prompt, "
                         f"images as text, output, and what it continues) but the context "
                         f"is {n_ctx}", key="--ctx",
                         expected=f"--ctx {1 << (worst - 1).bit_length()} or a smaller --scale")
    return worst


def _note_device_file(store: Store, run_id: int, remote: str) -> None:
    """Remember a file this run put on the device (removed when the run is done)."""
    files = list(store.get_run(run_id).info.get("device_files") or [])
    if remote not in files:
        store.set_run_info(run_id, "device_files", files + [remote])


def clean_device(dev: Any, store: Store, run_id: int, cfg: ProfileConfig) -> dict[str, Any]:
    """After a finished run: pull the run's logs from the device into the store, then
    remove every file the run put there (and its working directory when that is left
    empty). Files that were already on the device are left alone."""
    files = list(store.get_run(run_id).info.get("device_files") or [])
    pulled: list[str] = []
    removed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="neumelt-pull-") as tmp:
        for remote in files:
            if not remote.endswith(".log"):
                continue
            if dev.run(["test", "-f", remote], timeout=10.0).returncode != 0:
                continue
            local = Path(tmp) / Path(remote).name
            dev.pull(remote, str(local))
            store.add_record(run_id, "device_logs", Path(remote).name,
                             {"remote": remote, "text": local.read_text(errors="replace")})
            pulled.append(remote)
    for remote in files:
        if dev.run(["rm", "-f", remote], timeout=30.0).returncode == 0:
            removed.append(remote)
    workdir = dpath(dev, cfg.remote_dir)
    left = dev.run(["ls", "-A", workdir], timeout=10.0)
    dir_removed = left.returncode == 0 and not left.stdout.strip() and \
        dev.run(["rmdir", workdir], timeout=10.0).returncode == 0
    out = {"pulled": pulled, "removed": removed, "workdir_removed": dir_removed}
    store.set_run_info(run_id, "device_cleanup", out)
    return out


def make_runtime(cfg: ProfileConfig, dev: Any, store: Store, run_id: int) -> Any:
    """Build (not start) the runtime ``cfg.runtime`` for ``dev``."""
    if cfg.runtime == "local":
        if cfg.device != "local":
            raise InputError("the in-process runtime runs on this host only", key="runtime",
                             expected="--runtime server for a device")
        from profiler.runtimes.local import LlamaCppPython

        return LlamaCppPython(cfg.model, n_ctx=cfg.n_ctx, n_threads=cfg.threads, seed=cfg.seed)
    if cfg.runtime == "server":
        from profiler.runtimes.server import OpenAIServer, ServerLauncher, ServerSpec

        if cfg.server_url:
            return OpenAIServer(base_url=cfg.server_url, slots=cfg.slots or None)
        model = Path(cfg.model)
        if cfg.device == "local":
            remote_model, binary = str(model.resolve()), cfg.server_binary or "llama-server"
            workdir = str(Path(cfg.remote_dir if cfg.remote_dir.startswith("/tmp") else
                               f"/tmp/neumelt-{os.getuid()}"))
            lib_dir = ""
        else:
            remote_dir = dpath(dev, cfg.remote_dir)
            remote_model = f"{remote_dir}/{model.name}"
            pushed = push_if_changed(dev, model, remote_model, cfg.model_sha256)
            store.set_run_info(run_id, "model_pushed", pushed)
            if pushed:
                _note_device_file(store, run_id, remote_model)
            binary = "llama-server"
            lib_dir = ""
            if cfg.server == "llama-server":
                if not cfg.server_binary:
                    raise InputError("a phone needs a llama-server build for arm64",
                                     key="server_binary", expected="--server-binary PATH")
                sb = Path(cfg.server_binary)
                if not sb.is_file():
                    raise InputError("llama-server binary not found", file=str(sb),
                                     key="--server-binary", expected="an arm64 llama-server")
                binary = f"{remote_dir}/{sb.name}"
                if push_if_changed(dev, sb, binary, _sha256(sb)):
                    _note_device_file(store, run_id, binary)
                dev.run(["chmod", "755", binary], timeout=30.0)
                # a dynamically linked build needs its libllama/libggml*.so beside it
                for lib in sorted(sb.parent.glob("lib*.so")):
                    if push_if_changed(dev, lib, f"{remote_dir}/{lib.name}", _sha256(lib)):
                        _note_device_file(store, run_id, f"{remote_dir}/{lib.name}")
                    lib_dir = remote_dir
            # the server's log is this run's file on the device too
            _note_device_file(store, run_id, f"{remote_dir}/server-{cfg.port}.log")
            workdir = remote_dir
        spec = ServerSpec(cfg.server, remote_model, port=cfg.port, n_ctx=cfg.n_ctx,
                          n_threads=cfg.threads, slots=max(cfg.slots, 1), binary=binary,
                          python=cfg.server_python, workdir=workdir, lib_dir=lib_dir,
                          extra_args=tuple(shlex.split(cfg.server_args)),
                          launcher=tuple(shlex.split(cfg.server_launcher)))
        return OpenAIServer(launcher=ServerLauncher(dev, spec), slots=cfg.slots or None)
    if cfg.runtime == "cli":
        from profiler.runtimes.cli import LlamaCli

        return LlamaCli(dev, cfg)
    raise InputError(f"unknown runtime {cfg.runtime!r}", key="runtime",
                     expected="local, server or cli")


class CallRecorder:
    """Writes each finished call/delay to the store at once (records + timeline events)."""

    def __init__(self, store: Store, run_id: int, rep: int, warmup: bool,
                 continued: set[str], progress: Any = None) -> None:
        self.store, self.run_id, self.rep, self.warmup = store, run_id, rep, warmup
        self.continued = continued
        self.progress = progress
        self.lock = threading.Lock()

    def key(self, n: Node) -> str:
        return f"r{self.rep}/t{n.inst}/{n.id}"

    def __call__(self, o: Outcome) -> None:
        n = o.node
        key = self.key(n)
        base = {"rep": self.rep, "warmup": self.warmup, "inst": n.inst, "id": n.id,
                "kind": n.kind, "role": n.role, "t_start_s": o.t_start_s, "t_end_s": o.t_end_s}
        if n.kind != "call" or o.result is None:
            data = base | {"seconds": n.seconds, "resource": n.resource}
            with self.store.transaction():  # a kill keeps both or neither
                self.store.add_record(self.run_id, "delays", key, data)
                self.store.add_events(self.run_id, [Event(
                    f"lane:{n.resource or 'none'}", n.id, o.t_start_s,
                    o.t_end_s - o.t_start_s, {"key": key})])
        else:
            r = o.result
            timing = call_timing(r.t_start_s, r.t_first_s, r.t_end_s, r.token_times_s,
                                 r.prompt_tokens_evaluated, r.output_tokens, r.prompt_tokens)
            data = base | {
                "slot": r.slot, "t_first_s": r.t_first_s,
                "prompt_tokens_requested": o.prompt_tokens_requested,
                "image_tokens_as_text": n.image_tokens,
                "prefix_key": n.prefix_key, "prefix_tokens": n.prefix_tokens,
                "continues": n.continues,
                "prompt_tokens": r.prompt_tokens,
                "prompt_tokens_evaluated": r.prompt_tokens_evaluated,
                "prompt_tokens_cached": (r.prompt_tokens - r.prompt_tokens_evaluated
                                         if r.prompt_tokens is not None and
                                         r.prompt_tokens_evaluated is not None else None),
                "output_tokens_requested": n.output_tokens,
                "output_tokens": r.output_tokens,
                "counts_ok": (r.prompt_tokens == o.prompt_tokens_requested and
                              r.output_tokens == n.output_tokens),
                "count_source": r.count_source,
                "server_timings": r.server_timings,
                "token_times_s": r.token_times_s,
                "output_text": r.output_text,
            } | timing | _runtime_rates(r.server_timings, bool(r.token_times_s))
            if n.id in self.continued:
                data["prompt_text"] = o.prompt_text
            track = f"slot{r.slot if r.slot is not None else 0}"
            evs = [Event(track, f"call {n.id}", r.t_start_s, r.t_end_s - r.t_start_s,
                         {"key": key, "role": n.role}),
                   Event(track, "call_start", r.t_start_s, None, {"key": key})]
            if r.t_first_s is not None:
                evs.append(Event(track, "first_token", r.t_first_s, None, {"key": key}))
            evs += [Event(track, "token", t, None, {"key": key, "i": i})
                    for i, t in enumerate(r.token_times_s)]
            evs.append(Event(track, "call_end", r.t_end_s, None, {"key": key}))
            with self.store.transaction():  # a kill keeps both or neither
                self.store.add_record(self.run_id, "calls", key, data)
                self.store.add_events(self.run_id, evs)
        if self.progress is not None:
            with self.lock:
                self.progress.update(1)


def _runtime_rates(t: dict[str, Any] | None, streamed: bool) -> dict[str, Any]:
    """The runtime's own prefill/decode rates from its timings (llama.cpp's counters)."""
    if not t:
        return {}
    out: dict[str, Any] = {}
    if t.get("prompt_ms") and t.get("prompt_n"):
        out["runtime_prefill_tps"] = t["prompt_n"] / (t["prompt_ms"] / 1e3)
    if t.get("predicted_ms") and t.get("predicted_n"):
        out["runtime_decode_tps"] = t["predicted_n"] / (t["predicted_ms"] / 1e3)
    if not streamed:  # no token stream (cli runtime): the runtime's rates are the rates
        out["prefill_tps"] = out.get("runtime_prefill_tps")
        out["decode_tps"] = out.get("runtime_decode_tps")
        out["prefill_basis"] = "runtime timing print"
    return out


def _span(store: Store, run_id: int, name: str, t0: float, t1: float, **data: Any) -> None:
    store.add_events(run_id, [Event("session", name, t0, t1 - t0, data or None)])


def cooldown(dev: Any, baseline_c: float | None, delta_c: float, timeout_s: float
             ) -> dict[str, Any]:
    """Wait until the hottest zone is within ``delta_c`` of ``baseline_c`` (or timeout)."""
    if baseline_c is None:
        return {"skipped": "no temperature sensor on the device"}
    t0 = time.monotonic()
    temp = read_max_temp_c(dev)
    while temp is not None and temp > baseline_c + delta_c:
        if time.monotonic() - t0 > timeout_s:
            return {"waited_s": time.monotonic() - t0, "temp_c": temp, "timed_out": True}
        time.sleep(1.0)
        temp = read_max_temp_c(dev)
    return {"waited_s": time.monotonic() - t0, "temp_c": temp, "baseline_c": baseline_c}


def _done_from_store(store: Store, run_id: int) -> dict[str, dict[str, Any]]:
    return {key: data for _, key, data in store.records(run_id, "calls")} | {
        key: data for _, key, data in store.records(run_id, "delays")}


def _outcome_from_record(n: Node, d: dict[str, Any]) -> Outcome:
    from profiler.runtimes.base import CallResult

    res = None
    if n.kind == "call":
        res = CallResult(d["t_start_s"], d.get("t_first_s"), d["t_end_s"],
                         d.get("token_times_s") or [], d.get("output_text", ""),
                         d.get("prompt_tokens"), d.get("prompt_tokens_evaluated"),
                         d.get("output_tokens"), d.get("count_source", ""))
    return Outcome(n, d["t_start_s"], d["t_end_s"], d.get("prompt_text", ""),
                   d.get("prompt_tokens_requested", 0), res)


def run_profile(cfg: ProfileConfig, store: Store, resume_run: int | None = None,
                progress: bool = False, name: str = "") -> int:
    """Run (or resume) a profile; returns the run id. Raises on failure after recording it."""
    if resume_run is not None:
        row = store.get_run(resume_run)
        if row.kind != "profile":
            raise InputError(f"run {resume_run} is a {row.kind} run, not a profile",
                             key="--resume", expected="the id of a profile run")
        if row.status == "done":
            raise InputError(f"run {resume_run} is already done", key="--resume",
                             expected="an interrupted or failed profile run")
        if row.status == "running":  # its owner is alive (the store reaps dead ones)
            raise InputError(f"run {resume_run} is still running in another process (host "
                             f"{row.host}); two writers would record its calls twice",
                             key="--resume", expected="an interrupted or failed profile run")
        known = {f.name for f in dataclasses.fields(ProfileConfig)}
        cfg = ProfileConfig(**{k: v for k, v in row.config.items() if k in known})
        run_id = resume_run
        store.reopen_run(run_id)
    else:
        model = Path(cfg.model)
        if cfg.runtime != "server" or not cfg.server_url:
            if not model.is_file():
                raise InputError("model file not found", file=cfg.model, key="--model",
                                 expected="a GGUF file")
            cfg = dataclasses.replace(cfg, model=str(model.resolve()),
                                      model_sha256=_sha256(model))
        tasks = _expand(cfg)  # bad input fails before any run exists
        if cfg.n_ctx <= 0:
            need = check_context(tasks, 1 << 30)
            need = int(need * 1.05) + 64  # re-tokenized continuation text may run longer
            cfg = dataclasses.replace(cfg, n_ctx=max(2048, 1 << (need - 1).bit_length()))
        check_context(tasks, cfg.n_ctx)
        run_id = store.start_run("profile", cfg, name=name)
    try:
        _session(cfg, store, run_id, progress)
    except KeyboardInterrupt:
        store.finish_run(run_id, "interrupted", "KeyboardInterrupt")
        raise
    except DeviceGone as exc:
        store.finish_run(run_id, "interrupted", f"device lost: {exc}")
        raise RunError(f"device lost during run {run_id} ({exc}); calls finished so far are "
                       f"kept; finish it with: neumelt profile --resume {run_id}") from None
    except BaseException as exc:
        store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    store.finish_run(run_id, "done")
    return run_id


def _session(cfg: ProfileConfig, store: Store, run_id: int, progress: bool) -> None:
    tasks = _expand(cfg)
    done_recs = _done_from_store(store, run_id)
    segment = sum(1 for e in store.events(run_id, "session") if e.name == "segment")
    dev = open_device(cfg)
    try:
        info = dev.info()
        store.set_run_info(run_id, "device", dataclasses.asdict(info))
        try:
            store.set_run_info(run_id, "sources", [s.as_dict() for s in dev.sources()])
        except Exception as exc:
            store.set_run_info(run_id, "sources", f"unavailable: {exc}")
        runtime = make_runtime(cfg, dev, store, run_id)
        store.set_run_info(run_id, "runtime", {"name": runtime.name, "source": runtime.source})
        if Path(cfg.model).is_file():  # weight bytes and KV shape, for whole-memory reports
            from profiler.models import gguf_summary
            try:
                store.set_run_info(run_id, "model_file", gguf_summary(cfg.model))
            except InputError as exc:
                store.set_run_info(run_id, "model_file", f"unavailable: {exc}")
        total = sum(len(ns) for ns in tasks.values()) * (cfg.warmup + cfg.repetitions)
        bar = None
        if progress:
            from neumelt.output import Progress
            bar = Progress(total, "profile")
            bar.update(len(done_recs))
        t_seg = time.monotonic()
        store.add_events(run_id, [Event("session", "segment", t_seg, None,
                                        {"segment": segment})])
        hygiene = contextlib.nullcontext(None)
        if getattr(dev, "kind", "") == "android":
            from devices.hygiene import Hygiene
            hygiene = Hygiene(dev, state_dir=getattr(dev, "hygiene_dir", None))
        with hygiene as report, device_sampler(dev, store, run_id, _rates(cfg)) as sampler:
            if report is not None:
                store.set_run_info(run_id, f"hygiene.{segment}", report.as_dict())
                for w in report.warnings:
                    print(f"neumelt: warning: {w}", file=sys.stderr)
            poller = MemoryPoller(dev, store, run_id, cfg.memory_hz)
            try:
                _passes(cfg, store, run_id, dev, runtime, tasks, done_recs, poller, bar,
                        segment)
            finally:
                poller.stop()
                runtime.close()
                if bar is not None:
                    bar.close()
        if sampler is not None and getattr(sampler, "lost", False):
            raise DeviceGone(f"device lost while sampling: {sampler.error}")
        if poller.errors:
            store.set_run_info(run_id, "memory_poller_errors", poller.errors[:5])
        finalize_metrics(store, run_id, cfg)
        if getattr(dev, "kind", "") != "local" and not cfg.keep_device_files:
            try:
                clean_device(dev, store, run_id, cfg)
            except DeviceError as exc:  # the figures are in; say what is left behind
                store.set_run_info(run_id, "device_cleanup", {"error": str(exc)})
                print(f"neumelt: warning: could not clean the device: {exc}", file=sys.stderr)
    finally:
        dev.close()


def _rates(cfg: ProfileConfig) -> dict[str, float]:
    return {"power": cfg.sample_hz, "cpu": cfg.sample_hz, "thermal": cfg.sample_hz,
            "memory": cfg.memory_hz}


def _passes(cfg: ProfileConfig, store: Store, run_id: int, dev: Any, runtime: Any,
            tasks: dict[int, list[Node]], done_recs: dict[str, dict[str, Any]],
            poller: MemoryPoller, bar: Any, segment: int) -> None:
    _stop_stale_servers(store, run_id, dev, segment)
    if cfg.idle_s > 0:  # let the sampler deliver its first readings, then measure idle
        time.sleep(min(1.0, 2.0 / max(cfg.sample_hz, 0.1)))
    t0 = time.monotonic()
    if cfg.idle_s > 0:
        time.sleep(cfg.idle_s)
    _span(store, run_id, "idle_baseline", t0, time.monotonic(), segment=segment)
    base_temp = read_max_temp_c(dev)
    store.set_run_info(run_id, f"baseline_temp_c.{segment}", base_temp)
    load = runtime.start()
    _span(store, run_id, "load", load.t_start_s, load.t_end_s, segment=segment,
          runtime_load_s=load.runtime_load_s)
    store.set_run_info(run_id, f"load.{segment}", {"load_s": load.load_s,
                                                  "runtime_load_s": load.runtime_load_s,
                                                  "pids": list(load.pids)} | load.detail)
    if not load.detail.get("vision"):
        store.set_run_info(run_id, "images_as_text",
                           "text-only model: each call's image tokens are sent as that many "
                           "extra prompt tokens")
    poller.pids = [p for p in load.pids if p]
    poller.start()
    slots = runtime.slots
    store.set_run_info(run_id, "slots", slots)
    builder = PromptBuilder(runtime.count_tokens, seed=cfg.seed)
    store.set_run_info(run_id, "prompt_fillers", builder.fillers)
    continued = {n.continues for ns in tasks.values() for n in ns if n.continues}
    n_passes = cfg.warmup + cfg.repetitions
    for rep in range(n_passes):
        if rep > 0:
            c0 = time.monotonic()
            cd = cooldown(dev, base_temp, cfg.cooldown_delta_c, cfg.cooldown_timeout_s)
            _span(store, run_id, "cooldown", c0, time.monotonic(), **cd)
        for inst in sorted(tasks):
            nodes = tasks[inst]
            rec = CallRecorder(store, run_id, rep, rep < cfg.warmup, continued, bar)
            prior = {n.id: _outcome_from_record(n, done_recs[rec.key(n)])
                     for n in nodes if rec.key(n) in done_recs}
            if len(prior) == len(nodes):
                continue
            _check_alive(poller, runtime)
            replayer = TaskReplayer(runtime, builder, slots, rec)
            replayer.run(nodes, prior)
            ts = replayer.t_started_s or time.monotonic()
            _span(store, run_id, f"task r{rep}/t{inst}", ts, time.monotonic(), rep=rep,
                  inst=inst, warmup=rep < cfg.warmup)


def _stop_stale_servers(store: Store, run_id: int, dev: Any, segment: int) -> None:
    """On resume: stop a server an earlier segment left running on the device."""
    info = store.get_run(run_id).info
    for seg in range(segment):
        load = info.get(f"load.{seg}") or {}
        if not load.get("server"):
            continue
        for pid in load.get("pids") or []:
            try:
                cmd = dev.run(["cat", f"/proc/{pid}/cmdline"], timeout=10.0).stdout
                if "llama" in cmd:
                    dev.run(["kill", str(pid)], timeout=10.0)
                    time.sleep(0.5)
            except Exception:
                pass


def _check_alive(poller: MemoryPoller, runtime: Any) -> None:
    if poller.errors and not runtime.alive():
        raise DeviceGone(f"device stopped answering: {poller.errors[-1]}")


# -- metrics ---------------------------------------------------------------------------

def _power_trace(store: Store, run_id: int) -> en.PowerTrace | None:
    """The best power source sampled during the run, in W (None: no power source)."""
    info = store.get_run(run_id).info
    sources = info.get("sources") if isinstance(info.get("sources"), list) else []
    from devices.base import POWER_QUALITY

    ranked = sorted((s for s in sources if s.get("kind") == "power" and s.get("available")),
                    key=lambda s: POWER_QUALITY.index(s["quality"])
                    if s.get("quality") in POWER_QUALITY else 99)
    scale = {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "µW": 1e-6}
    for src in ranked:
        samples = [s for s in store.samples(run_id, source=src["name"])
                   if s.unit in scale and s.value is not None]
        if len(samples) >= 2:
            names = {s.name for s in samples}
            name = "power_w" if "power_w" in names else sorted(names)[0]
            pts = [(s.t_host_s, s.value * scale[s.unit]) for s in samples if s.name == name]
            gaps = sorted(b[0] - a[0] for a, b in zip(pts, pts[1:]))
            edge = 2.0 * gaps[len(gaps) // 2] if gaps else 0.0
            return en.PowerTrace.of([t for t, _ in pts], [p for _, p in pts],
                                    source=f"{src['name']}.{name}", tier=src.get("quality", ""),
                                    edge_s=edge)
    return None


def _throttling(store: Store, run_id: int, t0: float, t1: float) -> dict[str, Any]:
    """CPU/GPU clocks during the active window: flagged when they sag under load."""
    out: dict[str, Any] = {}
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for s in store.samples(run_id):
        if "freq" in s.name and s.value is not None and t0 <= s.t_host_s <= t1:
            series.setdefault((s.source, s.name), []).append((s.t_host_s, s.value))
    for (src, name), pts in series.items():
        if len(pts) < 10:
            continue
        pts.sort()
        k = max(1, len(pts) // 5)
        early = max(v for _, v in pts[:k])
        late = sorted(v for _, v in pts[-k:])[k // 2]
        out[f"{src}.{name}"] = {"early_max": early, "late_median": late,
                                "throttled": bool(early > 0 and late < 0.85 * early)}
    return out


def _thermal(store: Store, run_id: int) -> dict[str, Any]:
    temps = [s for s in store.samples(run_id) if s.unit in ("C", "degC", "°C")
             and s.value is not None]
    if not temps:
        return {"max_c": None, "note": "no temperature sensor"}
    temps.sort(key=lambda s: s.t_host_s)
    return {"max_c": max(s.value for s in temps), "first_c": temps[0].value,
            "last_c": temps[-1].value, "source": temps[0].source}


def finalize_metrics(store: Store, run_id: int, cfg: ProfileConfig) -> dict[str, Any]:
    """Energy per call/task/phase, memory, thermals and summaries into the store."""
    calls = [d for _, _, d in store.records(run_id, "calls")]
    delays = [d for _, _, d in store.records(run_id, "delays")]
    events = store.events(run_id, "session")
    trace = _power_trace(store, run_id)
    src = trace.source if trace else "no power source on this device"
    tier = trace.tier if trace else None
    idle_w = None
    idle = [e for e in events if e.name == "idle_baseline" and e.dur_s]
    if idle and trace is not None:
        ws = [en.idle_power_w(trace, e.t_start_s, e.t_start_s + e.dur_s) for e in idle]
        ws = [w for w in ws if w is not None]
        idle_w = sum(ws) / len(ws) if ws else None
    # per call: prefill + decode windows, overlapping calls share power
    windows = []
    for c in calls:
        if c.get("t_first_s") is not None:
            windows.append(en.Window("prefill", c["t_start_s"], c["t_first_s"], c["key"]
                                     if "key" in c else f"r{c['rep']}/t{c['inst']}/{c['id']}"))
            windows.append(en.Window("decode", c["t_first_s"], c["t_end_s"], windows[-1].group))
    by_call: dict[str, dict[str, Any]] = {}
    for w in en.attribute(trace, windows, idle_w):
        d = by_call.setdefault(w.group, {})
        d[f"{w.name}_gross_j"] = w.gross_j
        d[f"{w.name}_net_j"] = w.net_j
    energy_rows = []
    for c in calls:
        key = f"r{c['rep']}/t{c['inst']}/{c['id']}"
        e = by_call.get(key, {})
        gross = _add(e.get("prefill_gross_j"), e.get("decode_gross_j"))
        net = _add(e.get("prefill_net_j"), e.get("decode_net_j"))
        c["energy_gross_j"], c["energy_net_j"] = gross, net
        n_out = c.get("output_tokens") or 0
        c["energy_per_output_token_j"] = gross / n_out if gross is not None and n_out else None
        energy_rows.append((key, e | {"energy_gross_j": gross, "energy_net_j": net,
                                      "energy_per_output_token_j":
                                      c["energy_per_output_token_j"], "source": src,
                                      "tier": tier}))
    store.add_records(run_id, "call_energy", energy_rows)
    # per task
    tasks: dict[tuple[int, int], dict[str, Any]] = {}
    for c in calls + delays:
        t = tasks.setdefault((c["rep"], c["inst"]), {"rep": c["rep"], "inst": c["inst"],
                                                     "warmup": c["warmup"], "t0": c["t_start_s"],
                                                     "t1": c["t_end_s"], "calls": 0,
                                                     "output_tokens": 0, "llm_s": 0.0})
        t["t0"], t["t1"] = min(t["t0"], c["t_start_s"]), max(t["t1"], c["t_end_s"])
        if c["kind"] == "call":
            t["calls"] += 1
            t["output_tokens"] += c.get("output_tokens") or 0
            t["llm_s"] += c["e2e_s"]
    twin = [en.Window("task", t["t0"], t["t1"], f"r{k[0]}/t{k[1]}") for k, t in tasks.items()]
    for t, w in zip(tasks.values(), en.attribute(trace, twin, idle_w)):
        t["span_s"] = t["t1"] - t["t0"]
        t["energy_gross_j"], t["energy_net_j"] = w.gross_j, w.net_j
        t["energy_per_output_token_j"] = (w.gross_j / t["output_tokens"]
                                          if w.gross_j is not None and t["output_tokens"]
                                          else None)
    store.add_records(run_id, "tasks", [(f"r{k[0]}/t{k[1]}", t) for k, t in tasks.items()])
    measured = [c for c in calls if not c["warmup"]] or calls
    measured_tasks = [t for t in tasks.values() if not t["warmup"]] or list(tasks.values())
    summary = {"calls": summarize_calls(measured), "tasks": summarize_tasks(measured_tasks)}
    # load, memory, thermals, clocks
    loads = [e for e in events if e.name == "load" and e.dur_s is not None]
    load_s = loads[-1].dur_s if loads else None
    active = [e for e in events if e.name.startswith("task ")]
    a0 = min((e.t_start_s for e in active), default=0.0)
    a1 = max((e.t_start_s + (e.dur_s or 0) for e in active), default=0.0)
    mem = {}
    for name in ("rss_bytes", "pss_bytes", "anon_bytes", "file_bytes", "swap_bytes",
                 "hwm_bytes"):
        vals = [s.value for s in store.samples(run_id, source="runtime.memory", name=name)
                if s.value is not None]
        mem[name] = max(vals) if vals else None
    avail = [s.value for s in store.samples(run_id, source="device.meminfo",
                                            name="mem_available_bytes") if s.value is not None]
    mem["min_mem_available_bytes"] = min(avail) if avail else None
    phase_e: dict[str, float | None] = {}
    for phase in ("prefill", "decode"):  # measured (non-warm-up) calls, overlaps shared
        vals = [by_call.get(f"r{c['rep']}/t{c['inst']}/{c['id']}", {}).get(f"{phase}_gross_j")
                for c in measured]
        phase_e[phase] = None if (not vals or any(v is None for v in vals)) else sum(vals)
    for e in events:
        if e.name in ("idle_baseline", "load") and e.dur_s:
            (w,) = en.attribute(trace, [en.Window(e.name, e.t_start_s, e.t_start_s + e.dur_s)],
                                idle_w)
            phase_e[e.name] = w.gross_j
    summary |= {"load_s": load_s, "memory": mem, "thermal": _thermal(store, run_id),
                "throttling": _throttling(store, run_id, a0, a1), "idle_power_w": idle_w,
                "power_source": src, "power_tier": tier, "phase_energy_j": phase_e,
                "counts_ok": all(c.get("counts_ok") for c in calls),
                "n_calls": len(calls), "n_measured_calls": len(measured)}
    store.set_run_info(run_id, "summary", summary)
    _write_metrics(store, run_id, summary, src)
    return summary


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _write_metrics(store: Store, run_id: int, s: dict[str, Any], power_src: str) -> None:
    runtime = store.get_run(run_id).info.get("runtime", {}).get("source", "runtime")
    ms = [Metric("load_s", s["load_s"], "s", "measured", f"{runtime}: launch to ready")]
    for name, stats in s["calls"].items():
        src = power_src if name.startswith("energy") else f"{runtime}, host clock"
        for stat in ("mean", "sd", "p50", "p90", "p99"):
            ms.append(Metric(f"{name}.{stat}", stats.get(stat), stats["unit"], "measured", src))
    for name, stats in s["tasks"].items():
        src = power_src if name.startswith("energy") else f"{runtime}, host clock"
        for stat in ("mean", "sd"):
            ms.append(Metric(f"task.{name}.{stat}", stats.get(stat), stats["unit"],
                             "measured", src))
    for name, v in s["memory"].items():
        ms.append(Metric(f"memory.{name.removesuffix('_bytes')}", v, "bytes", "measured",
                         "/proc of the runtime process" if "available" not in name
                         else "/proc/meminfo MemAvailable"))
    ms.append(Metric("idle_power_w", s["idle_power_w"], "W", "measured", power_src))
    for k, v in s["phase_energy_j"].items():
        ms.append(Metric(f"energy.{k}_j", v, "J", "measured", power_src))
    ms.append(Metric("thermal.max_c", s["thermal"].get("max_c"), "C", "measured",
                     s["thermal"].get("source", "no temperature sensor")))
    ms.append(Metric("throttled", float(any(v["throttled"] for v in
                                            s["throttling"].values()))
                     if s["throttling"] else None, "flag", "measured", "cpu frequency samples"))
    store.add_metrics(run_id, ms)
