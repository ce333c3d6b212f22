"""The device interface every target implements, and the typed records it returns.

Times: ``t_host_s`` is the host's monotonic clock (:func:`devices.clock.host_now`, seconds);
device times are whatever clock the device reports (Android: ``date +%s.%N`` realtime).
"""

from __future__ import annotations

import abc
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from devices.errors import CommandFailed

#: Power sources ranked best first: an external monitor beats on-device rails beats the
#: fuel gauge beats a model estimate.
POWER_QUALITY = ("external monitor", "on-device rails", "fuel gauge", "model estimate")


@dataclass(frozen=True)
class DeviceInfo:
    """What a target is. ``ram_bytes`` in bytes; unknown fields are None."""

    kind: str            # local | android | jetson | ios
    model: str | None
    soc: str | None
    cores: int | None
    ram_bytes: int | None
    os: str | None
    serial: str


@dataclass(frozen=True)
class RunResult:
    """A finished command: exit status, decoded output, wall time in seconds."""

    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    def check(self, argv: Sequence[str]) -> RunResult:
        """Raise :class:`CommandFailed` unless the command exited 0."""
        if self.returncode != 0:
            raise CommandFailed(argv, self.returncode, self.stdout, self.stderr)
        return self


@dataclass(frozen=True)
class CounterSource:
    """One group of counters a target can (or cannot) read.

    ``quality`` is the power-source tier for power sources (one of :data:`POWER_QUALITY`),
    None otherwise. ``available`` False means every value from it is unavailable and
    ``why`` says why; it is never read as 0.
    """

    name: str                 # e.g. "power.rapl", "battery", "thermal", "cpu"
    kind: str                 # power | cpu | thermal | memory | gpu | battery
    rate_hz: float            # default sampling rate
    available: bool
    why: str = ""
    quality: str | None = None
    counters: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "rate_hz": self.rate_hz,
                "available": self.available, "quality": self.quality,
                "why": self.why or None, "counters": list(self.counters)}


@dataclass(frozen=True)
class ClockOffset:
    """``offset_s`` = device time - host time at the round-trip midpoint ``t_host_s``."""

    offset_s: float
    rtt_s: float
    t_host_s: float

    def to_host(self, t_device_s: float) -> float:
        return t_device_s - self.offset_s


@dataclass(frozen=True)
class Reading:
    """One value read by a counter stream, before it becomes a store ``Sample``."""

    source: str
    name: str
    value: float | None
    unit: str


@dataclass(frozen=True)
class Tick:
    """All readings of one source group taken at one instant."""

    group: str                 # "fast" | "memory" | a source name
    t_host_s: float
    t_device_s: float | None
    readings: tuple[Reading, ...] = field(default_factory=tuple)


class CounterStream(abc.ABC):
    """Timestamped ticks from a device until closed (see :class:`devices.sampler.Sampler`)."""

    #: expected seconds between ticks of each group (for gap detection)
    periods_s: dict[str, float]

    @abc.abstractmethod
    def ticks(self) -> Iterator[Tick]:
        """Yield ticks as they arrive; return when closed; raise DeviceGone on loss."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop producing ticks (safe to call from another thread)."""

    def device_overhead(self) -> dict[str, Any]:
        """CPU used on the device by the stream, if measurable."""
        return {}


class Device(abc.ABC):
    """A target: run commands, move files, describe itself, read its counters."""

    kind: str = "?"
    serial: str = "?"

    @abc.abstractmethod
    def info(self) -> DeviceInfo: ...

    @abc.abstractmethod
    def run(self, argv: Sequence[str], timeout: float = 60.0) -> RunResult:
        """Run ``argv`` (a list, never a shell string) and wait at most ``timeout`` s."""

    @abc.abstractmethod
    def push(self, local: str, remote: str) -> None: ...

    @abc.abstractmethod
    def pull(self, remote: str, local: str) -> None: ...

    def spawn(self, argv: Sequence[str]) -> Any:
        """Start ``argv`` and read its output while it runs (:mod:`devices.spawn`)."""
        raise NotImplementedError(f"{self.kind} targets cannot spawn commands")

    def path(self, device_path: str) -> str:
        """Where ``device_path`` lives on this target (a root prefix for test daemons)."""
        return device_path

    def forward(self, remote_port: int) -> int:
        """A host port that reaches ``remote_port`` on the device (same port when local)."""
        return remote_port

    def unforward(self, local_port: int) -> None:
        """Remove a forward made by :meth:`forward` (nothing to do when local)."""
        return None

    @abc.abstractmethod
    def sources(self) -> list[CounterSource]: ...

    @abc.abstractmethod
    def clock_offset(self) -> ClockOffset: ...

    @abc.abstractmethod
    def process_memory(self, pid: int) -> dict[str, int | None]:
        """Bytes: rss, pss, anon, file, swap, hwm, uss; None where the device cannot tell."""

    @abc.abstractmethod
    def open_counters(self, rates: dict[str, float], pids: Sequence[int] = ()) -> CounterStream:
        """Start reading counters: ``rates`` maps a source kind to Hz."""

    def close(self) -> None:
        """Release transports (idempotent)."""
        return None

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quote_argv(argv: Sequence[str]) -> str:
    """One POSIX shell string for ``argv``, each argument quoted (for remote shells)."""
    return " ".join(shlex.quote(str(a)) for a in argv)


MEMORY_KEYS = ("rss", "pss", "anon", "file", "swap", "hwm", "uss")


def empty_memory() -> dict[str, int | None]:
    return dict.fromkeys(MEMORY_KEYS)
