"""Layout in canvas fractions: each copy's extent, groups of copies, and scene sampling."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inference.world.specs import (
    _DISTRACTOR_GAP,
    _MAX_ROW,
    _SIZE_EXTENT,
    _STREAM_SAMPLE,
    _STRETCH,
    ATTRIBUTE_TYPES,
    BACKDROPS,
    COLORS,
    MASK_MARGIN,
    MASK_SPREAD,
    MATERIALS,
    NOUNS,
    OBJECT_TYPES,
    SCENES,
    SHAPES,
    SIZES,
    STYLES,
    Box,
    ObjectSpec,
    SceneSpec,
    _check_choice,
    _check_seed,
    _rng,
)

# --- Layout (canvas fractions) ---------------------------------------------------------------


def _text_of(noun: str) -> str:
    return noun.split(" ", 1)[1]


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
