"""Agent workloads: ``agentwl/v1`` templates of one task's DAG of LLM calls, and the expander.

>>> from workloads.agents import expand, list_templates
>>> calls = expand("mobile-agent-v2", seed=7)          # list[CallRecord], dependency-ordered

Templates ship in ``workloads/templates/*.yaml``; a path to a user's YAML file works too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from neumelt.errors import InputError
from workloads.agents.expand import MAX_COUNT, CallRecord, expand_template
from workloads.agents.template import SCHEMA, Node, Template, load_template_file, with_vars

__all__ = [
    "MAX_COUNT",
    "SCHEMA",
    "CallRecord",
    "Node",
    "Template",
    "expand",
    "list_templates",
    "load_template",
    "template_dir",
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
    from workloads.models import ModelSpec, load_model

    if isinstance(model, dict):
        return {k: (v if isinstance(v, ModelSpec) else load_model(v)) for k, v in model.items()}
    return model if isinstance(model, ModelSpec) else load_model(model)


def expand(name_or_path: str | Path | Template, seed: int, instances: int = 1,
           model: Any = None, params: dict[str, Any] | None = None) -> list[CallRecord]:
    """Expand a template into a flat, dependency-ordered list of :class:`CallRecord`.

    ``model`` binds the template's model slots: a :class:`~workloads.models.ModelSpec` (or
    preset name) for every slot, or a dict slot -> model. A model with a vision rule fills
    ``image_tokens``. ``params`` overrides top-level template ``vars`` (name -> NumberSpec,
    e.g. ``{"steps": 20}``). The same (template, seed, instances, params) always gives the
    same list.
    """
    t = with_vars(load_template(name_or_path), params or {})
    return expand_template(t, seed, instances, _bind_models(model))
