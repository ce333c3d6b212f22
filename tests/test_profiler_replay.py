"""Token-exact prompts and agent replay against real llama.cpp runtimes (tiny GGUF)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from profiler_support import write_tiny_llama  # noqa: E402

from profiler.prompts import PromptBuilder, call_head  # noqa: E402
from profiler.replay import TaskReplayer, nodes_from_records  # noqa: E402

pytest.importorskip("llama_cpp", reason="llama-cpp-python (extra llm) is not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="module")
def local_rt(tiny: Path):
    from profiler.runtimes.local import LlamaCppPython

    rt = LlamaCppPython(tiny, n_ctx=2048)
    rt.start()
    yield rt
    rt.close()


def test_prompts_are_token_exact_and_prefixes_byte_identical(local_rt) -> None:
    b = PromptBuilder(local_rt.count_tokens, seed=3)
    assert b.fillers  # words that are one token each in this vocabulary
    for target in (1, 2, 3, 7, 40, 333):
        text, n = b.build(target, head=call_head("decision", 0, f"step[{target}]/x"))
        assert n == target == local_rt.count_tokens(text)
    p1 = b.prefix("sys.v2.decision", 25)
    assert local_rt.count_tokens(p1) == 25
    a, na = b.build(90, head=call_head("decision", 0, "a"), base=p1)
    c, nc = b.build(120, head=call_head("decision", 1, "b"), base=b.prefix("sys.v2.decision", 25))
    assert na == 90 and nc == 120
    assert a[:len(p1)] == c[:len(p1)] == p1          # byte-identical shared prefix
    assert a[len(p1):] != c[len(p1):]
    # the runtime reuses the shared prefix from its cache
    local_rt.complete(a, 2)
    r = local_rt.complete(c, 2)
    assert r.prompt_tokens == 120 and r.prompt_tokens_evaluated <= 120 - 24


def _records():
    """A small graph: two roots, a fan-out of three, a join, delays on one lane."""
    def call(i, deps=(), p=12, o=4, **kw):
        return {"inst": 0, "id": i, "kind": "call", "role": i.split("/")[0], "deps": list(deps),
                "prompt_tokens": p, "output_tokens": o, "images": [], "image_tokens": None,
                **kw}
    return [
        call("plan"),
        {"inst": 0, "id": "act1", "kind": "delay", "deps": ["plan"], "seconds": 0.3,
         "resource": "screen"},
        {"inst": 0, "id": "act2", "kind": "delay", "deps": ["plan"], "seconds": 0.3,
         "resource": "screen"},
        call("tool/0", ["plan"], o=30), call("tool/1", ["plan"], o=30),
        call("tool/2", ["plan"], o=30, after_partial={"plan": 0.5}),
        call("join", ["tool/0", "tool/1", "tool/2", "act1", "act2"], p=8,
             images=[{"tokens": 5}]),
        call("mem", ["join"], p=6, o=3, continues="join"),
    ]


def test_replay_respects_deps_lanes_delays_and_continuations(local_rt) -> None:
    nodes = nodes_from_records(_records())
    done = []
    rep = TaskReplayer(local_rt, PromptBuilder(local_rt.count_tokens), local_rt.slots,
                       done.append)
    out = rep.run(nodes)
    assert set(out) == {n.id for n in nodes} and len(done) == len(nodes)
    for n in nodes:
        for d in n.deps:
            if d not in dict(n.after_partial):
                assert out[d].t_end_s <= out[n.id].t_start_s + 1e-9
    # the two delays share the "screen" lane: one after the other, each slept 0.3 s
    a1, a2 = sorted((out["act1"], out["act2"]), key=lambda o: o.t_start_s)
    assert a1.t_end_s <= a2.t_start_s + 1e-9
    assert 0.3 <= a1.t_end_s - a1.t_start_s < 0.6
    # one slot: LLM calls never overlap
    calls = sorted((o for o in out.values() if o.result), key=lambda o: o.t_start_s)
    assert all(x.t_end_s <= y.t_start_s + 1e-9 for x, y in zip(calls, calls[1:]))
    # image tokens are sent as extra text tokens on this text-only model
    assert out["join"].result.prompt_tokens == 8 + 5
    # the continuation carries the parent's prompt and output, plus its new turn
    mem = out["mem"]
    parent = out["join"]
    assert mem.prompt_text.startswith(parent.prompt_text + parent.result.output_text)
    assert mem.result.prompt_tokens == mem.prompt_tokens_requested
    assert mem.prompt_tokens_requested == local_rt.count_tokens(
        parent.prompt_text + parent.result.output_text) + 6


def test_dependency_cycle_and_unknown_dep_are_bad_input(local_rt) -> None:
    from neumelt.errors import InputError

    rep = TaskReplayer(local_rt, PromptBuilder(local_rt.count_tokens), 1, lambda o: None)
    bad = nodes_from_records([{"inst": 0, "id": "a", "kind": "call", "deps": ["zz"],
                               "prompt_tokens": 3, "output_tokens": 1}])
    with pytest.raises(InputError, match="unknown 'zz'"):
        rep.run(bad)
    cyc = nodes_from_records([
        {"inst": 0, "id": "a", "kind": "call", "deps": ["b"], "prompt_tokens": 3,
         "output_tokens": 1},
        {"inst": 0, "id": "b", "kind": "call", "deps": ["a"], "prompt_tokens": 3,
         "output_tokens": 1}])
    with pytest.raises(InputError, match="cycle"):
        rep.run(cyc)


def test_fan_out_runs_concurrently_up_to_server_slots(tiny: Path, tmp_path: Path) -> None:
    """llama-cpp-python's OpenAI-compatible server, started through the device interface."""
    from devices import get_device
    from profiler.runtimes.server import OpenAIServer, ServerLauncher, ServerSpec, free_port

    dev = get_device("local")
    spec = ServerSpec("llama-cpp-python", str(tiny), port=free_port(), n_ctx=2048,
                      python=sys.executable, workdir=str(tmp_path))
    rt = OpenAIServer(launcher=ServerLauncher(dev, spec), slots=2)
    load = rt.start()
    try:
        assert load.load_s > 0 and load.pids and rt.slots == 2
        nodes = nodes_from_records(_records(), delay_scale=0.0)
        rep = TaskReplayer(rt, PromptBuilder(rt.count_tokens), rt.slots, lambda o: None)
        out = rep.run(nodes)
        tools = [out[f"tool/{i}"] for i in range(3)]
        for o in tools + [out["join"], out["mem"]]:
            r = o.result
            assert r.prompt_tokens == o.prompt_tokens_requested
            assert r.output_tokens == o.node.output_tokens == len(r.token_times_s)
            assert r.t_start_s <= r.t_first_s <= r.t_end_s
        # at most two requests in flight at any instant, and two did overlap
        spans = [(o.t_start_s, o.t_end_s) for o in out.values() if o.result]
        edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                       key=lambda x: (x[0], x[1]))
        live, peak = 0, 0
        for _, d in edges:
            live += d
            peak = max(peak, live)
        assert peak == 2
        # after_partial: tool/2 may start once plan streamed half its output
        assert out["tool/2"].t_start_s >= out["plan"].result.token_times_s[1] - 1e-9
        # an already running server, reached by URL only (--server-url)
        other = OpenAIServer(base_url=rt.base)
        other.start()
        text, n = PromptBuilder(other.count_tokens).build(17)
        r = other.complete(text, 5)
        assert (r.prompt_tokens, r.output_tokens, len(r.token_times_s)) == (n, 5, 5) == (17, 5, 5)
    finally:
        pid = rt.launcher.pid
        rt.close()
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    time.sleep(0.1)
