"""A ``llama-completion``-style command built on llama-cpp-python (a stand-in binary).

    python -m profiler.runtimes.pycompletion -m MODEL -p PROMPT -n N [-t T] [-c CTX]
                                             [--ignore-eos] [--temp 0]

Loads the model, generates ``N`` tokens, writes the text to stdout and llama.cpp's own
``llama_perf_context_print`` block to stderr, exactly as llama.cpp prints it. It lets the
``cli`` runtime run where no llama.cpp binary is installed (tests, this host).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pycompletion")
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--prompt", required=True)
    ap.add_argument("-n", "--n-predict", type=int, default=16)
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("-c", "--ctx-size", type=int, default=4096)
    ap.add_argument("--temp", type=float, default=0.0)
    ap.add_argument("--ignore-eos", action="store_true")
    ap.add_argument("-no-cnv", "--no-conversation", action="store_true")
    a = ap.parse_args(argv)
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(a.model, n_ctx=a.ctx_size, n_threads=a.threads,
                          n_threads_batch=a.threads, verbose=True)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    eog = np.array([t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)],
                   dtype=np.intp)

    def no_eos(_ids, logits):
        if a.ignore_eos:
            logits[eog] = -np.inf
        return logits

    tokens = llm.tokenize(a.prompt.encode(), add_bos=True, special=False)
    out = []
    for tok in llm.generate(tokens, top_k=1, temp=a.temp, logits_processor=[no_eos]):
        if not a.ignore_eos and tok in set(eog.tolist()):
            break
        out.append(tok)
        sys.stdout.write(llm.detokenize([tok]).decode("utf-8", errors="replace"))
        sys.stdout.flush()
        if len(out) >= a.n_predict:
            break
    sys.stdout.write("\n")
    sys.stdout.flush()
    sys.stderr.flush()
    llama_cpp.llama_perf_context_print(llm.ctx)   # printed by llama.cpp itself (C stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
