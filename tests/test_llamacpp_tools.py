"""Finding and configuring llama.cpp's own tools (no build here: .ci/run builds them)."""

from __future__ import annotations

import os
from pathlib import Path

from profiler.runtimes import llamacpp_tools as lt

CHANGELOG = """# Changelog

## [Unreleased]

- feat: something not released

## [0.3.36]

- feat: update llama.cpp to ggml-org/llama.cpp@0c1e57098

## [0.3.35]

- feat: update llama.cpp to ggml-org/llama.cpp@4df29be4f
"""


def test_the_vendored_commit_comes_from_the_release_section_of_the_changelog(tmp_path: Path
                                                                            ) -> None:
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    assert lt.vendored_commit(tmp_path) == "0c1e57098"
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## [0.1.0]\n\n- nothing\n")
    assert lt.vendored_commit(tmp_path) == "unknown"
    assert lt.vendored_commit(tmp_path / "missing") == "unknown"


def test_tools_are_found_where_the_environment_points_and_must_be_executable(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEUMELT_LLAMA_CPP_BIN", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(lt, "build_root", lambda arch: tmp_path / "no-build" / arch)
    tool = tmp_path / "llama-bench"
    tool.write_text("#!/bin/sh\n")
    assert lt.find_tool("llama-bench") is None          # not executable
    tool.chmod(0o755)
    assert lt.find_tool("llama-bench") == tool
    assert lt.find_tool("llama-server") is None


def test_builds_are_static_cpu_builds_stamped_with_the_commit_and_fetch_nothing() -> None:
    args = lt.cmake_args("x86_64", "0c1e57098") if lt.host_arch() == "x86_64" else \
        lt.cmake_args("aarch64", "0c1e57098")
    assert "-DBUILD_SHARED_LIBS=OFF" in args and "-DLLAMA_BUILD_COMMIT=0c1e57098" in args
    assert "-DLLAMA_USE_PREBUILT_UI=OFF" in args and "-DLLAMA_CURL=OFF" in args
    if lt.host_arch() == "x86_64":
        cross = lt.cmake_args("aarch64", "abc")
        assert "-DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++" in cross
        assert "-DCMAKE_EXE_LINKER_FLAGS=-static" in cross and "-DGGML_NATIVE=OFF" in cross
    assert os.path.basename(str(lt.build_root("aarch64"))) == "aarch64"
