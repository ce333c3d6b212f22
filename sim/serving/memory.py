"""Where the KV cache lives on a design, in bytes, pages and channels.

``kv_layout(...)`` turns a design's hardware (capacity, channels, DRAM organisation),
the model and its TP/PP split into a :mod:`~sim.serving.kv` layout:

- PIM designs (``npu-pim``, ``neupims``): KV in the PIM banks, NeuPIMs page layout, per
  channel; each channel loses its share of the device's weights first.
- ``npu`` (KV in plain HBM) and GPUs: vLLM-style 16-token blocks in one pool of
  ``capacity x mem_util - weights`` bytes.

A device of a TP x PP group holds ``ceil(layers / pp)`` layers and
``ceil(kv_heads / tp)`` KV heads of every request it serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from neumelt.errors import InputError
from sim.serving.kv import KVLayout, PagedLayout, PimLayout

PIM_DESIGNS = ("npu-pim", "neupims")
GIB = 1 << 30


@dataclass(frozen=True)
class DramOrg:
    """Banks per channel, bytes per row, rows per bank of the PIM DRAM."""

    banks: int = 32
    row_bytes: int = 1024
    rows: int = 32768


def dram_org(standard: str) -> DramOrg:
    """Organisation of a ``sim/standards/<name>.yaml`` DRAM standard."""
    path = Path(__file__).resolve().parent.parent / "standards" / f"{standard}.yaml"
    if not path.is_file():
        raise InputError(f"unknown DRAM standard {standard!r}", key="hw.hbm.standard",
                         expected="a file in sim/standards/")
    org = (yaml.safe_load(path.read_text()) or {}).get("org", {})
    banks = (int(org.get("pseudo_channels", 1)) * int(org.get("bank_groups", 1))
             * int(org.get("banks_per_group", 1)))
    row_bytes = int(org.get("columns", 64)) * int(org.get("bus_bits", 128)) // 8
    return DramOrg(banks=banks, row_bytes=row_bytes, rows=int(org.get("rows", 32768)))


def kv_layout(design: str, model: Any, *, capacity_bytes: int, tp: int = 1, pp: int = 1,
              channels: int = 1, org: DramOrg | None = None, dtype_bytes: int = 2,
              weight_format: str = "f16", mem_util: float = 1.0,
              block_tokens: int = 16) -> KVLayout:
    """KV layout of one device (see module docstring). Sizes in bytes."""
    layers = math.ceil(model.n_layers / pp)
    kv_heads = math.ceil(model.n_kv_heads / tp)
    weights = model.weight_bytes(weight_format) / (tp * pp)
    free = capacity_bytes * mem_util - weights
    if free <= 0:
        raise InputError(f"model {model.name} needs {weights / GIB:.1f} GiB of weights per "
                         f"device, more than the {capacity_bytes * mem_util / GIB:.1f} GiB "
                         f"available (tp={tp}, pp={pp})", key="tp",
                         expected="a larger tp or pp")
    if design in PIM_DESIGNS:
        org = org or DramOrg()
        page = org.banks * org.row_bytes
        per_channel = free / channels
        return PimLayout(channels=channels, banks=org.banks,
                         row_elems=org.row_bytes // dtype_bytes, page_bytes=page,
                         pages_per_channel=int(per_channel // page), layers=layers,
                         kv_heads=kv_heads, d_head=model.d_head)
    per_token = 2 * layers * kv_heads * model.d_head * dtype_bytes
    return PagedLayout(capacity_bytes=int(free), bytes_per_token=per_token,
                       block_tokens=block_tokens)


def memory_plan(design_name: str, design: Any, model: Any, tp: int, pp: int
                ) -> dict[str, Any]:
    """What :func:`layout_for` assumes about one device's memory, for the results store:
    ``capacity_bytes`` (the hardware preset's), ``mem_util`` (fraction the serving engine
    may use; the rest is left to activations and the runtime), ``weights_bytes`` (this
    device's share, ``weight_format``) and ``kv_bytes_per_token`` (this device's share of
    one token's K and V, all its layers). Sizes in bytes; empty when the design does not
    describe its memory. ``activation_bytes_per_token``: live activations of one token in
    flight (residual stream plus the widest intermediate, this device's share), an
    estimate for sizing the workspace at an iteration's peak token count."""
    hw = getattr(design, "hw", None)
    hbm = getattr(hw, "hbm", None)
    cap_gib = getattr(hbm, "capacity_gib", None) if hbm is not None else \
        getattr(hw, "capacity_gib", None)
    if cap_gib is None:
        return {}
    dtype = int(getattr(hw, "dtype_bytes", 2))
    layers, kv_heads = math.ceil(model.n_layers / pp), math.ceil(model.n_kv_heads / tp)
    return {"capacity_bytes": int(float(cap_gib) * GIB),
            "mem_util": 1.0 if hbm is not None else 0.9,
            "weights_bytes": int(model.weight_bytes("f16") / (tp * pp)), "weight_format": "f16",
            "kv_bytes_per_token": 2 * layers * kv_heads * model.d_head * dtype,
            "activation_bytes_per_token": int(dtype * (model.d_model + max(
                model.d_ff, 3 * model.n_heads * model.d_head) / tp)),
            "source": "sim.serving.memory (hardware preset capacity; workloads catalog "
                      "weight bytes)"}


def layout_for(design_name: str, design: Any, model: Any, tp: int, pp: int) -> KVLayout:
    """KV layout from a ``sim.designs`` design object's hardware description."""
    hw = getattr(design, "hw", None)
    hbm = getattr(hw, "hbm", None)
    if hbm is not None:  # NPU presets: capacity and channels under hbm
        cap = int(float(hbm.capacity_gib) * GIB)
        return kv_layout(design_name, model, capacity_bytes=cap, tp=tp, pp=pp,
                         channels=int(hbm.channels), org=dram_org(hbm.standard),
                         dtype_bytes=int(getattr(hw, "dtype_bytes", 2)))
    if hw is not None and hasattr(hw, "capacity_gib"):  # GPU presets
        cap = int(float(hw.capacity_gib) * GIB)
        # vLLM's default gpu_memory_utilization leaves 10 % for activations and the runtime
        return kv_layout(design_name, model, capacity_bytes=cap, tp=tp, pp=pp,
                         dtype_bytes=int(getattr(hw, "dtype_bytes", 2)), mem_util=0.9)
    raise InputError(f"design {design_name!r} does not describe its memory", key="hw")
