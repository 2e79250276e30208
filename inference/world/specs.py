"""The world's vocabulary and specs: what a scene and its objects are (not how they are drawn).

See :mod:`inference.world` for the world as a whole and its geometry contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analysis.categories import ATTRIBUTE_TYPES, OBJECT_TYPES, SCENES, STYLES

# OBJECT_TYPES, ATTRIBUTE_TYPES, SCENES and STYLES come from analysis.categories, the one home
# of the EditBench vocabularies; they are part of the world's API (re-exported by the package).
__all__ = ["ATTRIBUTE_TYPES", "OBJECT_TYPES", "SCENES", "STYLES"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
Box = tuple[int, int, int, int]
RGB = tuple[int, int, int]

# --- Categories ------------------------------------------------------------------------------

COMMON_NOUNS: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
RARE_NOUNS: tuple[str, ...] = ("heart", "crescent", "star", "arrow", "hexagon", "cross")
# Text objects are named "letter X" or "word XYZ"; the first word is the head noun (it takes the
# plural), the rest is the literal text drawn.
TEXT_NOUNS: tuple[str, ...] = (
    "letter A",
    "letter B",
    "letter E",
    "letter K",
    "letter R",
    "letter S",
    "word CAT",
    "word SUN",
    "word BOX",
    "word MAP",
)
NOUNS: dict[str, tuple[str, ...]] = {
    "common": COMMON_NOUNS,
    "rare": RARE_NOUNS,
    "text": TEXT_NOUNS,
}

# Saturated or extreme colours, chosen far from the muted backdrop tones below.
COLOR_RGB: dict[str, RGB] = {
    "red": (214, 34, 34),
    "green": (36, 160, 60),
    "blue": (34, 78, 214),
    "yellow": (246, 214, 32),
    "orange": (246, 128, 22),
    "purple": (128, 48, 178),
    "pink": (246, 128, 190),
    "white": (248, 248, 248),
    "black": (22, 22, 22),
    "brown": (116, 66, 28),
}
COLORS: tuple[str, ...] = tuple(COLOR_RGB)
MATERIALS: tuple[str, ...] = ("plain", "striped", "dotted", "checkered")
SIZES: tuple[str, ...] = ("small", "medium", "large")
SHAPES: tuple[str, ...] = ("regular", "tall", "wide")
COUNTS: tuple[int, ...] = (1, 2, 3)

BACKDROPS: dict[str, tuple[str, ...]] = {
    "indoor": ("table", "window"),
    "outdoor": ("hills", "trees"),
}

# Size of one copy as the square root of its box area, in canvas fractions. Area rather than the
# longest side, so that a stretched object or a long word is as "large" as a square one; steps of
# about 1.55× keep the three sizes clearly apart.
_SIZE_EXTENT: dict[str, float] = {"small": 0.09, "medium": 0.14, "large": 0.215}
_MAX_ROW = 0.8  # copies wider than this in a row are stacked in a column instead
# Aspect (width / height) multiplier of the shape modifier, applied to the natural aspect.
_STRETCH: dict[str, float] = {"regular": 1.0, "tall": 1 / 1.8, "wide": 1.8}

MASK_MARGIN = 0.05  # edit mask always covers the target region dilated by this (canvas fraction)
MASK_SPREAD = 0.06  # ... and wanders at most this much further out
_DISTRACTOR_GAP = 0.02  # extra clearance between distractors and the edit-mask zone

_NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}
_SIZE_WORDS = {"small": "small", "medium": "medium-sized", "large": "large"}
_BACKDROP_PHRASES = {
    "table": "in a room with a table",
    "window": "in a room with a window",
    "hills": "in front of sunny hills",
    "trees": "in a meadow with trees",
}

# Independent random streams derived from one scene seed, so that e.g. leaving the target out
# never shifts the random numbers used for the backdrop.
_STREAM_SAMPLE, _STREAM_BACKDROP, _STREAM_MASK, _STREAM_OBJECT = 0, 1, 2, 3


# --- Specs -----------------------------------------------------------------------------------


def _check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {tuple(allowed)!r}")


@dataclass(frozen=True)
class ObjectSpec:
    """One object of a scene: what it is and how it looks (not where it is)."""

    noun: str  # e.g. "circle", "heart", "letter A", "word CAT"
    object_type: str  # one of OBJECT_TYPES; the noun must belong to NOUNS[object_type]
    color: str  # one of COLORS
    material: str  # one of MATERIALS: the surface pattern, drawn in a shade of `color`
    size: str  # one of SIZES: the square root of one copy's area
    shape: str  # one of SHAPES: aspect-ratio stretch of each copy
    count: int  # one of COUNTS: copies side by side

    def __post_init__(self) -> None:
        _check_choice("object_type", self.object_type, OBJECT_TYPES)
        _check_choice(f"{self.object_type} noun", self.noun, NOUNS[self.object_type])
        _check_choice("color", self.color, COLORS)
        _check_choice("material", self.material, MATERIALS)
        _check_choice("size", self.size, SIZES)
        _check_choice("shape", self.shape, SHAPES)
        _check_choice("count", self.count, COUNTS)


@dataclass(frozen=True)
class SceneSpec:
    """A whole scene. Centres are (x, y) fractions of the canvas, one per object."""

    scene: str  # one of SCENES
    backdrop: str  # one of BACKDROPS[scene]
    style: str  # one of STYLES
    attribute_type: str  # one of ATTRIBUTE_TYPES: the target attribute the item tests
    target: ObjectSpec
    target_center: tuple[float, float]
    distractors: tuple[ObjectSpec, ...]
    distractor_centers: tuple[tuple[float, float], ...]
    seed: int  # seeds every random choice made while rendering and masking

    def __post_init__(self) -> None:
        _check_choice("scene", self.scene, SCENES)
        _check_choice(f"{self.scene} backdrop", self.backdrop, BACKDROPS[self.scene])
        _check_choice("style", self.style, STYLES)
        _check_choice("attribute_type", self.attribute_type, ATTRIBUTE_TYPES)
        _check_seed(self.seed)
        for center in (self.target_center, *self.distractor_centers):
            if len(center) != 2 or not all(0.0 <= v <= 1.0 for v in center):
                raise ValueError(f"centres are (x, y) canvas fractions in [0, 1], got {center!r}")
        if len(self.distractor_centers) != len(self.distractors):
            raise ValueError(
                f"{len(self.distractors)} distractors but "
                f"{len(self.distractor_centers)} distractor centres"
            )


@dataclass(frozen=True)
class ObjectRender:
    """Where one object lies on a canvas: exact pixel mask and tight boxes."""

    spec: ObjectSpec
    is_target: bool
    box: Box  # tight box around all copies, exclusive ends
    copy_boxes: tuple[Box, ...]  # tight box of each copy, left to right
    mask: BoolArray  # H×W


@dataclass(frozen=True)
class Rendered:
    """A rendered scene. ``target`` is given even when the target was left out of the image."""

    image: npt.NDArray[np.uint8]  # H×W×3
    objects: tuple[ObjectRender, ...]  # the objects drawn, the target first when drawn
    target: ObjectRender

    @property
    def target_mask(self) -> BoolArray:
        """H×W mask of the target's pixels (where it is, or would be)."""
        return self.target.mask


@dataclass(frozen=True)
class Captions:
    """The three EditBench prompt styles for one scene's target."""

    mask_simple: str  # the object plus the attribute under test
    mask_rich: str  # the object with all of its attributes
    full_image: str  # the whole scene


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def _check_canvas(canvas: object) -> None:
    if isinstance(canvas, bool) or not isinstance(canvas, int) or canvas < 16:
        raise ValueError(f"canvas must be an int of at least 16 pixels, got {canvas!r}")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])
