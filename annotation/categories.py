"""The category vocabularies of EditBench, shared by models, importer and services.

Kept Django-free and in one place so that a manifest, the database check
constraints and the question builder can never disagree about a value.
"""

from __future__ import annotations

SOURCES = ("generated", "natural")
OBJECT_TYPES = ("common", "rare", "text")
ATTRIBUTE_TYPES = ("material", "color", "shape", "size", "count")
SCENES = ("indoor", "outdoor")
STYLES = ("realistic", "painting")
PROMPT_TYPES = ("mask_simple", "mask_rich", "full_image")

# Which manifest column / model field holds each category vocabulary.
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "source": SOURCES,
    "object_type": OBJECT_TYPES,
    "attribute_type": ATTRIBUTE_TYPES,
    "scene": SCENES,
    "style": STYLES,
}

PROMPT_FIELDS: dict[str, str] = {
    "mask_simple": "prompt_mask_simple",
    "mask_rich": "prompt_mask_rich",
    "full_image": "prompt_full_image",
}


def choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    """Django ``choices`` with a readable label for each value."""
    return [(v, v.replace("_", " ").capitalize()) for v in values]
