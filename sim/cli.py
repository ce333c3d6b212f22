"""``neumelt sim ...`` and ``neumelt sweep ...``: the simulator's commands.

Each part of ``sim/`` adds its own subcommands through a module with
``register(subparsers, common)``; a part that is not installed is skipped.
"""

from __future__ import annotations

import importlib

SIM_COMMAND_MODULES = (
    "sim.dram.cli",      # neumelt sim dram
    "sim.designs.cli",   # neumelt sim step
    "sim.serving.cli",   # neumelt sim run | compare
)
TOP_LEVEL_MODULES = (
    "sim.sweep.cli",     # neumelt sweep run | show
)


def _modules(names: tuple[str, ...]):
    for name in names:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise


def register(sub, common) -> None:
    sim = sub.add_parser("sim", help="simulate NPU / NPU+PIM / GPU designs")
    simsub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sim.set_defaults(func=lambda args: (sim.print_help(), 2)[1])
    for module in _modules(SIM_COMMAND_MODULES):
        module.register(simsub, common)
    for module in _modules(TOP_LEVEL_MODULES):
        module.register(sub, common)
