"""Agent workloads: ``agentwl/v1`` templates of one task's DAG of LLM calls, and the expander.

>>> from workloads.agents import expand, list_templates
>>> calls = expand("mobile-agent-v2", seed=7)          # list[CallRecord], dependency-ordered

Templates ship in ``workloads/templates/*.yaml``; a path to a user's YAML file works too.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Any

from neumelt.errors import InputError
from workloads.agents.expand import (
    MAX_COUNT,
    CallRecord,
    dag_stats,
    expand_template,
    serialize,
    token_stats,
)
from workloads.agents.template import SCHEMA, Node, Template, load_template_file, with_vars

__all__ = [
    "MAX_COUNT",
    "SCHEMA",
    "CallRecord",
    "Node",
    "Template",
    "dag_stats",
    "expand",
    "serialize",
    "list_templates",
    "load_calls",
    "load_template",
    "template_dir",
    "token_stats",
    "with_vars",
]


def template_dir() -> Path:
    """``workloads/templates/`` (shipped as package data)."""
    return Path(__file__).resolve().parent.parent / "templates"


def list_templates() -> list[str]:
    """Names of the shipped templates (file stems), sorted."""
    return sorted(p.stem for p in template_dir().glob("*.yaml"))


@lru_cache(maxsize=64)
def _load_shipped(name: str) -> Template:
    return load_template_file(template_dir() / f"{name}.yaml")


def load_template(name_or_path: str | Path | Template) -> Template:
    """A shipped template by name (``-`` and ``_`` interchangeable) or a YAML file by path."""
    if isinstance(name_or_path, Template):
        return name_or_path
    s = str(name_or_path)
    names = list_templates()
    for cand in (s, s.replace("_", "-"), s.replace("-", "_")):
        if cand in names:
            return _load_shipped(cand)
    if s.endswith((".yaml", ".yml")) or "/" in s or Path(s).exists():
        return load_template_file(s)
    raise InputError(f"unknown workload template '{s}'", key="template",
                     expected="one of " + ", ".join(names) + " or a YAML file path")


def _bind_models(model: Any) -> Any:
    if model is None:
        return None
    from workloads.models import ModelSpec, VisionRule, load_model

    def one(m: Any) -> Any:
        return m if isinstance(m, (ModelSpec, VisionRule)) else load_model(m)

    if isinstance(model, dict):
        return {k: one(v) for k, v in model.items()}
    return one(model)


def load_calls(path: str | Path, model: Any = None) -> list[CallRecord]:
    """Read a JSONL call list (``neumelt workloads expand -o`` or a converted agent log).

    Checks each line (one JSON object with ``inst``, ``id``, ``kind``; token counts
    non-negative integers), unique (inst, id) and that every dependency precedes its
    dependant. ``model`` fills ``image_tokens`` left null for ``{w, h}`` images.
    """
    import json

    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise InputError("file not found", file=str(path)) from None
    bound = _bind_models(model)
    out: list[CallRecord] = []
    seen: set[tuple[int, str]] = set()
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            rec = CallRecord.from_dict(d)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=no) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"bad call record ({exc})", file=str(path), line=no,
                             expected="an agentwl/v1 record with inst, id, kind") from None
        if rec.kind not in ("call", "delay"):
            raise InputError(f"unknown kind {rec.kind!r}", file=str(path), line=no,
                             key="kind", expected="call or delay")
        for name in ("prompt_tokens", "output_tokens", "prefix_tokens"):
            if getattr(rec, name) < 0:
                raise InputError(f"negative {name}", file=str(path), line=no, key=name,
                                 expected="a non-negative integer")
        if rec.key in seen:
            raise InputError(f"duplicate id {rec.id!r} in instance {rec.inst}", file=str(path),
                             line=no, key="id", expected="unique ids per instance")
        for dep in rec.deps + ((rec.continues,) if rec.continues else ()):
            if (rec.inst, dep) not in seen:
                raise InputError(f"dependency {dep!r} of {rec.id!r} is not an earlier record",
                                 file=str(path), line=no, key="deps",
                                 expected="ids of records earlier in the file")
        if bound is not None and rec.kind == "call" and rec.image_tokens is None and rec.images:
            from workloads.agents.expand import _Expander

            ex = _Expander.__new__(_Expander)
            ex.models = bound
            tokens = ex._image_tokens(rec.images, rec.model or "main")
            rec = dataclasses.replace(rec, image_tokens=tokens)
        seen.add(rec.key)
        out.append(rec)
    return out


def expand(name_or_path: str | Path | Template, seed: int, instances: int = 1,
           model: Any = None, params: dict[str, Any] | None = None) -> list[CallRecord]:
    """Expand a template into a flat, dependency-ordered list of :class:`CallRecord`.

    ``model`` binds the template's model slots: a :class:`~workloads.models.ModelSpec` (or
    preset name, or just a :class:`~workloads.models.VisionRule`) for every slot, or a dict
    slot -> model. A model with a vision rule fills
    ``image_tokens``. ``params`` overrides top-level template ``vars`` (name -> NumberSpec,
    e.g. ``{"steps": 20}``). The same (template, seed, instances, params) always gives the
    same list. A ``.jsonl`` path is read with :func:`load_calls` (instances ``< instances``).
    """
    if str(name_or_path).endswith(".jsonl"):  # an already expanded / converted call list
        return [c for c in load_calls(name_or_path, model) if c.inst < instances]
    t = with_vars(load_template(name_or_path), params or {})
    return expand_template(t, seed, instances, _bind_models(model))
