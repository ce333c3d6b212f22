"""One error tree for the whole suite.

``InputError`` is a user's mistake (bad file, key, value): the CLI prints its message
and exits with status 2, never a traceback. ``RunError`` is a failure during a run
(exit status 1). Packages may subclass both.
"""

from __future__ import annotations


class NeumeltError(Exception):
    """Base of every error neumelt raises on purpose."""

    exit_code = 1


class RunError(NeumeltError):
    """A run failed for a reason that is not the user's input (exit status 1)."""

    exit_code = 1


class InputError(NeumeltError, ValueError):
    """Bad user input: names the file, the key path (and line) and what was expected.

    Exit status 2.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.expected = expected
        self.detail = message
        where = []
        if file:
            where.append(f"{file}" + (f":{line}" if line else ""))
        elif line:
            where.append(f"line {line}")
        if key:
            where.append(f"key '{key}'")
        text = ": ".join([", ".join(where), message]) if where else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


# OSErrors that are the machine's or the user's doing, never a bug: errno -> exit status
_STORAGE_ERRNOS = {"ENOSPC": 1, "EFBIG": 1, "EDQUOT": 1, "EIO": 1,
                   "EROFS": 2, "EACCES": 2, "EPERM": 2}


def os_error(exc: OSError) -> tuple[str, int] | None:
    """(message naming the file, exit status) for a full disk, a file size limit, an I/O
    error or a permission problem; None for any other OSError (a bug: let it show)."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    if name not in _STORAGE_ERRNOS:
        return None
    where = exc.filename or "a file"
    why = exc.strerror or str(exc)
    if _STORAGE_ERRNOS[name] == 1:
        return (f"cannot write {where}: {why} (is the disk full, or a file size limit "
                "reached?); files written before are kept", 1)
    return f"{where}: {why}", 2
