"""Independent DRAM/PIM timing checker: replays a command log against the timing table."""

from sim.checker.timing import Violation, check_log

__all__ = ["Violation", "check_log"]
