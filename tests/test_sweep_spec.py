"""Sweep specs: expansion, seeded random axes, constraints, keys and bad input."""

from __future__ import annotations

import pytest
from sweep_support import write_spec

from neumelt.errors import InputError
from sim.sweep.expr import Expr, ExprError
from sim.sweep.spec import expand, load_spec


def test_grid_product_and_stable_keys(tmp_path):
    spec, doc = load_spec(write_spec(tmp_path / "s.yaml"))
    exp = expand(spec, doc)
    assert len(exp.points) == 200 and exp.generated == 200 and exp.pruned == 0
    assert len({p.key for p in exp.points}) == 200
    # a key hashes the full config: spelling a default out gives the same point
    spec2, doc2 = load_spec(write_spec(tmp_path / "t.yaml", base={"seq_len": 300, "tp": 4}))
    assert [p.key for p in expand(spec2, doc2).points] == [p.key for p in exp.points]
    spec3, doc3 = load_spec(write_spec(tmp_path / "u.yaml", base={"seq_len": 301}))
    assert not {p.key for p in expand(spec3, doc3).points} & {p.key for p in exp.points}
    assert exp.points[0].config["area"]["dual_row_buffer_area_pct"] == pytest.approx(3.11)


def test_linked_axes_vary_together(tmp_path):
    spec, doc = load_spec(write_spec(tmp_path / "s.yaml", grid={
        "model,tp": [["gpt3-7b", 4], ["gpt3-175b", 8]], "batch": [64, 128, 256]}))
    pts = expand(spec, doc).points
    assert len(pts) == 6
    assert {(p.config["model"], p.config["tp"]) for p in pts} == {("gpt3-7b", 4),
                                                                 ("gpt3-175b", 8)}


def test_random_axes_are_seeded_and_crossed_with_grid(tmp_path):
    rnd = {"samples": 7, "seed": 11, "axes": {
        "seq_len": {"int_uniform": [64, 2048]},
        "channel_gb_s": {"uniform": [16.0, 64.0], "round": 3},
        "pim_macs_per_bank": {"choice": [8, 16, 32]},
        "npu_tflops": {"log_uniform": [50.0, 500.0]}}}
    spec, doc = load_spec(write_spec(tmp_path / "a.yaml", grid={"batch": [64, 256]},
                                     random=rnd))
    a = expand(spec, doc).points
    assert len(a) == 14
    again = expand(*load_spec(write_spec(tmp_path / "b.yaml", grid={"batch": [64, 256]},
                                         random=rnd))).points
    assert [p.key for p in again] == [p.key for p in a]
    for p in a:
        c = p.config
        assert 64 <= c["seq_len"] <= 2048 and 16.0 <= c["channel_gb_s"] <= 64.0
        assert c["pim_macs_per_bank"] in (8, 16, 32) and 50.0 <= c["npu_tflops"] <= 500.0
    # the same draws for every grid point
    by_batch = {b: [{k: v for k, v in p.coords.items() if k != "batch"} for p in a
                    if p.coords["batch"] == b] for b in (64, 256)}
    assert by_batch[64] == by_batch[256]
    rnd2 = {**rnd, "seed": 12}
    other = expand(*load_spec(write_spec(tmp_path / "c.yaml", grid={"batch": [64, 256]},
                                         random=rnd2))).points
    assert [p.coords for p in other] != [p.coords for p in a]


def test_constraints_prune(tmp_path):
    spec, doc = load_spec(write_spec(tmp_path / "s.yaml", constraints=[
        "batch * seq_len <= 128 * 300", "pim or channels >= 32"]))
    exp = expand(spec, doc)
    # batch in {64, 128} (2 of 5); of those, pim off keeps channels 32, 64 (2 of 4)
    assert len(exp.points) == 2 * 5 * (4 + 2)
    assert exp.pruned == 200 - len(exp.points)
    assert all(p.config["batch"] <= 128 for p in exp.points)
    assert all(p.config["pim"] or p.config["channels"] >= 32 for p in exp.points)


def test_expressions_are_a_safe_subset():
    env = {"a": 3, "hw": {"channels": 32}, "name": "x"}
    assert Expr("a * 2 < hw.channels and name in ['x', 'y']")(env)
    assert Expr("max(a, 4) == 4 if a < 4 else False")(env)
    assert not Expr("not (log2(hw.channels) == 5)")(env)
    for bad in ("__import__('os').system('true')", "a.__class__", "[x for x in y]",
                "lambda: 1", "open('f')", "a[0]", "f(a=1)"):
        with pytest.raises(ExprError):
            Expr(bad)(env)
    with pytest.raises(ExprError, match="unknown name 'b'"):
        Expr("b > 1")(env)


@pytest.mark.parametrize("fields, key, text", [
    ({"base": {"seq_len": 300, "warp": 1}}, "base.warp", "unknown key 'warp'"),
    ({"grid": {"batch": [64, "big"]}}, "grid.batch", "'big'"),
    ({"grid": {"model,tp": [["gpt3-7b"]]}}, "grid.model,tp[0]", "a list of 2 values"),
    ({"constraints": ["batch >"]}, "constraints[0]", "not a valid expression"),
    ({"constraints": ["nope > 1"]}, "constraints[0]", "unknown name 'nope'"),
    ({"objectives": [{"metric": "speed", "goal": "max"}]}, "objectives[0].metric",
     "no metric 'speed'"),
    ({"objectives": [{"metric": "iteration_s", "goal": "up"}]}, "objectives[0].goal",
     "invalid value"),
    ({"evaluator": "no-such"}, "evaluator", "unknown evaluator"),
    ({"random": {"samples": 3, "seed": 1, "axes": {"batch": {"uniform": [1, 2]}}}},
     "random.axes.batch", "also a grid axis"),
    ({"random": {"samples": 3, "seed": 1, "axes": {"seq_len": {"uniform": [3, 2]}}}},
     "random.axes.seq_len", "low <= high"),
])
def test_bad_specs_name_key_and_line(tmp_path, fields, key, text):
    path = write_spec(tmp_path / "bad.yaml", **fields)
    with pytest.raises(InputError) as info:
        spec, doc = load_spec(path)
        expand(spec, doc)
    err = info.value
    assert err.file == str(path) and err.key == key and err.line is not None
    assert text in str(err)
