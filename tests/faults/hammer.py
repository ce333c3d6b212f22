"""A writer that hammers one store: ``python hammer.py DB N TAG`` writes N samples, N
records and N events, one transaction each (what a sampler thread does), then finishes
its run. Used by the concurrency tests and ``benchmarks/reliability.py``."""

from __future__ import annotations

import sys

from neumelt.store import Event, Sample, Store


def main(db: str, n: int, tag: str) -> int:
    store = Store(db)
    run_id = store.start_run("profile", {"hammer": tag}, name=f"hammer {tag}")
    for i in range(n):
        store.add_samples(run_id, [Sample("hammer", tag, float(i), float(i), "count")])
        store.add_record(run_id, "rows", f"{tag}/{i}", {"i": i})
        store.add_events(run_id, [Event(tag, "tick", float(i))])
        if i % 50 == 0:
            store.set_run_info(run_id, "progress", i)
    store.finish_run(run_id, "done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
