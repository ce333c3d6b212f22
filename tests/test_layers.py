"""The layer rule (README, Layout): imports point down, never sideways across packages, and
no module imports itself back through others. Read from the source with ast
(``tests/layers_support.py``), so a function-level import counts like a top-level one."""

from __future__ import annotations

import functools
from pathlib import Path

from layers_support import (
    PACKAGES,
    describe_cycle,
    import_cycles,
    layer_violations,
    read_imports,
    unit_of,
)

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def _tree():
    """This checkout's modules and imports (read once)."""
    return read_imports(ROOT)


def test_the_reader_sees_the_whole_tree():
    mods, imports = _tree()
    # every package and every layer unit is there, with a sensible number of modules
    assert len(mods) >= 150, len(mods)
    for pkg in PACKAGES:
        assert sum(m.split(".")[0] == pkg for m in mods) >= 5, pkg
    assert {unit_of(m) for m in mods} == {"app", "ground", "sim", "profiler", "reports",
                                          "devices", "workloads"}
    statements = [i for i in imports if not i.by_name]
    assert len(statements) >= 500, len(statements)
    # function-level imports (the CLI modules defer most of theirs) and imports by name
    assert sum(i.nested for i in statements) >= 100
    assert any(i.by_name and i.source == "neumelt.app.cli" for i in imports)
    # every unit imports the ground
    assert {unit_of(i.source) for i in statements if unit_of(i.target) == "ground"} >= {
        "app", "sim", "profiler", "reports", "devices", "workloads"}


def test_no_upward_or_sideways_import():
    _, imports = _tree()
    bad = layer_violations(imports)
    assert not bad, "imports against the layer rule (README, Layout):\n" + "\n".join(bad)


def test_no_import_circle():
    _, imports = _tree()
    circles = [describe_cycle(c, imports) for c in import_cycles(imports)]
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_ground_and_the_app_entry_points():
    mods, imports = _tree()
    assert "neumelt.app.cli" in mods and "neumelt.__main__" in mods
    # neumelt/__init__ (imported by every ground module) does not pull the app in
    assert not [i for i in imports if i.source == "neumelt" and unit_of(i.target) != "ground"]
    main = [i for i in imports if i.source == "neumelt.__main__"]
    assert [i.target for i in main] == ["neumelt.app.cli"]
    text = (ROOT / "pyproject.toml").read_text()
    assert 'neumelt = "neumelt.app.cli:main"' in text


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, src in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(src)


def test_the_checks_catch_an_upward_import_a_sideways_one_and_a_circle(tmp_path):
    _write(tmp_path, {
        "neumelt/__init__.py": "",
        "neumelt/store.py": "def f():\n    from sim.registry import NAMES\n    return NAMES\n",
        "neumelt/app/__init__.py": "",
        "neumelt/app/cli.py": "import sim.engine\nimport profiler\n",
        "sim/__init__.py": "",
        "sim/engine.py": "from . import fast\nfrom neumelt.store import f\n",
        "sim/fast.py": "import os\n\ndef g():\n    from sim.engine import run\n",
        "sim/plots.py": "from ..profiler import session\n",
        "sim/registry.py": "NAMES = ('profiler.session:run', 'sim.fast')\n",
        "profiler/__init__.py": "",
        "profiler/session.py": "from .. import sim\nfrom neumelt import store\n",
        "devices/__init__.py": "",
        "workloads/__init__.py": "",
        "reports/__init__.py": "",
    })
    mods, imports = read_imports(tmp_path)
    assert "neumelt.app.cli" in mods and "sim.engine" in mods
    bad = layer_violations(imports)
    assert any(m.startswith("upward: neumelt.store (ground) imports sim.registry (sim) at "
                            "neumelt/store.py:2") for m in bad), bad
    assert any(m.startswith("sideways: sim.plots (sim) imports profiler.session (profiler)")
               for m in bad), bad
    assert any(m.startswith("sideways: profiler.session (profiler) imports sim (sim)")
               for m in bad), bad
    assert any(m.startswith("sideways: sim.registry (sim) names profiler.session") for m in bad)
    # the app may import anything; the ground may be imported by everyone
    assert not [m for m in bad if "neumelt.app.cli (app)" in m or "imports neumelt.store" in m]
    assert len(bad) == 4, bad
    cycles = import_cycles(imports)
    assert cycles == [["sim.engine", "sim.fast", "sim.engine"]]
    msg = describe_cycle(cycles[0], imports)
    assert "sim.engine -> sim.fast (sim/engine.py:1)" in msg
    assert "sim.fast -> sim.engine (sim/fast.py:4)" in msg
