"""``gpu-overlap``: a NanoFlow-style GPU that overlaps operators of nano-batches.

NanoFlow (Zhu et al., OSDI'25) splits each batch into nano-batches so that
compute-bound GEMMs, memory-bound decode attention and network-bound all-reduces of
*different* nano-batches run at the same time inside one GPU. Its throughput is then
set by the busiest resource instead of the sum of all operators; NanoFlow reports
59-72 % of the optimal (roofline) throughput on its models.

Model of one decoder layer on one device of a TP group (operators from
:func:`sim.mapping.blocks.decoder_block`):

- each operator ``i`` is timed alone by the ``gpu`` design's roofline
  (:mod:`sim.gpu.roofline`, ``max(C_i, M_i)`` plus a kernel launch, or the ring
  all-reduce ``N_i``), and its compute demand ``C_i`` (FLOPs / (peak x efficiency)) and
  memory demand ``M_i`` (bytes / (HBM B/s x efficiency)) use the same efficiency factors;
  with one nano-batch the design is exactly the ``gpu`` design;
- with ``n`` nano-batches, GEMM weights are streamed once per nano-batch (``M_i``
  grows), every operator runs ``n`` times on ``1/n`` of the rows, and the layer takes
  ``S_n / n + (n - 1) / n * R_n / overlap_efficiency``: one nano-batch's critical path
  (pipeline fill and drain) plus the busiest resource ``R_n = max(sum C, sum M, sum N)``
  for the rest, derated by ``overlap_efficiency`` for the interference of kernels
  that share SMs, caches and HBM (estimated; NanoFlow measures it per kernel pair);
- ``n`` is chosen from ``nano_batches`` (1 = no overlap) to minimise the layer time, as
  NanoFlow's auto-search does.

The roofline optimum of the same iteration is ``max(sum FLOPs / peak, sum bytes / peak
B/s, sum link bytes / link B/s)`` with every efficiency at 1 and weights read once;
:meth:`GpuOverlapDesign.fraction_of_optimal` reports achieved / optimal throughput.
Energy: MACs, HBM bits and link bits at the preset's pJ figures plus static power over
the iteration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from neumelt.errors import InputError
from sim.designs.inputs import decode_lengths, prefill_lengths, resolve_model
from sim.designs.result import IterationResult
from sim.gpu.config import GpuHw
from sim.gpu.roofline import gpu_decode_attention, gpu_op_timing, gpu_prefill_attention
from sim.mapping.blocks import attention_dims, decoder_block
from sim.mapping.parallel import Parallelism, check_parallelism, default_parallelism

OVERLAP_EFFICIENCY = 0.85
NANO_BATCHES = (1, 2, 4)


@dataclass(frozen=True)
class OpDemand:
    """One operator of one nano-batch: seconds alone (the ``gpu`` roofline, with its
    launch), and its compute, memory and network demands in seconds."""

    name: str
    alone_s: float
    compute_s: float
    memory_s: float
    network_s: float
    flops: float
    hbm_bytes: float
    link_bytes: float


@dataclass(frozen=True)
class LayerPlan:
    """The chosen overlap of one layer: nano-batches, seconds, resource totals."""

    nano_batches: int
    layer_s: float
    sequential_s: float
    compute_s: float
    memory_s: float
    network_s: float
    optimum_s: float
    ops: tuple[OpDemand, ...]


def _split(items: Sequence[int], n: int) -> list[list[int]]:
    """``n`` groups of near-equal total: largest first onto the lightest group."""
    groups: list[list[int]] = [[] for _ in range(n)]
    loads = [0] * n
    for x in sorted(items, reverse=True):
        j = loads.index(min(loads))
        groups[j].append(x)
        loads[j] += x
    return groups


def _demand(hw: GpuHw, t: Any, op: Any | None, prefill: bool = False) -> OpDemand:
    """Split one roofline timing into compute / memory / network demands using the
    efficiency factors the ``gpu`` roofline applied to it (``op`` None: attention, of a
    prefill when ``prefill``)."""
    eff = hw.efficiency
    bw = hw.hbm_gbps * 1e9
    if t.bound == "link" or (op is not None and op.unit == "allreduce"):
        return OpDemand(t.name, t.seconds, 0.0, 0.0, t.seconds, 0.0, 0.0, t.link_bytes)
    if op is None and prefill:
        c = t.flops / (hw.peak_tflops * 1e12 * eff.prefill_attention_compute)
        m = t.hbm_bytes / (bw * eff.gemm_memory)
    elif op is None:  # decode attention
        c = t.flops / (hw.peak_tflops * 1e12 * eff.gemm_compute)
        m = t.hbm_bytes / (bw * eff.attention_memory)
    elif op.unit == "gemm":
        c = t.flops / (hw.peak_tflops * 1e12 * eff.gemm_compute)
        m = t.hbm_bytes / (bw * (eff.gemv_memory if op.m <= eff.small_m_rows
                                 else eff.gemm_memory))
    else:  # vector, kv_write
        c = t.flops / (hw.vector_tflops * 1e12)
        m = t.hbm_bytes / (bw * eff.elementwise_memory)
    return OpDemand(t.name, t.seconds, c, m, 0.0, float(t.flops), float(t.hbm_bytes), 0.0)


def _nano_ops(hw: GpuHw, model: Any, tp: int, seq: Sequence[int], prompts: Sequence[int],
              ) -> list[OpDemand]:
    """Operators of one nano-batch holding decode requests ``seq`` and prompts ``prompts``."""
    rows = len(seq) + sum(prompts)
    dims = attention_dims(model, tp)
    out = []
    for op in decoder_block(model, rows, tp, hw.dtype_bytes):
        if op.unit != "attention":
            out.append(_demand(hw, gpu_op_timing(hw, op, tp), op))
            continue
        if seq:
            out.append(_demand(hw, gpu_decode_attention(hw, dims.heads, dims.kv_heads,
                                                        dims.d_head, sum(seq), len(seq)), None))
        if prompts:
            out.append(_demand(hw, gpu_prefill_attention(hw, dims.heads, dims.kv_heads,
                                                         dims.d_head, tuple(prompts)), None,
                               prefill=True))
    return out


def plan_layer(hw: GpuHw, model: Any, tp: int, seq: Sequence[int] = (),
               prompts: Sequence[int] = (), nano_batches: Sequence[int] = NANO_BATCHES,
               overlap_efficiency: float = OVERLAP_EFFICIENCY) -> LayerPlan:
    """Best overlap of one layer (see module docstring); times in seconds."""
    base = _nano_ops(hw, model, tp, seq, prompts)
    seq1 = sum(o.alone_s for o in base)
    optimum = max(sum(o.flops for o in base) / (hw.peak_tflops * 1e12),
                  sum(o.hbm_bytes for o in base) / (hw.hbm_gbps * 1e9),
                  (sum(o.link_bytes for o in base) / (hw.link.bandwidth_gbps * 1e9)
                   if hw.link.bandwidth_gbps else 0.0))
    best = None
    for n in sorted(set(nano_batches)):
        if n < 1 or (n > 1 and len(seq) + len(prompts) < n):
            continue
        if n == 1:
            ops = base
        else:
            ops = []
            for gs, gp in zip(_split(seq, n), _split(prompts, n)):
                if gs or gp:
                    ops += _nano_ops(hw, model, tp, gs, gp)
        c = sum(o.compute_s for o in ops)
        m = sum(o.memory_s for o in ops)
        w = sum(o.network_s for o in ops)
        if n == 1:
            t = seq1
        else:
            r = max(c, m, w) / overlap_efficiency
            sn = sum(o.alone_s for o in ops)
            t = max(sn / n + (n - 1) / n * r, r)
        if best is None or t < best.layer_s:
            best = LayerPlan(n, t, seq1, c, m, w, optimum, tuple(ops))
    return best


class GpuOverlapDesign:
    """NanoFlow-style GPU design (see module docstring). Same API as ``sim.designs``."""

    def __init__(self, hw: GpuHw, *, tp: int | None = None, pp: int | None = None,
                 nano_batches: Sequence[int] = NANO_BATCHES,
                 overlap_efficiency: float = OVERLAP_EFFICIENCY) -> None:
        if not isinstance(hw, GpuHw):
            raise InputError(f"gpu-overlap needs a GPU preset, got {getattr(hw, 'name', hw)!r}",
                             key="hw", expected="a100-40gb, h100-sxm or a kind: gpu YAML")
        if not 0 < overlap_efficiency <= 1:
            raise InputError("overlap_efficiency must be in (0, 1]", key="overlap_efficiency")
        self.name = "gpu-overlap"
        self.hw = hw
        self.fidelity = "analytical"
        self.channels = None
        self.nano_batches = tuple(int(n) for n in nano_batches)
        self.overlap_efficiency = float(overlap_efficiency)
        self._tp, self._pp = tp, pp

    def config(self) -> dict[str, Any]:
        return {"design": self.name, "hw": self.hw.name, "tp": self._tp, "pp": self._pp,
                "nano_batches": list(self.nano_batches),
                "overlap_efficiency": self.overlap_efficiency, "fidelity": self.fidelity}

    def parallelism(self, model: Any) -> Parallelism:
        par = default_parallelism(model, self.hw.capacity_gib * 2**30, self.hw.dtype_bytes)
        par = Parallelism(self._tp or par.tp, self._pp or par.pp)
        check_parallelism(model, par)
        return par

    def _key(self) -> tuple:
        return (self.hw, self.nano_batches, self.overlap_efficiency, self._tp, self._pp)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GpuOverlapDesign) and self._key() == other._key()

    def decode_iteration(self, model: Any, seq_lens: Sequence[int],
                         channel_idx: Sequence[int] | None = None,
                         layers: int | None = None) -> IterationResult:
        """One decode step of the batch (context lengths in tokens)."""
        model = resolve_model(model)
        seq = decode_lengths(seq_lens, sort=True)
        return _cached(self, model, "decode", seq, layers)

    def prefill(self, model: Any, prompt_lens: Sequence[int]) -> IterationResult:
        model = resolve_model(model)
        lens = prefill_lengths(prompt_lens)
        return _cached(self, model, "prefill", lens, None)

    def mixed_iteration(self, model: Any, seq_lens: Sequence[int],
                        prompt_lens: Sequence[int]) -> IterationResult:
        """Decode of ``seq_lens`` and prefill of ``prompt_lens`` in one iteration (the
        dense batches NanoFlow serves): GEMMs see all rows at once."""
        model = resolve_model(model)
        seq = tuple(sorted(int(s) for s in seq_lens))
        lens = tuple(sorted(int(x) for x in prompt_lens))
        if not seq:
            return self.prefill(model, lens)
        if not lens:
            return self.decode_iteration(model, seq)
        return _cached(self, model, "mixed", (seq, lens), None)

    def fraction_of_optimal(self, model: Any, seq_lens: Sequence[int]) -> float:
        """Achieved decode throughput / roofline-optimal throughput (0..1)."""
        model = resolve_model(model)
        par = self.parallelism(model)
        seq = tuple(sorted(int(s) for s in seq_lens))
        p = plan_layer(self.hw, model, par.tp, seq=seq, nano_batches=self.nano_batches,
                       overlap_efficiency=self.overlap_efficiency)
        return p.optimum_s / p.layer_s

    def _run(self, model: Any, phase: str, lens: tuple,
             layers: int | None) -> IterationResult:
        hw = self.hw
        par = self.parallelism(model)
        if phase == "mixed":
            seq, prompts = lens
            lens = seq + prompts
        elif phase == "decode":
            seq, prompts = lens, ()
        else:
            seq, prompts = (), lens
        from sim.designs.capacity import check_kv_capacity

        check_kv_capacity(self.name, hw, model, tuple(seq) + tuple(prompts), par.tp, par.pp,
                          phase)
        rows = len(seq) + sum(prompts)
        plan = plan_layer(hw, model, par.tp, seq=seq, prompts=prompts,
                          nano_batches=self.nano_batches,
                          overlap_efficiency=self.overlap_efficiency)
        n_dev = math.ceil(model.n_layers / par.pp)
        n = layers if layers is not None else n_dev
        if n <= 0:
            raise InputError("layers must be positive", key="layers")
        nl = n * (par.pp if layers is None else 1)
        seconds = plan.layer_s * nl
        notes = [f"nano-batches: {plan.nano_batches}; overlap efficiency "
                 f"{self.overlap_efficiency} (estimated)"]
        if layers is None and par.pp > 1 and hw.link.bandwidth_gbps:
            hop = rows * model.d_model * hw.dtype_bytes / (hw.link.bandwidth_gbps * 1e9) \
                + hw.link.latency_ns * 1e-9
            seconds += hop * (par.pp - 1)
            notes.append(f"pipeline parallel pp={par.pp}: latency through {par.pp} stages")
        cyc = int(math.ceil(seconds * hw.clock_hz))
        flops = sum(o.flops for o in plan.ops)
        hbm = sum(o.hbm_bytes for o in plan.ops)
        link = sum(o.link_bytes for o in plan.ops)
        e = hw.energy
        energy = {
            "gpu_mac": flops / 2 * e.mac_pj * 1e-12 * nl,
            "dram": hbm * 8 * e.dram_pj_per_bit * 1e-12 * nl,
            "link": link * 8 * e.link_pj_per_bit * 1e-12 * nl,
            "static": e.idle_w * seconds,
        }
        util = {"gpu": min(1.0, flops / (hw.peak_tflops * 1e12 * plan.layer_s)),
                "hbm_bw": min(1.0, hbm / (hw.hbm_gbps * 1e9 * plan.layer_s))}
        ops: dict[str, int] = {}
        for o in plan.ops:  # summed over nano-batches, as if each ran alone
            ops[o.name] = ops.get(o.name, 0) + int(round(o.alone_s * hw.clock_hz))
        lc = int(round(plan.layer_s * hw.clock_hz))
        # overlapped operators: each part's share of the solo time, scaled to the total
        from sim.designs import breakdown as bd

        shares: dict[str, float] = {}
        for o in plan.ops:
            kind = ("communication" if o.network_s > 0 and o.compute_s == 0 else
                    "attention" if o.name == "attention" else "gemm")
            shares[kind] = shares.get(kind, 0.0) + o.alone_s
        breakdown = bd.proportional(shares, cyc)
        notes.append("breakdown: overlapped nano-batches, parts in proportion to their solo "
                     "time (estimated)")
        return IterationResult(
            design=self.name, phase=phase, total_cycles=cyc, clock_hz=hw.clock_hz,
            stages={"layer": lc}, operators=ops, energy_j=energy, utilisation=util,
            fidelity=self.fidelity, events=[("gpu", f"layer ({plan.nano_batches} nano)", 0, lc)],
            layer_cycles=lc, layers=int(nl), batch=len(lens),
            counters={"tp": par.tp, "pp": par.pp, "nano_batches": plan.nano_batches,
                      "sequential_layer_s": plan.sequential_s, "optimum_layer_s": plan.optimum_s,
                      "fraction_of_optimal": plan.optimum_s / plan.layer_s,
                      "compute_s": plan.compute_s, "memory_s": plan.memory_s,
                      "network_s": plan.network_s, "flops_per_layer": flops,
                      "hbm_bytes_per_layer": hbm},
            breakdown=breakdown,
            notes=tuple(notes))


@lru_cache(maxsize=4096)
def _cached(design: GpuOverlapDesign, model: Any, phase: str, lens: tuple,
            layers: int | None) -> IterationResult:
    return design._run(model, phase, lens, layers)


def make(hw: Any = None, *, tp: int | None = None, pp: int | None = None,
         **_ignored: Any) -> GpuOverlapDesign:
    """Factory for ``get_design("gpu-overlap", ...)``; PIM switches do not apply."""
    from sim.designs.hw import load_hw
    return GpuOverlapDesign(load_hw(hw or "a100-40gb"), tp=tp, pp=pp)
