"""The NeuPIMs reproduction benchmark runs and reports its figures (one sample each)."""

from __future__ import annotations

import json

from bench_support import load_benchmark


def test_repro_json_has_the_headline_figures(capsys):
    mod = load_benchmark("neupims_repro")
    assert mod.main(["--json", "--samples", "1", "--models", "gpt3-7b", "--workers", "1",
                     "--batches", "64,512"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("neupims_vs_gpu", "neupims_vs_npu", "neupims_vs_npu_pim", "wall_s"):
        assert isinstance(out[key], float) and out[key] > 0
    assert out["configurations"]["value"] == 4
    # NeuPIMs picks its faster sub-batch mode and has dual row buffers: never far behind
    # the naive NPU+PIM, and ahead of it on average
    assert out["neupims_vs_npu_pim_min"]["value"] > 0.95
    assert out["neupims_vs_npu_pim"] > 1.0
    assert 0 < out["gpu_overlap_fraction_of_optimal"]["value"] <= 1
    assert out["paper"]["neupims_vs_gpu"]["value"] == 3.0
    # the decomposition: every configuration x design sums to the iteration, and the
    # speed-up split names each NeuPIMs technique added alone and removed alone
    from sim.designs.breakdown import PARTS

    assert len(out["decomposition"]) == 4 * 4
    for row in out["decomposition"]:
        assert abs(sum(row[k] for k in PARTS) - 1.0) < 1e-3, row
    for k in ("row_buffer", "channels", "sub_batch", "pim_commands"):
        assert f"ablation_alone_gain.{k}" in out and f"ablation_removal_loss.{k}" in out
    # the naive design's Newton commands wait on the NPU's PIM port; NeuPIMs' never do
    npu_pim = [r for r in out["decomposition"] if r["design"] == "npu-pim"]
    assert all(r["command_issue"] > 0 for r in npu_pim)
    assert all(r["command_issue"] == 0 for r in out["decomposition"] if r["design"] == "neupims")
