"""The edit window: the square of the input around the mask that the cascade works on.

A target object of 20–40 pixels on a 256-pixel scene would be 3–5 pixels of a base stage that saw
the whole image; cut out around the mask, it fills most of the stages' canvas. Every function here
works on the input at its own resolution (uint8 H×W×3 images, boolean H×W masks) and is shared by
training (:mod:`inference.data`) and sampling (:mod:`inference.pipeline`), so both cut windows
the same way:

- :func:`edit_window` — a square of about ``margin`` × the side of the mask's bounding box,
  centred on it, shifted (never shrunk) to stay inside the image; the whole image when that
  square would not fit.
- :func:`cut` — the window's pixels and mask resized to the canvas.
- :func:`context` — the small global input: the whole image (mask blanked), the mask and the
  window's place, downsampled, plus the window's box as fractions of the image.
- :func:`paste` — the canvas result resized to the window and pasted back through the mask, so
  every unmasked input pixel stays exact at any input size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

BoolArray = npt.NDArray[np.bool_]
UInt8Array = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

MARGIN = 1.2  # window side / longer side of the mask's bounding box
MIN_SIDE = 8  # smallest window side in input pixels (a one-pixel mask still gets context)
CONTEXT_CHANNELS = 5  # context input: masked RGB, mask, window indicator


@dataclass(frozen=True)
class Box:
    """A window in input pixels: columns x0..x1 and rows y0..y1, ends exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def mask_bounds(mask: BoolArray) -> Box:
    """The tight bounding box of a non-empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        raise ValueError("empty mask: it has no bounding box")
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _place(center: float, side: int, limit: int) -> int:
    """Start of a span of ``side`` centred on ``center``, shifted to lie within [0, limit)."""
    return min(max(round(center - side / 2), 0), limit - side)


def edit_window(mask: BoolArray, *, margin: float = MARGIN, min_side: int = MIN_SIDE) -> Box:
    """The square window of ``mask`` (H×W), or the whole image where the square does not fit.

    The square's side is ``ceil(margin × longer side of the mask's box)`` (at least ``min_side``);
    it is centred on the box and shifted to stay inside the image, so it always covers the mask.
    When the side reaches the image's shorter side, the window is the whole image (the stages
    then see it squeezed to a square, as before there were windows).
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be H×W, got shape {mask.shape}")
    if margin < 1.0:
        raise ValueError(f"margin must be >= 1 (the window covers the mask), got {margin}")
    h, w = mask.shape
    b = mask_bounds(mask)
    side = max(math.ceil(margin * max(b.width, b.height)), min_side)
    if side >= min(h, w):
        return Box(0, 0, w, h)
    x0 = _place((b.x0 + b.x1) / 2, side, w)
    y0 = _place((b.y0 + b.y1) / 2, side, h)
    return Box(x0, y0, x0 + side, y0 + side)


def _resize(image: UInt8Array, size: tuple[int, int]) -> UInt8Array:
    """RGB resize to (width, height): Lanczos, or the array itself where it already fits."""
    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _cover(mask: BoolArray, size: tuple[int, int]) -> BoolArray:
    """The mask at (width, height), True wherever a resized pixel touches the input mask, so
    nothing to edit is lost."""
    if (mask.shape[1], mask.shape[0]) == size:
        return mask
    box = Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.BOX)
    return np.asarray(box) > 0


def cut(image: UInt8Array, mask: BoolArray, box: Box, canvas: int) -> tuple[UInt8Array, BoolArray]:
    """The window's pixels (canvas×canvas×3) and mask (canvas×canvas)."""
    crop = image[box.y0 : box.y1, box.x0 : box.x1]
    crop_mask = mask[box.y0 : box.y1, box.x0 : box.x1]
    return _resize(np.ascontiguousarray(crop), (canvas, canvas)), _cover(crop_mask, (canvas,) * 2)


def context(
    image: UInt8Array, mask: BoolArray, box: Box, side: int
) -> tuple[FloatArray, FloatArray]:
    """The global context of a window: a side×side×5 map and the window's box.

    Map channels: the whole image in [-1, 1] with the mask blanked to 0 (what is to be edited is
    not shown, as in the stages' own condition), the mask, and 1 inside the window. The box is
    (x0, y0, x1, y1) as fractions of the image's width and height: the window's scale is what
    tells the stages how large "small" and "large" are.
    """
    h, w = mask.shape
    small = _resize(image, (side, side)).astype(np.float32) / 127.5 - 1.0
    small_mask = _cover(mask, (side, side)).astype(np.float32)
    inside = np.zeros((side, side), dtype=np.float32)
    ys = slice(math.floor(box.y0 * side / h), max(math.ceil(box.y1 * side / h), 1))
    xs = slice(math.floor(box.x0 * side / w), max(math.ceil(box.x1 * side / w), 1))
    inside[ys, xs] = 1.0
    stacked = np.concatenate(
        [small * (1 - small_mask[..., None]), small_mask[..., None], inside[..., None]], axis=2
    )  # (side, side, 5)
    where = np.asarray([box.x0 / w, box.y0 / h, box.x1 / w, box.y1 / h], dtype=np.float32)
    return stacked, where


def paste(edited: UInt8Array, image: UInt8Array, mask: BoolArray, box: Box) -> UInt8Array:
    """The canvas result resized to the window (bicubic) and pasted into a copy of ``image``
    through ``mask``: every pixel outside the mask is the input's, exactly."""
    window = edited
    if edited.shape[:2] != (box.height, box.width):
        resized = Image.fromarray(edited).resize((box.width, box.height), Image.Resampling.BICUBIC)
        window = np.asarray(resized)
    out = image.copy()
    region = out[box.y0 : box.y1, box.x0 : box.x1]
    inside = mask[box.y0 : box.y1, box.x0 : box.x1]
    region[inside] = window[inside]
    if mask.sum() != inside.sum():
        raise ValueError("the window does not cover the mask")  # edit_window guarantees it
    return out
