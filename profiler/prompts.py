"""Token-exact prompt text built with the runtime's own tokenizer.

Prompts are plain text whose token count, as the runtime tokenizes it (including the BOS
token it adds), equals the requested count. Text is a short unique head (role, task, call
id) followed by filler words that the tokenizer maps to exactly one token each. Calls that
share a prefix key get the byte-identical prefix text, so the runtime's prompt cache can
reuse it; a call that continues another is sent that call's full prompt and output
followed by its new turn.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable

from neumelt.errors import RunError

# Common English words, each a single token in most BPE and SentencePiece vocabularies.
_CANDIDATES = (" the", " a", " and", " of", " to", " in", " is", " it", " on", " at", " be",
               " as", " or", " an", " we", " he", " by", " do", " go", " no", " so", " up",
               " my", " me", " us", " if", " x", " i")


class PromptBuilder:
    """Build prompts of exact token counts with ``count(text) -> tokens`` of the runtime."""

    def __init__(self, count: Callable[[str], int], seed: int = 0) -> None:
        self._count = count
        self._rng = random.Random(seed)
        self.calls_to_tokenizer = 0
        self._prefixes: dict[tuple[str, int], str] = {}
        self.fillers = self._pick_fillers()

    def count(self, text: str) -> int:
        self.calls_to_tokenizer += 1
        return self._count(text)

    def _pick_fillers(self) -> list[str]:
        base = self.count("the")
        good = []
        for w in _CANDIDATES:
            if self.count("the" + w) - base == 1 and self.count("the" + w * 4) - base == 4:
                good.append(w)
            if len(good) >= 4:
                break
        if not good:
            raise RunError("the runtime's tokenizer maps no common word to one token; "
                           "cannot build token-exact prompts")
        if len(good) > 1:  # mixed sequences must stay additive too
            probe = "the" + "".join(good) * 2
            if self.count(probe) - base != 2 * len(good):
                good = good[:1]
        return good

    def reseed(self, seed: int) -> None:
        """Restart the filler sequence (one seed per call keeps prompts order-independent)."""
        self._rng.seed(seed)

    def _words(self, n: int) -> list[str]:
        return [self._rng.choice(self.fillers) for _ in range(n)]

    def build(self, target: int, head: str = "", base: str = "") -> tuple[str, int]:
        """Text = ``base`` + ``head`` + fillers with exactly ``target`` tokens if possible.

        Returns ``(text, tokens)``; ``tokens`` differs from ``target`` only when ``base``
        alone is already longer than ``target``.
        """
        text = base + head
        n = self.count(text)
        if n > target and head:
            text, n = base, self.count(base)
        if n >= target:
            return text, n
        if not text:  # at the very start a word has no leading space (no dummy-prefix split)
            text = self.fillers[0].strip()
            n = self.count(text)
            if n > target:
                return "", self.count("")
        words = self._words(target - n)
        for _ in range(6):
            cand = text + "".join(words)
            got = self.count(cand)
            if got == target:
                return cand, got
            if got < target:
                words += self._words(target - got)
            else:
                del words[max(0, len(words) - (got - target)):]
        cand = text + "".join(words)
        return cand, self.count(cand)

    def prefix(self, key: str, tokens: int) -> str:
        """Byte-identical prefix text for ``key`` of ``tokens`` tokens (cached)."""
        k = (key, tokens)
        if k not in self._prefixes:
            state = self._rng.getstate()
            self._rng.seed(key)
            self._prefixes[k] = self.build(tokens, head=" " + _words_of(key))[0]
            self._rng.setstate(state)
        return self._prefixes[k]


def _words_of(s: str) -> str:
    """A label as lowercase words (letters and digits only) for a prompt head."""
    return " ".join(w for w in re.split(r"[^a-z0-9]+", s.lower()) if w)


def call_head(role: str, inst: int, call_id: str) -> str:
    """Unique text opening a call's own turn (so only the shared prefix is cacheable).

    It starts with a short code derived from the task and call id, so two calls' turns
    differ from their first token on.
    """
    h = zlib.crc32(f"{inst}/{call_id}".encode())
    code = ""
    for _ in range(4):
        h, r = divmod(h, 26)
        code += chr(ord("a") + r)
    return " " + code + " " + _words_of(f"{role} task {inst} {call_id}")
