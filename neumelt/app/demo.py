"""``neumelt demo``: the whole loop on a fresh machine, no phone and no GPU needed.

1. **Simulate** the NeuPIMs comparison for one model: one decode iteration of the
   reference 512-request batch on each design (gpu, npu, npu-pim, neupims) with its
   NPU / PIM / per-channel timeline, then the Mobile-Agent-v2 agent workload served on
   each design (TTFT, TPOT, energy per task).
2. **Profile** one Mobile-Agent-v2 task on this host with the llama.cpp runtime
   (llama-cpp-python in-process if installed, else llama.cpp's server from the prebuilt
   xllamacpp wheel) and the small demo model (SmolLM2-135M-Instruct).
3. **Report**: a deployment report combining both (designs and this host against the
   budgets), plus the simulation and profile reports and Perfetto traces.

Each step is a function; a step whose dependency is missing is skipped with a message
that says what to install, and the report is written from whatever exists (never from
invented numbers). Every run lands in the results store (``--db``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DESIGNS = ("gpu", "npu", "npu-pim", "neupims")


@dataclass
class Step:
    """What one demo step did: run ids, state (ok / skipped / failed) and why."""

    name: str
    state: str = "ok"
    runs: list[int] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


def _log(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def _missing(exc: ModuleNotFoundError) -> str:
    return f"module {exc.name!r} is not available"


def simulate_iterations(store: Any, model_name: str, fidelity: str = "fast",
                        designs: tuple[str, ...] = DESIGNS) -> Step:
    """One decode iteration of the NeuPIMs reference batch per design (runs kind ``sim``)."""
    step = Step("simulate one decode iteration per design")
    try:
        from sim.designs import get_design
        from sim.designs.batch import parse_batch
        from sim.designs.record import record_result
        from workloads.models import load_model
    except ModuleNotFoundError as exc:
        return Step(step.name, "skipped", message=_missing(exc))
    model = load_model(model_name)
    batch = parse_batch("reference", max_len=model.max_context)
    for name in designs:
        design = get_design(name, fidelity=fidelity)
        config = {**design.config(), "model": model.name, "batch": batch.source,
                  "batch_size": len(batch.seq_lens), "phase": "decode", "layers": "1",
                  "seed": 0, "demo": True}
        with store.run("sim", config, name=f"demo step {name} {model.name}") as run_id:
            res = design.decode_iteration(model, batch.seq_lens,
                                          channel_idx=batch.channel_idx, layers=1)
            record_result(store, run_id, res)
        step.runs.append(run_id)
        _log(f"  {name}: one layer of a {len(batch.seq_lens)}-request decode iteration in "
             f"{res.seconds * 1e6:.0f} µs (simulated, {res.design}/{res.fidelity}); run {run_id}")
    return step


def simulate_serving(store: Any, model_name: str, workload: str, tasks: int,
                     designs: tuple[str, ...] = DESIGNS) -> Step:
    """The agent workload served on each design (runs kind ``sim``)."""
    step = Step(f"simulate serving {workload} per design")
    try:
        from sim.serving.run import ServingRunConfig, execute, record
    except ModuleNotFoundError as exc:
        return Step(step.name, "skipped", message=_missing(exc))
    for name in designs:
        cfg = ServingRunConfig(design=name, model=model_name, workload=workload,
                               requests=tasks, seed=0)
        out = execute(cfg)
        run_id = record(store, out, name=f"demo serve {name} {model_name} {workload}")
        step.runs.append(run_id)
        figs = {f.name: f.value for f in out.figures}
        ttft = figs.get("ttft_p50_s")
        ept = figs.get("energy_per_task_j")
        _log(f"  {name}: {tasks} {workload} tasks, TTFT p50 "
             f"{'unavailable' if ttft is None else f'{ttft * 1e3:.1f} ms'}, energy/task "
             f"{'unavailable' if ept is None else f'{ept:,.0f} J'} (simulated); run {run_id}")
    return step


def profile_host(store: Any, workload: str, scale: float, delay_scale: float,
                 idle_s: float, max_calls: int = 0, model_path: str | None = None) -> Step:
    """One agent task on this host with llama.cpp and the demo model (run kind ``profile``)."""
    step = Step(f"profile one {workload} task on this host")
    try:
        from profiler.models import find_demo_model
        from profiler.session import ProfileConfig, run_profile
    except ModuleNotFoundError as exc:
        return Step(step.name, "skipped", message=_missing(exc))
    # llama-cpp-python in-process when it is installed (extra llm); else llama.cpp's server
    # from the prebuilt xllamacpp wheel (extra demo), which installs without compiling
    runtime: dict[str, Any] | None = None
    try:
        import llama_cpp  # noqa: F401
        runtime = {"runtime": "local"}
    except ImportError:
        try:
            import xllamacpp  # noqa: F401

            from profiler.runtimes.server import free_port

            runtime = {"runtime": "server", "server": "xllamacpp",
                       "server_python": sys.executable, "port": free_port()}
        except ImportError:
            pass
    if runtime is None:
        return Step(step.name, "skipped",
                    message="no llama.cpp runtime is installed: pip install -e '.[demo]' "
                            "(xllamacpp) or '.[llm]' (llama-cpp-python)")
    from neumelt.errors import InputError

    try:
        model = Path(model_path) if model_path else find_demo_model(download=True)
    except InputError as exc:
        return Step(step.name, "skipped", message=f"demo model missing: {exc}")
    cfg = ProfileConfig(device="local", model=str(model), workload=workload, tasks=1,
                        repetitions=1, warmup=0, threads=1, scale=scale,
                        delay_scale=delay_scale, idle_s=idle_s, cooldown_timeout_s=30.0,
                        max_calls=max_calls, **runtime)
    _log(f"  runtime {runtime.get('server') or 'llama-cpp-python (in-process)'}, "
         f"model {model.name}, token counts x{scale:g}, non-LLM delays x{delay_scale:g}, "
         + (f"first {max_calls} nodes of the task" if max_calls else "the whole task"))
    run_id = run_profile(cfg, store, progress=True,
                         name=f"demo {workload} on this host ({model.name})")
    step.runs.append(run_id)
    return step


def write_reports(store: Any, out_dir: Path, steps: dict[str, Step], budgets: Any
                  ) -> dict[str, Path]:
    """Deployment report over serving + profile runs; simulation and profile reports;
    Perfetto traces. Returns name -> path of what was written."""
    from reports.api import generate
    from reports.data import load_runs
    from reports.trace import write_trace

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    iters = steps["iterations"].runs
    serving = steps["serving"].runs
    prof = steps["profile"].runs
    files, report = generate(store, "deploy", serving + prof, out_dir / "deployment.html",
                             budgets=budgets)
    written["deployment report"] = files.html
    written["  markdown"] = files.markdown
    written["  CSV"] = files.csv
    if iters:
        files, _ = generate(store, "sim", iters, out_dir / "simulation.html", baseline="gpu")
        written["simulation report (decode iteration)"] = files.html
    if serving:
        files, _ = generate(store, "sim", serving, out_dir / "serving.html", baseline="gpu")
        written["simulation report (agent serving)"] = files.html
    if prof:
        files, _ = generate(store, "profile", prof, out_dir / "profile.html")
        written["profile report"] = files.html
        path, _ = write_trace(load_runs(store, prof), out_dir / "trace-profile.json")
        written["Perfetto trace (profile)"] = path
    if iters:
        path, _ = write_trace(load_runs(store, iters), out_dir / "trace-simulated.json")
        written["Perfetto trace (simulated iterations)"] = path
    written["__report__"] = report  # type: ignore[assignment]
    return written


def run_demo(store: Any, out_dir: Path, model: str = "gpt3-7b",
             workload: str = "mobile-agent-v2", tasks: int = 2, scale: float = 0.2,
             delay_scale: float = 0.1, idle_s: float = 3.0, max_calls: int = 40,
             budgets: Any = None,
             skip: tuple[str, ...] = (), profile_model: str | None = None
             ) -> tuple[dict[str, Step], dict[str, Path]]:
    """Run every step (each isolated: one failing does not stop the others) and write the
    reports. Returns (steps by key, files written)."""
    from neumelt.errors import InputError

    plan = [
        ("iterations", lambda: simulate_iterations(store, model)),
        ("serving", lambda: simulate_serving(store, model, workload, tasks)),
        ("profile", lambda: profile_host(store, workload, scale, delay_scale, idle_s,
                                         max_calls, profile_model)),
    ]
    steps: dict[str, Step] = {}
    for i, (key, fn) in enumerate(plan, 1):
        if key in skip:
            steps[key] = Step(key, "skipped", message="--skip " + key)
            _log(f"step {i}/{len(plan) + 1}: {key} skipped (--skip)")
            continue
        _log(f"step {i}/{len(plan) + 1}: {key}")
        t0 = time.monotonic()
        try:
            step = fn()
        except InputError:
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the demo goes on and reports what it has
            step = Step(key, "failed", message=f"{type(exc).__name__}: {exc}")
        step.seconds = time.monotonic() - t0
        steps[key] = step
        if step.state != "ok":
            _log(f"  {step.state.upper()}: {step.message}")
        else:
            _log(f"  done in {step.seconds:.0f} s (runs {', '.join(map(str, step.runs))})")
    _log(f"step {len(plan) + 1}/{len(plan) + 1}: reports")
    files = write_reports(store, out_dir, steps, budgets)
    return steps, files


def register(sub, common) -> None:
    p = sub.add_parser(
        "demo", parents=[common],
        help="simulate the NeuPIMs comparison, profile an agent task on this host, and write "
             "a deployment report (no phone, no GPU)",
        description=__doc__.split("\n\n")[0] + " Writes DIR/deployment.html and friends.")
    p.add_argument("-o", "--output", default="neumelt-demo", metavar="DIR",
                   help="directory for the reports (default ./neumelt-demo)")
    p.add_argument("--model", default="gpt3-7b",
                   help="model the simulator serves (default gpt3-7b, as in NeuPIMs)")
    p.add_argument("--workload", default="mobile-agent-v2",
                   help="agent workload simulated and profiled (default mobile-agent-v2)")
    p.add_argument("--tasks", type=int, default=2,
                   help="agent tasks the simulated servers run (default 2)")
    p.add_argument("--scale", type=float, default=0.2,
                   help="token-count scale of the profiled task, so it fits a few minutes on "
                        "two cores (default 0.2; 1 = the full task)")
    p.add_argument("--delay-scale", type=float, default=0.1,
                   help="scale of the task's non-LLM delays (default 0.1)")
    p.add_argument("--max-calls", type=int, default=40, metavar="N",
                   help="profile the first N calls/delays of the task (default 40, about two "
                        "agent steps; 0 = the whole task, which can take tens of minutes on two "
                        "cores)")
    p.add_argument("--idle-s", type=float, default=3.0,
                   help="idle baseline before profiling, seconds (default 3)")
    p.add_argument("--profile-model", metavar="FILE.gguf",
                   help="GGUF to profile instead of the demo model")
    p.add_argument("--skip", action="append", default=[],
                   choices=("iterations", "serving", "profile"), help="leave a step out")
    p.add_argument("--max-ttft", type=float, default=2.0, metavar="S",
                   help="TTFT budget, s (default 2)")
    p.add_argument("--min-tps", type=float, default=10.0, metavar="TOK_S",
                   help="decode speed budget, tokens/s (default 10)")
    p.add_argument("--max-j-per-task", type=float, default=None, metavar="J",
                   help="energy budget per task, J (default none)")
    p.add_argument("--ram-headroom", type=float, default=0.2, metavar="FRACTION",
                   help="memory that must stay free (default 0.2)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from neumelt.errors import InputError
    from neumelt.output import print_json
    from neumelt.store import open_store
    from reports.deploy_report import Budgets
    from reports.render import summary_text

    if not 0 < args.scale <= 4:
        raise InputError(f"scale {args.scale} out of range", key="--scale",
                         expected="a number in (0, 4]")
    if args.delay_scale < 0 or args.idle_s < 0:
        raise InputError("negative time", key="--delay-scale/--idle-s",
                         expected="a number >= 0")
    if args.max_calls < 0:
        raise InputError(f"--max-calls {args.max_calls}", key="--max-calls",
                         expected="0 (all) or a positive count")
    if args.tasks < 1:
        raise InputError(f"--tasks {args.tasks}", key="--tasks", expected="at least 1")
    if not 0 <= args.ram_headroom < 1:
        raise InputError(f"--ram-headroom {args.ram_headroom}", key="--ram-headroom",
                         expected="a fraction in [0, 1)")
    budgets = Budgets(max_ttft_s=args.max_ttft, min_tps=args.min_tps,
                      max_j_per_task=args.max_j_per_task, ram_headroom=args.ram_headroom)
    t0 = time.monotonic()
    store = open_store(getattr(args, "db", None))
    try:
        steps, files = run_demo(store, Path(args.output), model=args.model,
                                workload=args.workload, tasks=args.tasks, scale=args.scale,
                                delay_scale=args.delay_scale, idle_s=args.idle_s,
                                max_calls=args.max_calls, budgets=budgets, skip=tuple(args.skip),
                                profile_model=args.profile_model)
    finally:
        store.close()
    report = files.pop("__report__")
    wall = time.monotonic() - t0
    failed = [s for s in steps.values() if s.state == "failed"]
    if getattr(args, "json", False):
        print_json({"steps": {k: {"state": s.state, "runs": s.runs, "message": s.message,
                                  "seconds": s.seconds} for k, s in steps.items()},
                    "files": {k.strip(): str(v) for k, v in files.items()},
                    "summary": list(report.summary), "wall_s": wall})
        return 1 if failed else 0
    print(summary_text(report))
    print()
    for key, s in steps.items():
        line = f"{key:<10} {s.state:<7}"
        if s.runs:
            line += f" runs {', '.join(map(str, s.runs))}"
        if s.message:
            line += f"  {s.message}"
        print(line)
    print()
    for name, path in files.items():
        print(f"{name:<40} {Path(path).resolve()}")
    print(f"\nOpen the deployment report: {Path(files['deployment report']).resolve().as_uri()}"
          f"  (demo took {wall:.0f} s)")
    return 1 if failed else 0
