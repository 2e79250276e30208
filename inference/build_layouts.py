"""Build small fixtures in the *distributed* EditBench layouts from the scene world.

    python -m inference.build_layouts --layout editbench --out fixtures/editbench-release-mini
    python -m inference.build_layouts --layout brushnet --out fixtures/brushnet-editbench-mini

The real files cannot be downloaded here, so the importer is tested on look-alikes in the exact
layouts (file names, columns, encodings), drawn by our world (``inference/world``):

- ``editbench``: the release of Imagen Editor. ``annotations_natural.csv`` and
  ``annotations_generated.csv`` (columns ``aos``, ``prompt_full``, ``prompt_mask-simple``,
  ``prompt_mask-rich`` and a ``seed`` column the importer keeps as an extra; the generated file
  also has a ``style`` column), ``references_<source>/<aos>.png`` (the scene *with* the target,
  RGB) and ``masks_<source>/<aos>.png`` (white = edit). One item has the irregular key of the
  real release, ``…_o=letter_style=<scene>``.
- ``brushnet``: BrushNet's copy. ``mapping_file.json`` (``image``, ``inpainting_mask`` as
  row-major run lengths with 1-based starts over 512×512, ``caption`` = the Full-Image prompt)
  and ``images/<source>/<aos>.jpg`` at 512×512.

Six items each (three natural, three generated, over distinct category cells). Same arguments
⇒ the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from analysis import editbench_release as release
from inference import world
from inference.build_benchmark import item_seed

__all__ = ["ITEMS", "build_brushnet", "build_release", "main", "rle_encode"]

_NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}

#: (source, attribute type, object type, scene, style) of each fixture item.
ITEMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("natural", "color", "common", "indoor", "realistic"),
    ("natural", "count", "rare", "outdoor", "realistic"),
    ("natural", "material", "text", "outdoor", "realistic"),  # the irregular aos
    ("generated", "shape", "common", "outdoor", "painting"),
    ("generated", "size", "rare", "indoor", "painting"),
    ("generated", "color", "text", "indoor", "realistic"),
)


@dataclass(frozen=True)
class _Item:
    source: str
    aos: str
    seed: int
    style: str
    reference: npt.NDArray[np.uint8]  # H×W×3, the scene with the target
    mask: npt.NDArray[np.bool_]  # H×W, True = edit
    prompts: world.Captions


def _aos(target: dict[str, object], scene: str, irregular: bool) -> str:
    tested = str(target["tested_attribute"])
    value = target["count"] if tested == "count" else target["attributes"][tested]  # type: ignore[index]
    value_text = _NUMBER_WORDS.get(value, str(value)) if isinstance(value, int) else str(value)
    noun = str(target["object"])
    if irregular:
        # The real release's odd file: the object's first word, then "style=" for "s=".
        return f"a={value_text}_o={noun.split()[0]}_style={scene}"
    return f"a={value_text}_o={noun.replace(' ', '~')}_s={scene}"


def _items(seed: int, canvas: int) -> list[_Item]:
    items = []
    for index, (source, attribute, object_type, scene, style) in enumerate(ITEMS):
        item_world_seed = item_seed(seed, index)
        spec = world.sample_scene(
            item_world_seed,
            object_type=object_type,
            attribute_type=attribute,
            scene=scene,
            style=style,
        )
        after = world.render(spec, canvas=canvas, with_target=True)
        items.append(
            _Item(
                source=source,
                aos=_aos(world.target_dict(spec), scene, irregular=index == 2),
                seed=item_world_seed,
                style=style,
                reference=after.image,
                mask=world.edit_mask(spec, canvas=canvas),
                prompts=world.captions(spec),
            )
        )
    return items


def _save_png(array: npt.NDArray[np.uint8], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", optimize=True)


def build_release(out: Path, *, seed: int = 2024, canvas: int = 1024) -> list[str]:
    """Write the release-layout fixture into ``out``; returns the aos keys written."""
    items = _items(seed, canvas)
    for source, name in release.RELEASE_ANNOTATIONS.items():
        mine = [item for item in items if item.source == source]
        columns = ["aos", "prompt_full", "prompt_mask-simple", "prompt_mask-rich", "seed"]
        if source == "generated":
            columns.append("style")
        with (out / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for item in mine:
                row = {
                    "aos": item.aos,
                    "prompt_full": item.prompts.full_image,
                    "prompt_mask-simple": item.prompts.mask_simple,
                    "prompt_mask-rich": item.prompts.mask_rich,
                    "seed": str(item.seed),
                    "style": item.style,
                }
                writer.writerow({c: row[c] for c in columns})
                _save_png(item.reference, out / f"references_{source}" / f"{item.aos}.png")
                _save_png(
                    item.mask.astype(np.uint8) * 255, out / f"masks_{source}" / f"{item.aos}.png"
                )
    return [item.aos for item in items]


def rle_encode(mask: npt.NDArray[np.bool_]) -> list[int]:
    """BrushNet's run lengths: ``start, length, …`` over the row-major pixels, starts 1-based."""
    flat = np.concatenate([[False], mask.ravel(), [False]])
    edges = np.flatnonzero(flat[1:] != flat[:-1])  # run starts and ends, 0-based
    starts, ends = edges[::2], edges[1::2]
    return [int(v) for pair in zip(starts + 1, ends - starts, strict=True) for v in pair]


def build_brushnet(out: Path, *, seed: int = 2024) -> list[str]:
    """Write the BrushNet-layout fixture into ``out``; returns the mapping keys written."""
    side = release.BRUSHNET_MASK_SIZE
    mapping: dict[str, dict[str, object]] = {}
    for number, item in enumerate(_items(seed, side), start=1):
        image = f"images/{item.source}/{item.aos}.jpg"
        (out / image).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(item.reference).save(out / image, format="JPEG", quality=92)
        mapping[f"{item.source}-{number:03d}"] = {
            "image": image,
            "inpainting_mask": rle_encode(item.mask),
            "caption": item.prompts.full_image,
        }
    (out / release.BRUSHNET_MAPPING).write_text(json.dumps(mapping) + "\n")
    return list(mapping)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.build_layouts",
        description="Build a 6-item fixture in the released EditBench or BrushNet layout.",
    )
    parser.add_argument("--layout", choices=("editbench", "brushnet"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2024, help="fixture seed (default 2024)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.layout == "editbench":
        written = build_release(args.out, seed=args.seed)
    else:
        written = build_brushnet(args.out, seed=args.seed)
    print(f"wrote {len(written)} items to {args.out}: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
