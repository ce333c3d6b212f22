"""benchmarks/dram_speed.py: one JSON object, every figure with its unit, fastest >= median."""

from __future__ import annotations

import json

from bench_support import load_benchmark


def test_dram_speed_json(capsys):
    assert load_benchmark("dram_speed").main(["--json", "--requests", "3000", "--repeat", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 3000 and out["repeat"] == 2
    numeric = {k for k, v in out.items() if isinstance(v, (int, float))
               and k not in ("cpu_count", "load_average_1m")}
    assert numeric <= set(out["units"]), numeric - set(out["units"])
    for name in ("hbm2-neupims", "hbm3"):
        for pattern in ("stream", "random"):
            key = f"{name}_{pattern}"
            assert out[f"{key}_commands"] >= 3000          # at least one column command each
            assert out[f"{key}_dcps_cpu"] >= out[f"{key}_dcps_cpu_median"] > 0
            assert out[f"{key}_slowdown_cpu"] > 1
    assert out["pim_cps_cpu"] >= out["pim_cps_cpu_median"] > 0
    assert out["pim_fast_error"] < 0.02
    assert out["targets"] == {"dram_dcps": 10e6, "pim_cps": 1e6}
