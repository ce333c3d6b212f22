"""One serving run end to end: config -> design, model, workload -> serve -> store.

``ServingRunConfig`` is the whole input of a run (its hash identifies the run in the
store). ``execute(cfg)`` builds the design through ``sim.designs.get_design``, the KV
layout from the design's hardware, the workload from ``workloads`` (a chat trace name,
a trace file, or an agent template), serves it and returns a :class:`RunOutcome`.
``record(store, outcome)`` writes the run (kind ``sim``): run-level metrics, per-request
and per-task records, utilisation / KV usage over simulated time as samples, and the
iteration, request and agent-delay timeline as events (seconds of simulated time); every
figure has provenance ``simulated`` and source ``<design>/<fidelity>``.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from neumelt.errors import InputError
from sim.serving.cost import DesignCostModel
from sim.serving.kv import KVPool
from sim.serving.memory import layout_for, memory_plan
from sim.serving.metrics import Figure, request_rows, summarise, task_rows, utilisation_series
from sim.serving.request import Workload, from_calls, from_trace
from sim.serving.scheduler import SchedulerConfig
from sim.serving.simulator import ServingResult, serve

UNITS = {"npu": "fraction", "pim": "fraction", "hbm_bw": "fraction", "kv": "fraction"}


@dataclass(frozen=True)
class ServingRunConfig:
    """Everything that defines a serving run.

    design: gpu | gpu-overlap | npu | npu-pim | neupims; model: preset name or YAML;
    hw: hardware preset or YAML (None = the design's default); workload: chat trace
    name (sharegpt, alpaca, lmsys), trace file (.csv/.json) or agent template name/YAML;
    requests: requests of a trace or tasks of an agent workload (None = 1,000 / 20);
    rate: arrivals per second (requests or tasks, Poisson; None = all at t = 0, the
    offline throughput setting; agents: the template's arrivals); concurrency: agent
    tasks or chat clients in flight in a closed loop; seed: every random draw;
    max_batch: requests per iteration; prefill: separate | mixed; fidelity: fast | command (PIM model);
    row_buffer / channels / sub_batch / tp / pp: design switches (None = default; for
    neupims, sub_batch None or "auto" interleaves where it is faster, see AutoSubBatch);
    memo_tolerance: relative context difference under which iterations share a cost;
    baselines: ideal | artifact, how strong the paper's baselines are (see
    :mod:`sim.designs`; ``artifact`` changes only the ``npu`` design's attention).
    """

    design: str
    model: str
    workload: str
    hw: str | None = None
    requests: int | None = None
    rate: float | None = None
    seed: int = 0
    max_batch: int = 256
    prefill: Literal["separate", "mixed"] = "separate"
    max_prefill_tokens: int = 8192
    fidelity: Literal["fast", "command"] = "fast"
    row_buffer: str | None = None
    channels: str | None = None
    sub_batch: str | None = None
    tp: int | None = None
    pp: int | None = None
    memo_tolerance: float = 0.02
    prefix_cache: bool = True
    concurrency: int | None = None
    baselines: Literal["ideal", "artifact"] = "ideal"

    def __post_init__(self) -> None:
        if self.baselines not in ("ideal", "artifact"):
            raise ValueError("baselines must be 'ideal' or 'artifact'")
        if self.requests is not None and self.requests < 1:
            raise ValueError("requests must be >= 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be > 0 (or omitted for all-at-once)")
        if self.max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if not 0 <= self.memo_tolerance < 0.5:
            raise ValueError("memo_tolerance must be in [0, 0.5)")


@dataclass
class RunOutcome:
    config: ServingRunConfig
    result: ServingResult
    figures: list[Figure]
    source: str
    wall_s: float
    info: dict[str, Any] = field(default_factory=dict)

    def figure(self, name: str) -> float | None:
        for f in self.figures:
            if f.name == name:
                return f.value
        raise KeyError(name)


SERVING_DESIGNS = ("gpu", "gpu-overlap", "npu", "npu-pim", "neupims")


def get_serving_design(name: str, *, hw: str | None = None, row_buffer: str | None = None,
                       channels: str | None = None, sub_batch: bool | None = None,
                       fidelity: str = "fast", tp: int | None = None, pp: int | None = None,
                       baselines: str = "ideal", pim_commands: str | None = None):
    """``sim.designs.get_design`` with the serving loop's default fidelity (fast)."""
    from sim.designs import get_design
    return get_design(name, hw=hw, row_buffer=row_buffer, channels=channels,
                      sub_batch=sub_batch, fidelity=fidelity, tp=tp, pp=pp,
                      baselines=baselines, pim_commands=pim_commands)


class AutoSubBatch:
    """NeuPIMs choosing sub-batch interleaving per iteration, as a profiled threshold
    would: for each band of ``band`` decode-batch sizes, the first batch seen is priced
    both ways and the faster mode is kept for the band (splitting a small batch halves
    the NPU's rows without enough attention to hide; the artifact uses interleaving at
    batch >= 256 only)."""

    def __init__(self, on: Any, off: Any, band: int = 32) -> None:
        self.on, self.off, self.band = on, off, band
        self.name, self.hw, self.fidelity = on.name, on.hw, on.fidelity
        self.default_channels = getattr(on, "default_channels", None)
        self.choice: dict[int, bool] = {}

    def parallelism(self, model: Any) -> Any:
        return self.on.parallelism(model)

    def decode_iteration(self, model: Any, seq_lens: Any, channel_idx: Any = None,
                         layers: int | None = None) -> Any:
        b = len(seq_lens) // self.band
        if b not in self.choice:
            a = self.on.decode_iteration(model, seq_lens, channel_idx=channel_idx, layers=layers)
            c = self.off.decode_iteration(model, seq_lens, channel_idx=channel_idx,
                                          layers=layers)
            self.choice[b] = a.seconds < c.seconds
            return a if self.choice[b] else c
        d = self.on if self.choice[b] else self.off
        return d.decode_iteration(model, seq_lens, channel_idx=channel_idx, layers=layers)

    def prefill(self, model: Any, prompt_lens: Any) -> Any:
        return self.off.prefill(model, prompt_lens)


def _design(cfg: ServingRunConfig):
    # channels=None: the design prices the channels our KV pool placed requests on
    kw = dict(hw=cfg.hw, row_buffer=cfg.row_buffer, channels=None, fidelity=cfg.fidelity,
              tp=cfg.tp, pp=cfg.pp, baselines=cfg.baselines)
    if cfg.design == "neupims" and cfg.sub_batch in (None, "auto"):
        return AutoSubBatch(get_serving_design(cfg.design, sub_batch=True, **kw),
                            get_serving_design(cfg.design, sub_batch=False, **kw))
    sub = None if cfg.sub_batch is None else cfg.sub_batch == "on"
    return get_serving_design(cfg.design, sub_batch=sub, **kw)


def _is_agent(name: str) -> bool:
    from workloads.agents import list_templates
    return name.endswith((".yaml", ".yml")) or name in list_templates()


def load_workload(cfg: ServingRunConfig, model: Any) -> Workload:
    """The requests of ``cfg.workload`` (see :class:`ServingRunConfig`).

    Agent templates: ``requests`` tasks; ``rate`` starts them as a Poisson process,
    ``concurrency`` as a closed loop of that many tasks in flight; neither follows the
    template's own ``arrivals``. Chat traces: ``rate`` Poisson arrivals, ``concurrency``
    a closed loop of that many clients, else all requests at t = 0; a later turn of a
    multi-turn session starts its think time after the previous turn finished.
    """
    name = cfg.workload
    if _is_agent(name):
        from workloads.agents import expand, load_template
        n = cfg.requests or 20
        calls = expand(name, seed=cfg.seed, instances=n, model=model)
        insts = list(dict.fromkeys(c.inst for c in calls))
        starts: dict[Any, float] = {}
        conc = cfg.concurrency
        if cfg.rate:
            rng = random.Random(cfg.seed ^ 0x5EED)
            t = 0.0
            for inst in insts:
                starts[inst] = t
                t += rng.expovariate(cfg.rate)
        elif conc is None:
            arr = load_template(name).arrivals
            if getattr(arr, "process", "closed") == "closed":
                conc = int(getattr(arr, "concurrency", 1) or 1)
        return from_calls(Path(name).stem, calls, starts, concurrency=None if cfg.rate
                          else conc)
    from workloads import traces
    n = cfg.requests or 1000
    if Path(name).suffix in (".csv", ".tsv", ".json", ".jsonl") or Path(name).is_file():
        reqs = traces.load_trace(name, rate=cfg.rate, seed=cfg.seed, limit=n)
        return from_trace(Path(name).stem, reqs)
    if name not in traces.DATASETS:
        raise InputError(f"unknown workload {name!r}", key="workload",
                         expected="a trace dataset (" + ", ".join(traces.DATASETS) + "), a "
                         "trace file, or an agent template")
    if cfg.rate:
        reqs = traces.synthetic_trace(name, n=n, seed=cfg.seed, arrival="poisson", rate=cfg.rate)
    elif cfg.concurrency:
        reqs = traces.synthetic_trace(name, n=n, seed=cfg.seed, arrival="closed",
                                      concurrency=cfg.concurrency)
    else:  # offline: everything queued at once (1 us apart keeps the order explicit)
        reqs = traces.synthetic_trace(name, n=n, seed=cfg.seed, arrival="fixed", rate=1e6)
    return from_trace(name, reqs)


def execute(cfg: ServingRunConfig, progress: Any = None) -> RunOutcome:
    """Run ``cfg`` (see module docstring). ``progress``: an object with ``total`` and
    ``update(n)`` (``neumelt.output.Progress``), told of every finished call."""
    from workloads.models import load_model
    t0 = time.perf_counter()
    model = load_model(cfg.model)
    design = _design(cfg)
    par = design.parallelism(model)
    tp, pp = int(par.tp), int(par.pp)
    layout = layout_for(cfg.design, design, model, tp, pp)
    policy = cfg.channels or getattr(design, "default_channels", None) or "greedy"
    pool = KVPool(layout, policy=policy)
    sched = SchedulerConfig(max_batch=cfg.max_batch, prefill=cfg.prefill,
                            max_prefill_tokens=cfg.max_prefill_tokens,
                            prefix_cache=cfg.prefix_cache)
    workload = load_workload(cfg, model)
    cost = DesignCostModel(design, model, tolerance=cfg.memo_tolerance, name=cfg.design,
                           energy_scale=tp)
    tick = None
    if progress is not None:
        progress.total = len(workload.calls)
        tick = progress.update
    res = serve(workload, cost, pool, sched, progress=tick)
    wall = time.perf_counter() - t0
    figs = summarise(res)
    fid = "+".join(res.fidelities) or cfg.fidelity
    source = f"{cfg.design}/{fid}"
    if cfg.baselines == "artifact" and cfg.design == "npu":
        source += "/artifact-baselines"
    out_tok = sum(x.generated for x in res.calls)
    figs.append(Figure("sim_tokens_per_wall_s", out_tok / wall if wall > 0 else None,
                       "tokens/s"))
    idle_w = getattr(getattr(getattr(design, "hw", None), "energy", None), "idle_w", None)
    busy = sum(i.dur_s for i in res.iterations)
    starts = [x.req.arrival_s for x in res.calls] or [0.0]
    idle_s = max(round(res.makespan_s - min(starts) - busy, 9), 0.0)  # ns resolution
    figs.append(Figure("idle_s", idle_s, "s"))
    # static power while no iteration runs (agent delays, gaps between arrivals), for all
    # tp x pp devices; unavailable where the hardware preset has no static power figure
    figs.append(Figure("energy_idle_j", idle_w * idle_s * tp * pp if idle_w is not None
                       else None, "J"))
    info = {"tp": tp, "pp": pp, "devices": tp * pp, "kv_layout": layout.kind,
            "kv_channels": layout.channels,
            "kv_units_per_channel": layout.units_per_channel, "kv_unit_bytes": layout.unit_bytes,
            "memo_hits": res.memo_hits, "memo_misses": res.memo_misses,
            "requests": len(workload.calls), "tasks": len(workload.tasks),
            "fidelity": fid, "wall_s": wall,
            "memory": memory_plan(cfg.design, design, model, tp, pp)}
    return RunOutcome(cfg, res, figs, source, wall, info)


def record(store: Any, out: RunOutcome, name: str = "", parent_id: int | None = None) -> int:
    """Write one finished serving run to the store; returns its run id."""
    from neumelt.store import Event, Metric, Sample
    cfg = asdict(out.config)
    run_id = store.start_run("sim", {"serving": cfg}, name=name or
                             f"serve {out.config.design} {out.config.model} "
                             f"{out.config.workload}", parent_id=parent_id)
    try:
        for k, v in out.info.items():
            store.set_run_info(run_id, k, v)
        store.add_metrics(run_id, [Metric(f.name, f.value, f.unit, "simulated", out.source,
                                          f.scope) for f in out.figures])
        store.add_records(run_id, "requests", [(r["id"], r) for r in request_rows(out.result)])
        tasks = task_rows(out.result)
        if tasks:
            store.add_records(run_id, "tasks", [(t["task"], t) for t in tasks])
        its = out.result.iterations
        step = max(1, len(its) // 20_000)
        events = [Event("serving", f"decode {it.n_decode}" + (f" + prefill {it.n_prefill}"
                                                            if it.n_prefill else ""),
                        it.t_start_s, it.dur_s,
                        {"decode": it.n_decode, "prefill": it.n_prefill,
                         "prefill_tokens": it.prefill_tokens, "kv_used": it.kv_used})
                  for it in its[::step]]
        for row in request_rows(out.result):
            if row["admit_s"] is not None and row["done_s"] is not None:
                track = f"task/{row['task']}" if row["task"] else "requests"
                events.append(Event(track, f"{row['role'] or 'request'} {row['id']}",
                                    row["admit_s"], row["done_s"] - row["admit_s"],
                                    {"prompt_tokens": row["prompt_tokens"],
                                     "output_tokens": row["output_tokens"]}))
        for rid, (a, b) in out.result.delays.items():
            task = rid.split("/", 1)[0]
            events.append(Event(f"task/{task}", f"delay {rid}", a, b - a))
        store.add_events(run_id, events)
        samples = []
        for unit, pts in utilisation_series(out.result).items():
            nm = "kv_usage" if unit == "kv" else f"utilisation.{unit}"
            samples += [Sample(out.source, nm, t, v, UNITS.get(unit, "fraction"), t_device_s=t)
                        for t, v in pts]
        if samples:
            store.add_samples(run_id, samples)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", error=str(exc))
        raise
    store.finish_run(run_id, status="done")
    return run_id


def check_design_name(name: str) -> None:
    if name not in SERVING_DESIGNS:
        raise InputError(f"unknown design {name!r}", key="design",
                         expected=" | ".join(SERVING_DESIGNS))
