"""``llama-cli`` / ``llama-completion`` runs, one process per call, parsed from the timing print.

Each call runs the binary on the device with the prompt, ``-n N --ignore-eos``, greedy
sampling and the configured threads, and reads llama.cpp's own timing block (either the
``llama_perf_context_print:`` or the older ``llama_print_timings:`` form) from its output.
Counts (prompt tokens, generated tokens) and the prefill/decode times are the runtime's;
the host sees only the process start and end, so per-token arrival times are not
available: the first-token time is placed at end - decode time (the runtime's), and the
load time of every call is the runtime's ``load time``. No prompt cache survives between
processes.

Prompts are sized with the model's own vocabulary loaded on the host (llama-cpp-python,
``vocab_only``), which tokenizes exactly as the binary does for the same GGUF.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

from neumelt.errors import InputError, RunError
from profiler.parsers import parse_perf_print
from profiler.runtimes.base import CallResult, LoadInfo, TokenCallback


class LlamaCli:
    """Run a llama.cpp completion binary per call on ``dev``."""

    name = "llama-cli"
    slots = 1

    def __init__(self, dev: Any, cfg: Any) -> None:
        if not cfg.cli_binary:
            raise InputError("the cli runtime needs a llama-cli/llama-completion binary",
                             key="cli_binary", expected="--cli-binary PATH (on the device)")
        self.dev = dev
        self.cfg = cfg
        self.argv0 = shlex.split(cfg.cli_binary)
        self.model_remote = cfg.model
        self.source = f"{Path(self.argv0[-1]).name} timing print (llama.cpp's own counters)"
        self._vocab: Any = None
        self.last_perf: Any = None

    def start(self) -> LoadInfo:
        try:
            import llama_cpp
        except ImportError:
            raise InputError("sizing prompts for the cli runtime needs llama-cpp-python",
                             expected="pip install 'neumelt[llm]'") from None
        if self.cfg.device != "local":
            from devices.files import dpath, push_if_changed

            remote = f"{dpath(self.dev, self.cfg.remote_dir)}/{Path(self.cfg.model).name}"
            push_if_changed(self.dev, Path(self.cfg.model), remote, self.cfg.model_sha256)
            self.model_remote = remote
        t0 = time.monotonic()
        self._vocab = llama_cpp.Llama(self.cfg.model, vocab_only=True, verbose=False)
        # one tiny run: checks the binary works and measures its load time
        res = self._run("the", 1)
        t1 = time.monotonic()
        return LoadInfo(t0, t1, res.load_s, (), {"binary": self.cfg.cli_binary,
                                                 "form": res.form, "vision": False,
                                                 "load_time_note": "per-call process; the "
                                                 "runtime's load time of a 1-token run"})

    def count_tokens(self, text: str) -> int:
        return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def _run(self, prompt: str, n: int) -> Any:
        argv = [*self.argv0, "-m", self.model_remote, "-p", prompt, "-n", str(n),
                "--ignore-eos", "--temp", "0", "-t", str(self.cfg.threads),
                "-c", str(self.cfg.n_ctx), "-no-cnv"]
        res = self.dev.run(argv, timeout=600.0)
        if res.returncode != 0:
            raise RunError(f"{self.argv0[-1]} exited {res.returncode}: "
                           f"{(res.stderr or res.stdout)[-500:]}")
        perf = parse_perf_print(res.stderr + "\n" + res.stdout)
        self.last_perf = perf
        return perf

    def complete(self, prompt: str, n_predict: int,
                 on_token: TokenCallback | None = None) -> CallResult:
        t0 = time.monotonic()
        perf = self._run(prompt, n_predict)
        t1 = time.monotonic()
        # eval runs = generated tokens - 1 (the first token comes from the prefill, the
        # last is never evaluated); llama.cpp prints max(1, n_eval), so "1 run" in 0.00 ms
        # means no decode step at all: a single generated token.
        out_n = None
        if perf.eval_runs is not None:
            out_n = 1 if (perf.eval_runs == 1 and not perf.eval_s) else perf.eval_runs + 1
        t_first = t1 - perf.eval_s if perf.eval_s is not None else None
        timings = {"load_ms": (perf.load_s or 0) * 1e3,
                   "prompt_ms": (perf.prompt_eval_s or 0) * 1e3, "prompt_n": perf.prompt_tokens,
                   "predicted_ms": (perf.eval_s or 0) * 1e3, "predicted_n": perf.eval_runs,
                   "form": perf.form}
        return CallResult(t0, t_first, t1, [], "", perf.prompt_tokens, perf.prompt_tokens,
                          out_n, f"llama.cpp {perf.form} block", timings, 0)

    def pids(self) -> list[int]:
        return []

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        self._vocab = None
