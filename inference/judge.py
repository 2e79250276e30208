"""Automatic attribute judge for edits of scenes of our world.

Given an edited image, its edit mask and the structured target of an item
(:func:`inference.world.target_dict`), :func:`judge` says, per attribute, whether the edit shows
it. It reads pixels only, in four steps:

1. **Label pixels.** Every pixel inside the mask goes to the nearest of: a palette colour, the
   second shade of a palette colour (the colour of the world's surface patterns), or the backdrop,
   whose colours are sampled from a ring just outside the mask (the backdrop continues under it).
   Palette distances allow the brightness changes of the world's shading and brush strokes.
2. **Colour** is the palette colour with the most pixels; the object's silhouette is every pixel
   of that colour or its shade, holes filled (dark colours' shades can pass for backdrop).
3. **Object, size, shape, count** come from template matching: the world's own silhouette of
   each noun at each size and shape is rendered once per canvas (exactly as the world rasterises
   it), laid out as 1, 2 or 3 copies over the silhouette's extent, and scored by IoU; the best
   hypothesis names all four.
4. **Material**: inside the best template, the pixels not of the main colour form the pattern;
   it is compared with the world's render of each material for that object and colour.

Everything is designed against the world's renders (see ``evaluate --judge-only`` for its
accuracy on ground truth). It is an instrument for automatic metrics, never a human rater.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage

from inference import world

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ATTRIBUTES: tuple[str, ...] = ("object", "color", "material", "size", "shape", "count")

_PRIMARY = np.asarray([world.COLOR_RGB[c] for c in world.COLORS], dtype=np.float64)  # (10, 3)
_SHADING = (0.8, 1.14)  # brightness range a palette colour may take under shading and strokes
_RING = 0.06  # width of the backdrop ring sampled outside the mask, canvas fraction
_BACKDROP_BIAS = 4.0  # a pixel as close to the backdrop as to a palette colour is backdrop


def _shade(rgb: FloatArray) -> FloatArray:
    """The pattern colour the world pairs with a palette colour: darker if light, else lighter."""
    luma = rgb @ np.asarray([0.299, 0.587, 0.114])
    return np.where(luma[:, None] > 110, rgb * 0.58, rgb + (255 - rgb) * 0.5)


_SECOND = _shade(_PRIMARY)


@dataclass(frozen=True)
class Verdict:
    """Per-attribute verdicts and what the judge saw."""

    correct: dict[str, bool]  # attribute name (ATTRIBUTES) → whether the edit shows the target's
    tested: str  # the item's tested attribute type (world.ATTRIBUTE_TYPES)
    detected: dict[str, object] = field(default_factory=dict)  # what was found, for reports

    @property
    def simple_correct(self) -> bool:
        """Mask-Simple correctness: the object is there and shows the tested attribute on it."""
        return self.correct["object"] and self.correct[self.tested]

    @property
    def all_correct(self) -> bool:
        return all(self.correct.values())


def _palette_distance(pixels: FloatArray, colours: FloatArray) -> FloatArray:
    """(N, K) distance of each pixel to each colour scaled by the best brightness in range."""
    dot = pixels @ colours.T  # (N, K)
    k = np.clip(dot / (colours**2).sum(1)[None, :], *_SHADING)
    diff = pixels[:, None, :] - k[:, :, None] * colours[None, :, :]
    return np.asarray(np.sqrt((diff**2).sum(-1)))


def label_pixels(image: FloatArray, mask: BoolArray) -> npt.NDArray[np.int64]:
    """H×W labels: -1 outside the mask or backdrop, c for primary colour c, 10 + c for its shade."""
    canvas = image.shape[0]
    ring_width = max(2, round(_RING * canvas))
    ring = ndimage.binary_dilation(mask, iterations=ring_width) & ~mask
    backdrop = image[ring] if ring.any() else image[~mask]
    backdrop = np.unique(backdrop.round(), axis=0)
    if len(backdrop) > 512:
        backdrop = backdrop[np.linspace(0, len(backdrop) - 1, 512).astype(int)]
    pixels = image[mask]  # (N, 3)
    d_pal = _palette_distance(pixels, np.concatenate([_PRIMARY, _SECOND]))  # (N, 20)
    d_back = np.full(len(pixels), np.inf)
    for chunk in np.array_split(backdrop, max(1, len(backdrop) // 128)):
        d = np.sqrt(((pixels[:, None, :] - chunk[None, :, :]) ** 2).sum(-1)).min(1)
        d_back = np.minimum(d_back, d)
    best = d_pal.argmin(1)
    is_object = (d_pal.min(1) + _BACKDROP_BIAS < d_back) & (d_pal.min(1) < 60)
    labels = np.full(mask.shape, -1, dtype=np.int64)
    labels[mask] = np.where(is_object, best, -1)
    return labels


# --- Templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    noun: str
    size: str
    shape: str
    silhouette: BoolArray  # h×w, tight crop of one copy as the world rasterises it


def _lone_object(noun: str, size: str, shape: str, color: str, material: str) -> world.SceneSpec:
    kind = next(t for t in world.OBJECT_TYPES if noun in world.NOUNS[t])
    obj = world.ObjectSpec(noun, kind, color, material, size, shape, 1)
    return world.SceneSpec(
        scene="indoor", backdrop="table", style="realistic", attribute_type="color", target=obj,
        target_center=(0.5, 0.5), distractors=(), distractor_centers=(), seed=0,
    )  # fmt: skip


def _crop(mask: BoolArray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


@lru_cache(maxsize=4)
def templates(canvas: int) -> tuple[Template, ...]:
    """Every noun × size × shape silhouette of one copy at ``canvas``, rendered by the world."""
    out = []
    for noun in world.COMMON_NOUNS + world.RARE_NOUNS + world.TEXT_NOUNS:
        for size in world.SIZES:
            for shape in world.SHAPES:
                r = world.render(_lone_object(noun, size, shape, "red", "plain"), canvas=canvas)
                m = r.target.mask
                out.append(Template(noun, size, shape, m[_crop(m)]))
    return tuple(out)


@lru_cache(maxsize=4096)
def material_pattern(
    noun: str, size: str, shape: str, color: str, material: str, canvas: int
) -> BoolArray:
    """Where the world's render of one copy is *not* its main colour (the pattern), tight crop."""
    spec = _lone_object(noun, size, shape, color, material)
    r = world.render(spec, canvas=canvas)
    m = r.target.mask
    labels = label_pixels(r.image.astype(np.float64), m)
    c = world.COLORS.index(color)
    pattern: BoolArray = (m & (labels != c))[_crop(m)]
    return pattern


# --- Matching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    template: Template
    count: int
    iou: float
    origins: tuple[tuple[int, int], ...]  # (row, col) of each copy's top-left in the image


def _layouts(
    box: tuple[int, int, int, int], h: int, w: int, count: int
) -> list[tuple[tuple[int, int], ...]]:
    """Copy origins spreading ``count`` h×w copies evenly over ``box`` (row or column)."""
    y0, x0, y1, x1 = box
    out: list[tuple[tuple[int, int], ...]] = []
    if count == 1:
        out.append(((y0, x0),))
    else:
        step_x = (x1 - x0 - w) / (count - 1)
        step_y = (y1 - y0 - h) / (count - 1)
        if step_x >= w:
            out.append(tuple((y0, x0 + round(i * step_x)) for i in range(count)))
        if step_y >= h:
            out.append(tuple((y0 + round(i * step_y), x0) for i in range(count)))
    return out


def best_matches(silhouette: BoolArray, tolerance: int = 1) -> list[Match]:
    """The template hypotheses (noun, size, shape, count) whose layout best covers the
    silhouette, by IoU; several when they tie (a shape too small to tell apart at this canvas).

    Hypotheses whose extent differs from the silhouette's by more than ``tolerance`` pixels are
    skipped, unless none is left (an edit, unlike a render, need not match any exactly).
    """
    if not silhouette.any():
        return []
    canvas = silhouette.shape[0]
    rows, cols = _crop(silhouette)
    y0, y1, x0, x1 = rows.start, rows.stop, cols.start, cols.stop
    H, W = y1 - y0, x1 - x0
    found: list[Match] = []
    for tol in (tolerance, 3, canvas):
        for t in templates(canvas):
            h, w = t.silhouette.shape
            for count in (1, 2, 3):
                if count == 1 and not (abs(h - H) <= tol and abs(w - W) <= tol):
                    continue
                row_ok = abs(h - H) <= tol and w * count <= W + tol
                col_ok = abs(w - W) <= tol and h * count <= H + tol
                if count > 1 and not (row_ok or col_ok):
                    continue
                for origins in _layouts((y0, x0, y1, x1), h, w, count):
                    found.append(Match(t, count, _iou(silhouette, t.silhouette, origins), origins))
        if found:
            top = max(m.iou for m in found)
            return [m for m in found if m.iou >= top - 1e-9]
    return []


def _iou(silhouette: BoolArray, piece: BoolArray, origins: tuple[tuple[int, int], ...]) -> float:
    canvas = silhouette.shape[0]
    guess = np.zeros_like(silhouette)
    h, w = piece.shape
    for r, c in origins:
        r1, c1 = min(canvas, r + h), min(canvas, c + w)
        guess[r:r1, c:c1] |= piece[: r1 - r, : c1 - c]
    union = (guess | silhouette).sum()
    return float((guess & silhouette).sum() / union) if union else 0.0


# --- The judge -------------------------------------------------------------------------------


def _as_array(image: object) -> FloatArray:
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            raise ValueError(f"image must be RGB, got mode {image.mode}")
        image = np.asarray(image)
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"image must be a square H×W×3 array, got shape {arr.shape}")
    return arr.astype(np.float64)


def _material_scores(
    labels: npt.NDArray[np.int64], match: Match, colour: str, canvas: int
) -> dict[str, float]:
    """Agreement of the observed pattern with the world's pattern of each material."""
    t = match.template
    c = world.COLORS.index(colour)
    h, w = t.silhouette.shape
    inside = t.silhouette
    scores = {}
    for material in world.MATERIALS:
        expected = material_pattern(t.noun, t.size, t.shape, colour, material, canvas)
        agree = total = 0
        for r, col in match.origins:
            seen = labels[r : r + h, col : col + w]
            if seen.shape != (h, w):
                continue
            observed = (seen != c) & inside
            agree += int((observed == expected)[inside].sum())
            total += int(inside.sum())
        scores[material] = agree / total if total else 0.0
    return scores


def judge(image: object, mask: BoolArray, target: dict[str, object]) -> Verdict:
    """Per-attribute verdicts of ``image`` (square RGB, PIL or H×W×3 uint8) for ``target``.

    ``mask`` is the H×W boolean edit mask; ``target`` is :func:`inference.world.target_dict`.
    Raises ``ValueError`` for a mask of another size or an empty mask.
    """
    pixels = _as_array(image)
    mask = np.asarray(mask)
    if mask.shape != pixels.shape[:2] or mask.dtype != np.bool_:
        raise ValueError(f"mask must be a boolean {pixels.shape[:2]} array, got {mask.shape}")
    if not mask.any():
        raise ValueError("mask is empty: nothing to judge")
    attrs = target["attributes"]
    if not isinstance(attrs, dict):
        raise ValueError("target['attributes'] must be a dict (see world.target_dict)")
    tested = str(target["tested_attribute"])
    canvas = pixels.shape[0]
    labels = label_pixels(pixels, mask)
    votes = np.bincount(labels[labels >= 0] % 20, minlength=20)[:10]
    wrong = {a: False for a in ATTRIBUTES}
    if votes.max() < 3:
        return Verdict(wrong, tested, {"found": False})
    c = int(votes.argmax())
    colour = world.COLORS[c]
    silhouette = _silhouette(labels == c)
    matches = best_matches(silhouette)
    if not matches:
        return Verdict({**wrong, "color": colour == attrs["color"]}, tested, {"color": colour})
    # Ties (hypotheses the pixels cannot tell apart) are resolved in the target's favour: the
    # image is then consistent with the target, which is all a judge of pixels can say.
    scores = [_material_scores(labels, m, colour, canvas) for m in matches]
    correct = {
        "object": any(m.template.noun == target["object"] for m in matches),
        "color": colour == attrs["color"],
        "material": any(sc[str(attrs["material"])] >= max(sc.values()) - 1e-9 for sc in scores),
        "size": any(m.template.size == attrs["size"] for m in matches),
        "shape": any(m.template.shape == attrs["shape"] for m in matches),
        "count": any(m.count == target["count"] for m in matches),
    }
    m, sc = matches[0], scores[0]
    detected: dict[str, object] = {
        "object": m.template.noun, "color": colour, "material": max(sc, key=lambda k: sc[k]),
        "size": m.template.size, "shape": m.template.shape, "count": m.count,
        "iou": round(m.iou, 3), "ties": len(matches),
    }  # fmt: skip
    return Verdict(correct, tested, detected)


def _silhouette(primary: BoolArray) -> BoolArray:
    """The object: primary-colour pixels with the holes filled (the world keeps its patterns
    off a one-pixel rim, so a pattern is always enclosed by the main colour). Specks are
    dropped unless they lie next to a large part (a thin tip cut off by rasterisation)."""
    filled = ndimage.binary_fill_holes(primary)
    lab, n = ndimage.label(filled)
    if n <= 1:
        return np.asarray(filled)
    sizes = np.bincount(lab.ravel())[1:]
    big = np.isin(lab, np.flatnonzero(sizes >= max(2, 0.08 * sizes.max())) + 1)
    near = ndimage.binary_dilation(big, iterations=max(2, round(0.08 * filled.shape[0])))
    keep = [i + 1 for i in range(n) if (sizes[i] >= 2 and big[lab == i + 1].any()) or
            near[lab == i + 1].any()]  # fmt: skip
    return np.isin(lab, keep)
