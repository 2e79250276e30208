"""The released EditBench files and BrushNet's copy: names, columns, and the value→category table.

Beside :mod:`analysis.categories` (the vocabularies) because it translates *into* them: the
official release names an item by an ``aos`` key such as ``a=amber_o=vase_s=outdoor`` whose
``a=`` part is an attribute **value** ("amber"), not its type ("color"). The tables below say
which type a value belongs to, and which object type a noun is; a value they do not list is
imported as :data:`~analysis.categories.UNKNOWN` and reported, never guessed.

The importer (``annotation/importers``) and the fixture builder (``inference/build_layouts.py``)
both read their file and column names from here. Plain Python, no imports beyond ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.categories import SCENES, STYLES, UNKNOWN

__all__ = [
    "ATTRIBUTE_VALUE_TYPES",
    "BRUSHNET_KEYS",
    "BRUSHNET_MAPPING",
    "BRUSHNET_MASK_SIZE",
    "OBJECT_NOUN_TYPES",
    "RELEASE_ANNOTATIONS",
    "RELEASE_ID_COLUMN",
    "RELEASE_PROMPT_COLUMNS",
    "Aos",
    "attribute_type_of",
    "count_of",
    "object_type_of",
    "parse_aos",
]

#: source -> the annotation file of the release; images under ``references_<source>/`` and
#: masks under ``masks_<source>/``, both ``<aos>.png``.
RELEASE_ANNOTATIONS: dict[str, str] = {
    "natural": "annotations_natural.csv",
    "generated": "annotations_generated.csv",
}
RELEASE_ID_COLUMN = "aos"
#: release column -> our prompt field (the three EditBench prompt styles).
RELEASE_PROMPT_COLUMNS: dict[str, str] = {
    "prompt_mask-simple": "prompt_mask_simple",
    "prompt_mask-rich": "prompt_mask_rich",
    "prompt_full": "prompt_full_image",
}

#: BrushNet's re-processed copy: ``mapping_file.json`` maps a key to these fields.
BRUSHNET_MAPPING = "mapping_file.json"
BRUSHNET_KEYS: tuple[str, ...] = ("image", "inpainting_mask", "caption")
#: BrushNet's run-length masks are over a 512×512 image (row-major, 1-based starts).
BRUSHNET_MASK_SIZE = 512

_COLORS = (
    "red green blue yellow orange purple pink white black brown grey gray gold golden silver "
    "amber beige crimson cyan magenta maroon navy olive teal turquoise violet indigo ivory "
    "lavender lime tan"
)
_MATERIALS = (
    "wooden wood metal metallic iron steel glass plastic paper cardboard stone marble brick "
    "ceramic porcelain leather fabric woolen wool cotton silk denim rubber concrete clay "
    "bronze copper golden-metal knitted furry fluffy crystal ice straw wicker "
    # the scene world's surface patterns stand in for materials (inference/world/specs.py)
    "plain striped dotted checkered"
)
_SHAPES = (
    "round circular square rectangular triangular oval angular spherical cubic cylindrical "
    "heart-shaped star-shaped curved pointed flat "
    # the scene world's proportions (inference/world/specs.py)
    "regular tall wide"
)
_SIZES = "small big large tiny huge giant medium little enormous miniature"
_COUNT_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_COUNTS = " ".join((*_COUNT_WORDS, *(str(n) for n in range(1, 11))))

#: attribute value (lower case, ``~`` read as a space) -> attribute type.
ATTRIBUTE_VALUE_TYPES: dict[str, str] = {
    **{value: "color" for value in _COLORS.split()},
    **{value: "material" for value in _MATERIALS.split()},
    **{value: "shape" for value in _SHAPES.split()},
    **{value: "size" for value in _SIZES.split()},
    **{value: "count" for value in _COUNTS.split()},
}

_COMMON = (
    "vase cup mug bowl plate bottle chair table lamp book clock bag hat shoe ball car bus "
    "bicycle bike boat dog cat bird horse cow sheep flower tree apple banana orange cake "
    "pillow sofa couch bed box basket phone laptop umbrella bench kite "
    # the scene world's common shapes
    "circle square triangle diamond"
)
_RARE = (
    "gramophone sextant abacus astrolabe harp accordion armadillo pangolin axolotl okapi "
    "sundial zeppelin trilobite narwhal tapir gyroscope "
    # the scene world's rare shapes
    "heart crescent star arrow hexagon cross"
)
_TEXT = "letter letters word words text sign label number digit"

#: object noun (lower case; for several words the whole noun, else its first word) -> type.
OBJECT_NOUN_TYPES: dict[str, str] = {
    **{noun: "common" for noun in _COMMON.split()},
    **{noun: "rare" for noun in _RARE.split()},
    **{noun: "text" for noun in _TEXT.split()},
}

# A part of an aos starts at "<letters>=" after an underscore (or at the start).
_PART = re.compile(r"(?:^|_)([A-Za-z]+)=")


@dataclass(frozen=True)
class Aos:
    """What an ``aos`` key says, as far as it can be read; ``None`` where it says nothing."""

    attribute: str | None  # the attribute value, "~" read as a space: "amber"
    object: str | None  # the object noun: "vase", "letter a"
    scene: str | None  # the scene part as written: "outdoor", "painting"
    regular: bool  # exactly a=…_o=…_s=… with nothing else


def parse_aos(aos: str) -> Aos:
    """Read ``a=<value>_o=<noun>_s=<scene>`` tolerantly.

    Parts are found at ``<letters>=`` after an underscore, so an object value may hold
    underscores only when no ``key=`` follows them. Keys other than ``a``/``o``/``s`` (one
    released file has ``…_o=letter_style=outdoor``) are kept as the scene part when their value
    is a scene or style word, which is what the irregular file evidently means; anything else
    is ignored. ``regular`` tells the caller whether the key had the documented shape.
    """
    matches = list(_PART.finditer(aos))
    parts: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(aos)
        value = aos[match.end() : end].replace("~", " ").strip()
        parts.setdefault(match.group(1), value)
    keys = [m.group(1) for m in matches]
    regular = keys == ["a", "o", "s"] and bool(matches) and matches[0].start() == 0
    scene = parts.get("s")
    if scene is None:
        known = {*SCENES, *STYLES}
        scene = next((v for k, v in parts.items() if k not in "aos" and v in known), None)
    return Aos(
        attribute=parts.get("a") or None,
        object=parts.get("o") or None,
        scene=scene or None,
        regular=regular,
    )


def attribute_type_of(value: str | None) -> str:
    """The attribute type of a value by :data:`ATTRIBUTE_VALUE_TYPES`; ``UNKNOWN`` if unlisted."""
    if not value:
        return UNKNOWN
    return ATTRIBUTE_VALUE_TYPES.get(value.strip().lower(), UNKNOWN)


def count_of(value: str) -> int:
    """The number a count value names ("two", "2"); 1 when it names none."""
    word = value.strip().lower()
    if word.isdigit():
        return int(word)
    return _COUNT_WORDS.index(word) + 1 if word in _COUNT_WORDS else 1


def object_type_of(noun: str | None) -> str:
    """The object type of a noun: the whole noun, then its first word; ``UNKNOWN`` if unlisted."""
    if not noun:
        return UNKNOWN
    words = noun.strip().lower().split()
    if not words:
        return UNKNOWN
    whole = " ".join(words)
    return OBJECT_NOUN_TYPES.get(whole, OBJECT_NOUN_TYPES.get(words[0], UNKNOWN))
