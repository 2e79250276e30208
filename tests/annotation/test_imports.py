"""The app's layers, read from the source: views/apis/tasks/admin/commands → services →
selectors → models, and no import circle (function bodies included) but the sanctioned one."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "annotation"
# The one import inside a function the project allows: the on-commit enqueue of a Celery task.
ENQUEUE = ("annotation.services.generation", "annotation.tasks")
API_LAYER = ("annotation.apis", "annotation.views", "annotation.serializers", "annotation.admin")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    in_function: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted(APP.rglob("*.py"))
        if "migrations" not in path.relative_to(APP).parts
    }


def _imports() -> list[Import]:
    modules = _modules()
    found: list[Import] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_function = {
            id(node)
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(function)
        }
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from package import module" imports the module; anything else the package.
                targets = [
                    f"{node.module}.{alias.name}"
                    if f"{node.module}.{alias.name}" in modules
                    else node.module
                    for alias in node.names
                ]
            for target in targets:
                if target in modules and target != name:
                    found.append(Import(name, target, id(node) in in_function))
    return found


def _circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges.get(module, ()):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = set()
            while True:
                other = stack.pop()
                component.add(other)
                if other == module:
                    break
            if len(component) > 1:
                circles.append(component)

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return circles


def test_the_import_reader_sees_the_app() -> None:
    imports = _imports()
    assert Import("annotation.views", "annotation.services.assignments", False) in imports
    assert Import(*ENQUEUE, True) in imports


def test_no_import_circle_but_the_enqueue() -> None:
    edges: dict[str, set[str]] = {}
    for i in _imports():
        if (i.importer, i.imported) != ENQUEUE:
            edges.setdefault(i.importer, set()).add(i.imported)
    assert _circles(edges) == []


def test_no_app_import_hides_in_a_function_but_the_enqueue() -> None:
    hidden = {(i.importer, i.imported) for i in _imports() if i.in_function}
    assert hidden == {ENQUEUE}


def test_selectors_read_models_only_and_never_the_services() -> None:
    upward = [
        i
        for i in _imports()
        if i.importer.startswith("annotation.selectors")
        and (
            i.imported.startswith("annotation.services")
            or i.imported in (*API_LAYER, "annotation.tasks")
        )
    ]
    assert upward == []


def test_services_never_import_the_api_layer() -> None:
    upward = [
        i
        for i in _imports()
        if i.importer.startswith("annotation.services")
        and (i.imported in API_LAYER or (i.imported == "annotation.tasks" and not i.in_function))
    ]
    assert upward == []


def test_the_models_import_neither_services_nor_selectors() -> None:
    upward = [
        i
        for i in _imports()
        if i.importer == "annotation.models"
        and i.imported.startswith(("annotation.services", "annotation.selectors"))
    ]
    assert upward == []
