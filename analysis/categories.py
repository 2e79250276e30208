"""The EditBench vocabularies: category values, prompt types and manifest columns.

The one place they are declared. The Django app (models, check constraints, importer,
serializers), the analysis tables, the scene world and the benchmark builder all import them
from here, so that a manifest, the database, the world generator and the report can never
disagree about a value. Plain Python, no imports: every layer may depend on it.

The order of each tuple is the report order (and the order the world generator draws from).
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTE_TYPES",
    "CATEGORY_FIELDS",
    "IMPORTED_CATEGORY_FIELDS",
    "MANIFEST_COLUMNS",
    "MANIFEST_OPTIONAL_COLUMNS",
    "MANIFEST_REQUIRED_COLUMNS",
    "OBJECT_TYPES",
    "PROMPT_FIELDS",
    "PROMPT_TYPES",
    "SCENES",
    "SOURCES",
    "STYLES",
    "UNKNOWN",
]

SOURCES: tuple[str, ...] = ("generated", "natural")
OBJECT_TYPES: tuple[str, ...] = ("common", "rare", "text")
ATTRIBUTE_TYPES: tuple[str, ...] = ("material", "color", "shape", "size", "count")
SCENES: tuple[str, ...] = ("indoor", "outdoor")
STYLES: tuple[str, ...] = ("realistic", "painting")
PROMPT_TYPES: tuple[str, ...] = ("mask_simple", "mask_rich", "full_image")

#: Which manifest column / model field holds each category vocabulary.
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "source": SOURCES,
    "object_type": OBJECT_TYPES,
    "attribute_type": ATTRIBUTE_TYPES,
    "scene": SCENES,
    "style": STYLES,
}

#: The value an imported item gets where its source cannot place it in a category (the
#: released EditBench files name attribute *values*, not types; BrushNet's copy names none).
#: Never drawn by the world generator and never accepted in our own manifest.
UNKNOWN = "unknown"

#: What the database accepts per category field: the vocabulary and ``UNKNOWN``.
IMPORTED_CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    column: (*values, UNKNOWN) for column, values in CATEGORY_FIELDS.items()
}

#: Prompt type -> the manifest column / model field holding that prompt.
PROMPT_FIELDS: dict[str, str] = {
    "mask_simple": "prompt_mask_simple",
    "mask_rich": "prompt_mask_rich",
    "full_image": "prompt_full_image",
}

#: Every column of a benchmark manifest, in the order the benchmark builder writes them.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "id",
    "image",
    "mask",
    "reference",
    "source",
    *PROMPT_FIELDS.values(),
    "object_type",
    "attribute_type",
    "scene",
    "style",
    "target",
    "seed",
)
#: Columns a manifest row may leave out: the reference image and the world seed.
MANIFEST_OPTIONAL_COLUMNS: tuple[str, ...] = ("reference", "seed")
#: Columns every manifest row must have, in :data:`MANIFEST_COLUMNS` order.
MANIFEST_REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    column for column in MANIFEST_COLUMNS if column not in MANIFEST_OPTIONAL_COLUMNS
)

#: Every level of every category column, in report order. Pass as ``levels=`` to get a row
#: (with ``n == 0``) for a category the data does not cover.
CATEGORY_LEVELS: dict[str, tuple[str, ...]] = {
    "prompt_type": PROMPT_TYPES,
    "object_type": OBJECT_TYPES,
    "attribute_type": ATTRIBUTE_TYPES,
    "scene": SCENES,
    "style": STYLES,
    "source": SOURCES,
}
