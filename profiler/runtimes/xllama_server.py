"""llama.cpp's HTTP server from the prebuilt ``xllamacpp`` wheel, with llama-server's flags.

    python -m profiler.runtimes.xllama_server -m MODEL --host H --port P -c CTX -t T -tb T -np N

``xllamacpp`` (PyPI, prebuilt manylinux CPU wheels) compiles llama.cpp's own server
(``tools/server``: the same HTTP routes, slots, ``timings`` and ``/tokenize``) into a Python
extension, so it installs in seconds where llama-cpp-python compiles for minutes. This
wrapper takes the subset of llama-server's flags that :class:`ServerSpec` passes and serves
until it is killed (SIGTERM/SIGINT). Its build info reads ``b0-unknown`` (the wheel does
not record the llama.cpp commit; its version number carries the llama.cpp build number).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="xllama_server")
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("-c", "--ctx-size", type=int, default=4096)
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("-tb", "--threads-batch", type=int, default=0)
    ap.add_argument("-np", "--parallel", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        import xllamacpp
    except ImportError:
        print("xllamacpp is not installed: pip install xllamacpp", file=sys.stderr)
        return 2
    p = xllamacpp.CommonParams()
    p.model.path = a.model
    p.n_ctx = a.ctx_size
    p.n_parallel = a.parallel
    p.port = a.port
    p.hostnames = [a.host]
    p.cpuparams.n_threads = a.threads
    p.cpuparams_batch.n_threads = a.threads_batch or a.threads
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(p)   # loads the model and starts listening
    print(f"xllamacpp {getattr(xllamacpp, '__version__', '?')} serving on "
          f"{server.listening_address}", flush=True)
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
