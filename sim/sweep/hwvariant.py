"""Hardware variants for sweep points: a preset plus overrides, written as a YAML file.

Sweep axes often change hardware (``hbm_channels``, ``hw_overrides.systolic.count``).
The simulators take a hardware preset name or a YAML path, so a variant is the preset's
YAML deep-merged with the overrides, written once per distinct content into a cache
directory (``$NEUMELT_SWEEP_CACHE``, default ``<tmp>/neumelt-sweep-<uid>``) under a name
that is the hash of its content: two workers writing the same variant write the same
bytes, atomically.

``hbm_channels`` changes an NPU's HBM channel count and, so that the PIM model sees the
same number of channels, the DRAM standard's ``org.channels`` (a derived standard file
next to it); HBM capacity scales with the channel count unless the overrides set it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from neumelt.config import load_yaml
from neumelt.errors import InputError

HW_DIR = Path(__file__).resolve().parent.parent / "hw"
STANDARDS_DIR = Path(__file__).resolve().parent.parent / "standards"


def cache_dir() -> Path:
    d = os.environ.get("NEUMELT_SWEEP_CACHE") or os.path.join(
        tempfile.gettempdir(), f"neumelt-sweep-{os.getuid() if hasattr(os, 'getuid') else 0}")
    p = Path(d)
    p.mkdir(parents=True, exist_ok=True)
    return p


def _resolve(name_or_path: str, folder: Path, what: str) -> Path:
    preset = folder / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    p = Path(name_or_path)
    if p.is_file():
        return p
    raise InputError(f"unknown {what} {name_or_path!r}", key="hw" if what == "hardware"
                     else "hw.hbm.standard", expected="a preset name or a YAML file")


@lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int) -> dict[str, Any]:
    """Parsed YAML of a preset (memoised per file version: parsing is slow)."""
    return load_yaml(path).data


def _data(path: Path) -> dict[str, Any]:
    return copy.deepcopy(_read(str(path.resolve()), path.stat().st_mtime_ns))


_VARIANTS: dict[str, str] = {}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _write(kind: str, data: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = cache_dir() / f"{kind}-{digest}.yaml"
    if not path.is_file():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return str(path)


def hw_variant(hw: str, overrides: dict[str, Any] | None = None,
               hbm_channels: int | None = None) -> str:
    """``hw`` itself when nothing changes, else the path of the variant's YAML file."""
    if not overrides and hbm_channels is None:
        return hw
    memo = json.dumps([hw, overrides, hbm_channels, str(cache_dir())], sort_keys=True,
                      default=str)
    done = _VARIANTS.get(memo)
    if done is not None and os.path.isfile(done):
        return done
    data = deep_merge(_data(_resolve(hw, HW_DIR, "hardware")), overrides or {})
    if hbm_channels is not None:
        if data.get("kind") != "npu" or not isinstance(data.get("hbm"), dict):
            raise InputError("hbm_channels applies to NPU hardware only", key="hbm_channels",
                             expected="null for GPU designs (use hw_overrides)")
        hbm = data["hbm"]
        old = int(hbm.get("channels", 32))
        hbm["channels"] = hbm_channels
        if "capacity_gib" not in ((overrides or {}).get("hbm") or {}) and "capacity_gib" in hbm:
            hbm["capacity_gib"] = hbm["capacity_gib"] * hbm_channels / old
        std = _data(_resolve(str(hbm.get("standard", "hbm2-neupims")), STANDARDS_DIR,
                             "DRAM standard"))
        if std.get("base") or not isinstance(std.get("org"), dict):
            raise InputError("hbm_channels needs a standard with its own 'org' section",
                             key="hw.hbm.standard")
        std["org"]["channels"] = hbm_channels
        std["name"] = f"{std['name']}-ch{hbm_channels}"
        hbm["standard"] = _write("standard", std)
    data["name"] = f"{data.get('name', 'hw')}-variant"
    path = _write("hw", data)
    _VARIANTS[memo] = path
    return path
