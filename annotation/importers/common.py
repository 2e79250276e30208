"""What the release and BrushNet readers share: checked files, the input image, the row.

Both layouts ship the *original* image (the release's reference, BrushNet's image) and a mask.
The item's input image, the one every model edits, is that original with the masked region
cleared to mid grey (:data:`CLEARED_RGB`): the pixels a model must invent are not given to it,
as in EditBench's protocol, and the original is kept as the item's reference (so the
``reference`` baseline shows the ground truth). Grey rather than black so that raters, who see
the input with the region outlined, read it as "left empty" rather than as a black object.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from analysis import categories as cat
from analysis import editbench_release as release
from annotation.images import MASK_FORMATS, ImageRejected, mask_array, open_checked
from annotation.manifest import MAX_ID_LENGTH, ManifestRow, nul_problems

CLEARED_RGB = (128, 128, 128)


@dataclass(frozen=True)
class ReadOptions:
    """How a benchmark is read, whatever its layout."""

    max_pixels: int  # the decompression-bomb limit (settings.MAX_IMAGE_PIXELS)
    progress: bool = False
    strict: bool = False  # an unplaceable category is a problem, not an "unknown"
    caption_as: str = "full_image"  # BrushNet's one caption: which prompt type it is


def png_bytes(array: npt.NDArray[np.uint8]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def cleared_input(original: Image.Image, mask: npt.NDArray[np.bool_]) -> bytes:
    """The original with the masked region set to :data:`CLEARED_RGB`, as PNG bytes."""
    pixels = np.asarray(original.convert("RGB")).copy()
    pixels[mask] = CLEARED_RGB
    return png_bytes(pixels)


def mask_png(mask: npt.NDArray[np.bool_]) -> bytes:
    """The mask as we store it everywhere: mode L, 0 = keep, 255 = edit."""
    return png_bytes(mask.astype(np.uint8) * 255)


def fingerprint(fields: dict[str, Any], extra: dict[str, Any], files: Iterable[bytes]) -> str:
    digest = hashlib.sha256(
        json.dumps({**fields, "extra": extra}, sort_keys=True, ensure_ascii=True).encode()
    )
    for content in files:
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def check_id(external_id: str, what: str, *, limit: int = MAX_ID_LENGTH) -> list[str]:
    if not external_id:
        return [f"{what} is empty"]
    problems = nul_problems(external_id, what)
    if len(external_id) > limit:
        problems.append(f"{what} is longer than {limit} characters")
    return problems


def check_prompt(value: Any, column: str) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"column {column!r} is empty"]
    return nul_problems(value, column)


def inside(root: Path, relative: str, what: str) -> tuple[Path | None, str | None]:
    """``root / relative`` if it is a file inside ``root``; else the problem."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        return None, f"{what} {relative!r} points outside the benchmark's folder"
    if not candidate.is_file():
        return None, f"{what} file {relative!r} does not exist"
    return candidate, None


@dataclass(frozen=True)
class Categories:
    """An item's categories and the target its questions are built from."""

    values: dict[str, str]  # category field -> value (cat.UNKNOWN where not placed)
    target: dict[str, Any]
    unplaced: tuple[str, ...]  # why a value is unknown, for the report


def categories_from_aos(aos: str, source: str, columns: dict[str, str]) -> Categories:
    """Categories of an item named by ``aos``: from the given columns, else the value table.

    ``columns`` holds any category columns the source file had (validated by the caller).
    Natural images are photographs, so their style is ``realistic`` unless said otherwise;
    a generated image's style is known only from a column or an ``s=`` of a style word.
    """
    parsed = release.parse_aos(aos)
    values = {"source": source if source in cat.SOURCES else cat.UNKNOWN}
    values["attribute_type"] = release.attribute_type_of(parsed.attribute)
    values["object_type"] = release.object_type_of(parsed.object)
    values["scene"] = parsed.scene if parsed.scene in cat.SCENES else cat.UNKNOWN
    if parsed.scene in cat.STYLES:
        values["style"] = parsed.scene
    else:
        values["style"] = "realistic" if source == "natural" else cat.UNKNOWN
    values.update(columns)
    unplaced = []
    if values["attribute_type"] == cat.UNKNOWN:
        unplaced.append(f"attribute value {parsed.attribute!r}")
    if values["object_type"] == cat.UNKNOWN:
        unplaced.append(f"object {parsed.object!r}")
    for column in ("scene", "style", "source"):
        if values[column] == cat.UNKNOWN:
            unplaced.append(column)
    target: dict[str, Any] = {"object": parsed.object or "object", "attributes": {}}
    if parsed.attribute and values["attribute_type"] != cat.UNKNOWN:
        target["tested_attribute"] = values["attribute_type"]
        # As the world's targets have it: a count is the target's own key, not an attribute.
        if values["attribute_type"] == "count":
            target["count"] = release.count_of(parsed.attribute)
        else:
            target["attributes"] = {values["attribute_type"]: parsed.attribute}
    return Categories(values=values, target=target, unplaced=tuple(unplaced))


@dataclass(frozen=True)
class Files:
    original: bytes  # the file as given (the item's reference)
    original_image: Image.Image
    mask: npt.NDArray[np.bool_]


def check_files(
    original: bytes, mask: bytes | npt.NDArray[np.bool_], *, max_pixels: int
) -> tuple[Files | None, list[str]]:
    """Decode and check the original and its mask (bytes, or an already decoded array)."""
    try:
        image = open_checked(original, what="image", max_pixels=max_pixels)
        if isinstance(mask, bytes):
            checked = open_checked(mask, what="mask", max_pixels=max_pixels, formats=MASK_FORMATS)
            size = (checked.width, checked.height)
        else:
            size = (mask.shape[1], mask.shape[0])
        if size != (image.width, image.height):
            return None, [
                f"mask is {size[0]}×{size[1]} but the image is {image.width}×{image.height}"
            ]
        region = mask_array(checked, what="mask") if isinstance(mask, bytes) else mask
    except ImageRejected as exc:
        return None, [str(exc)]
    if not region.any():
        return None, ["mask is empty: no pixel is marked for editing"]
    return Files(original=original, original_image=image.image, mask=region), []


def make_row(
    *,
    number: int,
    external_id: str,
    fields: dict[str, Any],
    files: Files,
    extra: dict[str, Any],
    warnings: tuple[str, ...],
) -> ManifestRow:
    """The validated row the importer writes: input = original with the region cleared."""
    image = cleared_input(files.original_image, files.mask)
    mask = mask_png(files.mask)
    return ManifestRow(
        row=number,
        external_id=external_id,
        fields={"external_id": external_id, **fields},
        image=image,
        mask=mask,
        reference=files.original,
        width=files.original_image.width,
        height=files.original_image.height,
        fingerprint=fingerprint(fields, extra, (image, mask, files.original)),
        extra=extra,
        warnings=warnings,
    )
