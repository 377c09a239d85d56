"""The floor plan, read from the code: no import cycle, no import that runs upward.

Every ``import`` of the package is read from the source (module level and inside
functions alike: an import dodged into a function is still a dependency), resolved to the
file it loads (a name taken from a package's face, ``from mdesign.kb import X``, resolves
to the module the face re-exports it from), and checked against the floors below, top
first. A module may import its own floor and the floors under it; within a floor, no two
modules may import each other, directly or round a longer loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mdesign"

# Top first. Packages on one floor may use each other, but never in a loop.
FLOORS: list[set[str]] = [
    {"cli", "benchmarks", "examples", "integrations"},
    {"refinement"},
    {"generation"},
    {"predictors"},
    {"training", "tasks"},
    {"models"},
    {"kb"},
    {"cypher"},
    {"core", "spaces"},
]

# Imports that are known to run against the plan, each with why it is still there.
# Keep it short; an entry that no longer matches an import fails the test (below).
ALLOWED: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    skip = {"tests", ".git", ".ci", "scripts", "docs"}
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in skip or any(p.startswith(".") for p in rel.parts):
            continue
        if "results" in rel.parts:
            continue
        out[_module_name(path)] = path
    return out


MODULES = _sources()


def _floor(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for i, floor in enumerate(FLOORS):
        if top in floor:
            return i
    return -1  # the package's own face (mdesign/__init__.py) and loose files


def _resolve_relative(module: str, level: int, name: str | None) -> str:
    is_pkg = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _reexports(face: str) -> dict[str, str]:
    """name -> module for the names a package's ``__init__.py`` imports from its modules."""
    path = MODULES.get(face)
    if path is None or path.name != "__init__.py":
        return {}
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            src = (_resolve_relative(face, node.level, node.module) if node.level
                   else node.module or "")
            for alias in node.names:
                out[alias.asname or alias.name] = src
    return out


def _target(module: str, name: str | None = None) -> str | None:
    """The package module that ``from module import name`` (or ``import module``) loads."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    if name is not None:
        via = _reexports(module).get(name)
        if via is not None and via != module and via in MODULES:
            return _target(via, None) or via
    return module if module in MODULES else None


def imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported module of the package, line) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    t = _target(alias.name)
                    if t:
                        yield t, node.lineno
        elif isinstance(node, ast.ImportFrom):
            src = (_resolve_relative(module, node.level, node.module) if node.level
                   else node.module or "")
            if src.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                t = _target(src, alias.name)
                if t:
                    yield t, node.lineno


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for t, _ in imports(m):
            if t != m and not (MODULES[m].name == "__init__.py" and t.startswith(m + ".")):
                graph[m].add(t)  # a face handing on its own modules is not a dependency
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def upward() -> list[tuple[str, str, int]]:
    out = []
    for m in MODULES:
        fm = _floor(m)
        for t, line in imports(m):
            ft = _floor(t)
            if fm >= 0 and ft >= 0 and ft < fm:  # a lower floor (larger index) reaching up
                out.append((m, t, line))
    return out


def test_every_module_has_a_floor() -> None:
    loose = [m for m in MODULES if _floor(m) < 0 and m != PACKAGE]
    assert not loose, f"modules on no floor (add their package to FLOORS): {loose}"


def test_no_import_cycle() -> None:
    found = [c for c in cycles(_graph())
             if not all((a, b) in ALLOWED for a in c for b in c if a != b)]
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_import_runs_upward() -> None:
    found = sorted({f"{m}:{line} imports {t}" for m, t, line in upward()
                    if (m, t) not in ALLOWED})
    assert not found, "imports that run upward against the floors:\n" + "\n".join(found)


def test_allow_list_is_not_stale() -> None:
    present = {(m, t) for m in MODULES for t, _ in imports(m)}
    stale = [k for k in ALLOWED if k not in present]
    assert not stale, f"allow-list entries that no longer match an import: {stale}"


def test_the_reader_sees_in_function_imports(tmp_path: Path) -> None:
    """The reader is no stronger than what it parses: an import inside a function body
    counts (the check would be blind to the dodges it exists to catch otherwise)."""
    assert any(t == "mdesign.cypher" for t, _ in imports("mdesign.kb.knowledge_base"))
    src = "def f():\n    from mdesign.kb import settings\n"
    found = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)]
    assert found and found[0].module == "mdesign.kb"


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_faces_stay_light_and_complete() -> None:
    """Importing the package faces (and the command line) loads no torch; every name a
    face lists resolves, the torch-based ones on first use."""
    import subprocess
    import sys

    code = ("import sys, importlib\n"
            "faces = ['mdesign.core', 'mdesign.kb', 'mdesign.refinement', 'mdesign.training',"
            " 'mdesign.tasks', 'mdesign.predictors', 'mdesign.generation', 'mdesign.cli.main']\n"
            "mods = [importlib.import_module(f) for f in faces]\n"
            "assert 'torch' not in sys.modules, 'a face imports torch'\n"
            "for m in mods:\n"
            "    for n in getattr(m, '__all__', []):\n"
            "        getattr(m, n)\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
