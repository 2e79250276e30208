"""The Django side of the EditBench vocabularies: ``choices`` for model fields.

The vocabularies themselves are declared once, in :mod:`analysis.categories`; they are
re-exported here because the models, services and serializers refer to them as
``annotation.categories.X``.
"""

from __future__ import annotations

from analysis.categories import (
    ATTRIBUTE_TYPES,
    CATEGORY_FIELDS,
    IMPORTED_CATEGORY_FIELDS,
    OBJECT_TYPES,
    PROMPT_FIELDS,
    PROMPT_TYPES,
    SCENES,
    SOURCES,
    STYLES,
    UNKNOWN,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "CATEGORY_FIELDS",
    "IMPORTED_CATEGORY_FIELDS",
    "OBJECT_TYPES",
    "PROMPT_FIELDS",
    "PROMPT_TYPES",
    "SCENES",
    "SOURCES",
    "STYLES",
    "UNKNOWN",
    "choices",
]


def choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    """Django ``choices`` with a readable label for each value."""
    return [(v, v.replace("_", " ").capitalize()) for v in values]
