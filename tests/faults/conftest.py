"""The faults tier: kills, concurrent writers, storage faults, fuzzed inputs.

Puts ``tests/`` (the shared support modules) and this folder on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
