"""One error tree for talking to targets.

``DeviceError`` is a :class:`~neumelt.errors.RunError` (CLI exit 1). Its children say what
went wrong: a blocking call ran past its timeout, the target went away, or a command ran
and failed (the command and its output are kept). ``DeviceUnavailable`` is a target that
cannot be reached at all (no usbmuxd, no ssh, unknown serial); its message says the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from neumelt.errors import RunError


class DeviceError(RunError):
    """Base of every error raised while talking to a device."""


class DeviceTimeout(DeviceError):
    """A blocking call took longer than its timeout (seconds)."""

    def __init__(self, what: str, timeout_s: float) -> None:
        self.what = what
        self.timeout_s = timeout_s
        super().__init__(f"{what}: no answer within {timeout_s:g} s")


class DeviceGone(DeviceError):
    """The device disappeared (unplugged, daemon killed, connection reset)."""


class DeviceUnavailable(DeviceError):
    """The device or its transport cannot be reached; the message says what to do."""


class CommandFailed(DeviceError):
    """A command ran on the device and failed; keeps argv, exit status and output."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str = "",
                 stderr: str = "") -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        tail = (stderr or stdout).strip().splitlines()[-3:]
        detail = (": " + " | ".join(tail)) if tail else ""
        super().__init__(f"command {self.argv!r} exited with status {returncode}{detail}")
