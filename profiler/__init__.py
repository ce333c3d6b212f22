"""profiler: measure agent workloads on a real llama.cpp runtime, MELT-style.

Modules, one job each:

* :mod:`profiler.runtimes` - llama-cpp-python in-process (local default), any
  OpenAI-compatible server over HTTP with streaming (llama-server, llama-cpp-python's
  server; started on a device and its port forwarded), llama-cli/llama-completion runs;
* :mod:`profiler.prompts` - token-exact prompt text from the runtime's tokenizer;
* :mod:`profiler.replay` - an expanded call graph replayed with deps, slots, delay lanes;
* :mod:`profiler.session` - idle baseline, load, warm-up, repetitions, cool-down, resume;
* :mod:`profiler.metrics`, :mod:`profiler.energy`, :mod:`profiler.stats` - TTFT, tok/s,
  ITL percentiles, trapezoidal energy per phase (gross, net of idle), summaries;
* :mod:`profiler.parsers` - llama.cpp timing prints (both forms) and llama-bench jsonl;
* :mod:`profiler.cli` - ``neumelt profile ...`` and ``neumelt profile import FILE``.
"""
