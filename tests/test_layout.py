"""The house rules of the code base that no linter checks for us: file and function sizes, and
no import circles among project modules (import-linter checks the layers; see pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotation", "analysis", "inference", "config")
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
# A bench script's main() is a script: argument parsing, the run and the printed table in one
# reading order; bench/analysis_speed.py's synthesise() draws a whole synthetic study from one
# generator in one pass, and its draw order is what makes the recorded figures reproducible.
# Everything else keeps to the limits.
FUNCTION_EXCEPTIONS = {("bench", "main"), ("bench", "synthesise")}
# The only import inside a function that closes a circle: services enqueue their Celery task on
# commit (tasks import services, so services may import tasks only at call time).
SANCTIONED_CYCLE_EDGES = {("annotation.services.generation", "annotation.tasks")}


def _sources() -> list[Path]:
    out = []
    for top in (*PACKAGES, "bench", "tests"):
        out += [p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts]
    return sorted(out)


def test_no_project_file_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sources()
        if (n := p.read_text().count("\n")) > MAX_FILE_LINES
    }
    assert not long, long


def test_no_function_is_over_80_lines() -> None:
    long = []
    for p in _sources():
        top = p.relative_to(ROOT).parts[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES and (top, node.name) not in FUNCTION_EXCEPTIONS:
                    long.append((str(p.relative_to(ROOT)), node.name, n))
    assert not long, long


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def test_there_is_no_import_circle_among_project_modules(graph: grimp.ImportGraph) -> None:
    for a, b in SANCTIONED_CYCLE_EDGES:
        if graph.direct_import_exists(importer=a, imported=b):
            graph.remove_import(importer=a, imported=b)
    circles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                circles.append((module, imported))
    assert not circles, circles
