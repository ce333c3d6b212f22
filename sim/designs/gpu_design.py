"""The ``gpu`` design: every operator on one GPU of a tensor-parallel group, timed by the
per-operator roofline (:mod:`sim.gpu.roofline`). Stages keep the NPU designs' names:
A (norm + QKV), B (attention), E (projection + FFN); a layer takes A + B + E."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sim.designs import breakdown as bd
from sim.designs.capacity import check_kv_capacity
from sim.designs.inputs import decode_lengths, prefill_lengths, resolve_model
from sim.designs.result import IterationResult
from sim.gpu.config import GpuHw
from sim.gpu.roofline import gpu_decode_attention, gpu_op_timing, gpu_prefill_attention
from sim.mapping.blocks import attention_dims, decoder_block
from sim.mapping.parallel import Parallelism, check_parallelism, default_parallelism


class GpuDesign:
    """GPU-only serving of a decoder model (the NeuPIMs paper's A100 baseline)."""

    def __init__(self, name: str, hw: GpuHw, *, tp: int | None, pp: int | None) -> None:
        self.name = name
        self.hw = hw
        self.fidelity = "analytical"
        self._tp = tp
        self._pp = pp

    def config(self) -> dict[str, Any]:
        return {"design": self.name, "hw": self.hw.name, "tp": self._tp, "pp": self._pp,
                "fidelity": self.fidelity}

    def parallelism(self, model) -> Parallelism:
        par = default_parallelism(model, self.hw.capacity_gib * 2**30, self.hw.dtype_bytes)
        par = Parallelism(self._tp or par.tp, self._pp or par.pp)
        check_parallelism(model, par)
        return par

    def __hash__(self) -> int:
        return hash((self.name, self.hw, self._tp, self._pp))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GpuDesign) and (self.name, self.hw, self._tp, self._pp) == (
            other.name, other.hw, other._tp, other._pp)

    def decode_iteration(self, model, seq_lens: Sequence[int],
                         channel_idx: Sequence[int] | None = None,
                         layers: int | None = None) -> IterationResult:
        model = resolve_model(model)
        seq = decode_lengths(seq_lens)
        par = self.parallelism(model)
        check_kv_capacity(self.name, self.hw, model, seq, par.tp, par.pp)
        return _run(self, model, "decode", len(seq), sum(seq), (), layers, par)

    def prefill(self, model, prompt_lens: Sequence[int]) -> IterationResult:
        model = resolve_model(model)
        lens = prefill_lengths(prompt_lens)
        par = self.parallelism(model)
        check_kv_capacity(self.name, self.hw, model, lens, par.tp, par.pp, "prefill")
        return _run(self, model, "prefill", sum(lens), 0, lens, None, par)


@lru_cache(maxsize=2048)
def _run(design: GpuDesign, model, phase: str, tokens: int, total_ctx: int,
         prompt_lens: tuple[int, ...], layers: int | None, par: Parallelism) -> IterationResult:
    hw = design.hw
    dims = attention_dims(model, par.tp)
    ops = decoder_block(model, tokens, par.tp, hw.dtype_bytes)
    timings = []
    for op in ops:
        if op.unit == "attention":
            if phase == "decode":
                timings.append(gpu_decode_attention(hw, dims.heads, dims.kv_heads, dims.d_head,
                                                    total_ctx, tokens))
            else:
                timings.append(gpu_prefill_attention(hw, dims.heads, dims.kv_heads,
                                                     dims.d_head, prompt_lens))
        else:
            timings.append(gpu_op_timing(hw, op, par.tp))
    cyc = {t.name: int(math.ceil(t.seconds * hw.clock_hz)) for t in timings}
    stages = {"A": 0, "B": 0, "E": 0}
    events = []
    t0 = 0
    for t in timings:
        stages[{"qkv": "A", "attn": "B", "ffn": "E"}[t.part]] += cyc[t.name]
        if cyc[t.name]:
            events.append(("gpu", t.name, t0, cyc[t.name]))
        t0 += cyc[t.name]
    layer = sum(stages.values())
    n_dev = math.ceil(model.n_layers / par.pp)
    n = layers if layers is not None else n_dev
    total = layer * n
    nl = n
    launch = int(math.ceil(hw.kernel_launch_us * 1e-6 * hw.clock_hz))
    parts = bd.empty()
    for t in timings:
        c = cyc[t.name]
        gap = c if t.bound == "launch" else min(c, launch)   # the GPU waits for the launch
        parts["idle"] += gap
        kind = ("communication" if t.bound == "link" else
                "attention" if t.part == "attn" else "gemm")
        parts[kind] += c - gap
    breakdown = bd.add(bd.empty(), parts, n)
    if layers is None and par.pp > 1:
        nbytes = tokens * model.d_model * hw.dtype_bytes
        hop = 0.0
        if hw.link.bandwidth_gbps:
            hop = nbytes / (hw.link.bandwidth_gbps * 1e9) + hw.link.latency_ns * 1e-9
        total = layer * n * par.pp + int(math.ceil(hop * hw.clock_hz)) * (par.pp - 1)
        nl = n * par.pp
        breakdown = bd.add(bd.empty(), parts, n * par.pp)
        breakdown["communication"] += int(math.ceil(hop * hw.clock_hz)) * (par.pp - 1)
    flops = sum(t.flops for t in timings)
    hbm = sum(t.hbm_bytes for t in timings)
    link = sum(t.link_bytes for t in timings)
    e = hw.energy
    seconds_layer = layer / hw.clock_hz
    energy = {
        "gpu_mac": flops / 2 * e.mac_pj * 1e-12 * nl,
        "dram": hbm * 8 * e.dram_pj_per_bit * 1e-12 * nl,
        "link": link * 8 * e.link_pj_per_bit * 1e-12 * nl,
        "static": e.idle_w * seconds_layer * nl,
    }
    util = {
        "gpu": min(1.0, flops / (hw.peak_tflops * 1e12 * seconds_layer)) if layer else 0.0,
        "hbm_bw": min(1.0, hbm / (hw.hbm_gbps * 1e9 * seconds_layer)) if layer else 0.0,
    }
    return IterationResult(
        design=design.name, phase=phase, total_cycles=int(total), clock_hz=hw.clock_hz,
        stages=stages, operators=cyc, energy_j=energy, utilisation=util,
        fidelity="analytical", events=events, layer_cycles=layer, layers=nl,
        batch=len(prompt_lens) if phase == "prefill" else tokens,
        counters={"tp": par.tp, "pp": par.pp, "hbm_bytes_per_layer": hbm,
                  "flops_per_layer": flops,
                  "bounds": {t.name: t.bound for t in timings}},
        breakdown=breakdown)
