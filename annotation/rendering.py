"""Small image renderings for the admin (mask overlays)."""

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
