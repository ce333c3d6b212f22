"""Memory as a user means it: what one device must hold to run the candidate.

Four parts, each a :class:`~reports.doc.Quantity` with provenance, per device:

- **weights** in the run's storage format (a simulated design: the serving run's memory
  plan, from the model catalog, split over its TP x PP devices; a measured device: the
  GGUF file's size);
- **KV cache** at the workload's peak (a simulated design: the serving simulator's peak
  KV occupancy over the run; a measured device: llama.cpp allocates its whole context,
  ``n_ctx`` x KV bytes per token from the GGUF header, at load);
- **activations / runtime**: what is neither (a simulated GPU: the 10 % vLLM leaves to
  activations and the runtime; an NPU: the activations of the largest prefill chunk; a
  measured device: peak RSS minus weights minus KV);
- **total** and the device's real **capacity** (hardware preset; device RAM), whence the
  **headroom** ``1 - total / capacity``.

A part that cannot be told is unavailable (never zero). Reads the store only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reports.data import RunData, find_metric, finite, group_samples, sample_kind, to_canonical
from reports.doc import Quantity

MEM_REQUIRED = (r"mem(ory)?_?(required|needed|footprint)", r"peak.*(rss|pss|mem|footprint)",
                r"(rss|pss|footprint|mem(ory)?).*(peak|max|hwm)", r"vmhwm",
                r"^(rss|pss)(_bytes)?$")
MEM_AVAILABLE = (r"^(?!kv)(ram|mem(ory)?|hbm|dram).*(total|capacity|size)",)


def combine(*provs: str | None) -> str | None:
    """Provenance of a number derived from others: the weakest wins."""
    ps = [p for p in provs if p]
    for weakest in ("estimated", "simulated", "measured"):
        if weakest in ps:
            return weakest
    return None


@dataclass(frozen=True)
class Memory:
    """One device's memory for a candidate (bytes); ``devices`` = how many share the model."""

    weights: Quantity | None = None
    kv: Quantity | None = None
    runtime: Quantity | None = None
    total: Quantity | None = None
    capacity: Quantity | None = None
    devices: int = 1
    weight_format: str = ""
    note: str = ""

    @property
    def headroom(self) -> Quantity | None:
        req, avail = self.total, self.capacity
        if req is None or avail is None:
            return None
        prov = combine(req.provenance, avail.provenance)
        if not req.available or not avail.available or not avail.value:
            return Quantity(None, "%", prov, "total / capacity")
        return Quantity(100.0 * (1.0 - req.value / avail.value), "%", prov,
                        f"1 - total ({req.source}) / capacity ({avail.source})")


def _q(value: float | None, prov: str | None, source: str) -> Quantity:
    return Quantity(value, "B", prov, source)


def _sum(parts: list[Quantity | None], what: str) -> Quantity | None:
    if any(p is None for p in parts):
        return None
    if not all(p.available for p in parts):
        return Quantity(None, "B", combine(*(p.provenance for p in parts)), what)
    return _q(sum(p.value for p in parts), combine(*(p.provenance for p in parts)), what)


def _mem_from_samples(run: RunData) -> Quantity | None:
    best = None
    for (source, name, unit), series in group_samples(run.samples).items():
        if sample_kind(name, unit) != "memory":
            continue
        vals = [to_canonical(s.value, unit)[0] for s in series if s.value is not None]
        if not vals or to_canonical(1.0, unit)[1] != "B":
            continue
        q = Quantity(max(vals), "B", "measured", f"max of {name} ({source})")
        if best is None or q.value > best.value:
            best = q
    return best


def device_capacity(run: RunData) -> Quantity | None:
    """The device's memory capacity: a capacity metric, run info, or a total-memory sample."""
    q = find_metric(run, MEM_AVAILABLE, units=("B",))
    if q is not None:
        return q
    plan = run.run.info.get("memory")
    if isinstance(plan, dict) and finite(plan.get("capacity_bytes")) is not None:
        return _q(float(plan["capacity_bytes"]), "simulated",
                  "hardware preset capacity per device")
    for key in ("ram_total_bytes", "mem_total_bytes", "memory_total_bytes", "device_ram_bytes",
                "total_ram_bytes", "memory_capacity_bytes", "hbm_capacity_bytes", "ram_bytes"):
        v = finite(run.attr(key))
        if v is not None:
            prov = "simulated" if run.run.kind == "sim" else "measured"
            return _q(v, prov, f"run info {key}")
    for (source, name, unit), series in group_samples(run.samples).items():
        if "total" in name.lower() and sample_kind(name, unit) == "device memory":
            vals = [to_canonical(s.value, unit)[0] for s in series if s.value is not None]
            if vals:
                return _q(max(vals), "measured", f"{name} ({source})")
    return None


def _sim_memory(run: RunData) -> Memory | None:
    plan = run.run.info.get("memory")
    kv_cap = find_metric(run, (r"^kv_capacity_bytes$",), units=("B",))
    kv_peak = find_metric(run, (r"^kv_peak_fraction$",))
    devices = int(finite(run.run.info.get("devices")) or 1)
    kv = None
    if kv_cap is not None and kv_peak is not None and kv_cap.available and kv_peak.available:
        kv = _q(kv_peak.value * kv_cap.value, "simulated",
                f"peak KV occupancy {100 * kv_peak.value:.2g} % of the "
                f"{kv_cap.value / 2 ** 30:.3g} GiB KV pool ({kv_cap.source})")
    if not isinstance(plan, dict) or finite(plan.get("weights_bytes")) is None:
        if kv is None:
            return None
        # an older serving run: only the KV cache and what the weights left for it
        return Memory(kv=kv, total=_q(kv.value, "simulated", "KV cache only"),
                      capacity=_q(kv_cap.value, "simulated",
                                  f"KV pool after weights ({kv_cap.source})"),
                      devices=devices,
                      note="weights not recorded by this run: KV cache against the KV pool")
    fmt = str(plan.get("weight_format") or "")
    weights = _q(float(plan["weights_bytes"]), "estimated",
                 f"model catalog {run.model} {fmt} weight bytes / {devices} device(s)")
    cap = device_capacity(run)
    parts = []
    util = finite(plan.get("mem_util"))
    if util is not None and util < 1 and cap is not None and cap.available:
        parts.append((cap.value * (1 - util),
                      f"{100 * (1 - util):.0f} % of capacity the serving engine leaves to "
                      "activations and the runtime (vLLM gpu_memory_utilization "
                      f"{util:g})"))
    per_tok = finite(plan.get("activation_bytes_per_token"))
    chunk = finite(run.attr("max_prefill_tokens"))
    if per_tok is not None and chunk:
        parts.append((per_tok * chunk, f"activations of a {chunk:g}-token prefill chunk x "
                                       f"{per_tok:g} B/token (residual + widest layer)"))
    if parts:
        value, source = max(parts)
        runtime = _q(value, "estimated", source)
    else:
        runtime = _q(None, "estimated", "not modelled")
    total = _sum([weights, kv, runtime], "weights + KV cache at peak + activations/runtime") \
        if runtime.available else _sum([weights, kv], "weights + KV cache at peak "
                                                      "(activations not modelled)")
    return Memory(weights=weights, kv=kv, runtime=runtime, total=total, capacity=cap,
                  devices=devices, weight_format=fmt)


def _profile_memory(run: RunData) -> Memory:
    total = find_metric(run, MEM_REQUIRED, units=("B",)) or _mem_from_samples(run)
    cap = device_capacity(run)
    info = run.run.info.get("model_file")
    weights = kv = runtime = None
    fmt = run.quant if run.quant not in ("", "—") else ""
    if isinstance(info, dict) and finite(info.get("bytes")) is not None:
        weights = _q(float(info["bytes"]), "measured", f"GGUF file size ({info.get('file')})")
        per_tok = finite(info.get("kv_bytes_per_token"))
        n_ctx = finite(run.attr("n_ctx"))
        for k, v in run.run.info.items():  # what the runtime actually loaded with
            if re.fullmatch(r"load\.\d+", k) and isinstance(v, dict) and finite(v.get("n_ctx")):
                n_ctx = finite(v["n_ctx"])
        if per_tok is not None and n_ctx:
            kv = _q(per_tok * n_ctx, "estimated",
                    f"n_ctx {n_ctx:g} tokens x {per_tok:g} B/token (f16 K and V from the "
                    "GGUF header; llama.cpp allocates the whole context at load)")
        if total is not None and total.available and kv is not None:
            rest = total.value - weights.value - kv.value
            runtime = _q(max(rest, 0.0), "estimated",
                         f"peak RSS - weights - KV cache ({total.source})"
                         + ("; weights not all resident (mmap), floored at 0" if rest < 0
                            else ""))
    return Memory(weights=weights, kv=kv, runtime=runtime, total=total, capacity=cap,
                  weight_format=fmt)


def memory_of(run: RunData) -> Memory:
    """The whole-memory breakdown of one run (see module docstring)."""
    if run.run.kind == "sim":
        mem = _sim_memory(run)
        if mem is not None:
            return mem
        w = find_metric(run, (r"weights?_?(bytes|size|memory)",), units=("B",))
        kv = find_metric(run, (r"kv_?(cache)?_?(bytes|size|memory)",), units=("B",))
        total = find_metric(run, MEM_REQUIRED, units=("B",))
        if total is None and w is not None and w.available:
            total = _q(w.value + (kv.value if kv and kv.available else 0.0),
                       combine(w.provenance, kv.provenance if kv else None),
                       "weights" + (" + KV cache" if kv and kv.available else ""))
        return Memory(weights=w, kv=kv, total=total, capacity=device_capacity(run))
    return _profile_memory(run)
