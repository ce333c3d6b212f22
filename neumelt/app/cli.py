"""The ``neumelt`` command line.

Each package contributes its subcommands through a ``cli`` module exposing
``register(subparsers, common)``; ``common`` is a parent parser carrying ``--db`` and
``--json`` that every leaf command should include (``parents=[common]``). A leaf sets
``func=handler`` with ``handler(args) -> int``. Heavy imports (numba, plotly) belong inside
handlers so that ``neumelt --help`` stays fast.

Exit codes: 0 ok, 1 failure in the run, 2 bad input (an :class:`InputError`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from neumelt import __version__
from neumelt.errors import InputError, NeumeltError, os_error

# Modules that add subcommands, in help order. A module that is not there yet is skipped.
COMMAND_MODULES = (
    "neumelt.app.runs_cli",
    "workloads.cli",
    "sim.cli",
    "devices.cli",
    "profiler.cli",
    "reports.cli",
    "neumelt.app.demo",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's usage errors are bad input: exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def common_parser() -> argparse.ArgumentParser:
    """Options every leaf command takes: ``--db PATH`` and ``--json``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="results store, an SQLite file (default ./neumelt.db)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document instead of tables")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="neumelt", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"neumelt {__version__}")
    parser.add_argument("--db", default="neumelt.db", help="results store (SQLite file)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = common_parser()
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
                continue
            raise
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2 if args.command is None and argv else 0
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"neumelt: error: {exc}", file=sys.stderr)
        return 2
    except NeumeltError as exc:
        print(f"neumelt: failed: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("neumelt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a full disk or a permission problem: say which file
        known = os_error(exc)
        if known is None:
            raise
        print(f"neumelt: {'failed' if known[1] == 1 else 'error'}: {known[0]}", file=sys.stderr)
        return known[1]


if __name__ == "__main__":
    raise SystemExit(main())
