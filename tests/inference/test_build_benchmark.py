"""The benchmark builder, on small runs, and the shipped fixtures/editbench-mini."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference import build_benchmark, world

SHIPPED = Path(__file__).resolve().parents[2] / "fixtures" / "editbench-mini"
CANVAS = 64  # small runs render small images to keep the suite fast


def read_manifest(folder: Path) -> list[dict[str, object]]:
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def cell(row: dict[str, object]) -> tuple[object, ...]:
    return tuple(row[key] for key in ("attribute_type", "object_type", "scene", "style"))


def all_files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 60-item build through the command line, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("benchmark") / "small"
    argv = ["--out", str(out), "--items", "60", "--seed", "5", "--canvas", str(CANVAS)]
    assert build_benchmark.main([*argv, "--no-progress"]) == 0
    return out


# --- Small runs ------------------------------------------------------------------------------


def test_sixty_items_fill_every_cell_exactly_once(built: Path) -> None:
    rows = read_manifest(built)
    assert [row["id"] for row in rows] == [f"eb-{i:04d}" for i in range(1, 61)]
    cells = Counter(cell(row) for row in rows)
    assert len(cells) == 60
    assert set(cells.values()) == {1}


def test_manifest_rows_have_exactly_the_agreed_keys(built: Path) -> None:
    for row in read_manifest(built):
        assert tuple(row) == build_benchmark.MANIFEST_KEYS
        assert row["source"] == "generated"
        assert row["image"] == f"images/{row['id']}.png"
        assert row["mask"] == f"masks/{row['id']}.png"
        assert row["reference"] == f"references/{row['id']}.png"
        target = row["target"]
        assert isinstance(target, dict)
        assert target["object_type"] == row["object_type"]
        assert target["tested_attribute"] == row["attribute_type"]


def test_it_writes_rgb_inputs_and_references_and_binary_masks(built: Path) -> None:
    for row in read_manifest(built):
        with Image.open(built / str(row["image"])) as image:
            assert (image.mode, image.size) == ("RGB", (CANVAS, CANVAS))
            before = np.asarray(image)
        with Image.open(built / str(row["reference"])) as reference:
            assert (reference.mode, reference.size) == ("RGB", (CANVAS, CANVAS))
            after = np.asarray(reference)
        with Image.open(built / str(row["mask"])) as mask_image:
            assert (mask_image.mode, mask_image.size) == ("L", (CANVAS, CANVAS))
            mask = np.asarray(mask_image)
        assert set(np.unique(mask)) == {0, 255}
        # The reference adds the target inside the mask and changes nothing outside it.
        changed = (before != after).any(axis=-1)
        assert changed.any()
        assert not changed[mask == 0].any()


def test_each_item_is_rebuilt_from_its_manifest_seed_and_categories(built: Path) -> None:
    for row in read_manifest(built)[:12]:
        spec = world.sample_scene(
            int(str(row["seed"])),
            object_type=str(row["object_type"]),
            attribute_type=str(row["attribute_type"]),
            scene=str(row["scene"]),
            style=str(row["style"]),
        )
        captions = world.captions(spec)
        assert row["prompt_mask_simple"] == captions.mask_simple
        assert row["prompt_mask_rich"] == captions.mask_rich
        assert row["prompt_full_image"] == captions.full_image
        assert row["target"] == world.target_dict(spec)
        with Image.open(built / str(row["reference"])) as reference:
            assert np.array_equal(np.asarray(reference), world.render(spec, canvas=CANVAS).image)


def test_the_command_prints_a_summary_per_category(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = built.parent / "again"
    assert build_benchmark.main(["--out", str(out), "--items", "60", "--canvas", "32"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 60 items" in printed
    assert "attribute_type: color 12, count 12, material 12, shape 12, size 12" in printed
    assert "object_type: common 20, rare 20, text 20" in printed
    assert "scene: indoor 30, outdoor 30" in printed
    assert "style: painting 30, realistic 30" in printed


def test_the_same_seed_builds_byte_identical_files(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "twin"
    build_benchmark.build(out, items=60, seed=5, canvas=CANVAS, progress=False)
    first, second = all_files(built), all_files(out)
    assert first.keys() == second.keys()
    assert len(first) == 3 * 60 + 1
    assert all(first[name] == second[name] for name in first)


def test_another_seed_builds_other_items(built: Path) -> None:
    other = build_benchmark.plan(60, 6)
    assert [item.seed for item in other] != [row["seed"] for row in read_manifest(built)]
    assert [(i.attribute_type, i.object_type, i.scene, i.style) for i in other] == [
        cell(row) for row in read_manifest(built)
    ]


def test_a_rebuild_removes_items_of_an_earlier_larger_build(tmp_path: Path) -> None:
    build_benchmark.build(tmp_path, items=120, seed=1, canvas=16, progress=False)
    (tmp_path / "README.md").write_text("kept")
    build_benchmark.build(tmp_path, items=60, seed=1, canvas=16, progress=False)
    assert len(list((tmp_path / "images").glob("*.png"))) == 60
    assert not (tmp_path / "masks" / "eb-0061.png").exists()
    assert (tmp_path / "README.md").read_text() == "kept"


def test_the_first_items_of_a_bigger_build_cover_every_cell() -> None:
    planned = build_benchmark.plan(240, 2023)
    first = Counter((i.attribute_type, i.object_type, i.scene, i.style) for i in planned[:60])
    assert len(first) == 60
    assert len({item.seed for item in planned}) == 240


@pytest.mark.parametrize("items", [0, 59, 61, 100, -60])
def test_it_rejects_item_counts_that_cannot_be_balanced(items: int) -> None:
    with pytest.raises(ValueError, match=str(items)):
        build_benchmark.plan(items, 1)


def test_the_command_reports_bad_arguments_without_writing(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_benchmark.main(["--out", str(tmp_path / "x"), "--items", "50"])
    assert exit_info.value.code == 2
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="canvas"):
        build_benchmark.build(tmp_path / "y", items=60, canvas=8, progress=False)
    assert not (tmp_path / "y").exists()


# --- The shipped benchmark -------------------------------------------------------------------


def test_the_shipped_manifest_has_240_items_four_per_cell() -> None:
    rows = read_manifest(SHIPPED)
    assert len(rows) == 240
    assert [row["id"] for row in rows] == [f"eb-{i:04d}" for i in range(1, 241)]
    cells = Counter(cell(row) for row in rows)
    assert len(cells) == 60
    assert set(cells.values()) == {4}
    assert all(tuple(row) == build_benchmark.MANIFEST_KEYS for row in rows)


def test_every_shipped_file_exists_with_matching_sizes_and_modes() -> None:
    for row in read_manifest(SHIPPED):
        sizes = set()
        for key, mode in (("image", "RGB"), ("mask", "L"), ("reference", "RGB")):
            with Image.open(SHIPPED / str(row[key])) as image:
                assert image.mode == mode, (row["id"], key)
                sizes.add(image.size)
        assert sizes == {(256, 256)}, row["id"]


def test_shipped_masks_are_binary_and_cover_part_of_the_image() -> None:
    for row in read_manifest(SHIPPED)[::8]:
        with Image.open(SHIPPED / str(row["mask"])) as image:
            mask = np.asarray(image)
        assert set(np.unique(mask)) == {0, 255}
        assert 0 < (mask == 255).mean() < 0.9


def test_the_shipped_items_are_what_the_world_renders_from_their_seeds() -> None:
    for row in read_manifest(SHIPPED)[:3]:
        spec = world.sample_scene(
            int(str(row["seed"])),
            object_type=str(row["object_type"]),
            attribute_type=str(row["attribute_type"]),
            scene=str(row["scene"]),
            style=str(row["style"]),
        )
        with Image.open(SHIPPED / str(row["image"])) as image:
            assert np.array_equal(np.asarray(image), world.render(spec, with_target=False).image)
        with Image.open(SHIPPED / str(row["mask"])) as image:
            assert np.array_equal(np.asarray(image) == 255, world.edit_mask(spec))
        assert row["prompt_mask_rich"] == world.captions(spec).mask_rich


def test_the_shipped_benchmark_is_small_and_documented() -> None:
    total = sum(path.stat().st_size for path in SHIPPED.rglob("*") if path.is_file())
    assert total < 25 * 1024 * 1024
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    command = "python -m inference.build_benchmark --out fixtures/editbench-mini --items 240"
    assert command in readme
