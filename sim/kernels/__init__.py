"""Numba kernels of the simulator, one module per family (cache=True, plain arrays in and out).

Each kernel's ``py_func`` is its pure-Python twin: the same source run by CPython, used by the
property tests to check the compiled code cycle for cycle. Every cached kernel's freshness
covers the sources of the whole package (:mod:`sim.kernels.cache`), so an edit of a helper
that another module's kernel inlines recompiles that kernel too.
"""
