"""The synthetic scene world: objects, attributes, scenes, captions and edit masks.

A scene is a backdrop (``indoor``: wall and floor with a table or a window; ``outdoor``: sky and
ground with hills or trees) drawn in one of two styles (``realistic``: smooth gradients and soft
shadows; ``painting``: directional brush-stroke texture and slightly posterized colours), plus
one *target* object and one to three *distractors*. Every object has a type (``common`` shape,
``rare`` shape or ``text``), a colour, a material (surface pattern), a size, a shape modifier
(aspect-ratio stretch) and a count (copies side by side).

Everything is a pure function of a :class:`SceneSpec`: positions are stored as fractions of the
canvas, so one spec renders the same scene at any square canvas size, and every random choice made
while drawing comes from a ``numpy.random.Generator`` seeded from ``spec.seed``. The same spec
therefore gives byte-identical pixels on every call.

Geometry contract (what the benchmark and the mask policies rely on):

- Boxes are ``(x0, y0, x1, y1)`` in pixels with exclusive ends, so ``mask[y0:y1, x0:x1]`` holds
  every pixel of the object and each edge row/column of the box holds at least one of them.
- :func:`edit_mask` contains the target's region (the box around all of its copies, dilated by
  ``MASK_MARGIN`` of the canvas) and stays within ``MASK_MARGIN + MASK_SPREAD`` of it. Distractors
  are placed outside that zone, so the edit mask never touches them.
- Rendering with and without the target differs only inside the target's region dilated by less
  than ``MASK_MARGIN`` (the object and its soft shadow), hence only inside the edit mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from analysis.categories import ATTRIBUTE_TYPES, OBJECT_TYPES, SCENES, STYLES

__all__ = [
    "ATTRIBUTE_TYPES",
    "BACKDROPS",
    "COLORS",
    "COLOR_RGB",
    "COMMON_NOUNS",
    "COUNTS",
    "MASK_MARGIN",
    "MASK_SPREAD",
    "MATERIALS",
    "NOUNS",
    "OBJECT_TYPES",
    "RARE_NOUNS",
    "SCENES",
    "SHAPES",
    "SIZES",
    "STYLES",
    "TEXT_NOUNS",
    "Captions",
    "ObjectRender",
    "ObjectSpec",
    "Rendered",
    "SceneSpec",
    "captions",
    "edit_mask",
    "render",
    "sample_scene",
    "target_dict",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
Box = tuple[int, int, int, int]
RGB = tuple[int, int, int]

# --- Categories ------------------------------------------------------------------------------

# OBJECT_TYPES, ATTRIBUTE_TYPES, SCENES and STYLES come from analysis.categories (imported
# above), the one home of the EditBench vocabularies; they stay part of this module's API.

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


# --- Layout (canvas fractions) ---------------------------------------------------------------


def _text_of(noun: str) -> str:
    return noun.split(" ", 1)[1]


@lru_cache(maxsize=64)
def _text_aspect(text: str) -> float:
    glyphs = _glyph_image(text, 64)
    return glyphs.width / glyphs.height


def _copy_extent(obj: ObjectSpec) -> tuple[float, float]:
    """(width, height) of one copy as canvas fractions."""
    aspect = _text_aspect(_text_of(obj.noun)) if obj.object_type == "text" else 1.0
    aspect *= _STRETCH[obj.shape]
    side = _SIZE_EXTENT[obj.size]
    return side * math.sqrt(aspect), side / math.sqrt(aspect)


def _group_rects(obj: ObjectSpec, center: tuple[float, float]) -> list[tuple[float, ...]]:
    """Rectangles (x0, y0, x1, y1) of each copy as canvas fractions.

    Copies stand side by side in a row, or one above the other where a row would be too wide
    (three large wide words).
    """
    w, h = _copy_extent(obj)
    n = obj.count
    gap = max(0.015, 0.3 * min(w, h))
    if n * w + (n - 1) * gap <= _MAX_ROW:
        step_x, step_y = w + gap, 0.0
    else:
        step_x, step_y = 0.0, h + gap
    left = center[0] - (w + (n - 1) * step_x) / 2
    top = center[1] - (h + (n - 1) * step_y) / 2
    return [
        (left + i * step_x, top + i * step_y, left + i * step_x + w, top + i * step_y + h)
        for i in range(n)
    ]


def _union(rects: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    return (
        min(r[0] for r in rects),
        min(r[1] for r in rects),
        max(r[2] for r in rects),
        max(r[3] for r in rects),
    )


def _overlaps(a: Sequence[float], b: Sequence[float], pad: float) -> bool:
    return not (
        a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1]
    )


def _pixel_rect(rect: Sequence[float], canvas: int) -> Box:
    """Canvas-fraction rectangle to integer pixels, at least one pixel each way, clipped."""
    x0, y0 = round(rect[0] * canvas), round(rect[1] * canvas)
    x1 = x0 + max(1, round((rect[2] - rect[0]) * canvas))
    y1 = y0 + max(1, round((rect[3] - rect[1]) * canvas))
    x0, y0 = min(max(x0, 0), canvas - 1), min(max(y0, 0), canvas - 1)
    return x0, y0, min(max(x1, x0 + 1), canvas), min(max(y1, y0 + 1), canvas)


# --- Sampling --------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _sample_target(rng: np.random.Generator, object_type: str, attribute_type: str) -> ObjectSpec:
    # The tested attribute must be nameable: a shape test needs a stretch, a count test needs
    # several copies. Count stays 1 otherwise, so Mask-Simple prompts ("a red circle") are true.
    if attribute_type == "shape":
        shape = _pick(rng, ("tall", "wide"))
    else:
        shape = str(rng.choice(SHAPES, p=[0.5, 0.25, 0.25]))
    count = int(rng.choice((2, 3))) if attribute_type == "count" else 1
    return ObjectSpec(
        noun=_pick(rng, NOUNS[object_type]),
        object_type=object_type,
        color=_pick(rng, COLORS),
        material=_pick(rng, MATERIALS),
        size=_pick(rng, SIZES),
        shape=shape,
        count=count,
    )


def _sample_distractor(rng: np.random.Generator, avoid_noun: str) -> ObjectSpec:
    object_type = _pick(rng, OBJECT_TYPES)
    nouns = tuple(n for n in NOUNS[object_type] if n != avoid_noun)
    return ObjectSpec(
        noun=_pick(rng, nouns),
        object_type=object_type,
        color=_pick(rng, COLORS),
        material=_pick(rng, MATERIALS),
        size=_pick(rng, SIZES),
        shape=str(rng.choice(SHAPES, p=[0.6, 0.2, 0.2])),
        count=int(rng.choice((1, 2), p=[0.8, 0.2])),
    )


def _sample_center(rng: np.random.Generator, obj: ObjectSpec) -> tuple[float, float]:
    x0, y0, x1, y1 = _union(_group_rects(obj, (0.0, 0.0)))
    edge = 0.04
    cx = rng.uniform(edge - x0, 1 - edge - x1)
    cy = rng.uniform(edge - y0, 1 - edge - y1)
    return round(float(cx), 4), round(float(cy), 4)


def sample_scene(
    seed: int,
    *,
    object_type: str | None = None,
    attribute_type: str | None = None,
    scene: str | None = None,
    style: str | None = None,
) -> SceneSpec:
    """Sample a scene from ``seed``; categories left as ``None`` are sampled too.

    The target's attributes are drawn uniformly, except that the attribute under test is made
    nameable (``shape`` → tall or wide, ``count`` → 2 or 3) and the count is 1 unless it is under
    test. Distractors (1–3) never share the target's noun and lie outside the zone the edit mask
    may cover. Raises ``ValueError`` naming any unknown category value or a bad seed.
    """
    _check_seed(seed)
    for name, value, allowed in (
        ("object_type", object_type, OBJECT_TYPES),
        ("attribute_type", attribute_type, ATTRIBUTE_TYPES),
        ("scene", scene, SCENES),
        ("style", style, STYLES),
    ):
        if value is not None:
            _check_choice(name, value, allowed)
    rng = _rng(seed, _STREAM_SAMPLE)
    # Draw every category even when it is given, so that naming the value a seed would have
    # drawn anyway leaves the scene unchanged.
    drawn = [_pick(rng, options) for options in (OBJECT_TYPES, ATTRIBUTE_TYPES, SCENES, STYLES)]
    object_type = object_type or drawn[0]
    attribute_type = attribute_type or drawn[1]
    scene = scene or drawn[2]
    style = style or drawn[3]
    backdrop = _pick(rng, BACKDROPS[scene])
    target = _sample_target(rng, object_type, attribute_type)
    wanted = int(rng.integers(1, 4))
    reserve = MASK_MARGIN + MASK_SPREAD + _DISTRACTOR_GAP
    for _ in range(100):
        center = _sample_center(rng, target)
        taken = [_union(_group_rects(target, center))]
        placed: list[tuple[ObjectSpec, tuple[float, float]]] = []
        for _ in range(wanted * 40):
            if len(placed) == wanted:
                break
            obj = _sample_distractor(rng, target.noun)
            where = _sample_center(rng, obj)
            rect = _union(_group_rects(obj, where))
            pads = [reserve] + [_DISTRACTOR_GAP] * (len(taken) - 1)
            if not any(_overlaps(rect, t, pad) for t, pad in zip(taken, pads, strict=True)):
                placed.append((obj, where))
                taken.append(rect)
        if placed:
            return SceneSpec(
                scene=scene,
                backdrop=backdrop,
                style=style,
                attribute_type=attribute_type,
                target=target,
                target_center=center,
                distractors=tuple(obj for obj, _ in placed),
                distractor_centers=tuple(where for _, where in placed),
                seed=seed,
            )
    raise RuntimeError(f"could not place any distractor around the target (seed {seed})")


# --- Object masks ----------------------------------------------------------------------------

# Polygons in unit coordinates (u right, v down, both in [-1, 1]).
_STAR = tuple(
    (
        (1.0 if i % 2 == 0 else 0.42) * math.sin(i * math.pi / 5),
        -(1.0 if i % 2 == 0 else 0.42) * math.cos(i * math.pi / 5) * 1.05 + 0.05,
    )
    for i in range(10)
)
_POLYGONS: dict[str, tuple[tuple[float, float], ...]] = {
    "triangle": ((0.0, -1.0), (1.0, 1.0), (-1.0, 1.0)),
    "diamond": ((0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0)),
    "hexagon": ((-1.0, 0.0), (-0.5, -1.0), (0.5, -1.0), (1.0, 0.0), (0.5, 1.0), (-0.5, 1.0)),
    "star": _STAR,
    "arrow": (
        (-1.0, -0.3),
        (0.15, -0.3),
        (0.15, -0.95),
        (1.0, 0.0),
        (0.15, 0.95),
        (0.15, 0.3),
        (-1.0, 0.3),
    ),
}


def _unit_grid(w: int, h: int) -> tuple[FloatArray, FloatArray]:
    u = (np.arange(w, dtype=np.float64) + 0.5) * (2.0 / w) - 1.0
    v = (np.arange(h, dtype=np.float64) + 0.5) * (2.0 / h) - 1.0
    return u[None, :], v[:, None]


def _polygon_mask(points: Sequence[tuple[float, float]], w: int, h: int) -> BoolArray:
    u, v = _unit_grid(w, h)
    inside = np.zeros((h, w), dtype=bool)
    # Even-odd rule: count edge crossings of a ray from each pixel centre to the right.
    for (xa, ya), (xb, yb) in zip(points, (*points[1:], points[0]), strict=True):
        if ya == yb:
            continue
        crosses = (ya > v) != (yb > v)
        x_at = xa + (v - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (u < x_at)
    return inside


def _shape_mask(noun: str, w: int, h: int) -> BoolArray:
    u, v = _unit_grid(w, h)
    if noun == "circle":
        return np.asarray(u**2 + v**2 <= 1.0)
    if noun == "square":
        return np.ones((h, w), dtype=bool)
    if noun == "cross":
        return np.asarray((np.abs(u) <= 0.34) | (np.abs(v) <= 0.34))
    if noun == "heart":
        x, y = u * 1.14, 0.118 - v * 1.118
        return np.asarray((x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0)
    if noun == "crescent":
        outer = u**2 + v**2 <= 1.0
        bite = (u - 0.42) ** 2 + (v + 0.18) ** 2 <= 0.8**2
        return np.asarray(outer & ~bite)
    return _polygon_mask(_POLYGONS[noun], w, h)


def _glyph_image(text: str, font_size: int) -> Image.Image:
    """Bold-ish glyphs of ``text`` cropped to their ink, mode "L"."""
    font = ImageFont.load_default(size=font_size)
    stroke = max(1, round(font_size * 0.06))
    pad = font_size
    image = Image.new("L", (font_size * len(text) + 2 * pad, 3 * font_size), 0)
    ImageDraw.Draw(image).text(
        (pad, pad), text, fill=255, font=font, stroke_width=stroke, stroke_fill=255
    )
    return image.crop(image.getbbox())


@lru_cache(maxsize=512)
def _text_mask(text: str, w: int, h: int) -> BoolArray:
    # Draw the glyphs at about twice the target height and stretch them onto the w×h box:
    # the stretch *is* the tall/wide modifier, and the small glyph image keeps this cheap.
    glyphs = _glyph_image(text, max(12, 2 * h))
    resized = glyphs.resize((w, h), Image.Resampling.BILINEAR)
    mask = np.asarray(resized) >= 128
    mask.setflags(write=False)
    return mask


def _local_mask(obj: ObjectSpec, w: int, h: int) -> BoolArray:
    if obj.object_type == "text":
        mask = _text_mask(_text_of(obj.noun), w, h).copy()
    else:
        mask = _shape_mask(obj.noun, w, h)
    if not mask.any():  # a shape squeezed below a pixel: keep one so the object exists
        mask[h // 2, w // 2] = True
    return mask


def _tight_box(mask: BoolArray) -> Box:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


@dataclass(frozen=True)
class _Copy:
    rect: Box  # pixel rectangle the copy is drawn in
    mask: BoolArray  # rect-sized mask


def _copies(obj: ObjectSpec, center: tuple[float, float], canvas: int) -> list[_Copy]:
    copies = []
    for rect in _group_rects(obj, center):
        box = _pixel_rect(rect, canvas)
        copies.append(_Copy(box, _local_mask(obj, box[2] - box[0], box[3] - box[1])))
    return copies


def _object_render(
    obj: ObjectSpec, copies: list[_Copy], canvas: int, *, is_target: bool
) -> ObjectRender:
    full = np.zeros((canvas, canvas), dtype=bool)
    copy_boxes = []
    for c in copies:
        x0, y0, x1, y1 = c.rect
        full[y0:y1, x0:x1] |= c.mask
        bx0, by0, bx1, by1 = _tight_box(c.mask)
        copy_boxes.append((x0 + bx0, y0 + by0, x0 + bx1, y0 + by1))
    return ObjectRender(obj, is_target, _tight_box(full), tuple(copy_boxes), full)


# --- Drawing ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _canvas_grid(canvas: int) -> tuple[FloatArray, FloatArray]:
    """Pixel-centre coordinates as canvas fractions: x (1×W) and y (H×1)."""
    t = (np.arange(canvas, dtype=np.float64) + 0.5) / canvas
    x, y = t[None, :].copy(), t[:, None].copy()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _fill(image: FloatArray, where: BoolArray, rgb: Sequence[float], shade: FloatArray) -> None:
    """Paint ``where`` with ``rgb`` times a brightness field ``shade`` (H×W)."""
    colour = np.asarray(rgb, dtype=np.float64)[None, None, :] * shade[:, :, None]
    np.copyto(image, colour, where=where[:, :, None])


@dataclass
class _Canvas:
    image: FloatArray  # H×W×3 in 0..255
    angle: FloatArray  # H×W brush-stroke direction (radians), used by the painting style
    style: str


def _gradient(y: FloatArray, x: FloatArray, top: float, bottom: float, tilt: float) -> FloatArray:
    """Brightness field from ``top`` to ``bottom`` plus a left-to-right ``tilt`` (light source)."""
    return np.asarray(top + (bottom - top) * y + tilt * (0.5 - x))


def _draw_indoor(c: _Canvas, rng: np.random.Generator, backdrop: str, real: bool) -> None:
    """Wall and floor, with a table or a window."""
    x, y = _canvas_grid(c.image.shape[0])
    flat = np.ones(c.angle.shape)
    walls = ((196, 190, 176), (178, 190, 196), (200, 184, 170))
    floors = ((150, 128, 104), (132, 128, 122), (160, 142, 118))
    wall, floor = walls[int(rng.integers(3))], floors[int(rng.integers(3))]
    horizon = rng.uniform(0.5, 0.6)
    _fill(
        c.image,
        np.ones(c.angle.shape, dtype=bool),
        wall,
        _gradient(y, x, 1.06, 0.92, 0.08) if real else flat,
    )
    below = np.broadcast_to(y >= horizon, c.angle.shape)
    # Floor boards: faint regular seams, a structured texture that compresses well.
    seams = 1 - 0.06 * (((y - horizon) * 30) % 1 < 0.12)
    shade = (_gradient(y, x, 1.0, 0.86, 0.06) if real else flat) * seams
    _fill(c.image, below, floor, shade)
    c.angle[:] = np.where(below, rng.uniform(-0.2, 0.2), rng.uniform(1.1, 1.8))
    if backdrop == "table":
        top = horizon + rng.uniform(0.08, 0.14)
        x0, x1 = rng.uniform(0.04, 0.18), rng.uniform(0.82, 0.96)
        wood = ((166, 128, 92), (112, 114, 122))[int(rng.integers(2))]
        span = (x >= x0) & (x <= x1)
        surface = span & (y >= top) & (y <= top + 0.05)
        legs = ((np.abs(x - x0 - 0.03) <= 0.015) | (np.abs(x - x1 + 0.03) <= 0.015)) & (
            (y > top + 0.05) & (y <= min(0.98, top + 0.32))
        )
        _fill(c.image, surface, wood, _gradient(y, x, 1.1, 1.0, 0.05) if real else flat)
        _fill(c.image, legs, wood, 0.78 * flat)
        c.angle[surface] = 0.0
    else:
        wx, wy = rng.uniform(0.12, 0.52), rng.uniform(0.06, 0.14)
        ww, wh = rng.uniform(0.28, 0.38), rng.uniform(0.26, 0.32)
        frame = (x >= wx) & (x <= wx + ww) & (y >= wy) & (y <= wy + wh)
        t = 0.018
        glass = (
            (x >= wx + t)
            & (x <= wx + ww - t)
            & (y >= wy + t)
            & (y <= wy + wh - t)
            & (np.abs(x - wx - ww / 2) > t / 2)
            & (np.abs(y - wy - wh / 2) > t / 2)
        )
        _fill(c.image, frame, (236, 234, 226), flat)
        _fill(c.image, glass, (168, 204, 232), _gradient(y, x, 1.08, 0.94, 0.0) if real else flat)
        c.angle[glass] = 0.8


def _draw_outdoor(c: _Canvas, rng: np.random.Generator, backdrop: str, real: bool) -> None:
    """Sky with a sun and ground, with rolling hills or a few trees."""
    x, y = _canvas_grid(c.image.shape[0])
    flat = np.ones(c.angle.shape)
    horizon = rng.uniform(0.45, 0.58)
    # Sky: deeper blue at the top fading to a pale horizon (realistic), two flat bands (painting).
    t = np.clip(y / horizon, 0, 1)
    sky = (
        np.asarray((112, 160, 220), dtype=np.float64) * (1 - t[..., None])
        + np.asarray((188, 214, 236), dtype=np.float64) * t[..., None]
    )
    if not real:
        sky = np.where(t[..., None] < 0.5, (128, 172, 226), (176, 206, 234)).astype(np.float64)
    c.image[:] = np.broadcast_to(sky, c.image.shape)
    c.angle[:] = 0.05
    sx, sy = rng.uniform(0.1, 0.9), rng.uniform(0.08, 0.2)
    dist = np.sqrt((x - sx) ** 2 + (y - sy) ** 2)
    if real:
        glow = np.exp(-(((dist - 0.06).clip(0)) / 0.05))[..., None]
        c.image[:] = c.image * (1 - 0.5 * glow) + np.asarray((255, 240, 196)) * 0.5 * glow
    _fill(c.image, np.broadcast_to(dist <= 0.06, c.angle.shape), (255, 236, 168), flat)
    ground = np.broadcast_to(y >= horizon, c.angle.shape)
    earth = (160, 170, 110)
    _fill(c.image, ground, earth, _gradient(y, x, 1.08, 0.9, 0.05) if real else flat)
    c.angle[ground] = 0.35
    if backdrop == "hills":
        # Two rolling layers; each reaches the bottom, so the front one is the ground.
        for layer, colour in enumerate(((150, 165, 100), (128, 150, 88))):
            base = horizon - 0.05 + 0.12 * layer
            wave = base - rng.uniform(0.03, 0.08) * np.sin(
                2 * np.pi * rng.uniform(0.8, 1.6) * x + rng.uniform(0, 2 * np.pi)
            )
            hill = np.broadcast_to(y >= wave, c.angle.shape)
            _fill(c.image, hill, colour, _gradient(y, x, 1.12, 0.9, 0.1) if real else flat)
            c.angle[hill] = 0.5 - 0.9 * layer
    else:
        for _ in range(int(rng.integers(2, 5))):
            tx, size = rng.uniform(0.05, 0.95), rng.uniform(0.8, 1.2)
            trunk = (
                (np.abs(x - tx) <= 0.014 * size)
                & (y >= horizon - 0.1 * size)
                & (y <= horizon + 0.02)
            )
            crown = (x - tx) ** 2 + ((y - horizon + 0.14 * size) * 0.85) ** 2 <= (0.065 * size) ** 2
            _fill(c.image, trunk, (108, 84, 62), flat)
            _fill(c.image, crown, (78, 116, 70), _gradient(y, x, 1.2, 0.8, 0.3) if real else flat)
            c.angle[crown] = 2.2


def _second_colour(rgb: RGB) -> tuple[float, float, float]:
    """A darker shade of a light colour, or a lighter one of a dark colour."""
    r, g, b = rgb
    if 0.299 * r + 0.587 * g + 0.114 * b > 110:
        return (r * 0.58, g * 0.58, b * 0.58)
    return (r + (255 - r) * 0.5, g + (255 - g) * 0.5, b + (255 - b) * 0.5)


def _pattern(material: str, w: int, h: int) -> BoolArray:
    """Where the second colour goes on a w×h copy; the period scales with the copy."""
    period = max(4, round(0.2 * math.sqrt(w * h)))
    half = max(2, period // 2)
    yy, xx = np.mgrid[0:h, 0:w]
    if material == "striped":
        return np.asarray(((xx + yy) // half) % 2 == 1)
    if material == "checkered":
        return np.asarray((xx // half + yy // half) % 2 == 1)
    if material == "dotted":
        # Sparser than the other patterns so that dots read as dots, not as a grid.
        period = max(6, round(0.28 * math.sqrt(w * h)))
        du = (xx % period) - (period - 1) / 2
        dv = (yy % period) - (period - 1) / 2
        return np.asarray(du**2 + dv**2 <= (0.3 * period) ** 2)
    return np.zeros((h, w), dtype=bool)


def _erode(mask: BoolArray) -> BoolArray:
    """Pixels whose four neighbours are all in ``mask`` (outside the array counts as out)."""
    padded = np.pad(mask, 1)
    return np.asarray(
        mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )


def _draw_object(c: _Canvas, obj: ObjectSpec, copies: list[_Copy], angle: float) -> None:
    base = COLOR_RGB[obj.color]
    second = _second_colour(base)
    real = c.style == "realistic"
    for cp in copies:
        x0, y0, x1, y1 = cp.rect
        h, w = cp.mask.shape
        colour = np.empty((h, w, 3), dtype=np.float64)
        colour[:] = base
        # The pattern stays off a one-pixel rim, so the silhouette reads in the main colour
        # even where the second shade is close to the backdrop.
        colour[_pattern(obj.material, w, h) & _erode(cp.mask)] = second
        if real:  # light from the top left
            u, v = _unit_grid(w, h)
            colour *= (1.05 - 0.09 * (u + v))[:, :, None]
        c.image[y0:y1, x0:x1][cp.mask] = colour[cp.mask]
        c.angle[y0:y1, x0:x1][cp.mask] = angle


def _box_blur(field: FloatArray, radius: int) -> FloatArray:
    """Separable box blur with zero padding; support is exactly ``radius`` each way."""
    out = field
    for axis in (0, 1):
        padded = np.pad(out, [(radius + 1, radius) if a == axis else (0, 0) for a in (0, 1)])
        csum = np.cumsum(padded, axis=axis)
        n = out.shape[axis]
        hi = np.take(csum, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
        lo = np.take(csum, np.arange(0, n), axis=axis)
        out = (hi - lo) / (2 * radius + 1)
    return out


def _shadow(canvas: int, masks: Sequence[BoolArray]) -> FloatArray:
    """Soft drop shadow (0..1) of the given masks, offset down-right.

    Offset and blur scale with the canvas (no shadow below 125 pixels), so the shadow never
    reaches further than 0.028 × canvas (diagonally < 0.04) from its object: inside MASK_MARGIN.
    """
    offset, radius = int(0.012 * canvas), int(0.008 * canvas)
    shadow = np.zeros((canvas, canvas), dtype=np.float64)
    if offset == 0 or radius == 0 or not masks:
        return shadow
    union = np.logical_or.reduce(list(masks))
    shadow[offset:, offset:] = union[: canvas - offset, : canvas - offset]
    return _box_blur(_box_blur(shadow, radius), radius)


def _hash01(i: npt.NDArray[np.int64], j: npt.NDArray[np.int64], salt: int) -> FloatArray:
    """Integer lattice hash to [0, 1): the same numbers on every platform."""
    mask = np.uint64(0xFFFFFFFF)
    h = (i.astype(np.uint64) * np.uint64(0x9E3779B1)) & mask
    h ^= (j.astype(np.uint64) * np.uint64(0x85EBCA77) + np.uint64(salt)) & mask
    for shift, mult in ((15, 0x2C1B3C6D), (12, 0x297A2D39), (15, 0x1B873593)):
        h ^= h >> np.uint64(shift)
        h = (h * np.uint64(mult)) & mask
    return np.asarray(h.astype(np.float64) / 2.0**32)


def _paint_strokes(c: _Canvas, rng: np.random.Generator) -> None:
    """Brush strokes and posterized colour, in place.

    The canvas is cut into parallel bands along each pixel's stroke direction (``c.angle``); each
    band is cut into staggered dabs, and every dab gets its own slight brightness. Dabs are flat
    inside, so the texture stays structured (and the PNGs small) rather than noisy.
    """
    canvas = c.image.shape[0]
    x, y = _canvas_grid(canvas)
    px, py = x * canvas, y * canvas
    width = max(2.0, canvas / 64)  # stroke width in pixels
    length = 6 * width
    salt = int(rng.integers(2**31))
    along = (px * np.cos(c.angle) + py * np.sin(c.angle)) / length
    across = (-px * np.sin(c.angle) + py * np.cos(c.angle)) / width
    band = np.floor(across).astype(np.int64) + 4 * canvas  # keep lattice indices positive
    along = along + _hash01(band, np.zeros_like(band), salt)  # stagger the dab ends per band
    dab = np.floor(along).astype(np.int64) + 4 * canvas
    frac = along - np.floor(along)
    # Each dab keeps its value for most of its length and blends into the next at its end.
    blend = np.clip((frac - 0.75) / 0.25, 0.0, 1.0)
    blend = blend * blend * (3 - 2 * blend)
    value = _hash01(band, dab, salt) * (1 - blend) + _hash01(band, dab + 1, salt) * blend
    c.image *= (0.92 + 0.16 * value)[:, :, None]
    step = 16.0
    c.image[:] = np.round(c.image / step) * step


def render(spec: SceneSpec, *, canvas: int = 256, with_target: bool = True) -> Rendered:
    """Draw ``spec`` on a ``canvas``×``canvas`` image.

    With ``with_target=False`` the target is left out and the backdrop shows where it was; the
    result equals the full render everywhere outside :func:`edit_mask`. ``Rendered.target`` always
    gives the target's geometry. Raises ``ValueError`` for a canvas below 16 pixels.
    """
    _check_canvas(canvas)
    real = spec.style == "realistic"
    c = _Canvas(
        image=np.zeros((canvas, canvas, 3), dtype=np.float64),
        angle=np.zeros((canvas, canvas), dtype=np.float64),
        style=spec.style,
    )
    backdrop_rng = _rng(spec.seed, _STREAM_BACKDROP)
    if spec.scene == "indoor":
        _draw_indoor(c, backdrop_rng, spec.backdrop, real)
    else:
        _draw_outdoor(c, backdrop_rng, spec.backdrop, real)

    layout = [(spec.target, spec.target_center, True)] + [
        (obj, at, False) for obj, at in zip(spec.distractors, spec.distractor_centers, strict=True)
    ]
    placed = [(obj, _copies(obj, at, canvas), is_target) for obj, at, is_target in layout]
    renders = [_object_render(o, cps, canvas, is_target=t) for o, cps, t in placed]
    drawn = [i for i, (_, _, is_target) in enumerate(placed) if with_target or not is_target]
    if real:
        shadow = _shadow(canvas, [renders[i].mask for i in drawn])
        c.image *= (1 - 0.32 * shadow)[:, :, None]
    angles = _rng(spec.seed, _STREAM_OBJECT).uniform(-1.2, 1.2, size=len(placed))
    for i in drawn:
        obj, cps, _ = placed[i]
        _draw_object(c, obj, cps, float(angles[i]))
    if not real:
        _paint_strokes(c, backdrop_rng)
    image = np.clip(np.round(c.image), 0, 255).astype(np.uint8)
    return Rendered(image=image, objects=tuple(renders[i] for i in drawn), target=renders[0])


# --- Edit mask -------------------------------------------------------------------------------


def edit_mask(spec: SceneSpec, *, canvas: int = 256) -> BoolArray:
    """Free-form H×W boolean mask of the region to edit, deterministic in ``spec.seed``.

    The mask is a wobbly blob around the box enclosing all target copies: every pixel within
    ``MASK_MARGIN × canvas`` of that box is inside, nothing beyond ``(MASK_MARGIN + MASK_SPREAD)
    × canvas`` is. Its outline follows the box loosely and never the object's silhouette.
    """
    _check_canvas(canvas)
    rects = [cp.rect for cp in _copies(spec.target, spec.target_center, canvas)]
    x0, y0, x1, y1 = (float(v) for v in _union(rects))
    rng = _rng(spec.seed, _STREAM_MASK)
    px = np.arange(canvas, dtype=np.float64)[None, :] + 0.5
    py = np.arange(canvas, dtype=np.float64)[:, None] + 0.5
    # Distance from each pixel centre to the box (0 inside it).
    dx = np.maximum(np.maximum(x0 - px, px - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - py, py - y1), 0.0)
    distance = np.sqrt(dx**2 + dy**2)
    # A random periodic function of the angle around the box centre, rescaled to [0, 1], sets
    # how far past the margin the outline bulges in each direction.
    theta = np.arctan2(py - (y0 + y1) / 2, px - (x0 + x1) / 2)
    ks = np.arange(1, 6, dtype=np.float64)
    amps = rng.uniform(0.3, 1.0, size=5) / ks**0.7
    phases = rng.uniform(0, 2 * np.pi, size=5)
    probe = np.linspace(-np.pi, np.pi, 721)
    wave_probe = (amps[:, None] * np.cos(ks[:, None] * probe[None, :] + phases[:, None])).sum(0)
    lo, hi = float(wave_probe.min()), float(wave_probe.max())
    wave = sum(
        (a * np.cos(k * theta + p) for a, k, p in zip(amps, ks, phases, strict=True)),
        start=np.zeros_like(theta),
    )
    wobble = np.clip((wave - lo) / (hi - lo), 0.0, 1.0)
    reach = canvas * (MASK_MARGIN + MASK_SPREAD * wobble)
    return np.asarray(distance <= reach)


# --- Captions --------------------------------------------------------------------------------


def _plural(noun: str) -> str:
    head, _, rest = noun.partition(" ")
    head = head + "es" if head.endswith(("s", "x", "z", "ch", "sh")) else head + "s"
    return f"{head} {rest}".strip()


def _noun_phrase(obj: ObjectSpec, adjectives: Sequence[str]) -> str:
    """Count, adjectives and noun in English: "a small red star", "three hearts"."""
    words = [a for a in adjectives if a]
    if obj.count == 1:
        phrase = " ".join([*words, obj.noun])
        article = "an" if phrase[0] in "aeiou" else "a"
        return f"{article} {phrase}"
    return " ".join([_NUMBER_WORDS[obj.count], *words, _plural(obj.noun)])


def _shape_word(shape: str) -> str:
    # "regular" is the unmarked default: "a regular circle" is not how anyone speaks.
    return "" if shape == "regular" else shape


def _rich_phrase(obj: ObjectSpec) -> str:
    # English adjective order: size, shape, pattern, colour.
    return _noun_phrase(
        obj, (_SIZE_WORDS[obj.size], _shape_word(obj.shape), obj.material, obj.color)
    )


def _tested(spec: SceneSpec, attribute_type: str | None) -> str:
    attribute = spec.attribute_type if attribute_type is None else attribute_type
    _check_choice("attribute_type", attribute, ATTRIBUTE_TYPES)
    if attribute == "shape" and spec.target.shape == "regular":
        raise ValueError("attribute_type 'shape' needs a tall or wide target, got 'regular'")
    return attribute


def captions(spec: SceneSpec, *, attribute_type: str | None = None) -> Captions:
    """The three prompt styles for the target of ``spec``.

    ``attribute_type`` defaults to ``spec.attribute_type``. Mask-Simple names the object and that
    one attribute ("a red circle", "three hearts"); Mask-Rich names every attribute except a
    ``regular`` shape, which is the unmarked default; Full-Image describes the whole scene.
    """
    attribute = _tested(spec, attribute_type)
    target = spec.target
    simple_word = {
        "color": target.color,
        "material": target.material,
        "size": _SIZE_WORDS[target.size],
        "shape": _shape_word(target.shape),
        "count": "",
    }[attribute]
    if attribute == "count" and target.count == 1:
        simple = f"one {target.noun}"
    else:
        simple = _noun_phrase(target, (simple_word,))
    others = [
        _noun_phrase(d, ("" if d.material == "plain" else d.material, d.color))
        for d in spec.distractors
    ]
    parts = ["a photo of" if spec.style == "realistic" else "a painting of", _rich_phrase(target)]
    if others:
        listed = others[0] if len(others) == 1 else f"{', '.join(others[:-1])} and {others[-1]}"
        parts += ["next to", listed]
    parts.append(_BACKDROP_PHRASES[spec.backdrop])
    full = " ".join(parts)
    return Captions(mask_simple=simple, mask_rich=_rich_phrase(target), full_image=full)


def target_dict(spec: SceneSpec, attribute_type: str | None = None) -> dict[str, object]:
    """The structured, JSON-able target of an item: what raters and the judge check.

    ``binding`` names the object the tested attribute must be on (a red circle, not a white circle
    on a red table). For ``count`` the bound value is the number of copies.
    """
    attribute = _tested(spec, attribute_type)
    t = spec.target
    attributes = {"color": t.color, "material": t.material, "size": t.size, "shape": t.shape}
    value: object = t.count if attribute == "count" else attributes[attribute]
    return {
        "object": t.noun,
        "object_type": t.object_type,
        "count": t.count,
        "attributes": attributes,
        "tested_attribute": attribute,
        "binding": {"attribute": attribute, "value": value, "object": t.noun},
    }
