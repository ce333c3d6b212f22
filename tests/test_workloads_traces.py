"""Request traces: seeded synthetic generators and the ShareGPT / CSV importers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neumelt.app.cli import main
from neumelt.errors import InputError
from workloads.traces import (
    DATASETS,
    length_table,
    load_trace,
    synthetic_trace,
    trace_stats,
    write_trace_csv,
)


def test_shipped_tables_have_the_published_means():
    sg = length_table("sharegpt-lengths.tsv")
    al = length_table("alpaca-lengths.tsv")
    assert len(sg) == 50_000 and len(al) == 52_002
    # NeuPIMs paper: ShareGPT 80 in / 296 out, Alpaca 12 / 56 (openai-gpt tokenizer)
    assert sg[:, 0].mean() == pytest.approx(80, rel=0.02)
    assert sg[:, 1].mean() == pytest.approx(296, rel=0.02)
    assert al[:, 0].mean() == pytest.approx(12, rel=0.02)
    assert al[:, 1].mean() == pytest.approx(56, rel=0.02)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_same_seed_same_trace_and_other_seed_differs(dataset):
    a = synthetic_trace(dataset, n=300, seed=4, rate=2.0)
    assert a == synthetic_trace(dataset, n=300, seed=4, rate=2.0)
    assert a != synthetic_trace(dataset, n=300, seed=5, rate=2.0)
    assert len(a) == 300 and [r.id for r in a] == list(range(300))
    assert all(r.prompt_tokens >= 1 and r.output_tokens >= 1 for r in a)
    assert [r.arrival_s for r in a] == sorted(r.arrival_s for r in a)


@pytest.mark.parametrize("dataset,prompt,output", [
    ("sharegpt-vllm", 161.31, 337.99), ("alpaca", 12.1, 55.8), ("azure-conv", 1155, 211),
    ("azure-code", 2048, 28),
])
def test_synthetic_lengths_follow_the_published_means(dataset, prompt, output):
    s = trace_stats(synthetic_trace(dataset, n=20_000, seed=1))
    assert s["prompt_mean_tokens"] == pytest.approx(prompt, rel=0.1)
    assert s["output_mean_tokens"] == pytest.approx(output, rel=0.1)


def test_lmsys_sessions_carry_their_history():
    reqs = synthetic_trace("lmsys", n=2000, seed=3)
    sessions: dict = {}
    for r in reqs:
        sessions.setdefault(r.session, []).append(r)
    assert 1.6 < len(reqs) / len(sessions) < 2.4  # about 2.0 turns per conversation
    for turns in sessions.values():
        turns.sort(key=lambda r: r.turn)
        for prev, cur in zip(turns, turns[1:]):
            assert cur.prefix_tokens == prev.prompt_tokens + prev.output_tokens
            assert cur.arrival_s > prev.arrival_s


def test_arrival_processes():
    p = synthetic_trace("alpaca", n=4000, seed=2, arrival="poisson", rate=5.0)
    gaps = np.diff([r.arrival_s for r in p])
    assert gaps.mean() == pytest.approx(0.2, rel=0.06)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.08)  # exponential: CV 1
    g = synthetic_trace("alpaca", n=4000, seed=2, arrival="gamma", rate=5.0, cv=3.0)
    ggaps = np.diff([r.arrival_s for r in g])
    assert ggaps.mean() == pytest.approx(0.2, rel=0.15) and ggaps.std() / ggaps.mean() > 2
    f = synthetic_trace("alpaca", n=10, seed=2, arrival="fixed", rate=4.0)
    assert [r.arrival_s for r in f] == [i / 4 for i in range(10)]
    c = synthetic_trace("alpaca", n=9, seed=2, arrival="closed", concurrency=3)
    assert {r.arrival_s for r in c} == {0.0} and [r.client for r in c] == [0, 1, 2] * 3


def test_filters_apply():
    reqs = synthetic_trace("sharegpt", n=3000, seed=0, min_tokens=4, max_prompt_tokens=1024,
                           max_total_tokens=2048)
    assert all(4 <= r.prompt_tokens <= 1024 and r.output_tokens >= 4 for r in reqs)
    assert all(r.prompt_tokens + r.output_tokens <= 2048 for r in reqs)


def test_bad_arguments_are_input_errors():
    with pytest.raises(InputError, match="unknown dataset"):
        synthetic_trace("wikipedia")
    with pytest.raises(InputError, match="rate"):
        synthetic_trace("alpaca", rate=0)
    with pytest.raises(InputError, match="unknown arrival"):
        synthetic_trace("alpaca", arrival="bursty")


def test_import_vidur_splitwise_neupims_and_own_csv(tmp_path):
    v = tmp_path / "vidur.csv"
    v.write_text("arrived_at,num_prefill_tokens,num_decode_tokens,num_total_tokens\n"
                 "10.5,100,20,120\n10.0,300,40,340\n12.0,50,5,55\n")
    reqs = load_trace(v)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in reqs] == [
        (0.0, 300, 40), (0.5, 100, 20), (2.0, 50, 5)]
    s = tmp_path / "azure.csv"
    s.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                 "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n")
    reqs = load_trace(s)
    assert reqs[0].prompt_tokens == 374 and reqs[1].arrival_s == pytest.approx(4.3146, abs=1e-3)
    n = tmp_path / "lengths.tsv"
    n.write_text("input_toks\toutput_toks\n93\t131\n96\t42\n")
    reqs = load_trace(n, rate=2.0, seed=1)
    assert [(r.prompt_tokens, r.output_tokens) for r in reqs] == [(93, 131), (96, 42)]
    assert reqs[1].arrival_s > 0
    mine = tmp_path / "mine.csv"
    orig = synthetic_trace("alpaca", n=50, seed=9, rate=3.0)
    write_trace_csv(orig, mine)
    back = load_trace(mine)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in back] == \
        [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in orig]


def test_import_sharegpt_json(tmp_path):
    p = tmp_path / "sg.json"
    p.write_text(json.dumps([
        {"id": "a", "conversations": [{"from": "human", "value": "x" * 400},
                                      {"from": "gpt", "value": "y" * 800}]},
        {"id": "b", "conversations": [{"from": "system", "value": "s"},
                                      {"from": "human", "value": "hello there"},
                                      {"from": "gpt", "value": "hi"}]},
        {"id": "c", "conversations": [{"from": "human", "value": "unanswered"}]},
    ]))
    reqs = load_trace(p, rate=1.0)
    assert [(r.prompt_tokens, r.output_tokens) for r in reqs] == [(100, 200), (3, 1)]
    words = load_trace(p, tokenizer=lambda s: len(s.split()))
    assert [(r.prompt_tokens, r.output_tokens) for r in words] == [(1, 1), (2, 1)]


@pytest.mark.parametrize("text,needle,line", [
    ("when,a,b\n1,2,3\n", "unrecognised columns", 1),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n1,2,3\n2,2.5,3\n", "non-integer", 3),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n1,2,3\nsoon,2,3\n", "bad arrival", 3),
])
def test_bad_csv_names_file_and_line(tmp_path, text, needle, line):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        load_trace(p)
    assert needle in str(exc.value) and f"{p}:{line}" in str(exc.value)


def test_trace_cli_writes_a_csv_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["workloads", "trace", "alpaca", "-n", "100", "--seed", "3", "-o", str(out),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stats"]["requests"] == 100 and len(load_trace(out)) == 100
    assert main(["workloads", "trace", "nope"]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_import_burstgpt_mooncake_and_neupims_batch(tmp_path):
    from pathlib import Path

    b = tmp_path / "burst.csv"
    b.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                 "5,ChatGPT,472,18,490,Conversation log\n45,GPT-4,1087,230,1317,API log\n")
    reqs = load_trace(b)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in reqs] == [
        (0.0, 472, 18), (40.0, 1087, 230)]
    m = tmp_path / "mooncake.jsonl"
    m.write_text('{"timestamp": 0, "input_length": 6955, "output_length": 52, '
                 '"hash_ids": [0, 1]}\n{"timestamp": 1500, "input_length": 700, '
                 '"output_length": 9, "hash_ids": [0]}\n')
    reqs = load_trace(m)
    assert [(r.arrival_s, r.prompt_tokens, r.output_tokens) for r in reqs] == [
        (0.0, 6955, 52), (1.5, 700, 9)]
    # the NeuPIMs artifact's decode batch (GPT3-7B, TP 4): 512 requests, mean seq_len 299.9
    batch = load_trace(Path(__file__).parent / "data" / "workloads" /
                       "share-gpt2-bs512-ms7B-tp4-clb-0.csv")
    assert len(batch) == 512 and max(r.prompt_tokens for r in batch) == 2048
    assert sum(r.prompt_tokens for r in batch) / 512 == pytest.approx(299.9, abs=0.05)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(dataset=st.sampled_from(sorted(DATASETS)), n=st.integers(1, 200),
       seed=st.integers(0, 2**32), arrival=st.sampled_from(["poisson", "gamma", "fixed",
                                                             "closed"]))
def test_property_synthetic_traces(dataset, n, seed, arrival):
    reqs = synthetic_trace(dataset, n=n, seed=seed, arrival=arrival, rate=3.0, concurrency=4)
    assert len(reqs) == n and [r.id for r in reqs] == list(range(n))
    assert all(r.prompt_tokens >= 1 and r.output_tokens >= 1 for r in reqs)
    assert all(0 <= r.prefix_tokens < r.prompt_tokens or r.prefix_tokens == 0 for r in reqs)
    t = [r.arrival_s for r in reqs]
    assert t == sorted(t) and t[0] >= 0
    assert reqs == synthetic_trace(dataset, n=n, seed=seed, arrival=arrival, rate=3.0,
                                   concurrency=4)
