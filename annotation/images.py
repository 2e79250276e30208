"""Validation of every image that enters the system (imports, uploads), and item derivatives.

An image is read from bytes, never trusted by its file name: the format must be
one we accept, the header's pixel count must be under the limit *before* the
pixels are decoded (the decompression-bomb guard), and the data must decode.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from annotation.rendering import mask_outline_png, mask_overlay_png, plain_png

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
# Masks must be lossless: JPEG artefacts would turn a binary mask grey.
MASK_FORMATS = ("PNG", "WEBP")
MAX_IMAGE_BYTES = 20 * 1024 * 1024


class ImageRejected(ValueError):
    """An image failed validation; the message says why, for the user."""


@dataclass(frozen=True)
class CheckedImage:
    format: str
    width: int
    height: int
    mode: str
    image: Image.Image


def open_checked(
    data: bytes, *, what: str, max_pixels: int, formats: tuple[str, ...] = ALLOWED_FORMATS
) -> CheckedImage:
    """Decode ``data`` as an image, or raise :class:`ImageRejected` naming ``what``.

    The returned image is fully loaded, so later use cannot fail lazily.
    """
    if len(data) == 0:
        raise ImageRejected(f"{what} is an empty file")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"{what} is {len(data) / 1e6:.1f} MB; the limit is {MAX_IMAGE_BYTES / 1e6:.0f} MB"
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat the
            # warning as the error it is for us.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"{what} is {width}×{height} = {width * height} pixels; "
                    f"the limit is {max_pixels} pixels"
                )
            if image.format not in formats:
                raise ImageRejected(
                    f"{what} is in format {image.format or 'unknown'}; "
                    f"accepted formats: {', '.join(formats)}"
                )
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(f"{what} declares too many pixels (decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageRejected(f"{what} is not a readable image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"{what} is damaged and cannot be decoded ({exc})") from None
    return CheckedImage(
        format=str(image.format), width=width, height=height, mode=image.mode, image=image
    )


def pixels_png(image: Image.Image) -> bytes:
    """The image's pixels alone, encoded by us as an RGB PNG.

    A fresh image is built from the decoded pixels, so nothing of the original
    file travels on: no text chunks (a generation tool's ``parameters``, a
    workflow naming the checkpoint), no EXIF, no ICC profile, no format of its
    own. Everything a rater can receive from an upload goes through here.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(out, format="PNG")
    return out.getvalue()


def mask_array(checked: CheckedImage, *, what: str) -> np.ndarray:
    """Return the mask as a boolean array (True = region to edit).

    Accepts a single-channel mask ("1", "L", or "P" whose palette is grey)
    whose pixels are exactly two values, 0 and one non-zero level; anything
    else is rejected rather than thresholded, because a silently binarised
    soft mask changes what the raters are asked to judge.
    """
    image = checked.image
    if image.mode == "1":
        return np.asarray(image, dtype=bool)
    if image.mode == "P":
        image = image.convert("RGB")
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        if not (
            np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
        ):
            raise ImageRejected(f"{what} must be a grey-scale mask, not a colour image")
        values = rgb[..., 0]
    elif image.mode in ("L", "I", "I;16"):
        values = np.asarray(image)
    else:
        raise ImageRejected(f"{what} has mode {image.mode}; use a single-channel (L) mask")
    levels = np.unique(values)
    if levels.size > 2 or (levels.size == 2 and levels[0] != 0):
        shown = ", ".join(str(int(v)) for v in levels[:6])
        more = "…" if levels.size > 6 else ""
        raise ImageRejected(
            f"{what} is not binary: it has {levels.size} grey levels ({shown}{more}); "
            "use 0 for keep and 255 for edit"
        )
    result: np.ndarray = values > 0
    if not result.any():
        raise ImageRejected(f"{what} is empty: no pixel is marked for editing")
    return result


#: Longest side of each resized derivative of an item (models.BenchmarkItem.display/outline/
#: thumbnail): the rater's input and the outline laid over it are served at most this large
#: (task.js shrinks large images by a whole factor to fit), the staff thumbnail is what the
#: admin lists show.
DERIVATIVE_SIDES = {"display": 512, "outline": 512, "thumbnail": 256}


def shrink_factor(width: int, height: int, side: int) -> int:
    """The whole factor that brings ``width``×``height`` within ``side`` (1: leave as is)."""
    return max(1, -(-max(width, height) // side))


def derivative_png(image: bytes, mask: bytes, *, kind: str) -> bytes:
    """The item's ``kind`` derivative, shrunk by a whole factor to fit: ``display`` the input's
    pixels (the rater page lays the outline over them), ``outline`` the two-tone outline of the
    edit region (transparent elsewhere), ``thumbnail`` the input with the region tinted.

    The image and mask are shrunk first (the mask keeps every pixel that had any edit in its
    block) and the outline is drawn afterwards, so it stays one pixel wide at any size.
    """
    side = DERIVATIVE_SIDES[kind]
    with Image.open(io.BytesIO(image)) as source, Image.open(io.BytesIO(mask)) as region:
        rgb = source.convert("RGB")
        grey = region.convert("L").point(lambda v: 255 if v else 0)
    factor = shrink_factor(rgb.width, rgb.height, side)
    if factor > 1:
        size = (-(-rgb.width // factor), -(-rgb.height // factor))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        grey = grey.resize(size, Image.Resampling.BOX).point(lambda v: 255 if v else 0)
    if kind == "display":
        return plain_png(rgb)
    if kind == "outline":
        return mask_outline_png(grey)
    return mask_overlay_png(rgb, grey, alpha=0.45)
