"""The package's structure: layers import only downward, no import circles, no private reach-ins.

The layers, lowest first; a module may import its own layer and the ones below it (``batch`` stands
on the services, and the widgets and magics show it; ``cli`` and ``demo`` are programs). The emulator
stands beside the product: it may use the wire format, transport and services (its push tool is a
client), and nothing of the product imports it but the demo.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mai_widgets"

LAYERS: dict[str, float] = {
    "_version": 0,
    "i18n": 0,
    "errors": 0,
    "wire": 1,
    "transport": 2,
    "auth": 3,
    "services": 4,
    "batch": 4.5,
    "kernel": 5,
    "widgets": 6,
    "magics": 7,
    "emulator": 5,
    "demo": 8,
    "cli": 8,
    "__init__": 9,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "labextension" in path.relative_to(PACKAGE).parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import of the package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            if not target.startswith("mai_widgets"):
                continue
            names = []
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    found.append((f"{target}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names or (target in MODULES and len(names) == len(node.names)):
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend(
                (alias.name, [], node.lineno) for alias in node.names if alias.name.startswith("mai_widgets.")
            )
    return found


def _graph() -> dict[str, set[str]]:
    return {
        module: {target for target, _, _ in _imports(module, path) if target in MODULES and target != module}
        for module, path in MODULES.items()
    }


def test_every_module_is_in_a_layer() -> None:
    assert {_layer(m) for m in MODULES} <= set(LAYERS)


def test_layers_import_only_downward() -> None:
    upward = []
    for module, path in MODULES.items():
        if module == "mai_widgets":
            continue
        for target, _, line in _imports(module, path):
            if target == "mai_widgets":
                upward.append(f"{module}:{line} imports the package face")
            elif LAYERS[_layer(target)] > LAYERS[_layer(module)] or (
                _layer(target) == "emulator" and _layer(module) not in {"emulator", "demo"}
            ):
                upward.append(f"{module}:{line} -> {target}")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    graph = _graph()
    sys.setrecursionlimit(max(1000, sys.getrecursionlimit()))
    circles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_module_takes_another_modules_private_names() -> None:
    private = []
    for module, path in MODULES.items():
        for target, names, line in _imports(module, path):
            private += [f"{module}:{line} takes {target}.{n}" for n in names if _is_private(n)]
        imported_modules = {
            alias.asname or alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module is not None
            for alias in node.names
            if f"{_resolve(module, path, node)}.{alias.name}" in MODULES
        }
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and _is_private(node.attr)
            ):
                private.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not private, "\n".join(private)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_names_defined(tree: ast.AST) -> set[str]:
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    return {name for name in defined if _is_private(name)}


def test_no_object_reaches_into_a_private_member_of_another_modules_class() -> None:
    """``other._helper()`` where ``_helper`` is defined by another module of the package."""
    trees = {module: ast.parse(path.read_text()) for module, path in MODULES.items()}
    own = {module: _private_names_defined(tree) for module, tree in trees.items()}
    elsewhere: dict[str, set[str]] = {}
    for module, names in own.items():
        for name in names:
            elsewhere.setdefault(name, set()).add(module)
    reach_ins = [
        f"{module}:{node.lineno} {ast.unparse(node.value)}.{node.attr} (defined in {sorted(elsewhere[node.attr])})"
        for module, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
        and _is_private(node.attr)
        and node.attr not in own[module]
        and node.attr in elsewhere
    ]
    assert not reach_ins, "\n".join(reach_ins)


@pytest.mark.parametrize(
    "core",
    [
        "mai_widgets.errors",
        "mai_widgets.wire",
        "mai_widgets.transport",
        "mai_widgets.auth",
        "mai_widgets.services",
    ],
)
def test_the_core_imports_no_jupyter(core: str) -> None:
    bad = []
    for module, path in MODULES.items():
        if not module.startswith(core):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            bad += [
                f"{module}:{node.lineno} {n}"
                for n in names
                if n.split(".")[0] in {"ipywidgets", "IPython", "ipykernel", "comm"}
            ]
    assert not bad, bad


def test_the_readme_module_table_names_every_module() -> None:
    """A row names a module by its path, or by its file name after a first path in the same row."""
    readme = (PACKAGE.parent / "README.md").read_text()
    named: set[str] = set()
    for line in readme.splitlines():
        if not line.startswith("| `mai_widgets/"):
            continue
        first_cell = line.split("|")[1]
        paths = [cell.strip().strip("`") for cell in first_cell.split(",")]
        folder = paths[0].rsplit("/", 1)[0]
        named |= {p if "/" in p else f"{folder}/{p}" for p in paths}
    files = {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if "labextension" not in path.parts
        and (path.name != "__init__.py" or path.parent == PACKAGE)
        and path.name != "_version.py"
    }
    assert sorted(files - named) == []
