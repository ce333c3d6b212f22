"""Inference runtimes the profiler drives: llama-cpp-python in-process, any
OpenAI-compatible server over HTTP (llama-server, llama-cpp-python's server), and
llama-cli/llama-completion processes parsed from their timing print."""
