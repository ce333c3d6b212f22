"""Serving simulation: requests and agent call graphs served on a simulated design.

Split by job (as in Vidur): :mod:`~sim.serving.request` (what arrives),
:mod:`~sim.serving.scheduler` (which requests run next, KV admission and preemption),
:mod:`~sim.serving.kv` (KV capacity in the design's memory layout),
:mod:`~sim.serving.cost` (what an iteration costs, memoised),
:mod:`~sim.serving.simulator` (the clock), :mod:`~sim.serving.metrics` (figures).
"""
