"""One entry point per report kind: read runs from the store, build, write the files.

>>> from reports.api import generate
>>> files, report = generate(store, "deploy", [3, 4], "report.html", budgets=Budgets(min_tps=5))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neumelt.errors import InputError
from neumelt.store import Store
from reports.data import load_runs
from reports.deploy_report import RANK_KEYS, Budgets
from reports.doc import Report
from reports.render import ReportFiles, write_report

KINDS = {
    "sim": ("sim", "import"),
    "profile": ("profile", "import"),
    "deploy": ("sim", "profile", "import"),
    "sweep": ("sweep",),
}


def build_report(store: Store, kind: str, run_ids: list[int], **options: Any) -> Report:
    """Build (but do not write) a report of ``kind`` over ``run_ids``."""
    if kind not in KINDS:
        raise InputError(f"unknown report kind {kind!r}", key="kind",
                         expected=", ".join(KINDS))
    if kind == "sweep":
        loaded = load_runs(store, run_ids, KINDS[kind], include_children=True)
        asked = set(run_ids)
        runs = [r for r in loaded if r.run.id in asked]
        children = [r for r in loaded if r.run.id not in asked]
        from reports import sweep_report

        return sweep_report.build(runs, children, throughput=options.get("throughput"),
                                  energy=options.get("energy"), cost=options.get("cost"))
    runs = load_runs(store, run_ids, KINDS[kind])
    if kind == "sim":
        from reports import sim_report

        return sim_report.build(runs, baseline=options.get("baseline"))
    if kind == "profile":
        from reports import profile_report

        return profile_report.build(runs)
    from reports import deploy_report

    rank_by = options.get("rank_by") or "tps"
    if rank_by not in RANK_KEYS:
        raise InputError(f"cannot rank by {rank_by!r}", key="--rank-by",
                         expected=", ".join(RANK_KEYS))
    from reports.deploy_groups import parse_accept

    return deploy_report.build(runs, options.get("budgets") or Budgets(), rank_by=rank_by,
                               task_tokens=options.get("task_tokens"),
                               accept=parse_accept(options.get("accept_models")),
                               mixed=bool(options.get("mixed")))


def generate(store: Store, kind: str, run_ids: list[int], out: str | Path,
             **options: Any) -> tuple[ReportFiles, Report]:
    """Build the report and write ``out`` (.html) with ``.md`` and ``.csv`` beside it."""
    report = build_report(store, kind, run_ids, **options)
    return write_report(report, out), report
