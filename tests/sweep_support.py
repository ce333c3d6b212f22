"""Helpers for the sweep tests: spec files, free ports, evaluators with a delay or a crash.

The evaluators here wrap the real roofline model: ``SlowRoofline`` adds a sleep so a test
can kill a worker while points are in flight; ``ExitOnBatch`` kills its own process (a hard
crash, as a segfaulting kernel would) on one batch size.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.sweep.evaluators import RooflineConfig, RooflineDecode

TESTS_DIR = str(Path(__file__).resolve().parent)


@dataclass(frozen=True)
class SlowConfig(RooflineConfig):
    delay_s: float = 0.02   # wall time each point sleeps, s


class SlowRoofline(RooflineDecode):
    name = "sweep_support:SlowRoofline"
    version = "test-slow-1"
    code_packages = ()
    config_cls = SlowConfig

    def evaluate(self, c):
        time.sleep(c.delay_s)
        return super().evaluate(c)


class ExitOnBatch(RooflineDecode):
    name = "sweep_support:ExitOnBatch"
    version = "test-exit-1"

    def evaluate(self, c):
        if c.batch == 13:
            os._exit(17)
        return super().evaluate(c)


GRID_200 = {
    "batch": [64, 128, 256, 384, 512],
    "pim": [True, False],
    "channels": [8, 16, 32, 64],
    "model": ["gpt3-7b", "gpt3-13b", "gpt3-30b", "llama2-7b", "llama2-13b"],
}
OBJECTIVES = [{"metric": "throughput_tokens_per_s", "goal": "max"},
              {"metric": "energy_per_token_j", "goal": "min"},
              {"metric": "memory_area_rel", "goal": "min"}]


def write_spec(path: Path, **fields) -> Path:
    """Write a spec YAML (name/evaluator default to a 200-point roofline grid)."""
    spec = {"name": "test-grid", "evaluator": "roofline", "base": {"seq_len": 300},
            "grid": GRID_200, "objectives": OBJECTIVES}
    spec.update(fields)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class Fingerprinted(RooflineDecode):
    """The roofline, keyed on the code of a package the test creates (``sweep_fp_pkg``)."""

    name = "sweep_support:Fingerprinted"
    code_packages = ("sweep_fp_pkg",)


def _tiny_kernel_py(n: int) -> int:
    """Pure-Python twin of the probe's numba kernel: sum of 0..n-1."""
    return sum(range(n))


class NumbaCacheProbe(RooflineDecode):
    """Compiles a tiny numba kernel (cache=True) in the worker and reports, as a CRC-32,
    the cache directory numba uses there, so a test can check the sweep's shared one."""

    name = "sweep_support:NumbaCacheProbe"
    code_packages = ()

    def metric_units(self):
        return {"numba_cache_dir_crc": "crc32", "kernel_value": "count"}

    def evaluate(self, c):
        import zlib

        import numba

        from sim.sweep.evaluators import PointMetric

        @numba.njit(cache=True)
        def tiny_kernel(n):
            s = 0
            for i in range(n):
                s += i
            return s

        crc = float(zlib.crc32((numba.config.CACHE_DIR or "").encode()))
        return [PointMetric("numba_cache_dir_crc", crc, "crc32", "measured", "worker"),
                PointMetric("kernel_value", float(tiny_kernel(c.batch)), "count", "measured",
                            "worker")]
