"""Who owns a run: the identity of a process, and whether it is still alive.

A killed process cannot mark its run finished, so the store records the owner of every
``running`` run: host name, boot id (Linux ``/proc/sys/kernel/random/boot_id``), pid and
the process's start time (clock ticks since boot, ``/proc/PID/stat`` field 22) so that a
reused pid is not taken for the owner. A heartbeat (UTC seconds since the epoch) covers
owners on other hosts, whose processes cannot be looked at.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Owner:
    """The identity of one process: host, boot id ('' where unknown), pid, start time."""

    host: str
    boot_id: str
    pid: int
    start: str


@lru_cache(maxsize=1)
def boot_id() -> str:
    """This machine's boot id ('' where the OS does not say)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks since boot) of ``pid``; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return ("?", "")
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else ("?", "")


def process_start(pid: int) -> str:
    """Start time of ``pid`` as a string ('' where the OS does not say)."""
    st = _stat(pid)
    return st[1] if st else ""


def current() -> Owner:
    """The identity of this process (computed per call: a forked child is a new owner)."""
    pid = os.getpid()
    return Owner(socket.gethostname(), boot_id(), pid, process_start(pid))


def alive(owner: Owner) -> bool | None:
    """Whether ``owner`` still runs: True, False, or None when this host cannot tell
    (another host, or no pid recorded)."""
    if owner.host != socket.gethostname() or not owner.pid:
        return None
    if owner.boot_id and boot_id() and owner.boot_id != boot_id():
        return False  # the machine rebooted since
    st = _stat(owner.pid)
    if st is not None:
        state, start = st
        if state in ("Z", "X"):
            return False  # killed, not yet reaped by its parent
        return not (owner.start and start and start != owner.start)  # pid reused
    if os.path.isdir("/proc/self"):
        return False
    try:  # no /proc: ask the kernel
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
