"""The four designs of the NeuPIMs comparison behind one switch.

``get_design(name, hw=..., row_buffer=..., channels=..., sub_batch=..., fidelity=...,
tp=..., pp=...)`` returns an object with ``decode_iteration(model, seq_lens,
channel_idx=None, layers=None)`` and ``prefill(model, prompt_lens)``, both returning an
:class:`~sim.designs.result.IterationResult`.

==========  ===============================================  =======================
design      attention                                        defaults
==========  ===============================================  =======================
gpu         GPU roofline (A100-40GB)                         hw a100-40gb
npu         on the NPU's systolic arrays                     hw npu-neupims
npu-pim     PIM, single row buffer, NPU and PIM serialised   channels rr, sub-batch off,
                                                             Newton commands
neupims     PIM, dual row buffer, sub-batch interleaving     channels greedy, sub-batch on,
                                                             composite COMPS_READRES
==========  ===============================================  =======================

``pim_commands`` is the PIM command set (:mod:`sim.pim.issue`): ``newton`` (the artifact's
``npu+pim`` branch) sends k COMP commands and a READRES per head through the NPU's one PIM
command port, handed out channel by channel (``pim.issue_order``), ``composite`` (NeuPIMs)
one COMPS_READRES with no port limit; with ``newton`` attention phases are bound by the
port and by the order.

``baselines`` picks how strong the paper's baselines are: ``ideal`` (default) gives the
``npu`` design today's batched, tiled attention; ``artifact`` runs the ``npu`` design's
decode attention as the NeuPIMs artifact's ``npu-only`` branch does (one preloaded GEMV
instruction chain per request and head, serialised; :func:`sim.npu.attention.
artifact_npu_attention`). ``npu-pim`` and ``gpu`` are the same under both: ``npu-pim`` always
models the artifact's ``npu+pim`` mechanism (Newton commands through one PIM port,
``pim_commands``), and the GPU's weak-baseline variant is a preset (``a100-eager``), not a
switch (see benchmarks/README.md). ``neupims`` and ``gpu-overlap`` ignore it.

``gpu-overlap`` (NanoFlow-style nano-batching on the GPU roofline, a stronger GPU
baseline than the paper's) is also available by name; the PIM switches do not apply to it.

Each NeuPIMs technique toggles on its own (``row_buffer``, ``channels``, ``sub_batch``) to
rerun the paper's ablation. ``channels`` None keeps a caller's ``channel_idx`` when one is
given (the KV cache already lives there) and otherwise applies the design's policy.
"""

from __future__ import annotations

from pathlib import Path

from neumelt.errors import InputError
from sim.designs.result import IterationResult

DESIGNS: tuple[str, ...] = ("gpu", "npu", "npu-pim", "neupims")
ALL_DESIGNS: tuple[str, ...] = (*DESIGNS, "gpu-overlap")
BASELINES: tuple[str, ...] = ("ideal", "artifact")

_DEFAULTS = {
    "gpu": {"hw": "a100-40gb"},
    "npu": {"hw": "npu-neupims", "pim": False, "row_buffer": "single", "channels": "rr",
            "sub_batch": False},
    "npu-pim": {"hw": "npu-neupims", "pim": True, "row_buffer": "single", "channels": "rr",
                "sub_batch": False, "pim_commands": "newton"},
    "neupims": {"hw": "npu-neupims", "pim": True, "row_buffer": "dual", "channels": "greedy",
                "sub_batch": True, "pim_commands": "composite"},
}


def get_design(name: str, hw: str | Path | None = None, row_buffer: str | None = None,
               channels: str | None = None, sub_batch: bool | None = None,
               fidelity: str = "command", tp: int | None = None, pp: int | None = None,
               baselines: str = "ideal", pim_commands: str | None = None):
    """A design by name; see the module docstring for the defaults and toggles."""
    if baselines not in BASELINES:
        raise InputError(f"invalid baselines {baselines!r}", key="baselines",
                         expected="'ideal' or 'artifact'")
    from sim.designs.gpu_design import GpuDesign
    from sim.designs.hw import load_hw
    from sim.designs.npu_design import NpuDesign

    if name == "gpu-overlap":
        from sim.designs.gpu_overlap import make

        return make(hw, tp=tp, pp=pp)
    if name not in _DEFAULTS:
        raise InputError(f"unknown design {name!r}", key="design",
                         expected="one of " + ", ".join(ALL_DESIGNS))
    d = _DEFAULTS[name]
    if row_buffer not in (None, "single", "dual"):
        raise InputError(f"invalid row buffer {row_buffer!r}", key="row_buffer",
                         expected="'single' or 'dual'")
    if channels not in (None, "greedy", "rr", "given"):
        raise InputError(f"invalid channel policy {channels!r}", key="channels",
                         expected="'greedy', 'rr' or 'given'")
    if pim_commands not in (None, "composite", "newton"):
        raise InputError(f"invalid PIM command set {pim_commands!r}", key="pim_commands",
                         expected="'composite' (COMPS_READRES) or 'newton' (COMP x k + READRES)")
    if fidelity not in ("command", "fast"):
        raise InputError(f"invalid fidelity {fidelity!r}", key="fidelity",
                         expected="'command' or 'fast'")
    for key, v in (("tp", tp), ("pp", pp)):
        if v is not None and (not isinstance(v, int) or v < 1):
            raise InputError(f"invalid {key} {v!r}", key=key, expected="an integer >= 1")
    hwo = load_hw(hw or d["hw"])
    if name == "gpu":
        if hwo.kind != "gpu":
            raise InputError(f"design 'gpu' needs GPU hardware, {hwo.name!r} is {hwo.kind}",
                             key="hw", expected="a100-40gb, h100-sxm or a gpu YAML")
        return GpuDesign(name, hwo, tp=tp, pp=pp)
    if hwo.kind != "npu":
        raise InputError(f"design {name!r} needs NPU hardware, {hwo.name!r} is {hwo.kind}",
                         key="hw", expected="npu-neupims or an npu YAML")
    if d["pim"] and not hwo.pim.enabled:
        raise InputError(f"design {name!r} needs PIM, which {hwo.name!r} disables",
                         key="hw.pim.enabled", expected="true")
    # an explicit policy wins; None keeps a caller's channel_idx, else the design default
    return NpuDesign(name, hwo, pim=d["pim"], row_buffer=row_buffer or d["row_buffer"],
                     channels=channels, default_channels=d["channels"],
                     sub_batch=d["sub_batch"] if sub_batch is None else bool(sub_batch),
                     fidelity=fidelity, tp=tp, pp=pp,
                     baselines=baselines if name == "npu" else "ideal",
                     pim_commands=pim_commands or d.get("pim_commands", "composite"))


__all__ = ["ALL_DESIGNS", "BASELINES", "DESIGNS", "IterationResult", "clear_caches", "get_design"]


def clear_caches() -> None:
    """Forget every memoised timing (for benchmarks that time a cold model, warm JIT)."""
    from sim.designs import gpu_design, gpu_overlap, npu_design, pim_call
    from sim.npu import attention, block, gemm

    for fn in (gemm.gemm_timing, block.op_timing, attention.npu_attention,
               attention.artifact_npu_attention,
               npu_design._decode_cached, npu_design._prefill_cached, gpu_design._run,
               pim_call.pim_attention, gpu_overlap._cached):
        fn.cache_clear()
