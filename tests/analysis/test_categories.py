"""Tests for analysis.categories: the one home of the EditBench vocabularies."""

from __future__ import annotations

import ast
from pathlib import Path

from analysis import categories as cat
from annotation import categories as annotation_categories
from inference import build_benchmark, world


def test_the_module_imports_nothing_so_every_layer_may_depend_on_it() -> None:
    tree = ast.parse(Path(cat.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported == ["__future__"]


def test_the_manifest_columns_split_into_required_and_optional_without_overlap() -> None:
    required, optional = cat.MANIFEST_REQUIRED_COLUMNS, cat.MANIFEST_OPTIONAL_COLUMNS
    assert not set(required) & set(optional)
    assert sorted(required + optional) == sorted(cat.MANIFEST_COLUMNS)
    assert len(set(cat.MANIFEST_COLUMNS)) == len(cat.MANIFEST_COLUMNS)


def test_the_required_columns_keep_the_manifest_order() -> None:
    assert cat.MANIFEST_REQUIRED_COLUMNS == (
        "id",
        "image",
        "mask",
        "source",
        "prompt_mask_simple",
        "prompt_mask_rich",
        "prompt_full_image",
        "object_type",
        "attribute_type",
        "scene",
        "style",
        "target",
    )
    assert cat.MANIFEST_OPTIONAL_COLUMNS == ("reference", "seed")


def test_every_category_and_prompt_field_is_a_required_manifest_column() -> None:
    fields = [*cat.CATEGORY_FIELDS, *cat.PROMPT_FIELDS.values()]
    assert all(field in cat.MANIFEST_REQUIRED_COLUMNS for field in fields)
    assert tuple(cat.PROMPT_FIELDS) == cat.PROMPT_TYPES


def test_the_app_the_world_and_the_builder_share_the_very_same_tuples() -> None:
    for name in ("SOURCES", "OBJECT_TYPES", "ATTRIBUTE_TYPES", "SCENES", "STYLES", "PROMPT_TYPES"):
        assert getattr(annotation_categories, name) is getattr(cat, name)
    for name in ("OBJECT_TYPES", "ATTRIBUTE_TYPES", "SCENES", "STYLES"):
        assert getattr(world, name) is getattr(cat, name)
    assert build_benchmark.MANIFEST_KEYS == cat.MANIFEST_COLUMNS
