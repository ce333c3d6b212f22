"""A batch whose KV cache does not fit the device is refused by every design (exit 2)."""

from __future__ import annotations

import pytest

from neumelt.errors import InputError
from sim.designs import ALL_DESIGNS, get_design
from sim.designs.capacity import kv_demand
from workloads.models import load_model

# llama2-7b keeps 32 layers x 32 KV heads x 128 x 2 (K, V) x 2 bytes = 524,288 B per token
# at tp 1; 256 requests of 687 tokens are 92.2 GB of KV, twice an A100-40GB
KV_TOKENS = 687


@pytest.fixture()
def big_batch(tmp_path):
    p = tmp_path / "big.csv"
    p.write_text("seq_len\n" + "\n".join([str(KV_TOKENS)] * 256) + "\n")
    return p


def test_kv_demand_counts_bytes_per_device():
    m = load_model("llama2-7b")
    hw = get_design("gpu").hw
    d = kv_demand(hw, m, [KV_TOKENS] * 256, tp=1, pp=1)
    assert d.kv_bytes == 256 * KV_TOKENS * 524_288
    assert d.kv_bytes > 2 * d.capacity_bytes and not d.fits
    # TP splits the KV heads, PP the layers: a quarter each way at tp 2 x pp 2
    assert kv_demand(hw, m, [KV_TOKENS] * 256, tp=2, pp=2).kv_bytes == d.kv_bytes // 4


@pytest.mark.parametrize("design", ALL_DESIGNS)
def test_every_design_refuses_a_batch_over_capacity(design):
    m = load_model("llama2-7b")
    d = get_design(design, fidelity="fast")
    with pytest.raises(InputError) as e:
        d.decode_iteration(m, [KV_TOKENS] * 256)
    msg = str(e.value)
    assert "256 requests" in msg and "GB of KV cache" in msg and "holds" in msg
    with pytest.raises(InputError):
        d.prefill(m, [KV_TOKENS] * 256)
    # the same requests at a tenth of the length fit and run
    assert d.decode_iteration(m, [KV_TOKENS // 10] * 256, layers=1).total_cycles > 0


@pytest.mark.parametrize("design", ["gpu", "neupims"])
def test_step_cli_names_batch_bytes_and_capacity(cli, big_batch, design):
    r = cli("sim", "step", "--design", design, "--model", "llama2-7b", "--batch",
            str(big_batch), "--fidelity", "fast", "--no-store")
    assert r.returncode == 2, r.stdout + r.stderr
    err = r.stderr
    assert "big.csv" in err and "256 requests" in err
    assert "GB of KV cache" in err and "holds" in err and "Traceback" not in err
    need = float(err.split("needs ")[1].split(" GB")[0])
    cap = float(err.split("holds ")[1].split(" GB")[0])
    assert need > 2 * cap


def test_the_reference_batch_fits():
    d = get_design("neupims")
    m = load_model("gpt3-7b")
    from sim.designs.batch import parse_batch

    b = parse_batch("reference")
    assert kv_demand(d.hw, m, b.seq_lens, tp=4, pp=1).fits
