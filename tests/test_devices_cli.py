"""``neumelt devices`` end to end: list, import tegrastats, watch over real adb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import devices_support
from devices_support import TestAdbd

from neumelt.store import Store

adb_server = devices_support.adb_server   # fixtures from tests/devices_support.py
adbd = devices_support.adbd

DATA = Path(__file__).parent / "data" / "devices"


def neumelt(*args: str, cwd: Path,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "neumelt", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, env={**os.environ, **(env or {})})


def test_devices_json_lists_local_with_unavailable_sources(tmp_path: Path) -> None:
    r = neumelt("devices", "--json", "--adb-port", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    local = doc["devices"][0]
    assert local["kind"] == "local" and local["info"]["cores"] >= 1
    names = {s["name"]: s for s in local["sources"]}
    assert names["cpu"]["available"] is True
    missing = [s for s in local["sources"] if not s["available"]]
    assert all(s["why"] for s in missing)
    assert any("adb: no server on port 1" in n for n in doc["notes"])
    table = neumelt("devices", "--adb-port", "1", cwd=tmp_path)
    assert "power quality" in table.stdout
    if missing:
        assert "unavailable" in table.stdout


def test_import_tegrastats(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    r = neumelt("devices", "import", "tegrastats", str(DATA / "tegrastats_golden.txt"),
                "--db", str(db), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["lines"] == 6 and doc["skipped"] == 0 and doc["provenance"] == "measured"
    store = Store(db)
    run = store.get_run(doc["run_id"])
    assert run.kind == "import" and run.status == "done"
    totals = store.samples(doc["run_id"], source="power.rails", name="total_w")
    assert [round(s.value, 3) for s in totals] == [5.5, 3.522, 0.933, 4.245, 2.742, 22.1]
    assert len(store.samples(doc["run_id"])) == doc["n_samples"] == len(doc["samples"])
    human = neumelt("devices", "import", "tegrastats", str(DATA / "tegrastats_golden.txt"),
                    "--db", str(db), cwd=tmp_path)
    assert "samples (measured, tegrastats)" in human.stdout


def test_import_bad_input_exits_2_with_one_message(tmp_path: Path) -> None:
    r = neumelt("devices", "import", "tegrastats", str(tmp_path / "missing.log"), cwd=tmp_path)
    assert r.returncode == 2 and "missing.log: no such file" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.log"
    junk.write_text("hello\nworld\n")
    r = neumelt("devices", "import", "tegrastats", str(junk), cwd=tmp_path)
    assert r.returncode == 2 and "no tegrastats lines found" in r.stderr


def test_watch_over_adb_records_a_session(adbd: TestAdbd, tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    env_home = tmp_path / "home"              # hygiene state goes under $XDG_STATE_HOME
    r = neumelt("devices", "watch", adbd.serial, "--adb-port", str(adbd.adb_port), "--root",
                str(adbd.root), "--duration", "2", "--db", str(db), "--json", "--hygiene",
                cwd=tmp_path, env={"XDG_STATE_HOME": str(env_home)})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["samples"] > 0 and doc["lost"] is False
    latest = {(x["source"], x["name"]): x for x in doc["latest"]}
    assert latest[("battery", "power_w")]["value"] > 0
    assert latest[("battery", "power_w")]["provenance"] == "measured"
    run = Store(db).get_run(doc["run_id"])
    assert run.status == "done" and run.info["device"]["model"] == "Pixel 7"
    assert run.info["hygiene"]["applied"]["system/screen_brightness_mode"] == "0"
    assert run.info["hygiene"]["charging"] is False
    from android_root import settings
    assert settings(adbd.root)["system"]["screen_brightness_mode"] == "1"    # restored
    assert not list((env_home / "neumelt" / "hygiene").glob("*.json"))
    bad = neumelt("devices", "watch", adbd.serial, "--adb-port", str(adbd.adb_port),
                  "--battery", "volts", cwd=tmp_path)
    assert bad.returncode == 2 and "--battery" in bad.stderr


def test_import_ios_recordings(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    r = neumelt("devices", "import", "sysmon", str(DATA / "ios/sysmon_process.jsonl"),
                "--process", "LLMFarm", "--db", str(db), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    foot = Store(db).samples(doc["run_id"], source="ios.process.812", name="phys_footprint")
    assert [s.t_host_s for s in foot] == [0.0, 0.5, 1.0]
    r = neumelt("devices", "import", "ios-energy", str(DATA / "ios/energy.jsonl"),
                "--db", str(db), "--json", cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert doc["provenance"] == "estimated" and {s["unit"] for s in doc["samples"]} == {"score"}
    r = neumelt("devices", "import", "sysmon", str(DATA / "ios/sysmon_process.jsonl"),
                "--process", "Nope", "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2 and "no samples found for process 'Nope'" in r.stderr
