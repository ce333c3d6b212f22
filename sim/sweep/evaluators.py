"""Point evaluators: a registry of named functions from one design point to its metrics.

An evaluator has a ``name``, a ``version`` and ``code_packages`` (both part of every point
key through :meth:`Evaluator.key_version`: the version plus a fingerprint of the source and
data files of those packages, so a point cached in the store is reused only while the
simulator code that produced it is unchanged), a frozen config dataclass ``config_cls``
(the point config; the spec's ``base`` plus axis values are built into it with
:func:`neumelt.config.build`), the units
of the metrics it gives (``metric_units()``), ``evaluate(config) -> list[PointMetric]`` and
an optional ``warmup()`` (compile numba kernels once, so workers load them from the cache).

Built in (imported lazily, by name):

- ``roofline``: an analytical decode-iteration model (this module; numpy-free, microseconds
  per point, provenance ``estimated``): always available.
- ``decode-iteration``: one decode iteration of ``sim.designs`` (fast or command fidelity),
  provenance ``simulated`` (``sim.sweep.eval_sim``).
- ``serving``: a whole serving run of ``sim.serving`` (``sim.sweep.eval_sim``).

A spec may also name any importable ``module:attribute`` (an :class:`Evaluator` subclass or
instance); on a cluster the module must be importable on the workers.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from sim.sweep import cost

BUILTIN: dict[str, str] = {
    "roofline": "sim.sweep.evaluators:RooflineDecode",
    "decode-iteration": "sim.sweep.eval_sim:DecodeIteration",
    "serving": "sim.sweep.eval_sim:Serving",
}
_CACHE: dict[str, Evaluator] = {}


@dataclass(frozen=True)
class PointMetric:
    """One metric of one point; ``value`` None = unavailable."""

    name: str
    value: float | None
    unit: str
    provenance: Literal["measured", "simulated", "estimated"]
    source: str


# Files that cannot change a point's result: command lines and the sweep machinery itself
# (its evaluators, hardware variants and cost proxy do count).
_NOT_RESULTS = {"sim": ("sweep/execute.py", "sweep/backends.py", "sweep/results.py",
                        "sweep/pareto.py", "sweep/spec.py", "sweep/expr.py", "sweep/task.py",
                        "sweep/__init__.py", "sweep/examples/")}


@lru_cache(maxsize=8)
def code_fingerprint(packages: tuple[str, ...]) -> str:
    """SHA-256 (16 hex) over the .py/.yaml/.tsv/.csv/.json files of ``packages`` that can
    change a result (``cli.py`` modules and the sweep machinery are left out)."""
    h = hashlib.sha256()
    for pkg in sorted(packages):
        mod = importlib.import_module(pkg)
        root = Path(mod.__file__).resolve().parent
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in
                       (".py", ".yaml", ".yml", ".tsv", ".csv", ".json")
                       and "__pycache__" not in p.parts)
        skip = _NOT_RESULTS.get(pkg, ())
        for f in files:
            rel = f.relative_to(root).as_posix()
            if f.name == "cli.py" or rel.startswith(skip):
                continue
            h.update(f"{pkg}/{rel}\0".encode())
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


class Evaluator:
    """Base of point evaluators (see the module docstring)."""

    name: str = ""
    version: str = "1"
    config_cls: type = object
    code_packages: tuple[str, ...] = ("sim", "workloads")

    def key_version(self) -> str:
        """What point keys hash besides the config: version + code fingerprint."""
        if not self.code_packages:
            return self.version
        return f"{self.version}+{code_fingerprint(tuple(self.code_packages))}"

    def metric_units(self) -> dict[str, str]:
        raise NotImplementedError

    def evaluate(self, config: Any) -> list[PointMetric]:
        raise NotImplementedError

    def warmup(self) -> None:
        """Compile whatever the evaluator JIT-compiles (numba cache=True writes it to disk)."""


def evaluator_names() -> list[str]:
    return sorted(BUILTIN)


def get_evaluator(name: str) -> Evaluator:
    """The evaluator called ``name`` (built-in or ``module:attribute``); KeyError if none."""
    if name in _CACHE:
        return _CACHE[name]
    target = BUILTIN.get(name, name if ":" in name else None)
    if target is None:
        raise KeyError(name)
    mod_name, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        if name in BUILTIN:
            raise  # a broken built-in is a bug, not bad input
        raise KeyError(f"{name}: {exc}") from None
    ev = obj() if isinstance(obj, type) else obj
    if not isinstance(ev, Evaluator):
        raise KeyError(f"{name}: not an Evaluator")
    if not ev.name:
        ev.name = name
    _CACHE[name] = ev
    return ev


# ---------------------------------------------------------------------------------------
# roofline: analytical decode iteration (estimated)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RooflineConfig:
    """One decode iteration of a batch on an NPU with HBM, with or without PIM attention.

    Defaults follow the NeuPIMs configuration (reference README): 32 HBM2 channels of
    32 GB/s, 32 banks per channel, 16 fp16 MACs per bank at 1 GHz, an NPU of 262 TFLOP/s
    fp16, GPT-3 7B at TP 4. Energy constants (pJ) from the reference energy table: HBM2
    off-chip path 3.9 pJ/bit (FGDRAM, MICRO'17), bank-level PIM access 0.55 pJ/bit and an
    FP16 MAC 0.32 pJ (AttAcc).
    """

    model: str = "gpt3-7b"
    batch: int = 64                 # requests in the decode batch
    seq_len: int = 300              # context length of each request, tokens
    pim: bool = True                # attention GEMVs in PIM (else on the NPU)
    row_buffer: Literal["single", "dual"] = "dual"   # dual: PIM overlaps NPU weight reads
    channels: int = 32              # HBM channels per device
    channel_gb_s: float = 32.0      # GB/s per channel
    banks_per_channel: int = 32
    pim_macs_per_bank: int = 16     # fp16 multipliers per bank
    pim_clock_ghz: float = 1.0
    npu_tflops: float = 262.0       # fp16 peak, TFLOP/s
    tp: int = 4                     # tensor-parallel devices
    dtype_bytes: int = 2
    hbm_pj_per_bit: float = 3.9
    pim_pj_per_bit: float = 0.55
    mac_pj: float = 0.32
    area: cost.AreaModel = field(default_factory=cost.AreaModel)

    def __post_init__(self) -> None:
        for name in ("batch", "seq_len", "channels", "banks_per_channel", "pim_macs_per_bank",
                     "tp", "dtype_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("channel_gb_s", "pim_clock_ghz", "npu_tflops"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


class RooflineDecode(Evaluator):
    """Roofline of one decode iteration (all layers); see :class:`RooflineConfig`.

    Per layer and device: weight GEMMs take max(weight bytes / HBM bandwidth, FLOPs / NPU
    peak); attention on the NPU takes max(KV bytes / HBM bandwidth, FLOPs / peak), on PIM
    MACs / (channels x banks x MACs per bank x clock). Single row buffer: PIM blocks the
    NPU's reads, so the two add; dual: they overlap (ideal, an upper bound on the gain).
    """

    name = "roofline"
    version = "1"
    config_cls = RooflineConfig
    SOURCE = "roofline/analytical"

    _UNITS = {
        "throughput_tokens_per_s": "tokens/s",
        "iteration_s": "s",
        "energy_per_token_j": "J/token",
        "energy_iteration_j": "J",
        "npu_utilisation": "fraction",
        "attention_fraction": "fraction",
        "area_overhead_pct": "%",
        "memory_area_rel": "x",
    }

    def metric_units(self) -> dict[str, str]:
        return dict(self._UNITS)

    def evaluate(self, c: RooflineConfig) -> list[PointMetric]:
        from workloads.models import load_model

        m = load_model(c.model)
        bw = c.channels * c.channel_gb_s * 1e9                      # bytes/s per device
        peak = c.npu_tflops * 1e12                                  # FLOP/s per device
        w_params = m.linear_params_per_layer() / c.tp              # weights per device
        w_bytes = w_params * c.dtype_bytes
        fc_flops = 2.0 * c.batch * w_params
        ctx = m.kv_tokens(c.seq_len)
        kv_bytes = c.batch * ctx * 2 * m.kv_dim / c.tp * c.dtype_bytes
        attn_macs = c.batch * ctx * 2 * m.q_dim / c.tp              # logits + attend
        t_fc = max(w_bytes / bw, fc_flops / peak)
        if c.pim:
            pim_rate = (c.channels * c.banks_per_channel * c.pim_macs_per_bank
                        * c.pim_clock_ghz * 1e9)                    # MAC/s
            t_attn = attn_macs / pim_rate
            t_layer = max(t_fc, t_attn) if c.row_buffer == "dual" else t_fc + t_attn
            kv_pj_bit = c.pim_pj_per_bit
        else:
            t_attn = max(kv_bytes / bw, 2 * attn_macs / peak)
            t_layer = t_fc + t_attn
            kv_pj_bit = c.hbm_pj_per_bit
        iteration_s = t_layer * m.n_layers
        e_layer_j = c.tp * 1e-12 * (w_bytes * 8 * c.hbm_pj_per_bit + kv_bytes * 8 * kv_pj_bit
                                    + (fc_flops / 2 + attn_macs) * c.mac_pj)
        energy_j = e_layer_j * m.n_layers
        npu_busy = fc_flops / peak + (0.0 if c.pim else 2 * attn_macs / peak)
        overhead = cost.area_overhead_pct(c.area, c.pim, c.row_buffer, c.pim_macs_per_bank)
        est = "estimated"
        return [
            PointMetric("throughput_tokens_per_s", c.batch / iteration_s, "tokens/s", est,
                        self.SOURCE),
            PointMetric("iteration_s", iteration_s, "s", est, self.SOURCE),
            PointMetric("energy_per_token_j", energy_j / c.batch, "J/token", est, self.SOURCE),
            PointMetric("energy_iteration_j", energy_j, "J", est, self.SOURCE),
            PointMetric("npu_utilisation", min(1.0, npu_busy / t_layer), "fraction", est,
                        self.SOURCE),
            PointMetric("attention_fraction", t_attn / (t_fc + t_attn), "fraction", est,
                        self.SOURCE),
            PointMetric("area_overhead_pct", overhead, "%", est, cost.SOURCE),
            PointMetric("memory_area_rel", cost.memory_area_rel(c.channels, overhead), "x",
                        est, cost.SOURCE),
        ]
