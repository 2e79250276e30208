"""TencentARC/BrushNet's re-processed copy of EditBench.

::

    <root>/mapping_file.json   {"<key>": {"image": "images/….jpg", "inpainting_mask": [...],
                                          "caption": "…"}, …}
    <root>/images/…

``inpainting_mask`` is run-length encoded over a 512×512 image, as BrushNet's evaluation reads
it: a flat list (or a space-separated string) of ``start length`` pairs, starts 1-based, pixels
in row-major order. The image must therefore be 512×512. The copy has **one prompt per item**
(``caption``): it becomes the prompt of one type, Full-Image by default (``caption_as``), and
the other two prompts stay empty, so studies over it should ask only that prompt type. The key
(or the image's file name) is read as an ``aos`` for categories when it is one; otherwise the
categories are ``unknown`` and reported. The input is the image with the region cleared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from analysis import categories as cat
from analysis import editbench_release as release
from annotation.importers.common import (
    ReadOptions,
    categories_from_aos,
    check_files,
    check_id,
    check_prompt,
    inside,
    make_row,
)
from annotation.manifest import ManifestInvalid, ManifestRow, nul_problems, read_text_checked

SIDE = release.BRUSHNET_MASK_SIZE


def is_brushnet(root: Path) -> bool:
    return root.is_dir() and (root / release.BRUSHNET_MAPPING).is_file()


def decode_rle(value: Any) -> tuple[npt.NDArray[np.bool_] | None, str | None]:
    """BrushNet's run-length mask as a SIDE×SIDE boolean array, or the problem."""
    if isinstance(value, str):
        tokens: list[Any] = value.split()
    elif isinstance(value, list):
        tokens = value
    else:
        return None, "inpainting_mask must be a list of run lengths (start, length, …)"
    try:
        numbers = [int(t) for t in tokens if not isinstance(t, bool | float)]
    except (TypeError, ValueError):
        return None, "inpainting_mask holds something other than whole numbers"
    if len(numbers) != len(tokens) or len(numbers) % 2:
        return None, "inpainting_mask must be an even number of whole numbers (start, length)"
    flat = np.zeros(SIDE * SIDE, dtype=bool)
    for start, length in zip(numbers[::2], numbers[1::2], strict=True):
        if start < 1 or length < 0 or start - 1 + length > flat.size:
            return None, (
                f"inpainting_mask run ({start}, {length}) lies outside a {SIDE}×{SIDE} image"
            )
        flat[start - 1 : start - 1 + length] = True
    return flat.reshape(SIDE, SIDE), None


def _source(key: str, image: str) -> str:
    text = f"{key} {image}".lower()
    found = [s for s in cat.SOURCES if s in text]
    return found[0] if len(found) == 1 else cat.UNKNOWN


def _item(
    root: Path, number: int, key: str, entry: Any, options: ReadOptions
) -> tuple[ManifestRow | None, list[str]]:
    if not isinstance(entry, dict):
        return None, ["must be a JSON object with image, inpainting_mask and caption"]
    missing = [k for k in release.BRUSHNET_KEYS if k not in entry]
    if missing:
        return None, [f"missing key(s): {', '.join(missing)}"]
    problems = check_id(key, "key") + check_prompt(entry["caption"], "caption")
    extra = {k: v for k, v in entry.items() if k not in release.BRUSHNET_KEYS}
    problems += nul_problems(extra, "extra keys")
    mask, error = decode_rle(entry["inpainting_mask"])
    image_name = entry["image"] if isinstance(entry["image"], str) else ""
    path, image_error = (
        inside(root, image_name, "image") if image_name else (None, "image is empty")
    )
    problems += [p for p in (error, image_error) if p]
    if problems or mask is None or path is None:
        return None, problems
    stem = Path(image_name).stem
    named = key if "o=" in key else stem
    placed = categories_from_aos(named, _source(key, image_name), {})
    if placed.unplaced and options.strict:
        return None, [f"categories cannot be placed: {', '.join(placed.unplaced)}"]
    files, problems = check_files(path.read_bytes(), mask, max_pixels=options.max_pixels)
    if files is None:
        return None, [p.replace("mask is", "inpainting_mask is", 1) for p in problems]
    prompts = {field: "" for field in cat.PROMPT_FIELDS.values()}
    prompts[cat.PROMPT_FIELDS[options.caption_as]] = str(entry["caption"]).strip()
    warnings = (f"category unknown for {', '.join(placed.unplaced)}",) if placed.unplaced else ()
    return make_row(
        number=number,
        external_id=key,
        fields={**prompts, **placed.values, "target": placed.target, "seed": None},
        files=files,
        extra={**extra, "brushnet_image": image_name, "caption_as": options.caption_as},
        warnings=warnings,
    ), []


def _load_mapping(path: Path) -> dict[str, Any]:
    """The top-level object; a repeated key is an error (JSON would keep the last silently)."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        repeated.extend(sorted({k for k in keys if keys.count(k) > 1}))
        return dict(items)

    try:
        mapping = json.loads(read_text_checked(path), object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ManifestInvalid(
            [f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})"]
        ) from None
    if not isinstance(mapping, dict) or not mapping:
        raise ManifestInvalid([f"{path.name} must be a non-empty JSON object of entries"])
    if repeated:
        raise ManifestInvalid([f"{path.name}: key {k!r} appears more than once" for k in repeated])
    return mapping


def read_brushnet(root: Path, *, options: ReadOptions) -> list[ManifestRow]:
    """Validate BrushNet's copy at ``root``; its rows, or :class:`ManifestInvalid`."""
    if options.caption_as not in cat.PROMPT_FIELDS:
        raise ManifestInvalid(
            [f"--caption-as {options.caption_as!r}: expected one of {', '.join(cat.PROMPT_FIELDS)}"]
        )
    mapping_path = root / release.BRUSHNET_MAPPING
    if not mapping_path.is_file():
        raise ManifestInvalid([f"{root} holds no {release.BRUSHNET_MAPPING}"])
    mapping = _load_mapping(mapping_path)
    rows: list[ManifestRow] = []
    problems: list[str] = []
    entries = list(mapping.items())
    for number, (key, entry) in enumerate(
        tqdm(entries, desc="validating", unit="item", disable=not options.progress), start=1
    ):
        row, found = _item(root, number, str(key).strip(), entry, options)
        problems += [f"{mapping_path.name} entry {key!r}: {p}" for p in found]
        if row is not None:
            rows.append(row)
    if problems:
        raise ManifestInvalid(problems)
    return rows
