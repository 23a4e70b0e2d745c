"""The house's rules: one import name, rooms with one job, imports that run one way.

An AST walk over every module of ``worlds/``, ``baselines/`` and ``leaderboard/`` (imports inside
functions included, since a lazy import is still a dependency) builds the import graph that the
rules below are checked on. A new import against them fails here, naming the file and the import.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Repository folder -> the package it installs as.
PACKAGES = {"ceaseless": "ceaseless", "worlds": "ceaseless.worlds", "baselines": "ceaseless.baselines",
            "leaderboard": "ceaseless.leaderboard"}
ROOMS = ("harness", "scoring", "board")


def _modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if folder == "ceaseless" and parts:
                continue  # the ceaseless/ folder holds only the package's __init__
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import in ``path`` that names a module of the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from a import b`: b may be a module of a; otherwise the import is of a itself.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        out += [(target, node.lineno) for target in targets if target.split(".")[0] in ("ceaseless", *PACKAGES)]
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _room(name: str) -> str:
    """'worlds', 'baselines', 'harness', 'scoring', 'board', 'leaderboard' (its top modules) or 'ceaseless'."""
    parts = name.split(".")
    if len(parts) >= 3 and parts[1] == "leaderboard" and parts[2] in ROOMS:
        return parts[2]
    return parts[1] if len(parts) > 1 else "ceaseless"


#: Which rooms each room may import (besides itself). The architecture's arrows.
ALLOWED = {
    "ceaseless": {"worlds", "board"},  # `import ceaseless` registers the worlds; ceaseless.load reads a store
    "worlds": set(),
    "baselines": set(),  # reference agents speak only the agent protocol, which they are handed
    "scoring": {"worlds"},  # suite constants (budget labels) only
    "harness": {"ceaseless", "worlds", "scoring"},
    "board": {"ceaseless", "worlds", "scoring", "harness"},  # harness: to run submissions and verification
    "leaderboard": {"ceaseless", "worlds", "baselines", "scoring", "harness", "board"},  # cli and quickstart on top
}


def test_every_import_names_the_installed_package():
    """No module anywhere in the repository imports the folders by their bare names."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if ".venv" in path.parts or "build" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names
                          if n.split(".")[0] in ("worlds", "baselines", "leaderboard")]
    assert not offenders, "\n".join(offenders)


def test_imports_run_the_way_the_architecture_says():
    wrong = []
    for name, imports in GRAPH.items():
        room = _room(name)
        for target, line in imports:
            other = _room(target)
            if other != room and other not in ALLOWED[room]:
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line}: {room} may not import {other} ({target})")
    assert not wrong, "\n".join(wrong)


def test_there_is_no_import_cycle():
    edges = {name: sorted({t for t, _ in imports if t in MODULES and t != name}) for name, imports in GRAPH.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in edges:
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_cycle_check_finds_a_cycle(monkeypatch):
    """The check above can fail: a planted board <-> plots cycle is reported."""
    render, plots = "ceaseless.leaderboard.board.render", "ceaseless.leaderboard.board.plots"
    planted = dict(GRAPH)
    planted[plots] = [*GRAPH[plots], (render, 1)]
    monkeypatch.setitem(globals(), "GRAPH", planted)
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_there_is_no_import_cycle()


def test_leaderboard_is_rooms_with_a_front_door():
    top = sorted(p.name for p in (ROOT / "leaderboard").glob("*.py"))
    assert len(top) <= 4, top
    for room in ROOMS:
        init = ROOT / "leaderboard" / room / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and "imports" in docstring.lower() and "\n" not in docstring, (
            f"{init.relative_to(ROOT)}: a one-line docstring of what it holds and imports")
    too_long = {str(p.relative_to(ROOT)): n for p in (ROOT / "leaderboard").rglob("*.py")
                if (n := len(p.read_text().splitlines())) > 450}
    assert not too_long, too_long


def test_importing_ceaseless_registers_the_worlds_and_stays_light():
    """`import ceaseless` registers every id without importing a world module: it runs in every agent's
    process, and the agent is charged for its start-up."""
    code = ("import sys, ceaseless, gymnasium; "
            "from ceaseless.worlds.registry import WORLD_CLASSES; "
            "assert all(i in gymnasium.registry for i in WORLD_CLASSES); "
            "heavy = [m for m in sys.modules if m != 'ceaseless.worlds.registry' and "
            "m.startswith(('ceaseless.worlds.', 'ceaseless.leaderboard', 'pettingzoo'))]; "
            "assert not heavy, heavy; "
            "env = gymnasium.make('ceaseless/DriftingBandit-v0'); env.reset(seed=0); "
            "assert callable(ceaseless.load)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_every_registered_class_has_its_id():
    from ceaseless.worlds.registry import WORLD_CLASSES, world_class

    assert {world_id: world_class(world_id).id for world_id in WORLD_CLASSES} == {w: w for w in WORLD_CLASSES}


def test_the_wheel_holds_one_top_level_package(tmp_path):
    """`pip install ceaseless` adds `ceaseless` to site-packages and nothing else (PyPI has packages
    called `baselines` and `leaderboard`), with the committed results the board shows."""
    source = tmp_path / "source"  # pip builds in the tree it is given: give it a copy
    source.mkdir()
    for name in ("pyproject.toml", "README.md", *PACKAGES):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("ceaseless-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"ceaseless", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, tops
    for module in ("ceaseless/__init__.py", "ceaseless/worlds/forager.py", "ceaseless/baselines/sarsa_lambda.py",
                   "ceaseless/baselines/deep/stream_q.py", "ceaseless/baselines/deep/sb3.py",
                   "ceaseless/leaderboard/harness/runner.py", "ceaseless/leaderboard/board/shipped.py",
                   "ceaseless/leaderboard/results/baselines/quick-v1/sarsa-lambda.tar.gz",
                   "ceaseless/leaderboard/results/baselines/quick-v2/random.tar.gz"):
        assert module in names, module
    assert not any(name.startswith(("ceaseless/tests", "tests/")) for name in names)
    entry_points = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}"
                                               ".dist-info/entry_points.txt").decode()
    assert "ceaseless = ceaseless.leaderboard.cli:main" in entry_points
