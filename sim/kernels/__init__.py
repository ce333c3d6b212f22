"""Numba kernels of the simulator, one module per family (cache=True, plain arrays in and out).

Each kernel's ``py_func`` is its pure-Python twin: the same source run by CPython, used by the
property tests to check the compiled code cycle for cycle.
"""
