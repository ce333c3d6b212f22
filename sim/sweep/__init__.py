"""Design-space sweeps: spec -> points -> Dask (or a process pool) -> store -> Pareto front.

``neumelt sweep run SPEC`` / ``neumelt sweep show RUN``; see :mod:`sim.sweep.spec` for the
spec format, :mod:`sim.sweep.evaluators` for what a point computes, :mod:`sim.sweep.execute`
for execution and resume, and :mod:`sim.sweep.pareto` for the front.
"""
