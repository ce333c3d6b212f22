"""Agent templates and the expander: determinism, structure, validation, CLI exit codes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workloads_support import MINIMAL, assert_topological, neumelt, write

from neumelt.app.cli import main
from neumelt.errors import InputError
from workloads.agents import expand, list_templates, load_template
from workloads.models import load_model


def test_expand_cli_is_byte_identical_for_a_seed_and_differs_for_another():
    a = neumelt("workloads", "expand", "mobile-agent-v2", "--seed", "7", "--json")
    b = neumelt("workloads", "expand", "mobile-agent-v2", "--seed", "7", "--json")
    c = neumelt("workloads", "expand", "mobile-agent-v2", "--seed", "8", "--json")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr
    assert a.stdout == b.stdout and len(a.stdout) > 1000
    assert a.stdout != c.stdout
    doc = json.loads(a.stdout)
    assert doc["template"] == "mobile-agent-v2" and doc["seed"] == 7
    assert_topological(_records(doc["calls"]))


def _records(dicts):
    from workloads.agents import CallRecord

    return [CallRecord.from_dict(d) for d in dicts]


def test_cycle_is_refused_with_exit_2_naming_the_nodes(tmp_path):
    p = write(tmp_path, """\
        schema: agentwl/v1
        name: cyclic
        graph:
          - {id: plan, kind: call, prompt: 10, output: 5, after: [judge]}
          - {id: act, kind: call, prompt: 10, output: 5, after: [plan]}
          - {id: judge, kind: call, prompt: 10, output: 5, after: [act]}
        """)
    r = neumelt("workloads", "expand", str(p), "--seed", "1")
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "cycle" in err and "plan" in err and "act" in err and "judge" in err
    assert str(p) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _cli_error(capsys, path) -> str:
    rc = main(["workloads", "expand", str(path), "--seed", "0"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize("body,needle,key,line", [
    # unknown key
    ("  - {id: a, kind: call, prompt: 10, output: 5, tokens: 3}\n", "unknown key 'tokens'",
     "graph[0].tokens", 4),
    # wrong type
    ("  - {id: a, kind: call, prompt: [10], output: 5}\n", "got list", "graph[0].prompt", 4),
    # undefined node reference
    ("  - {id: a, kind: call, prompt: 10, output: 5}\n"
     "  - {id: b, kind: call, prompt: 10, output: 5, after: [nope]}\n", "undefined node 'nope'",
     "graph[1].after[0]", 5),
    # negative token count
    ("  - {id: a, kind: call, prompt: -3, output: 5}\n", "negative", "graph[0].prompt", 4),
    # non-integer token count
    ("  - id: a\n    kind: call\n    prompt: 10\n    output: 2.5\n", "non-integer",
     "graph[0].output", 7),
    # non-integer token count inside a distribution
    ("  - {id: a, kind: call, prompt: {dist: choice, values: [3, 4.5]}, output: 5}\n",
     "non-integer", "graph[0].prompt.values[1]", 4),
    # unknown distribution
    ("  - {id: a, kind: call, prompt: {dist: zipf, a: 2}, output: 5}\n", "unknown distribution",
     "graph[0].prompt.dist", 4),
    # undefined variable
    ("  - {id: a, kind: call, prompt: $nope, output: 5}\n", "undefined variable",
     "graph[0].prompt", 4),
    # bad kind
    ("  - {id: a, kind: rpc}\n", "got 'rpc'", "graph[0].kind", 4),
    # prev: outside a loop
    ("  - {id: a, kind: call, prompt: 1, output: 1, after: ['prev:a']}\n", "enclosing loop",
     "graph[0].after[0]", 4),
])
def test_bad_templates_exit_2_with_file_key_and_line(tmp_path, capsys, body, needle, key, line):
    p = write(tmp_path, "schema: agentwl/v1\nname: bad\ngraph:\n" + body)
    err = _cli_error(capsys, p)
    assert needle in err
    assert f"key '{key}'" in err
    assert f"{p}:{line}" in err


def test_missing_file_exits_2(tmp_path, capsys):
    err = _cli_error(capsys, tmp_path / "nope.yaml")
    assert "file not found" in err and "nope.yaml" in err


def test_cycle_through_a_loop_body_is_refused(tmp_path):
    p = write(tmp_path, """\
        schema: agentwl/v1
        name: c
        graph:
          - {id: a, kind: call, prompt: 1, output: 1, after: [l]}
          - id: l
            kind: loop
            count: 2
            body:
              - {id: x, kind: call, prompt: 1, output: 1, after: [a]}
        """)
    with pytest.raises(InputError, match=r"cycle: .*a.*l"):
        load_template(p)


def test_minimal_template_semantics(tmp_path):
    p = write(tmp_path, MINIMAL)
    calls = expand(str(p), seed=0, instances=3)
    assert [(c.inst, c.id, c.deps) for c in calls] == [
        (0, "a", ()), (0, "b", ("a",)), (1, "a", ()), (1, "b", ("a",)),
        (2, "a", ()), (2, "b", ("a",))]
    assert calls[0].prompt_tokens == 100 and calls[1].output_tokens == 5


def test_loop_fanout_skip_retry_continue_and_prefix(tmp_path):
    p = write(tmp_path, """\
        schema: agentwl/v1
        name: features
        vars: {n: 3}
        graph:
          - id: plan
            kind: call
            prompt: {base: 100, per: {n: 10}}
            output: 20
            prefix: {key: "sys.${n}", tokens: 40}
          - id: step
            kind: loop
            count: $n
            after: [plan]
            body:
              - id: think
                kind: call
                prompt: {base: 10, per: {iter: 5}}
                output: 5
              - id: more
                kind: call
                continues: think
                prompt: 7
                output: 3
              - id: maybe
                kind: call
                after: [more]
                p: 0.0
                prompt: 1
                output: 1
              - id: act
                kind: delay
                after: [maybe]
                seconds: 2.5
                resource: screen
          - id: tools
            kind: fanout
            count: 4
            after: [step]
            body:
              - {id: tool, kind: call, prompt: 9, output: 2, retry: {p: 1.0, max: 2}}
          - {id: join, kind: call, after: [tools], prompt: 50, output: 10}
        """)
    calls = expand(str(p), seed=3)
    by = {c.id: c for c in calls}
    assert_topological(calls)
    assert by["plan"].prompt_tokens == 130 and by["plan"].prefix_key == "sys.3"
    assert by["plan"].prefix_tokens == 40
    assert [by[f"step[{i}]/think"].prompt_tokens for i in range(3)] == [10, 15, 20]
    assert by["step[0]/think"].deps == ("plan",)
    assert by["step[1]/more"].continues == "step[1]/think"
    assert not any("maybe" in c.id for c in calls)          # p = 0: skipped ...
    assert by["step[0]/act"].deps == ("step[0]/more",)      # ... and treated as done
    assert by["step[1]/think"].deps == ("step[0]/act",)     # loop barrier
    assert by["step[0]/act"].seconds == 2.5 and by["step[0]/act"].resource == "screen"
    # retry p = 1, max 2: three attempts per branch, chained
    assert by["tools[2]/tool#2"].deps == ("tools[2]/tool#1",)
    assert by["tools[2]/tool"].deps == ("step[2]/act",)
    assert set(by["join"].deps) == {f"tools[{b}]/tool#2" for b in range(4)}


def test_image_tokens_follow_the_bound_model():
    calls = expand("mobile-agent-v2", seed=1)
    vlm = expand("mobile-agent-v2", seed=1, model=load_model("qwen2-vl-2b"))
    dec = next(c for c in calls if c.role == "decision")
    assert dec.image_tokens is None and dec.images == ({"w": 1080, "h": 2340},)
    dec = next(c for c in vlm if c.role == "decision")
    assert dec.image_tokens == 3276
    refl = next(c for c in vlm if c.role == "reflect")
    assert refl.image_tokens == 2 * 3276
    assert all(c.image_tokens == 0 for c in vlm if c.kind == "call" and not c.images)
    # binding a model changes nothing else
    strip = [(c.id, c.deps, c.prompt_tokens, c.output_tokens) for c in calls]
    assert strip == [(c.id, c.deps, c.prompt_tokens, c.output_tokens) for c in vlm]


def test_editing_one_node_does_not_reshuffle_the_others(tmp_path):
    base = MINIMAL.replace("prompt: 100", "prompt: {dist: uniform, min: 1, max: 1000}") \
        .replace("prompt: 50", "prompt: {dist: uniform, min: 1, max: 1000}")
    a = expand(str(write(tmp_path, base, "a.yaml")), seed=5)
    b = expand(str(write(tmp_path, base.replace("output: 10", "output: 11"), "b.yaml")), seed=5)
    assert [c.prompt_tokens for c in a] == [c.prompt_tokens for c in b]


@pytest.mark.parametrize("name", ["mobile-agent-v2"])
def test_shipped_templates_expand(name):
    assert name in list_templates()
    calls = expand(name, seed=0, instances=2)
    assert_topological(calls)
    assert {c.inst for c in calls} == {0, 1}


# ---- property tests ----------------------------------------------------------------------

_prob = st.floats(0, 1).map(lambda x: round(x, 3))
_leaf = st.fixed_dictionaries({
    "kind": st.sampled_from(["call", "delay"]),
    "p": st.one_of(st.none(), _prob),
    "retry": st.one_of(st.none(), st.tuples(_prob, st.integers(0, 2))),
    "prompt": st.one_of(st.integers(0, 3000),
                        st.builds(lambda m, s: {"dist": "normal", "mean": m, "sd": s},
                                  st.integers(-50, 500), st.integers(0, 300))),
})


def _node_strategy(depth: int):
    if depth == 0:
        return _leaf
    return st.one_of(_leaf, st.fixed_dictionaries({
        "kind": st.sampled_from(["loop", "fanout", "group"]),
        "count": st.integers(0, 3),
        "pipelined": st.booleans(),
        "body": st.lists(_node_strategy(depth - 1), min_size=1, max_size=3),
        "p": st.one_of(st.none(), _prob),
        "retry": st.none(),
    }))


def _render(nodes, data, prefix="n", indent="  ", loop_ids=()) -> list[str]:
    """Nodes -> YAML lines; each node depends on a random subset of earlier siblings."""
    lines = []
    ids: list[str] = []
    kinds: list[str] = []
    for i, n in enumerate(nodes):
        nid = f"{prefix}{i}"
        lines.append(f"{indent}- id: {nid}")
        lines.append(f"{indent}  kind: {n['kind']}")
        after = [x for x in ids if data.draw(st.booleans())]
        if loop_ids and data.draw(st.booleans()):
            after.append("prev:" + data.draw(st.sampled_from(loop_ids)))
        if after:
            lines.append(f"{indent}  after: [{', '.join(repr(a) for a in after)}]")
        if n.get("p") is not None:
            lines.append(f"{indent}  p: {n['p']!r}")
        if n.get("retry") is not None:
            lines.append(f"{indent}  retry: {{p: {n['retry'][0]!r}, max: {n['retry'][1]}}}")
        if n["kind"] == "call":
            calls_before = [x for x, k in zip(ids, kinds) if k == "call"]
            if calls_before and data.draw(st.booleans()):
                lines.append(f"{indent}  continues: {data.draw(st.sampled_from(calls_before))}")
            if calls_before and data.draw(st.booleans()):
                ap = data.draw(st.sampled_from(calls_before))
                lines.append(f"{indent}  after_partial: {{{ap}: 0.5}}")
            lines.append(f"{indent}  prompt: {json.dumps(n['prompt'])}")
            lines.append(f"{indent}  output: {{dist: uniform, min: 0, max: 50}}")
        elif n["kind"] == "delay":
            lines.append(f"{indent}  seconds: {{dist: normal, mean: 1, sd: 2}}")
        else:
            if n["kind"] != "group":
                lines.append(f"{indent}  count: {n['count']}")
            if n["kind"] == "loop":
                lines.append(f"{indent}  pipelined: {str(n['pipelined']).lower()}")
            lines.append(f"{indent}  body:")
            inner_loop = tuple(f"{nid}x{j}" for j in range(len(n["body"]))) \
                if n["kind"] == "loop" else ()
            lines += _render(n["body"], data, f"{nid}x", indent + "    ",
                             inner_loop + tuple(loop_ids))
        ids.append(nid)
        kinds.append(n["kind"])
    return lines


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.lists(_node_strategy(2), min_size=1, max_size=4), seed=st.integers(0, 2**32),
       data=st.data())
def test_property_expander_order_counts_and_determinism(tmp_path_factory, nodes, seed, data):
    text = "schema: agentwl/v1\nname: prop\ngraph:\n" + "\n".join(_render(nodes, data)) + "\n"
    p = tmp_path_factory.mktemp("prop") / "t.yaml"
    p.write_text(text)
    t = load_template(str(p))
    a = expand(t, seed=seed, instances=2)
    assert_topological(a)
    for c in a:
        assert c.prompt_tokens >= (1 if c.kind == "call" else 0)
        assert c.output_tokens >= 0 and c.prefix_tokens >= 0
        assert c.seconds is None or c.seconds >= 0
    assert [c.to_json() for c in a] == [c.to_json() for c in expand(t, seed=seed, instances=2)]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**63 - 1))
def test_property_shipped_template_any_seed(seed):
    a = expand("mobile-agent-v2", seed=seed)
    assert_topological(a)
    assert all(c.prompt_tokens >= 1 and c.output_tokens >= 0 for c in a if c.kind == "call")
    assert a == expand("mobile-agent-v2", seed=seed)


def test_params_override_template_vars(capsys):
    calls = expand("mobile-agent-v2", seed=2, params={"steps": 3})
    assert sum(c.role == "decision" for c in calls) == 3
    few = expand("parrot-map-reduce", seed=0, params={"chunks": 30})
    assert sum(c.role == "summarize" for c in few) == 30
    with pytest.raises(InputError, match="no variable 'stepz'"):
        expand("mobile-agent-v2", seed=2, params={"stepz": 3})
    assert main(["workloads", "expand", "mobile-agent-v2", "--set", "steps=-3"]) == 2
    assert "evaluated to -3" in capsys.readouterr().err
    assert main(["workloads", "expand", "mobile-agent-v2", "--seed", "4", "--set",
                 "steps={dist: const, value: 2}", "--jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(json.loads(x)["role"] == "decision" for x in lines) == 2


def test_jsonl_round_trip_and_checked_reading(tmp_path):
    from workloads.agents import load_calls

    calls = expand("llmcompiler", seed=9, instances=3)
    p = tmp_path / "calls.jsonl"
    assert main(["workloads", "expand", "llmcompiler", "--seed", "9", "--instances", "3",
                 "-o", str(p)]) == 0
    assert load_calls(p) == calls
    assert expand(str(p), seed=0, instances=2) == [c for c in calls if c.inst < 2]
    lines = p.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[1], lines[0]]) + "\n")   # a dependant before its dep
    with pytest.raises(InputError, match=r"bad.jsonl:1.*not an earlier record"):
        load_calls(bad)
    bad.write_text(lines[0] + "\n{oops\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2.*not valid JSON"):
        load_calls(bad)


def test_serial_knob_and_dag_stats():
    from workloads.agents import dag_stats, serialize

    dag = expand("parrot-map-reduce", seed=0)
    st = dag_stats(dag)
    assert st["calls_per_task"] == 16 and st["critical_path_calls"] == 2
    assert st["max_parallel_calls"] == 15
    ser = serialize(dag)
    assert_topological(ser)
    assert [c.prompt_tokens for c in ser] == [c.prompt_tokens for c in dag]
    assert all(c.deps == (p.id,) for p, c in zip(ser, ser[1:]))
    st = dag_stats(ser)
    assert st["critical_path_calls"] == 16 and st["max_parallel_calls"] == 1
    v2 = serialize(expand("mobile-agent-v2", seed=1))
    assert_topological(v2)  # continues stay in deps


def test_vision_rule_binding(capsys):
    from workloads.models import vision_rule

    calls = expand("mobile-agent-v2", seed=1, model=vision_rule("gpt-4o-high"))
    dec = next(c for c in calls if c.role == "decision")
    assert dec.image_tokens == 1445
    assert main(["workloads", "show", "mobile-agent-v2", "--vision", "gemini-1.5",
                 "--json"]) == 0
    roles = {r["role"]: r for r in json.loads(capsys.readouterr().out)["roles"]}
    assert roles["decision"]["image_tokens_per_task"] == 258 * roles["decision"]["per_task"]
    assert main(["workloads", "show", "mobile-agent-v2", "--vision", "nope"]) == 2


def test_fragment_include_from_another_file(tmp_path):
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib", """\
        fragments:
          look:
            - {id: shot, kind: delay, seconds: 1, resource: screen}
            - {id: read, kind: call, after: [shot], prompt: $n, output: 3}
          broken:
            - {id: x, kind: call, prompt: 5, output: -1}
        """, "common.yaml")
    body = """\
        schema: agentwl/v1
        name: inc
        vars: {n: 40}
        fragments:
          look: {include: "lib/common.yaml#FRAG"}
        graph:
          - {id: a, use: look}
          - {id: b, kind: call, after: [a], prompt: 1, output: 1}
        """
    ok = write(tmp_path, body.replace("FRAG", "look"), "ok.yaml")
    calls = expand(str(ok), seed=0)
    assert [c.id for c in calls] == ["a/shot", "a/read", "b"]
    assert calls[1].prompt_tokens == 40 and calls[2].deps == ("a/read",)
    with pytest.raises(InputError) as exc:
        load_template(write(tmp_path, body.replace("FRAG", "broken"), "bad.yaml"))
    assert "common.yaml:6" in str(exc.value) and "negative" in str(exc.value)
    with pytest.raises(InputError, match="no fragment 'nope'"):
        load_template(write(tmp_path, body.replace("FRAG", "nope"), "bad2.yaml"))
    with pytest.raises(InputError, match="cannot include"):
        load_template(write(tmp_path, body.replace("lib/common", "lib/missing"), "bad3.yaml"))


def test_validate_command(tmp_path, capsys):
    good = write(tmp_path, MINIMAL, "good.yaml")
    assert main(["workloads", "validate", str(good), "llmcompiler"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("ok: tiny") and "2 call" in out[0]
    bad = write(tmp_path, MINIMAL.replace("after: [a]", "after: [zz]"), "bad.yaml")
    assert main(["workloads", "validate", str(good), str(bad)]) == 2
    assert "undefined node 'zz'" in capsys.readouterr().err


def test_token_stats_no_cache_vs_prefix_cache(tmp_path):
    from workloads.agents import token_stats

    p = write(tmp_path, """\
        schema: agentwl/v1
        name: tok
        graph:
          - {id: a, kind: call, prompt: 150, output: 20, prefix: {key: k, tokens: 100}}
          - {id: b, kind: call, after: [a], prompt: 120, output: 30, prefix: {key: k, tokens: 100}}
          - {id: c, kind: call, continues: b, prompt: 10, output: 5}
        """)
    st = token_stats(expand(str(p), seed=0))
    assert st["prompt_tokens_per_task"] == 280 and st["output_tokens_per_task"] == 55
    # no cache: 150 + 120 + (120 + 30 + 10); cache: b reuses 100 of k, c reuses b's 150
    assert st["prefill_nocache_tokens_per_task"] == 430
    assert st["prefill_cached_tokens_per_task"] == 430 - 100 - 150
    st = token_stats(expand("mobile-agent-v2", seed=0))
    assert st["image_tokens_per_task"] is None and st["prefill_cached_tokens_per_task"] is None
