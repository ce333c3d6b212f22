"""Attached hardware only (``-m hardware``): a real phone (``NEUMELT_ANDROID_SERIAL``,
optionally ``NEUMELT_ADB_PORT``) and NVIDIA GPUs through NVML. Skipped with the reason
when nothing is attached."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from devices import get_device
from devices.hygiene import Hygiene, pending
from devices.local import LocalDevice
from devices.sampler import Sampler
from neumelt.store import Store

pytestmark = pytest.mark.hardware


def test_real_phone_sampling_and_hygiene(tmp_path: Path) -> None:
    serial = os.environ.get("NEUMELT_ANDROID_SERIAL")
    if not serial:
        pytest.skip("no phone: set NEUMELT_ANDROID_SERIAL (and NEUMELT_ADB_PORT if not 5037)")
    dev = get_device(serial, adb_port=int(os.environ.get("NEUMELT_ADB_PORT", "5037")),
                     hygiene_dir=tmp_path)
    assert dev.info().model
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("profile", {"hardware": serial})
    with Hygiene(dev, tmp_path), Sampler(dev, store, run_id) as s:
        time.sleep(3)
    assert pending(serial, tmp_path) is None and not s.lost
    assert len(store.samples(run_id, source="cpu", name="util")) >= 20


def test_nvml_gpu_power_and_memory(tmp_path: Path) -> None:
    dev = LocalDevice()
    src = {s.name: s for s in dev.sources()}["power.nvml"]
    if not src.available:
        pytest.skip(f"no NVIDIA GPU here: {src.why}")
    store = Store(tmp_path / "r.db")
    run_id = store.start_run("profile", {"hardware": "nvml"})
    with Sampler(dev, store, run_id, rates={"power": 10}):
        time.sleep(1.5)
    power = store.samples(run_id, source="gpu0", name="power_w")
    assert len(power) >= 10 and all(p.value is None or p.value > 0 for p in power)
    assert store.samples(run_id, source="gpu0", name="mem_used_b")[0].value > 0
