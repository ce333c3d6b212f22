"""Helpers for the workloads tests: write small agentwl/v1 templates and run the CLI."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

MINIMAL = """\
schema: agentwl/v1
name: tiny
graph:
  - id: a
    kind: call
    prompt: 100
    output: 10
  - id: b
    kind: call
    after: [a]
    prompt: 50
    output: 5
"""


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def neumelt(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed CLI as a new user would (``python -m neumelt``)."""
    return subprocess.run([sys.executable, "-m", "neumelt", *args], capture_output=True,
                          timeout=timeout)


def assert_topological(calls) -> None:
    """Every dependency (and continued / partially awaited call) precedes its dependant."""
    seen: set[tuple[int, str]] = set()
    for c in calls:
        assert c.key not in seen, f"duplicate id {c.key}"
        for d in c.deps:
            assert (c.inst, d) in seen, f"{c.id} depends on {d}, which comes later or is absent"
        if c.continues:
            assert (c.inst, c.continues) in seen
            assert c.continues in c.deps
        for d, frac in c.after_partial:
            assert (c.inst, d) in seen and d in c.deps and 0 <= frac <= 1
        seen.add(c.key)
