"""Command-level HBM timing: standards as data, address mapping, FR-FCFS controller, energy.

Entry points::

    from sim.dram.standard import load_standard, DramStandard   # "hbm2-neupims", "hbm3", a path
    from sim.dram.engine import simulate_requests               # request arrays -> DramResult
    from sim.dram.result import DramResult                      # (also via sim.dram.engine)
    from sim.dram.trace import read_trace, write_trace          # DRAMsim3 / Ramulator 2 traces
    from sim.checker import check_log                           # independent timing checker

Time is integer cycles of the standard's command clock (``tCK_ps``); energy is in joules.
"""
