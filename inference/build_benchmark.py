"""Build the shipped EditBench-style benchmark from the scene world.

    python -m inference.build_benchmark --out fixtures/editbench-mini --items 240 --seed 2023

Items are balanced over the 60 EditBench cells (attribute type × object type × scene × style):
``--items`` must be a multiple of 60, and item ``k`` (0-based) falls in cell ``k % 60``, so any
prefix of 60·n items is balanced too. Each item gets its own world seed, derived from ``--seed``
and its index and recorded in the manifest, so ``sample_scene(seed, object_type=…,
attribute_type=…, scene=…, style=…)`` rebuilds it exactly.

Output, relative to ``--out``:

- ``images/<id>.png``: the input, the scene without the target (RGB);
- ``masks/<id>.png``: the edit mask (mode "L", 0 or 255; 255 = region to edit);
- ``references/<id>.png``: the same scene with the target the prompts ask for (RGB);
- ``manifest.jsonl``: one JSON object per item with the keys in ``MANIFEST_KEYS``.

Same arguments ⇒ byte-identical files.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image
from tqdm import tqdm

from analysis.categories import MANIFEST_COLUMNS, PROMPT_FIELDS
from inference import world

__all__ = [
    "CELLS",
    "MANIFEST_KEYS",
    "BuildSummary",
    "PlannedItem",
    "build",
    "item_seed",
    "main",
    "plan",
]

# The manifest's keys, in the order every row is written: all columns, the optional included.
MANIFEST_KEYS: tuple[str, ...] = MANIFEST_COLUMNS
CATEGORY_KEYS: tuple[str, ...] = ("attribute_type", "object_type", "scene", "style")
# Every (attribute type, object type, scene, style) combination, in a fixed order.
CELLS: tuple[tuple[str, str, str, str], ...] = tuple(
    itertools.product(world.ATTRIBUTE_TYPES, world.OBJECT_TYPES, world.SCENES, world.STYLES)
)
SUBDIRS = ("images", "masks", "references")


@dataclass(frozen=True)
class PlannedItem:
    """One benchmark item before rendering."""

    id: str  # "eb-0001", …
    attribute_type: str
    object_type: str
    scene: str
    style: str
    seed: int  # world seed of this item


@dataclass(frozen=True)
class BuildSummary:
    """What a build wrote."""

    items: int
    counts: dict[str, Counter[str]]  # category key → value → items
    total_bytes: int  # all PNGs and the manifest
    seconds: float


def item_seed(seed: int, index: int) -> int:
    """World seed of item ``index`` (0-based) of a benchmark built with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def plan(items: int, seed: int) -> list[PlannedItem]:
    """The items of a build, balanced over ``CELLS``; ``items`` must be a positive multiple."""
    if isinstance(items, bool) or not isinstance(items, int) or items <= 0:
        raise ValueError(f"items must be a positive int, got {items!r}")
    if items % len(CELLS):
        raise ValueError(f"items must be a multiple of {len(CELLS)} (one per cell), got {items}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    planned = []
    for index in range(items):
        attribute_type, object_type, scene, style = CELLS[index % len(CELLS)]
        planned.append(
            PlannedItem(
                id=f"eb-{index + 1:04d}",
                attribute_type=attribute_type,
                object_type=object_type,
                scene=scene,
                style=style,
                seed=item_seed(seed, index),
            )
        )
    return planned


def _save_png(array: npt.NDArray[np.uint8], path: Path) -> None:
    # optimize=True: smallest zlib stream; Pillow writes no timestamps, so output is reproducible.
    Image.fromarray(array).save(path, format="PNG", optimize=True)


def _build_item(item: PlannedItem, out: Path, canvas: int) -> dict[str, object]:
    spec = world.sample_scene(
        item.seed,
        object_type=item.object_type,
        attribute_type=item.attribute_type,
        scene=item.scene,
        style=item.style,
    )
    before = world.render(spec, canvas=canvas, with_target=False)
    after = world.render(spec, canvas=canvas, with_target=True)
    mask = world.edit_mask(spec, canvas=canvas)
    # The world promises both; an item that broke them would mislead every rater who sees it.
    if (after.target_mask & ~mask).any():
        raise RuntimeError(f"{item.id}: the edit mask misses part of the target")
    if (before.image != after.image)[~mask].any():
        raise RuntimeError(f"{item.id}: input and reference differ outside the edit mask")

    paths = {sub: f"{sub}/{item.id}.png" for sub in SUBDIRS}
    _save_png(before.image, out / paths["images"])
    _save_png(mask.astype(np.uint8) * 255, out / paths["masks"])
    _save_png(after.image, out / paths["references"])
    prompts = world.captions(spec)
    row: dict[str, object] = {
        "id": item.id,
        "image": paths["images"],
        "mask": paths["masks"],
        "reference": paths["references"],
        "source": "generated",
        # One column per prompt type; the Captions fields are named like the prompt types.
        **{column: getattr(prompts, kind) for kind, column in PROMPT_FIELDS.items()},
        "object_type": item.object_type,
        "attribute_type": item.attribute_type,
        "scene": item.scene,
        "style": item.style,
        "target": world.target_dict(spec),
        "seed": item.seed,
    }
    return row


def build(
    out: Path, *, items: int = 240, seed: int = 2023, canvas: int = 256, progress: bool = True
) -> BuildSummary:
    """Write a benchmark of ``items`` items into ``out`` (see the module docstring).

    PNGs of earlier builds (``eb-*.png`` in the three image folders) are removed first, so the
    folder holds exactly the manifest's items; other files in ``out`` are left alone.
    """
    started = time.perf_counter()
    planned = plan(items, seed)
    if isinstance(canvas, bool) or not isinstance(canvas, int) or canvas < 16:
        raise ValueError(f"canvas must be an int of at least 16 pixels, got {canvas!r}")
    for sub in SUBDIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)
        for stale in sorted((out / sub).glob("eb-*.png")):
            stale.unlink()

    rows = [
        _build_item(item, out, canvas)
        for item in tqdm(planned, desc="building", unit="item", disable=not progress)
    ]
    manifest = out / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    counts = {key: Counter(str(row[key]) for row in rows) for key in CATEGORY_KEYS}
    written = [manifest] + [out / str(row[sub]) for row in rows for sub in ("image", "mask")]
    written += [out / str(row["reference"]) for row in rows]
    return BuildSummary(
        items=len(rows),
        counts=counts,
        total_bytes=sum(path.stat().st_size for path in written),
        seconds=time.perf_counter() - started,
    )


def _format_summary(summary: BuildSummary, out: Path) -> str:
    lines = [f"wrote {summary.items} items to {out} in {summary.seconds:.1f} s"]
    for key, counter in summary.counts.items():
        values = ", ".join(f"{value} {n}" for value, n in sorted(counter.items()))
        lines.append(f"  {key}: {values}")
    lines.append(f"  total size: {summary.total_bytes / 1e6:.2f} MB")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.build_benchmark",
        description="Build a balanced EditBench-style benchmark from the synthetic scene world.",
    )
    parser.add_argument("--out", type=Path, default=Path("fixtures/editbench-mini"))
    parser.add_argument("--items", type=int, default=240, help="a multiple of 60 (default 240)")
    parser.add_argument("--seed", type=int, default=2023, help="benchmark seed (default 2023)")
    parser.add_argument("--canvas", type=int, default=256, help="image side in pixels")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        summary = build(
            args.out,
            items=args.items,
            seed=args.seed,
            canvas=args.canvas,
            progress=not args.no_progress,
        )
    except ValueError as err:
        parser.error(str(err))
    print(_format_summary(summary, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
