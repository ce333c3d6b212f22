"""SIGKILL at seeded points of ``sim run``, ``sweep run`` (a Dask worker, then the
client), ``profile --device local`` and ``report``: the store stays whole, the run is
``interrupted`` (never ``done``), what was recorded is kept, and resume finishes it."""

from __future__ import annotations

import pytest
from scenarios import kill_profile, kill_report, kill_sim_run, kill_sweep, make_sim_step


@pytest.mark.parametrize("seed", [3])
def test_sigkill_sim_run(tmp_path, seed):
    r = kill_sim_run(tmp_path, seed)
    # interrupted, or done only if it was marked done before the kill (checked inside)
    assert r.problems == [] and r.killed and r.status_after in ("interrupted", "done")


def test_sigkill_report_leaves_the_store_and_no_truncated_page(tmp_path):
    db = tmp_path / "r.db"
    run_id = make_sim_step(tmp_path, db)
    for seed in (1,):
        r = kill_report(tmp_path, seed, run_id, db)
        assert r.problems == [], r


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (extra llm) is not installed")
    from profiler_support import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.mark.parametrize("seed", [5])
def test_sigkill_profile_then_resume(tmp_path, tiny, seed):
    r = kill_profile(tmp_path, tiny, seed)
    assert r.problems == [] and r.killed and r.kept > 0 and r.resumed == "done"


def test_sigkill_dask_worker_then_client_then_resume(tmp_path):
    pytest.importorskip("distributed", reason="dask[distributed] (extra cluster) not installed")
    r = kill_sweep(tmp_path, 7)
    assert r.problems == [] and r.kills == 2 and r.resumed == "done"
