"""One freshness stamp for every cached kernel: the sources of the whole kernels package.

numba's ``cache=True`` checks only the source file of the cached function itself, so a
kernel that inlines helpers from another module (the channel kernel takes its readiness,
refresh and accounting helpers from four, the PIM kernels take ``first_refresh``) would load
stale machine code after an edit of a helper (numba's documented caching limitation).
:func:`tie_caches` extends the stamp each cached dispatcher writes into and checks against
its index with a SHA-256 of every ``.py`` file under the package, so any edit there
recompiles every kernel once. Where numba's internals differ from what this expects it does
nothing (numba's own behaviour).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


@lru_cache(maxsize=8)
def sources_fingerprint(root: Path = ROOT) -> bytes:
    """SHA-256 over the relative path and bytes of every ``.py`` file under ``root``."""
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.digest()


def tie_caches(namespace: dict[str, Any], root: Path = ROOT) -> int:
    """Make every cached numba dispatcher in ``namespace`` (a module's ``globals()``) stale
    whenever any source under ``root`` changes. Call it before the kernels first run (at the
    bottom of their module). Returns how many dispatchers it tied."""
    fp = sources_fingerprint(root)
    tied = 0
    for obj in list(namespace.values()):
        index = getattr(getattr(obj, "_cache", None), "_cache_file", None)
        if index is None or not hasattr(index, "_source_stamp"):
            continue
        if getattr(index, "_tied_to", None) != fp:
            index._source_stamp = (getattr(index, "_own_stamp", index._source_stamp), fp)
            index._own_stamp = index._source_stamp[0]
            index._tied_to = fp
        tied += 1
    return tied
