"""The package's layers, kept by walking its import graph (docs/design.md, "The layers").

Imports point down only: the engine imports nothing of the package above it, the drivers
only the engine, the web layer the drivers and the engine, and so on. Imports made only
for the type checker (under ``if TYPE_CHECKING:``) are not run and do not count. A new
top-level module or folder must be given a layer here, so that the choice is made, not
drifted into.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

PACKAGE = "redis_session_sets"
# Lower layers first; a module may import its own layer and those before it.
LAYERS: list[tuple[str, set[str]]] = [
    ("engine", {"_engine"}),
    ("drivers", {"_drivers"}),
    ("web", {"_web"}),
    ("public names", {""}),  # redis_session_sets/__init__.py
    ("adapters", {"fastapi", "flask", "starlette", "django", "litestar"}),
    ("apps", {"_cli", "demo", "__main__"}),
]
RANK = {unit: rank for rank, (_, units) in enumerate(LAYERS) for unit in units}
ROOT = Path(str(resources.files(PACKAGE)))


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """The top-level module or folder of the package that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that runs on import (or later), without ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if is_type_checking_block(node):
            continue
        yield node
        yield from runtime_nodes(node)


def imports_in(source: str, name: str, package: str, modules: set[str]) -> set[str]:
    """The package's modules that the module ``name`` (in ``package``) imports at run time."""
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from . import csrf` imports a module; `from .x import y` imports from x.
            targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    graph = {}
    for path in paths:
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        graph[name] = imports_in(path.read_text(encoding="utf-8"), name, package, modules)
    return graph


def test_every_part_of_the_package_has_a_layer() -> None:
    units = {unit_of(module) for module in import_graph()}
    assert units - RANK.keys() == set(), "give each new module or folder a layer in LAYERS"


def test_imports_point_down_only() -> None:
    upward = [
        f"{module} ({LAYERS[RANK[unit_of(module)]][0]}) imports {imported} "
        f"({LAYERS[RANK[unit_of(imported)]][0]})"
        for module, imported_modules in import_graph().items()
        for imported in sorted(imported_modules)
        if RANK[unit_of(imported)] > RANK[unit_of(module)]
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


MODULES = {f"{PACKAGE}._web.tokens", f"{PACKAGE}._engine.core", f"{PACKAGE}._engine.keys", PACKAGE}


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("from ._web import tokens", PACKAGE, f"{PACKAGE}._web.tokens"),
        ("from .._engine.core import StoreCore", f"{PACKAGE}._web", f"{PACKAGE}._engine.core"),
        ("from .. import AsyncStore", f"{PACKAGE}._web", PACKAGE),
        ("import redis_session_sets._engine.keys", PACKAGE, f"{PACKAGE}._engine.keys"),
        ("def f():\n    from ._web.tokens import mint_token", PACKAGE, f"{PACKAGE}._web.tokens"),
    ],
)
def test_the_walker_sees_each_form_of_import(source: str, package: str, expected: str) -> None:
    """The checks above are only as good as the walker: each import form is resolved."""
    assert imports_in(source, f"{package}.probe", package, MODULES) == {expected}


def test_type_checking_imports_do_not_count() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .._web import tokens\n"
    assert imports_in(source, f"{PACKAGE}._engine.probe", f"{PACKAGE}._engine", MODULES) == set()
