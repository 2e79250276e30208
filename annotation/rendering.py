"""Small image renderings: mask overlays for the admin, the rater pages' images and outlines."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

OVERLAY_RGB = np.array([255, 32, 32], dtype=np.float32)


def mask_overlay_png(image: Image.Image, mask: Image.Image, *, alpha: float = 0.45) -> bytes:
    """The image with the edit region tinted and its outline drawn, as PNG bytes."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    region = np.asarray(mask.convert("L")) > 0
    tinted = rgb.copy()
    tinted[region] = (1 - alpha) * rgb[region] + alpha * OVERLAY_RGB
    grey = Image.fromarray(region.astype(np.uint8) * 255)
    edge = np.asarray(grey.filter(ImageFilter.FIND_EDGES)) > 0
    tinted[edge] = OVERLAY_RGB
    out = io.BytesIO()
    Image.fromarray(tinted.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def plain_png(image: Image.Image) -> bytes:
    """The image's pixels only, re-encoded as RGB PNG (no metadata comes along)."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def mask_outline_png(mask: Image.Image) -> bytes:
    """A transparent PNG of the mask's size with the edit region's outline in two tones: a
    white ring just inside the region and a black ring just outside it, so the line shows on
    any background. Laid over the input and the edits at the same whole-pixel scale."""
    grey = mask.convert("L").point(lambda v: 255 if v else 0)
    region = np.asarray(grey) > 0
    inner = region & ~(np.asarray(grey.filter(ImageFilter.MinFilter(3))) > 0)
    outer = ~region & (np.asarray(grey.filter(ImageFilter.MaxFilter(3))) > 0)
    rgba = np.zeros((*region.shape, 4), dtype=np.uint8)
    rgba[inner] = (255, 255, 255, 255)
    rgba[outer] = (0, 0, 0, 255)
    out = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(out, format="PNG")
    return out.getvalue()
