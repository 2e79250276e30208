"""Baseline "models" every evaluation needs as anchors.

- ``identity``: the unedited input (a lower anchor: nothing the prompt asks for is there).
- ``blur_fill``: the masked region replaced by a heavy blur of its surroundings, the
  result of an editor that only continues the background.

Both keep every pixel outside the mask exactly, like the cascade.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy.ndimage import gaussian_filter

BASELINE_PRESETS: tuple[str, ...] = ("identity", "blur_fill")

UInt8Array = npt.NDArray[np.uint8]


def _check(image: Image.Image, mask: npt.NDArray[np.bool_]) -> None:
    if image.mode != "RGB":
        raise ValueError(f"image must be RGB, got mode {image.mode}")
    if mask.shape != (image.height, image.width):
        raise ValueError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {image.width}x{image.height}"
        )
    if not mask.any():
        raise ValueError("mask is empty: nothing to edit")


def identity(image: Image.Image, mask: npt.NDArray[np.bool_]) -> Image.Image:
    """The input, unchanged."""
    _check(image, mask)
    return image.copy()


def blur_fill(
    image: Image.Image, mask: npt.NDArray[np.bool_], *, radius: float = 0.0
) -> Image.Image:
    """Fill the mask with a normalised blur of the pixels around it.

    The blur averages only unmasked pixels (blurred image / blurred weights), so
    the content under the mask never leaks into the fill.
    """
    _check(image, mask)
    radius = radius or max(image.width, image.height) / 12
    keep = (~mask).astype(np.float32)
    rgb = np.asarray(image, dtype=np.float32) * keep[..., None]
    blurred = np.stack([_blur(rgb[..., c], radius) for c in range(3)], axis=-1)  # H×W×3
    weight = _blur(keep, radius)[..., None]  # H×W×1
    fill = blurred / np.maximum(weight, 1e-6)
    mean = np.asarray(image, dtype=np.float32)[~mask].mean(axis=0) if keep.any() else 127.0
    fill = np.where(weight > 1e-3, fill, mean)
    out: UInt8Array = np.asarray(image).copy()
    out[mask] = np.clip(np.rint(fill[mask]), 0, 255).astype(np.uint8)
    return Image.fromarray(out, mode="RGB")


def _blur(channel: npt.NDArray[np.float32], radius: float) -> npt.NDArray[np.float32]:
    blurred: npt.NDArray[np.float32] = gaussian_filter(channel, sigma=radius, mode="nearest")
    return blurred
