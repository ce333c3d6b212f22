"""Load a hardware preset (``sim/hw/<name>.yaml``) or a user's YAML file of the same form."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from neumelt.config import build, load_yaml
from neumelt.errors import InputError
from sim.gpu.config import GpuHw
from sim.npu.config import NpuHw

HW_DIR = Path(__file__).resolve().parent.parent / "hw"


def list_hw() -> list[str]:
    """Names of the shipped hardware presets."""
    return sorted(p.stem for p in HW_DIR.glob("*.yaml"))


@lru_cache(maxsize=64)
def _load(path: str) -> NpuHw | GpuHw:
    doc = load_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("", "a hardware file must be a mapping", "keys kind, name, ...")
    kind = data.get("kind")
    if kind == "npu":
        return build(NpuHw, data, doc=doc)
    if kind == "gpu":
        return build(GpuHw, data, doc=doc)
    raise doc.error("kind", f"unknown hardware kind {kind!r}", "'npu' or 'gpu'")


def load_hw(name_or_path: str | Path | NpuHw | GpuHw) -> NpuHw | GpuHw:
    """A preset name (``npu-neupims``, ``a100-40gb``, ``h100-sxm``) or a YAML path."""
    if isinstance(name_or_path, (NpuHw, GpuHw)):
        return name_or_path
    s = str(name_or_path)
    preset = HW_DIR / f"{s}.yaml"
    if preset.is_file():
        return _load(str(preset))
    p = Path(s)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return _load(str(p.resolve()))
    raise InputError(f"unknown hardware {s!r}", key="hw",
                     expected="one of " + ", ".join(list_hw()) + " or a YAML file")
