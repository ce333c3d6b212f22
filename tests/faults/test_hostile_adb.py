"""Hostile names in every command sent over ADB, through the real ``adb`` server and the
test adbd: a device root, a remote directory and a model file whose names hold quotes,
spaces, ``$(...)``, backticks and ``;``. Every command must quote them (argv lists, or
``shlex.quote`` where a shell script is needed): nothing runs that was not meant to, and
every reading is the same as under a plain name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from devices_support import TestAdbd, adb_server  # noqa: F401  (fixture)

MARK = f"neumelt-pwned-{os.getpid()}"
# a directory name may not hold '/': `cd` takes the command to $HOME, where MARK would land
HOSTILE = f"it's a \"dir\" $(cd;touch {MARK}) `cd;touch {MARK}` ;cd;touch {MARK}; &"


def _pwned() -> list[str]:
    return [p for p in (Path.home() / MARK, Path("/") / MARK, Path.cwd() / MARK)
            if p.exists()]


@pytest.fixture
def hostile_adbd(adb_server, tmp_path):  # noqa: F811
    base = tmp_path / HOSTILE
    base.mkdir()
    daemon = TestAdbd(adb_server, base)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        for p in _pwned():
            p.unlink()


def test_device_commands_quote_a_hostile_root(hostile_adbd):
    from profiler.sampling import read_max_temp_c

    dev = hostile_adbd.device()
    try:
        info = dev.info()
        cpus = sorted(p.name for p in (hostile_adbd.root / "sys/devices/system/cpu").iterdir()
                      if p.name[3:].isdigit())
        assert info.cores == len(cpus) > 0
        assert dev.sources()
        assert read_max_temp_c(dev) is not None
        assert dev.calibration() is not None
    finally:
        dev.close()
    assert _pwned() == []


def test_model_push_quotes_hostile_remote_paths(hostile_adbd, tmp_path):
    from profiler.session import _sha256, dpath, push_if_changed

    local = tmp_path / f"m{HOSTILE[:20]}'$(x).gguf"
    local.write_bytes(os.urandom(4096))
    dev = hostile_adbd.device()
    try:
        remote = dpath(dev, f"/data/local/tmp/{HOSTILE}") + "/" + local.name
        sha = _sha256(local)
        assert push_if_changed(dev, local, remote, sha) is True
        on_device = Path(str(hostile_adbd.root) + f"/data/local/tmp/{HOSTILE}/{local.name}")
        assert on_device.read_bytes() == local.read_bytes()
        # the second time the device already has these bytes: sha256sum must have worked
        assert push_if_changed(dev, local, remote, sha) is False
    finally:
        dev.close()
    assert _pwned() == []
