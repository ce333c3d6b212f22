"""Shared pytest setup: keep numba's cache and every store inside the test's temp dirs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*argv: str, cwd: str | Path | None = None, timeout: float = 120.0, env=None):
    """Run ``python -m neumelt ARGV`` in a subprocess; returns CompletedProcess (text)."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "neumelt", *argv], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli(tmp_path):
    """``cli(*argv)`` runs the real CLI in a subprocess with ``--db`` in tmp_path."""

    def _run(*argv: str, db: bool = True, **kw):
        args = list(argv)
        if db and "--db" not in args:
            args = ["--db", str(tmp_path / "neumelt.db"), *args]
        return run_cli(*args, cwd=tmp_path, **kw)

    return _run
