"""What every inference runtime offers the profiler: start, tokenize, complete, stop.

Times are host ``time.monotonic()`` seconds (the store's timeline). Token counts come
from the runtime itself (its tokenizer, its usage/timings fields or its token stream).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class LoadInfo:
    """Model load: host span (s), the runtime's own load time if it reports one, its pids."""

    t_start_s: float
    t_end_s: float
    runtime_load_s: float | None
    pids: tuple[int, ...]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def load_s(self) -> float:
        return self.t_end_s - self.t_start_s


@dataclass
class CallResult:
    """One completion as seen by the client, plus the runtime's own counts and timings."""

    t_start_s: float
    t_first_s: float | None
    t_end_s: float
    token_times_s: list[float]
    output_text: str
    prompt_tokens: int | None          # runtime's count of the prompt (BOS included)
    prompt_tokens_evaluated: int | None  # tokens actually prefilled (rest came from cache)
    output_tokens: int | None          # runtime's count of generated tokens
    count_source: str                  # where the counts came from
    server_timings: dict[str, Any] | None = None
    slot: int | None = None


TokenCallback = Callable[[float, int], None]


class Runtime(Protocol):
    """An inference runtime driven by the profiler."""

    name: str
    slots: int
    source: str  # e.g. "llama-cpp-python 0.3.36 in-process", names the measuring source

    def start(self) -> LoadInfo: ...

    def count_tokens(self, text: str) -> int: ...

    def complete(self, prompt: str, n_predict: int,
                 on_token: TokenCallback | None = None) -> CallResult: ...

    def pids(self) -> list[int]: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...
