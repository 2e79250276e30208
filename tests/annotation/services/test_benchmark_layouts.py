"""import_benchmark on the distributed layouts: the EditBench release and BrushNet's copy.

Every test works on a copy of the shipped fixtures (fixtures/editbench-release-mini,
fixtures/brushnet-editbench-mini, built by ``python -m inference.build_layouts``), changed
where the test is about bad input; a bad input must be named with its file and row, and
nothing may be written.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from annotation.models import Benchmark, BenchmarkItem
from inference.build_layouts import rle_encode

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
RELEASE = FIXTURES / "editbench-release-mini"
BRUSHNET = FIXTURES / "brushnet-editbench-mini"
IRREGULAR = "a=striped_o=letter_style=outdoor"


def copy_of(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def run_import(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_benchmark", str(path), "--no-progress", *args, stdout=out)
    return out.getvalue()


def assert_nothing_written() -> None:
    assert BenchmarkItem.objects.count() == 0
    assert Benchmark.objects.count() == 0
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def import_error(path: Path, *args: str) -> str:
    with pytest.raises(CommandError) as caught:
        run_import(path, *args)
    assert_nothing_written()
    return str(caught.value)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def first_natural(root: Path) -> str:
    return read_csv(root / "annotations_natural.csv")[0]["aos"]


# --- the release: clean import, re-import -----------------------------------------------------


def test_the_release_fixture_imports_every_item_with_its_categories(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    output = run_import(root)
    assert "6 created, 0 updated, 0 unchanged" in output
    assert "category unknown" not in output
    items = {item.external_id: item for item in BenchmarkItem.objects.all()}
    assert len(items) == 6
    item = items["natural/a=three_o=heart_s=outdoor"]
    assert (item.source, item.attribute_type, item.object_type) == ("natural", "count", "rare")
    assert (item.scene, item.style, item.width, item.height) == ("outdoor", "realistic", 1024, 1024)
    assert item.target == {
        "object": "heart",
        "attributes": {},
        "tested_attribute": "count",
        "count": 3,
    }
    # Other columns stay on the item; the aos too.
    assert item.extra["aos"] == "a=three_o=heart_s=outdoor" and item.extra["seed"].isdigit()
    row = read_csv(root / "annotations_natural.csv")[1]
    assert item.prompt_full_image == row["prompt_full"]
    assert item.prompt_mask_rich == row["prompt_mask-rich"]
    # The generated file's style column wins over the table (which cannot tell style).
    assert items["generated/a=tall_o=square_s=outdoor"].style == "painting"


def test_the_irregular_aos_is_read_tolerantly(tmp_path: Path) -> None:
    run_import(copy_of(RELEASE, tmp_path))
    item = BenchmarkItem.objects.get(external_id=f"natural/{IRREGULAR}")
    assert (item.object_type, item.attribute_type, item.scene) == ("text", "material", "outdoor")
    assert item.target["object"] == "letter"


def test_the_input_is_the_reference_with_the_masked_region_cleared(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    run_import(root)
    aos = first_natural(root)
    item = BenchmarkItem.objects.get(external_id=f"natural/{aos}")
    original = np.asarray(Image.open(root / f"references_natural/{aos}.png").convert("RGB"))
    mask = np.asarray(Image.open(root / f"masks_natural/{aos}.png").convert("L")) > 0
    with item.image.open("rb") as handle:
        image = np.asarray(Image.open(handle).convert("RGB"))
    assert (image[~mask] == original[~mask]).all()
    assert (image[mask] == 128).all()
    with item.reference.open("rb") as handle:
        assert handle.read() == (root / f"references_natural/{aos}.png").read_bytes()


def test_reimporting_the_release_changes_nothing(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    run_import(root)
    before = {i.external_id: (i.image.name, i.updated_at) for i in BenchmarkItem.objects.all()}
    assert "0 created, 0 updated, 6 unchanged" in run_import(root)
    after = {i.external_id: (i.image.name, i.updated_at) for i in BenchmarkItem.objects.all()}
    assert after == before
    # input, mask, reference, display, outline, thumbnail per item, and nothing else
    assert len(list(Path(settings.MEDIA_ROOT).rglob("*.png"))) == 6 * 6


def test_the_index_file_itself_selects_the_layout(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    assert "6 created" in run_import(root / "annotations_natural.csv", "--name", "release")


# --- the release: each bad input --------------------------------------------------------------


def test_a_missing_mask_is_reported_with_its_aos(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    aos = first_natural(root)
    (root / f"masks_natural/{aos}.png").unlink()
    message = import_error(root)
    assert (
        f"annotations_natural.csv row 2: mask file 'masks_natural/{aos}.png' does not exist"
        in message
    )


def test_a_mask_of_another_size_is_refused(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    aos = first_natural(root)
    small = np.zeros((512, 512), dtype=np.uint8)
    small[100:200, 100:200] = 255
    Image.fromarray(small).save(root / f"masks_natural/{aos}.png")
    message = import_error(root)
    assert "annotations_natural.csv row 2: mask is 512×512 but the image is 1024×1024" in message


def test_a_duplicate_aos_is_reported_with_both_rows(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    rows = read_csv(root / "annotations_natural.csv")
    rows[2]["aos"] = rows[0]["aos"]
    write_csv(root / "annotations_natural.csv", rows)
    message = import_error(root)
    assert f"annotations_natural.csv row 4: aos {rows[0]['aos']!r} already used on row 2" in message


def test_an_empty_prompt_column_is_reported(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    rows = read_csv(root / "annotations_generated.csv")
    rows[1]["prompt_mask-rich"] = " "
    write_csv(root / "annotations_generated.csv", rows)
    message = import_error(root)
    assert "annotations_generated.csv row 3: column 'prompt_mask-rich' is empty" in message


def test_a_missing_prompt_column_is_reported(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    rows = read_csv(root / "annotations_natural.csv")
    write_csv(
        root / "annotations_natural.csv",
        [{k: v for k, v in r.items() if k != "prompt_full"} for r in rows],
    )
    assert "annotations_natural.csv: missing column(s): prompt_full" in import_error(root)


def test_an_aos_too_long_for_an_item_id_is_refused(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    rows = read_csv(root / "annotations_generated.csv")
    rows[0]["aos"] = "a=red_o=" + "x" * 85 + "_s=indoor"  # 100 characters, 110 with the source
    write_csv(root / "annotations_generated.csv", rows)
    message = import_error(root)
    assert "annotations_generated.csv row 2: aos is longer than 90 characters" in message


def test_a_nul_in_an_extra_column_is_refused(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    rows = read_csv(root / "annotations_natural.csv")
    rows[1]["seed"] = "12\x0034"
    write_csv(root / "annotations_natural.csv", rows)
    assert "annotations_natural.csv row 3: seed contains a NUL character" in import_error(root)


def test_a_non_binary_mask_is_refused(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    aos = first_natural(root)
    path = root / f"masks_natural/{aos}.png"
    soft = np.asarray(Image.open(path).convert("L")).copy()
    soft[0, 0] = 77
    Image.fromarray(soft).save(path)
    message = import_error(root)
    assert "annotations_natural.csv row 2: mask is not binary: it has 3 grey levels" in message


def _with_unknown_value(root: Path) -> str:
    rows = read_csv(root / "annotations_natural.csv")
    rows[0]["aos"] = "a=iridescent_o=circle_s=indoor"
    write_csv(root / "annotations_natural.csv", rows)
    for folder in ("references_natural", "masks_natural"):
        (root / folder / f"{first_natural(RELEASE)}.png").rename(
            root / folder / "a=iridescent_o=circle_s=indoor.png"
        )
    return "natural/a=iridescent_o=circle_s=indoor"


def test_an_unknown_attribute_value_is_imported_as_unknown_and_reported(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    item_id = _with_unknown_value(root)
    output = run_import(root)
    assert "1 item(s) imported with a category unknown:" in output
    assert f"{item_id}: category unknown for attribute value 'iridescent'" in output
    item = BenchmarkItem.objects.get(external_id=item_id)
    assert item.attribute_type == "unknown" and item.object_type == "common"


def test_an_unknown_attribute_value_is_refused_when_strict(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    _with_unknown_value(root)
    message = import_error(root, "--strict-categories")
    assert (
        "annotations_natural.csv row 2: the value table cannot place: attribute value 'iridescent'"
        in message
    )


def test_an_unknown_value_in_a_category_column_is_refused(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    rows = read_csv(root / "annotations_generated.csv")
    rows[0]["style"] = "sketch"
    write_csv(root / "annotations_generated.csv", rows)
    assert "annotations_generated.csv row 2: unknown style 'sketch'" in import_error(root)


def test_a_release_csv_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    path = root / "annotations_natural.csv"
    path.write_bytes(path.read_bytes().replace(b"photo", b"ph\xf6to", 1))
    message = import_error(root)
    assert "annotations_natural.csv: line 2: not UTF-8 (byte 0xf6" in message


# --- BrushNet's copy --------------------------------------------------------------------------


def test_the_brushnet_fixture_imports_with_its_one_prompt_type(tmp_path: Path) -> None:
    root = copy_of(BRUSHNET, tmp_path)
    output = run_import(root)
    assert "6 created" in output
    # Generated images' style is not in BrushNet's copy: unknown, and said so.
    assert "generated-004: category unknown for style" in output
    item = BenchmarkItem.objects.get(external_id="natural-002")
    mapping = json.loads((root / "mapping_file.json").read_text())
    assert item.prompt_full_image == mapping["natural-002"]["caption"]
    assert item.prompt_mask_simple == "" and item.prompt_mask_rich == ""
    assert (item.width, item.height, item.source) == (512, 512, "natural")
    assert (item.attribute_type, item.object_type, item.scene) == ("count", "rare", "outdoor")
    with item.mask.open("rb") as handle:
        mask = np.asarray(Image.open(handle)) > 0
    assert rle_encode(mask) == mapping["natural-002"]["inpainting_mask"]
    assert "6 unchanged" in run_import(root)


def test_the_caption_can_be_imported_as_another_prompt_type(tmp_path: Path) -> None:
    run_import(copy_of(BRUSHNET, tmp_path), "--caption-as", "mask_rich")
    item = BenchmarkItem.objects.get(external_id="natural-001")
    assert item.prompt_mask_rich and not item.prompt_full_image


def _break_mapping(tmp_path: Path, change: Any) -> Path:
    root = copy_of(BRUSHNET, tmp_path)
    mapping = json.loads((root / "mapping_file.json").read_text())
    change(mapping)
    (root / "mapping_file.json").write_text(json.dumps(mapping))
    return root


def test_a_run_outside_the_512_image_is_refused(tmp_path: Path) -> None:
    root = _break_mapping(
        tmp_path, lambda m: m["natural-001"]["inpainting_mask"].extend([512 * 512, 5])
    )
    message = import_error(root)
    assert "entry 'natural-001': inpainting_mask run (262144, 5) lies outside" in message


def test_an_odd_number_of_run_lengths_is_refused(tmp_path: Path) -> None:
    root = _break_mapping(tmp_path, lambda m: m["natural-003"]["inpainting_mask"].append(7))
    assert "entry 'natural-003': inpainting_mask must be an even number" in import_error(root)


def test_an_image_of_another_size_than_the_masks_is_refused(tmp_path: Path) -> None:
    root = copy_of(BRUSHNET, tmp_path)
    mapping = json.loads((root / "mapping_file.json").read_text())
    image = root / mapping["generated-005"]["image"]
    Image.open(image).resize((640, 480)).save(image, format="JPEG")
    message = import_error(root)
    assert "entry 'generated-005': inpainting_mask is 512×512 but the image is 640×480" in message


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    root = copy_of(BRUSHNET, tmp_path)
    path = root / "mapping_file.json"
    text = path.read_text()
    entry = json.dumps(json.loads(text)["natural-001"])
    path.write_text(text.rstrip()[:-1] + f', "natural-001": {entry}}}')
    assert "mapping_file.json: key 'natural-001' appears more than once" in import_error(root)


def test_a_missing_caption_is_refused(tmp_path: Path) -> None:
    root = _break_mapping(tmp_path, lambda m: m["natural-002"].pop("caption"))
    assert "entry 'natural-002': missing key(s): caption" in import_error(root)


def test_an_image_outside_the_folder_is_refused(tmp_path: Path) -> None:
    root = _break_mapping(tmp_path, lambda m: m["natural-002"].update(image="../../x.jpg"))
    assert "entry 'natural-002': image '../../x.jpg' points outside" in import_error(root)


# --- which layout ---------------------------------------------------------------------------


def test_a_forced_format_reads_only_that_layout(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    message = import_error(root, "--format", "brushnet")
    assert "holds no mapping_file.json" in message


def test_a_code_editing_benchmark_of_the_same_name_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "EditBench"
    root.mkdir()
    record = {"problem_id": 1, "original_code": "x = 1", "instruction": "rename", "test_code": ""}
    (root / "test.jsonl").write_text(json.dumps(record) + "\n")
    message = import_error(root)
    assert "it looks like a code-editing benchmark that shares the name EditBench" in message
    assert "annotations_natural.csv" in message  # and it says what we read instead


def test_an_image_editing_set_of_the_same_name_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "EditBench"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "images" / "0001.png")
    with (root / "metadata.csv").open("w") as handle:
        handle.write("id,source_image,edit_type,instruction\n1,images/0001.png,replace,add a hat\n")
    message = import_error(root)
    assert "it looks like an instruction-based image-editing set" in message


def test_a_folder_named_editbench_with_other_files_is_refused_by_name(tmp_path: Path) -> None:
    root = tmp_path / "Edit-Bench"
    root.mkdir()
    (root / "train-00000.parquet").write_bytes(b"PAR1")
    message = import_error(root)
    assert "it shares the name EditBench but holds none of the files" in message


def test_a_folder_of_two_layouts_asks_for_a_format(tmp_path: Path) -> None:
    root = copy_of(RELEASE, tmp_path)
    shutil.copy(BRUSHNET / "mapping_file.json", root / "mapping_file.json")
    message = import_error(root)
    assert (
        "holds the files of several layouts (editbench, brushnet); choose one with --format"
        in message
    )
