"""The NanoFlow-style ``gpu-overlap`` design against the plain ``gpu`` roofline."""

from __future__ import annotations

import numpy as np
import pytest

from neumelt.errors import InputError
from sim.designs import get_design
from sim.designs.gpu_overlap import GpuOverlapDesign, make, plan_layer
from workloads.models import load_model


@pytest.fixture(scope="module")
def gpu():
    return get_design("gpu")


def batch(n, seed=0):
    return [int(x) for x in np.random.default_rng(seed).integers(50, 900, n)]


def test_one_nano_batch_is_exactly_the_gpu_design(gpu):
    model = load_model("gpt3-13b")
    ov = GpuOverlapDesign(gpu.hw, nano_batches=(1,))
    for n in (8, 200):
        seq = batch(n)
        a, b = ov.decode_iteration(model, seq), gpu.decode_iteration(model, seq)
        assert a.seconds == pytest.approx(b.seconds, rel=1e-3)
        assert a.energy_total_j == pytest.approx(b.energy_total_j, rel=1e-3)


@pytest.mark.parametrize("name", ["gpt3-7b", "gpt3-30b", "llama2-13b"])
def test_overlap_is_never_slower_and_helps_dense_mixed_batches(gpu, name):
    model = load_model(name)
    # llama2-13b defaults to tp 2, where 256 requests of ~480 tokens would need 63 GB per
    # A100-40GB: run it at tp 4 (32 GB)
    tp = 4 if name == "llama2-13b" else None
    ov = make(tp=tp)
    gpu = get_design("gpu", tp=tp)
    seq = batch(256, seed=1)
    dec = ov.decode_iteration(model, seq)
    assert dec.seconds <= gpu.decode_iteration(model, seq).seconds * 1.0001
    mixed = ov.mixed_iteration(model, seq, [512] * 4)
    serial = gpu.decode_iteration(model, seq).seconds + gpu.prefill(model, [512] * 4).seconds
    # GEMMs over 2,300 rows are compute-bound while decode attention is memory-bound:
    # overlapping them must beat running the two phases back to back
    assert mixed.seconds < 0.9 * serial
    assert mixed.counters["nano_batches"] > 1


def test_fraction_of_optimal_is_a_fraction_and_sums_hold(gpu):
    model = load_model("gpt3-7b")
    ov = make()
    for n in (16, 256, 512):
        seq = batch(n, seed=n)
        f = ov.fraction_of_optimal(model, seq)
        assert 0.2 < f <= 1.0
        r = ov.decode_iteration(model, seq)
        assert r.energy_total_j == pytest.approx(sum(r.energy_j.values()))
        assert all(0.0 <= v <= 1.0 for v in r.utilisation.values())
    par = ov.parallelism(model)
    p = plan_layer(ov.hw, model, par.tp, seq=batch(256))
    # the busiest resource bounds the layer from below, the sequential time from above
    assert max(p.compute_s, p.memory_s, p.network_s) * 0.999 <= p.layer_s <= p.sequential_s


def test_gpu_overlap_refuses_npu_hardware():
    with pytest.raises(InputError):
        make("npu-neupims")
