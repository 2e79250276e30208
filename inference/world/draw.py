"""Rasterising: object silhouettes, backdrops, patterns, shadows, the render and the edit mask."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from inference.world.layout import (
    _glyph_image,
    _group_rects,
    _pixel_rect,
    _text_of,
    _union,
)
from inference.world.specs import (
    _STREAM_BACKDROP,
    _STREAM_MASK,
    _STREAM_OBJECT,
    COLOR_RGB,
    MASK_MARGIN,
    MASK_SPREAD,
    RGB,
    BoolArray,
    Box,
    FloatArray,
    ObjectRender,
    ObjectSpec,
    Rendered,
    SceneSpec,
    _check_canvas,
    _rng,
)

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
