"""The layer rule of README's Layout section, as code: read every module's imports with ast
and report upward imports, sideways imports across packages and import circles.

Layers, top to bottom (a unit may import only the units listed in :data:`MAY_IMPORT`)::

    app        neumelt.app.*, neumelt.__main__      the CLI, the runs commands, the demo
    reports    profiler    sim                      (not one another)
    devices    workloads                            (not one another)
    ground     neumelt.* except the app             store, config, errors, output, argtypes, runs

An import is any ``import x`` or ``from x import y`` anywhere in a module (top level, inside
functions, under ``try``/``if``), relative ones resolved against the module's package; the
target is the longest module of ours the name starts with (``from pkg import name`` targets
``pkg.name`` when that is a module). ``importlib.import_module("literal")`` counts too.
Dotted string constants that name a module of ours (``"sim.cli"``, ``"pkg.mod:attr"``:
registries that import by name) must respect the layers as well, but are not edges of the
circle check (they are looked up late, by design). Implicit imports of parent packages
(importing ``a.b.c`` runs ``a/__init__.py``) are not counted.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("neumelt", "sim", "profiler", "devices", "workloads", "reports")

# what each unit may import besides itself
MAY_IMPORT: dict[str, frozenset[str]] = {
    "app": frozenset({"reports", "profiler", "sim", "devices", "workloads", "ground"}),
    "reports": frozenset({"ground"}),
    "profiler": frozenset({"devices", "workloads", "ground"}),
    "sim": frozenset({"workloads", "ground"}),
    "devices": frozenset({"ground"}),
    "workloads": frozenset({"ground"}),
    "ground": frozenset(),
}
LEVEL = {"app": 3, "reports": 2, "profiler": 2, "sim": 2, "devices": 1, "workloads": 1,
         "ground": 0}


@dataclass(frozen=True)
class Import:
    """One import of module ``target`` (ours) by module ``source`` at ``path:line``."""

    source: str
    target: str
    path: str
    line: int
    text: str            # the statement as written (for the message)
    nested: bool         # inside a function or class body
    by_name: bool = False  # a string constant naming the module, not an import statement


def unit_of(module: str) -> str:
    """The layer unit of a module: ``app``, ``ground`` or the top-level package name."""
    top = module.split(".")[0]
    if top != "neumelt":
        return top
    if module == "neumelt.__main__" or module == "neumelt.app" or module.startswith(
            "neumelt.app."):
        return "app"
    return "ground"


def discover(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, tuple[Path, bool]]:
    """{module name: (file, is a package __init__)} for every .py file under the packages."""
    mods: dict[str, tuple[Path, bool]] = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            if "__pycache__" in f.parts:
                continue
            parts = list(f.relative_to(root).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            mods[".".join(parts)] = (f, is_pkg)
    return mods


def _ours(name: str, mods: dict) -> str | None:
    """The longest module of ours that ``name`` is or lies inside, or None."""
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _nested_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a function or class body."""
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            for sub in ast.walk(node):
                if sub is not node:
                    inner.add(id(sub))
    return inner


def read_imports(root: Path, packages: tuple[str, ...] = PACKAGES
                 ) -> tuple[dict[str, tuple[Path, bool]], list[Import]]:
    """Every module under ``root``'s packages and every import among them."""
    mods = discover(root, packages)
    out: list[Import] = []
    for mod, (path, is_pkg) in mods.items():
        out.extend(_module_imports(root, mods, mod, path, is_pkg))
    return mods, out


def _module_imports(root: Path, mods: dict, mod: str, path: Path, is_pkg: bool
                    ) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    inner = _nested_nodes(tree)
    rel = path.relative_to(root).as_posix()
    here = mod.split(".") if is_pkg else mod.split(".")[:-1]
    found: list[tuple[str | None, ast.AST, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(_ours(alias.name, mods), node, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for alias in node.names:
                sub = f"{name}.{alias.name}" if name else alias.name
                found.append((sub if sub in mods else _ours(name, mods), node, False))
        elif isinstance(node, ast.Call):
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if (called in ("import_module", "__import__") and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.append((_ours(node.args[0].value, mods), node, False))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value.split(":", 1)[0]
            if "." in name and " " not in name and name in mods:
                found.append((name, node, True))
    return [Import(mod, target, rel, node.lineno, ast.unparse(node)[:120], id(node) in inner,
                   by_name) for target, node, by_name in found
            if target is not None and target != mod]


def layer_violations(imports: list[Import]) -> list[str]:
    """One message per import that points up a layer or sideways across packages."""
    bad = []
    for imp in imports:
        src, dst = unit_of(imp.source), unit_of(imp.target)
        if src == dst or dst in MAY_IMPORT[src]:
            continue
        way = "upward" if LEVEL[dst] > LEVEL[src] else (
            "sideways" if LEVEL[dst] == LEVEL[src] else "not allowed")
        what = "names" if imp.by_name else "imports"
        msg = (f"{way}: {imp.source} ({src}) {what} {imp.target} ({dst}) at "
               f"{imp.path}:{imp.line}: {imp.text}")
        if msg not in bad:  # one per statement, not per imported name
            bad.append(msg)
    return bad


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """The import circles: for each strongly connected set of modules, one closed path
    through it (first module repeated at the end), statement imports only."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if not imp.by_name:
            graph.setdefault(imp.source, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    # Tarjan, iterative
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        comps.append(sorted(comp))
    return [_closed_path(graph, set(c)) for c in sorted(comps)]


def _closed_path(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected set."""
    start = min(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(comp)  # pragma: no cover (a strongly connected set always has a cycle)


def describe_cycle(cycle: list[str], imports: list[Import]) -> str:
    """``a -> b -> a`` with where each arrow's import is."""
    where = {}
    for imp in imports:
        if not imp.by_name:
            where.setdefault((imp.source, imp.target), f"{imp.path}:{imp.line}")
    steps = [f"{a} -> {b} ({where.get((a, b), '?')})" for a, b in zip(cycle, cycle[1:])]
    return "circle: " + "; ".join(steps)
