"""No import circle anywhere in ``scalinglab`` (issue 14).

The graph is read from the source with :mod:`ast`, not by importing: every ``import`` and
``from ... import`` of every module is an edge, **including imports inside functions** (a
circle closed by a function-level import is still a circle: the two modules cannot be
understood, tested or loaded one without the other). Relative imports are resolved.

Decided: imports inside an ``if TYPE_CHECKING:`` block are left out. They never run, they
exist for annotations only, and ``from __future__ import annotations`` keeps those lazy.

An edge goes to the module named (``from pkg import mod`` to ``pkg.mod`` when that is a
module, else to ``pkg``); a module's parent packages are not added, since every submodule
of a package would otherwise close a circle with the package's ``__init__``.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import scalinglab

ROOT = Path(scalinglab.__file__).resolve().parent


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` at any depth, except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            for target in targets:
                # `import a.b.c` names a.b.c; keep the longest prefix that is a module here.
                parts = target.split(".")
                while parts and ".".join(parts) not in modules:
                    parts.pop()
                if parts and ".".join(parts) != name:
                    graph[name].add(".".join(parts))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (``[a, b, ..., a]``), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


def test_scalinglab_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, "scalinglab")
    assert len(graph) > 50  # every module was read
    assert {"scalinglab.fitting._single", "scalinglab.fitting._ensemble_fit"} <= graph["scalinglab.fitting._fit"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # A circle closed by an import inside a function is found.
        (
            {
                "__init__.py": "",
                "a.py": "from pkg.b import g\n",
                "b.py": "def g():\n    from pkg import a\n    return a\n",
            },
            {"pkg.a", "pkg.b"},
        ),
        # Relative imports are resolved, from a module and from a package's __init__.
        (
            {
                "__init__.py": "from .sub import x\n",
                "sub/__init__.py": "from .. import c\nx = 1\n",
                "c.py": "from .sub import x\n",
            },
            {"pkg.sub", "pkg.c"},
        ),
    ],
)
def test_cycles_are_found(tmp_path: Path, files: dict[str, str], expected: set[str]) -> None:
    _write(tmp_path / "pkg", files)
    cycle = find_cycle(import_graph(tmp_path / "pkg", "pkg"))
    assert cycle is not None and cycle[0] == cycle[-1]
    assert expected <= set(cycle)


def test_type_checking_imports_and_parent_packages_make_no_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "from pkg.a import f\nfrom pkg.b import g\n",
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import g\ndef f(): ...\n",
            "b.py": "from pkg.a import f\ndef g(): ...\n",
        },
    )
    graph = import_graph(tmp_path / "pkg", "pkg")
    assert graph["pkg.a"] == set() and graph["pkg.b"] == {"pkg.a"}
    assert find_cycle(graph) is None
