"""Write an :class:`IterationResult` to the results store (run kind ``sim``).

Metrics carry provenance ``simulated`` and source ``<design>/<fidelity>``; stages and
operators become records; the iteration's timeline becomes store events on tracks
``npu``, ``npu/vector``, ``pim`` and ``pim/ch<N>`` (``gpu`` for the GPU design), times in
seconds of simulated time from the start of the layer.
"""

from __future__ import annotations

from typing import Any

from sim.designs.result import IterationResult


def result_metrics(res: IterationResult) -> list[Any]:
    from neumelt.store import Metric

    src = f"{res.design}/{res.fidelity}"
    m = [
        Metric("total_cycles", float(res.total_cycles), "cycles", "simulated", src),
        Metric("seconds", res.seconds, "s", "simulated", src),
        Metric("layer_cycles", float(res.layer_cycles), "cycles", "simulated", src),
        Metric("energy_total_j", res.energy_total_j, "J", "simulated", src),
    ]
    for k, v in res.energy_j.items():
        m.append(Metric(f"energy_{k}_j", float(v), "J", "simulated", src))
    for k, v in res.utilisation.items():
        m.append(Metric(f"util_{k}", float(v), "fraction", "simulated", src))
    for k, v in res.stages.items():
        m.append(Metric(f"stage_{k}_cycles", float(v), "cycles", "simulated", src,
                        scope="layer"))
    if res.error_bound is not None:
        m.append(Metric("error_bound", float(res.error_bound), "fraction", "estimated", src))
    return m


def record_result(store, run_id: int, res: IterationResult) -> None:
    """Store metrics, stage / operator records and timeline events of ``res`` in ``run_id``."""
    from neumelt.store import Event

    store.add_metrics(run_id, result_metrics(res))
    store.add_records(run_id, "stage", [(k, {"cycles": v, "seconds": v / res.clock_hz})
                                        for k, v in res.stages.items()])
    store.add_records(run_id, "operator", [(k, {"cycles": v, "seconds": v / res.clock_hz})
                                           for k, v in res.operators.items()])
    hz = res.clock_hz
    store.add_events(run_id, [Event(track, name, start / hz, dur / hz,
                                    {"start_cycle": start, "dur_cycles": dur})
                              for track, name, start, dur in res.events])
    store.set_run_info(run_id, "sim", {"design": res.design, "phase": res.phase,
                                       "clock_hz": hz, "layers": res.layers,
                                       "batch": res.batch, "counters": res.counters,
                                       "notes": list(res.notes)})
