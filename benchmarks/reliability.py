"""Reliability under faults: fuzz cases tried per input kind, SIGKILLs survived, concurrent
writers held, and the count of failures (target 0). The same scenarios as the faults tier
(tests/faults/), with more seeds and cases.

    python benchmarks/reliability.py [--kills 3] [--fuzz 200] [--store-damage 200] [--json]

Every figure is measured on this host: a kill is survived when the store passes
``PRAGMA integrity_check``, the run reads ``interrupted`` (never ``done``), every row seen
before the kill is still there and resume / rerun finishes it without duplicates; a
writer is held when it exits 0 with everything it wrote and no "database is locked"; a
fuzz case fails when a reader raises anything but an InputError naming the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests", ROOT / "tests" / "faults"):
    sys.path.insert(0, str(p))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))

TARGET_FAILURES = 0


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run_kills(n: int, tmp: Path) -> list[dict]:
    import scenarios as sc

    rows = []
    model = None
    if _have("llama_cpp") and _have("gguf"):
        from profiler_support import write_tiny_llama

        model = write_tiny_llama(tmp / "tiny.gguf")
    report_db = tmp / "report" / "r.db"
    report_db.parent.mkdir()
    report_run = sc.make_sim_step(report_db.parent, report_db)
    plan = [("sim run", lambda d, s: sc.kill_sim_run(d, s, rerun=True))]
    if model is not None:
        plan.append(("profile --device local", lambda d, s: sc.kill_profile(d, model, s)))
    if _have("distributed"):
        plan.append(("sweep run (Dask worker + client)", sc.kill_sweep))
    plan.append(("report", lambda d, s: sc.kill_report(report_db.parent, s, report_run,
                                                       report_db)))
    for name, fn in plan:
        kills = survived = failures = 0
        notes: list[str] = []
        t0 = time.perf_counter()
        for seed in range(1, n + 1):
            d = tmp / f"{name.split()[0]}-{seed}"
            d.mkdir(exist_ok=True)
            try:
                r = fn(d, seed)
            except AssertionError as exc:  # the scenario could not even run
                failures += 1
                notes.append(str(exc)[:200])
                continue
            kills += r.kills
            if r.problems:
                failures += 1
                notes += r.problems[:2]
            else:
                survived += r.kills
        rows.append({"scenario": name, "seeds": n, "kills": kills, "survived": survived,
                     "failures": failures, "wall_s": time.perf_counter() - t0,
                     "notes": notes})
    return rows


def run_concurrency(tmp: Path) -> dict:
    import scenarios as sc

    model = None
    if _have("llama_cpp") and _have("gguf"):
        from profiler_support import write_tiny_llama

        model = write_tiny_llama(tmp / "tiny-c.gguf")
    d = tmp / "concurrency"
    d.mkdir()
    t0 = time.perf_counter()
    r = sc.concurrent_writers(d, model, n_rows=300)
    return {"writers": r.writers, "held": r.held, "failures": len(r.problems),
            "wall_s": time.perf_counter() - t0, "notes": r.problems[:3]}


def run_fuzz(n: int, damage: int, tmp: Path) -> list[dict]:
    import fuzz_targets as ft
    from hypothesis import strategies as st

    rows = []
    strategies = ft.strategies()
    strategies["binary garbage"] = st.binary(max_size=300)
    for kind, strat in strategies.items():
        failures: list[str] = []
        d = tmp / f"fuzz-{kind.replace(' ', '_')}"
        d.mkdir()
        kinds = list(ft.READERS) if kind == "binary garbage" else [kind]
        before = sum(ft.CASES[k] for k in kinds)
        t0 = time.perf_counter()

        _fuzz_one(strat, n, kinds, d, failures)
        rows.append({"input": kind, "cases": sum(ft.CASES[k] for k in kinds) - before,
                     "failures": len(failures), "wall_s": time.perf_counter() - t0,
                     "notes": sorted(set(failures))[:3]})
    rows.append(_store_damage(damage, tmp))
    return rows


def _fuzz_one(strat, n: int, kinds: list[str], d: Path, failures: list[str]) -> None:
    """``n`` derandomized hypothesis cases of ``strat`` through the readers of ``kinds``."""
    import fuzz_targets as ft
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strat)
    def case(text):
        for k in kinds:
            try:
                ft.check(k, text, d)
            except AssertionError as exc:
                failures.append(str(exc)[:160])
    case()


def _store_damage(n: int, tmp: Path) -> dict:
    """Stores truncated or byte-flipped at seeded places, read by every reader."""
    import random

    from faults_support import seeded_store
    from test_fuzz_store import _read_everything

    from neumelt.errors import InputError

    base = seeded_store(tmp / "damage-base.db")
    data0 = base.read_bytes()
    rng = random.Random(2026)
    failures: list[str] = []
    t0 = time.perf_counter()
    for i in range(n):
        data = bytearray(data0)
        if i % 2:
            del data[rng.randrange(1, len(data)):]
        else:
            for _ in range(rng.randint(1, 12)):
                j = rng.randrange(len(data))
                data[j] ^= 1 << rng.randrange(8)
        path = tmp / f"damaged-{i}.db"
        path.write_bytes(bytes(data))
        try:
            _read_everything(path)
        except InputError as exc:
            if path.name not in str(exc):
                failures.append(f"does not name the file: {exc}"[:160])
            elif path.read_bytes() != bytes(data):
                failures.append("a refused store was changed")
        except Exception as exc:  # the defect
            failures.append(f"{type(exc).__name__}: {exc}"[:160])
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
    return {"input": "damaged store (truncated / flipped)", "cases": n,
            "failures": len(failures), "wall_s": time.perf_counter() - t0,
            "notes": sorted(set(failures))[:3]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=3, help="seeds per kill scenario")
    ap.add_argument("--fuzz", type=int, default=200, help="hypothesis cases per input kind")
    ap.add_argument("--store-damage", type=int, default=200, help="damaged stores to read")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="neumelt-reliability-") as tmp_:
        tmp = Path(tmp_)
        fuzz = run_fuzz(args.fuzz, args.store_damage, tmp)
        kills = run_kills(args.kills, tmp)
        conc = run_concurrency(tmp)
    failures = (sum(r["failures"] for r in fuzz) + sum(r["failures"] for r in kills)
                + conc["failures"])
    res = {
        "provenance": "measured on this host (real CLI processes, real SQLite, SIGKILL)",
        "fuzz": [{**r, "unit": "cases"} for r in fuzz],
        "fuzz_cases_total": {"value": sum(r["cases"] for r in fuzz), "unit": "cases"},
        "kills": [{**r, "unit": "processes"} for r in kills],
        "kills_survived": {"value": sum(r["survived"] for r in kills),
                           "of": sum(r["kills"] for r in kills), "unit": "processes"},
        "concurrent_writers": {"held": conc["held"], "of": conc["writers"],
                               "wall_s": conc["wall_s"], "unit": "processes",
                               "notes": conc["notes"]},
        "failures": {"value": failures, "unit": "count", "target": TARGET_FAILURES},
        "meets_target": failures <= TARGET_FAILURES,
    }
    if args.json:
        print(json.dumps(res, sort_keys=True))
        return 0 if res["meets_target"] else 1
    from neumelt.output import print_table

    print_table([{"input kind": r["input"], "cases tried": r["cases"],
                  "failures": r["failures"], "wall (s)": round(r["wall_s"], 1)}
                 for r in fuzz], title="fuzz (measured; cases, count, s)")
    print_table([{"scenario": r["scenario"], "seeds": r["seeds"], "SIGKILLs": r["kills"],
                  "survived": r["survived"], "failures": r["failures"],
                  "wall (s)": round(r["wall_s"], 1)} for r in kills],
                title="kills (measured; processes, count, s)")
    print(f"concurrent writers held: {conc['held']} of {conc['writers']} processes "
          f"(measured, {conc['wall_s']:.1f} s)")
    for r in fuzz + kills:
        for note in r["notes"]:
            print(f"  {r.get('input') or r.get('scenario')}: {note}")
    for note in conc["notes"]:
        print(f"  concurrency: {note}")
    print(f"failures: {failures} (target {TARGET_FAILURES}): "
          f"{'met' if res['meets_target'] else 'NOT met'}")
    return 0 if res["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
