"""llama.cpp in this process through llama-cpp-python (extra ``llm``): the local default.

One sequence at a time (one slot). The prompt cache is llama-cpp-python's longest-prefix
reuse of the KV cache, so calls sharing a byte-identical prefix skip its prefill.
Counts come from the runtime: its tokenizer for the prompt, llama.cpp's perf counters
(``llama_perf_context``) for the tokens actually evaluated, and the tokens it returned.
EOS is ignored the way llama.cpp's ``--ignore-eos`` does it: end-of-generation logits are
set to minus infinity, so exactly ``n_predict`` tokens are generated.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from neumelt.errors import InputError, RunError
from profiler.runtimes.base import CallResult, LoadInfo, TokenCallback


class LlamaCppPython:
    """In-process llama.cpp via llama-cpp-python."""

    name = "llama-cpp-python"
    slots = 1

    def __init__(self, model: str | Path, n_ctx: int = 4096, n_threads: int = 1,
                 n_threads_batch: int | None = None, seed: int = 0,
                 use_mmap: bool = True) -> None:
        self.model = Path(model)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch or n_threads
        self.seed = seed
        self.use_mmap = use_mmap
        self._llm: Any = None
        self._lock = threading.Lock()
        self._eog: list[int] = []
        self.abort = threading.Event()   # set to stop a running generation at its next token
        try:
            import llama_cpp
        except ImportError:
            raise InputError("the local runtime needs llama-cpp-python",
                             expected="pip install 'neumelt[llm]'") from None
        self.source = f"llama-cpp-python {llama_cpp.__version__} in-process"

    def start(self) -> LoadInfo:
        import llama_cpp

        if not self.model.is_file():
            raise InputError("model file not found", file=str(self.model),
                             expected="a GGUF file")
        t0 = time.monotonic()
        try:
            self._llm = llama_cpp.Llama(
                str(self.model), n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch, seed=self.seed, verbose=False,
                use_mmap=self.use_mmap)
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"llama.cpp could not load the model: {exc}",
                             file=str(self.model), expected="a valid GGUF file") from None
        t1 = time.monotonic()
        perf = llama_cpp.llama_perf_context(self._llm.ctx)
        vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._eog = [t for t in range(self._llm.n_vocab())
                     if llama_cpp.llama_vocab_is_eog(vocab, t)]
        meta = dict(self._llm.metadata)
        return LoadInfo(t0, t1, perf.t_load_ms / 1000.0 if perf.t_load_ms else None,
                        (os.getpid(),),
                        {"n_ctx": self.n_ctx, "n_threads": self.n_threads,
                         "n_vocab": self._llm.n_vocab(), "eog_tokens": self._eog,
                         "architecture": meta.get("general.architecture"),
                         "model_name": meta.get("general.name"),
                         "vision": False})

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def complete(self, prompt: str, n_predict: int,
                 on_token: TokenCallback | None = None) -> CallResult:
        import llama_cpp
        import numpy as np

        llm = self._llm
        if llm is None:
            raise RunError("runtime not started")
        eog = np.array(self._eog, dtype=np.intp)

        def no_eos(_ids: Any, logits: Any) -> Any:
            logits[eog] = -np.inf
            return logits

        with self._lock:
            t_start = time.monotonic()
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
            if len(tokens) + n_predict > self.n_ctx:
                raise InputError(f"prompt {len(tokens)} + output {n_predict} tokens exceed the "
                                 f"context of {self.n_ctx}", key="n_ctx",
                                 expected="a larger --ctx or a smaller --scale")
            llama_cpp.llama_perf_context_reset(llm.ctx)
            out: list[int] = []
            times: list[float] = []
            t_first = None
            if n_predict > 0:
                for tok in llm.generate(tokens, top_k=1, top_p=1.0, min_p=0.0, temp=0.0,
                                        repeat_penalty=1.0, logits_processor=[no_eos]):
                    if self.abort.is_set():
                        raise RunError("generation aborted")
                    now = time.monotonic()
                    if t_first is None:
                        t_first = now
                    out.append(int(tok))
                    times.append(now)
                    if on_token is not None:
                        on_token(now, len(out))
                    if len(out) >= n_predict:
                        break
            else:  # prefill only
                llm.reset()
                llm.eval(tokens)
                t_first = time.monotonic()
            t_end = time.monotonic()
            perf = llama_cpp.llama_perf_context(llm.ctx)
            text = llm.detokenize(out).decode("utf-8", errors="replace")
        decode_evals = max(len(out) - 1, 0)
        evaluated = int(perf.n_p_eval) + int(perf.n_eval) - decode_evals
        timings = {"prompt_ms": perf.t_p_eval_ms, "prompt_n": int(perf.n_p_eval),
                   "predicted_ms": perf.t_eval_ms, "predicted_n": int(perf.n_eval)}
        return CallResult(t_start, t_first, t_end, times, text, len(tokens), evaluated,
                          len(out), "llama-cpp-python tokenizer + token ids + llama_perf_context",
                          timings, 0)

    def pids(self) -> list[int]:
        return [os.getpid()]

    def alive(self) -> bool:
        return self._llm is not None

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close() if hasattr(self._llm, "close") else None
            self._llm = None
