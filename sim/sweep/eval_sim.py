"""Evaluators that call the simulator: ``decode-iteration`` and ``serving``.

Both report provenance ``simulated`` with source ``<design>/<fidelity>`` (the cost proxy
stays ``estimated``, see :mod:`sim.sweep.cost`). Hardware axes go through
:mod:`sim.sweep.hwvariant` (``hbm_channels``, ``hw_overrides``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sim.sweep import cost
from sim.sweep.evaluators import Evaluator, PointMetric
from sim.sweep.hwvariant import hw_variant

_PIM = {"gpu": False, "gpu-overlap": False, "npu": False, "npu-pim": True, "neupims": True}
_ROW_BUFFER = {"npu-pim": "single", "neupims": "dual"}
_DEFAULT_HW = {"gpu": "a100-40gb", "gpu-overlap": "a100-40gb"}


def _hw(design: str, hw: str | None, overrides: dict[str, Any], channels: int | None) -> str:
    base = hw or _DEFAULT_HW.get(design, "npu-neupims")
    return hw_variant(base, overrides, channels)


def _cost_metrics(design: str, row_buffer: str | None, hw: str,
                  area: cost.AreaModel) -> list[PointMetric]:
    """Area proxy; ``memory_area_rel`` is unavailable on GPUs (no HBM channel count)."""
    from sim.designs.hw import load_hw

    pim = _PIM[design]
    rb = row_buffer or _ROW_BUFFER.get(design, "single")
    pct = cost.area_overhead_pct(area, pim, rb)
    hwo = load_hw(hw)
    channels = getattr(getattr(hwo, "hbm", None), "channels", None)
    rel = cost.memory_area_rel(int(channels), pct) if channels else None
    return [PointMetric("area_overhead_pct", pct, "%", "estimated", cost.SOURCE),
            PointMetric("memory_area_rel", rel, "x", "estimated", cost.SOURCE)]


@dataclass(frozen=True)
class Lengths:
    """Context lengths of the decode batch: ``fixed`` (every request at ``seq_len``) or
    drawn from a shipped length table (``sharegpt``, ``alpaca``): a request's context is
    its prompt plus a uniformly drawn share of its output, seeded by ``seed``."""

    dataset: Literal["fixed", "sharegpt", "alpaca"] = "fixed"
    seq_len: int = 300
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seq_len < 1:
            raise ValueError("seq_len must be >= 1")

    def draw(self, batch: int) -> list[int]:
        if self.dataset == "fixed":
            return [self.seq_len] * batch
        import numpy as np

        from workloads.traces import length_table

        table = length_table(f"{self.dataset}-lengths.tsv")
        rng = np.random.default_rng(self.seed)
        rows = table[rng.integers(0, len(table), size=batch)]
        done = rng.integers(0, np.maximum(rows[:, 1], 1))
        return [int(max(1, p + d)) for p, d in zip(rows[:, 0], done)]


@dataclass(frozen=True)
class DecodeIterationConfig:
    """One decode iteration of ``batch`` requests on a design (``sim.designs``).

    hw: preset or YAML (None = the design's default); hw_overrides: nested keys merged into
    it; hbm_channels: HBM (and PIM) channels of an NPU; row_buffer / channels (policy) /
    sub_batch / tp / pp: design switches (None = the design's default); layers: None = all.
    """

    design: Literal["gpu", "npu", "npu-pim", "neupims"] = "neupims"
    model: str = "gpt3-7b"
    batch: int = 64
    lengths: Lengths = field(default_factory=Lengths)
    fidelity: Literal["fast", "command"] = "fast"
    hw: str | None = None
    hw_overrides: dict[str, Any] = field(default_factory=dict)
    hbm_channels: int | None = None
    row_buffer: Literal["single", "dual"] | None = None
    channels: Literal["greedy", "rr"] | None = None
    sub_batch: bool | None = None
    tp: int | None = None
    pp: int | None = None
    layers: int | None = None
    area: cost.AreaModel = field(default_factory=cost.AreaModel)

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("batch must be >= 1")
        if self.hbm_channels is not None and self.hbm_channels < 1:
            raise ValueError("hbm_channels must be >= 1")


class DecodeIteration(Evaluator):
    """``get_design(...).decode_iteration(model, seq_lens)``.

    throughput = batch / iteration time, where with pipeline parallelism the iteration time
    is the latency through all stages (no overlap of micro-batches: a lower bound on a
    pipelined system's throughput). Energy per token counts every device of the
    tensor-parallel group (the simulator reports one device's layers across the pipeline).
    """

    name = "decode-iteration"
    version = "1"
    config_cls = DecodeIterationConfig

    _UNITS = {
        "throughput_tokens_per_s": "tokens/s", "iteration_s": "s",
        "energy_per_token_j": "J/token", "energy_iteration_j": "J",
        "npu_utilisation": "fraction", "pim_utilisation": "fraction",
        "hbm_utilisation": "fraction", "area_overhead_pct": "%", "memory_area_rel": "x",
    }

    def metric_units(self) -> dict[str, str]:
        return dict(self._UNITS)

    def warmup(self) -> None:
        from sim.designs import get_design

        for design in ("npu", "neupims"):
            try:
                get_design(design, fidelity="fast", tp=4).decode_iteration(
                    "gpt3-7b", [64] * 4, layers=1)
            except Exception:  # noqa: BLE001 - warm-up is best effort; points report errors
                pass

    def evaluate(self, c: DecodeIterationConfig) -> list[PointMetric]:
        from sim.designs import get_design

        hw = _hw(c.design, c.hw, c.hw_overrides, c.hbm_channels)
        d = get_design(c.design, hw=hw, row_buffer=c.row_buffer, channels=c.channels,
                       sub_batch=c.sub_batch, fidelity=c.fidelity, tp=c.tp, pp=c.pp)
        r = d.decode_iteration(c.model, c.lengths.draw(c.batch), layers=c.layers)
        tp = int(r.counters.get("tp") or c.tp or 1)
        src = f"{c.design}/{r.fidelity}"
        sim = "simulated"
        energy = r.energy_total_j * tp
        u = r.utilisation
        return [
            PointMetric("throughput_tokens_per_s", r.batch / r.seconds, "tokens/s", sim, src),
            PointMetric("iteration_s", r.seconds, "s", sim, src),
            PointMetric("energy_per_token_j", energy / r.batch, "J/token", sim, src),
            PointMetric("energy_iteration_j", energy, "J", sim, src),
            PointMetric("npu_utilisation", u.get("npu", u.get("gpu")), "fraction", sim, src),
            PointMetric("pim_utilisation", u.get("pim"), "fraction", sim, src),
            PointMetric("hbm_utilisation", u.get("hbm_bw"), "fraction", sim, src),
            *_cost_metrics(c.design, c.row_buffer, hw, c.area),
        ]


@dataclass(frozen=True)
class ServingConfig:
    """A whole serving run (``sim.serving``); see ``sim.serving.run.ServingRunConfig`` for
    design, model, workload, requests, rate, seed, max_batch and the design switches."""

    design: Literal["gpu", "gpu-overlap", "npu", "npu-pim", "neupims"] = "neupims"
    model: str = "gpt3-7b"
    workload: str = "sharegpt"
    requests: int | None = 200
    rate: float | None = None
    seed: int = 0
    max_batch: int = 256
    prefill: Literal["separate", "mixed"] = "separate"
    fidelity: Literal["fast", "command"] = "fast"
    hw: str | None = None
    hw_overrides: dict[str, Any] = field(default_factory=dict)
    hbm_channels: int | None = None
    row_buffer: Literal["single", "dual"] | None = None
    channels: Literal["greedy", "rr"] | None = None
    sub_batch: Literal["on", "off"] | None = None
    tp: int | None = None
    pp: int | None = None
    area: cost.AreaModel = field(default_factory=cost.AreaModel)


class Serving(Evaluator):
    """``sim.serving.run.execute``: throughput, latency percentiles, energy per token."""

    name = "serving"
    version = "1"
    config_cls = ServingConfig
    KEEP = {
        "throughput_tok_s": ("throughput_tokens_per_s", "tokens/s"),
        "energy_per_token_j": ("energy_per_token_j", "J/token"),
        "ttft_p50_s": ("ttft_p50_s", "s"), "ttft_p99_s": ("ttft_p99_s", "s"),
        "tpot_p50_s": ("tpot_p50_s", "s"), "tpot_p99_s": ("tpot_p99_s", "s"),
        "e2e_p50_s": ("e2e_p50_s", "s"), "e2e_p99_s": ("e2e_p99_s", "s"),
        "tokens_per_joule": ("tokens_per_joule", "tokens/J"),
        "preemptions": ("preemptions", "count"),
        "utilisation.npu": ("npu_utilisation", "fraction"),
        "utilisation.pim": ("pim_utilisation", "fraction"),
    }

    def metric_units(self) -> dict[str, str]:
        out = {name: unit for name, unit in self.KEEP.values()}
        out.update({"area_overhead_pct": "%", "memory_area_rel": "x"})
        return out

    def evaluate(self, c: ServingConfig) -> list[PointMetric]:
        from sim.serving.run import ServingRunConfig, execute

        hw = _hw(c.design, c.hw, c.hw_overrides, c.hbm_channels)
        run = ServingRunConfig(
            design=c.design, model=c.model, workload=c.workload, hw=hw, requests=c.requests,
            rate=c.rate, seed=c.seed, max_batch=c.max_batch, prefill=c.prefill,
            fidelity=c.fidelity, row_buffer=c.row_buffer, channels=c.channels,
            sub_batch=c.sub_batch, tp=c.tp, pp=c.pp)
        out = execute(run)
        figs = {f.name: f for f in out.figures}
        if "utilisation.npu" not in figs and "utilisation.gpu" in figs:
            figs["utilisation.npu"] = figs["utilisation.gpu"]   # the design's compute unit
        metrics = []
        for fname, (name, unit) in self.KEEP.items():
            f = figs.get(fname)
            metrics.append(PointMetric(name, None if f is None else f.value, unit, "simulated",
                                       out.source))
        return metrics + _cost_metrics(c.design, c.row_buffer, hw, c.area)
