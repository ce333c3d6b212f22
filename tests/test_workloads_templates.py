"""Shipped templates: they expand cleanly and reproduce the reference per-task anchors."""

from __future__ import annotations

import dataclasses

import pytest
from workloads_support import assert_topological

from workloads.agents import expand, list_templates, load_template
from workloads.models import VisionRule, load_model

REQUIRED = ["mobile-agent-v2", "mobile-agent-e", "mobilesteward", "autodroid", "autodroid-v2",
            "llmcompiler", "parrot-map-reduce", "chat"]

# (calls per task, tokens per task with 258-token images) from the reference's table of
# per-task totals of these defaults (200 seeded instances each; main-model tokens, a call
# that continues another counted as the parent's context + its own).
ANCHORS = {
    "mobile-agent-v2": (237, 75_000), "mobile-agent-e": (291, 115_000),
    "mobilesteward": (46, 88_000), "autodroid": (6, 3_000), "autodroid-v2": (1.45, 4_200),
    "llmcompiler": (6, 9_600), "parrot-metagpt": (25, 96_000),
    "parrot-map-reduce": (16, 17_000), "parrot-chain": (20, 24_000),
}
FIXED_258 = dataclasses.replace(load_model("qwen2-vl-2b"),
                                vision=VisionRule(rule="fixed", tokens=258))


def test_required_templates_ship_with_sources():
    names = list_templates()
    for name in REQUIRED:
        assert name in names
        assert load_template(name).sources, f"{name} cites no sources"


@pytest.mark.parametrize("name", sorted(list_templates()))
def test_every_shipped_template_expands_in_order(name):
    calls = expand(name, seed=11, instances=2)
    assert calls and any(c.kind == "call" for c in calls)
    assert_topological(calls)
    assert calls == expand(name.replace("-", "_"), seed=11, instances=2)


def _per_task(calls, n):
    ctx: dict = {}
    tokens = 0
    for c in calls:
        if c.kind != "call":
            continue
        cx = c.prompt_tokens + (c.image_tokens or 0)
        if c.continues:
            cx += ctx[(c.inst, c.continues)]
        ctx[(c.inst, c.id)] = cx + c.output_tokens
        if c.model == "main":
            tokens += cx + c.output_tokens
    return sum(c.kind == "call" for c in calls) / n, tokens / n


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_per_task_calls_and_tokens_match_the_reference(name):
    n = 60
    calls, tokens = _per_task(expand(name, seed=2024, instances=n, model=FIXED_258), n)
    want_calls, want_tokens = ANCHORS[name]
    assert calls == pytest.approx(want_calls, rel=0.15), calls
    assert tokens == pytest.approx(want_tokens, rel=0.15), tokens


def test_llmcompiler_tools_start_at_half_the_plan():
    calls = expand("llmcompiler", seed=3)
    search = [c for c in calls if c.role == "search"]
    assert search and all(c.after_partial == (("planner", 0.5),) for c in search)
    assert all(c.deps == ("planner",) and c.resource == "net" for c in search)
    joiner = calls[-1]
    assert joiner.role == "joiner" and len(joiner.deps) >= 2


def test_autodroid_v2_prefix_is_the_app_document():
    docs = {1176, 3289, 2258, 1626, 4303, 4224, 2663, 2348, 3250, 2877, 2124, 2407, 1659}
    for seed in range(5):
        gen = [c for c in expand("autodroid-v2", seed=seed) if c.role == "codegen"]
        assert gen[0].prefix_tokens in docs
        assert gen[0].prompt_tokens == gen[0].prefix_tokens + 17
        assert gen[0].prefix_key.startswith("doc.app")
        assert len(gen) <= 3  # at most 2 retries


def test_chat_template_wraps_a_trace_with_poisson_arrivals():
    calls = expand("chat", seed=5, instances=50)
    assert len(calls) == 50
    arrivals = [c.arrival_s for c in calls]
    assert arrivals == sorted(arrivals) and arrivals[0] == 0.0 and arrivals[-1] > 10
    assert len({c.prompt_tokens for c in calls}) > 10
    multi = expand("chat-lmsys", seed=5, instances=60)
    later = [c for c in multi if c.prefix_tokens > 0]
    assert later and all(c.prompt_tokens > c.prefix_tokens for c in later)
