"""import_benchmark: validation of every kind of bad input, all-or-nothing, idempotence."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connections
from PIL import Image

from annotation.models import Benchmark, BenchmarkItem
from annotation.services import benchmarks

pytestmark = pytest.mark.django_db


def _save_png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path, format="PNG")


def _image(seed: int, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)


def _mask(size: int = 24) -> np.ndarray:
    values = np.zeros((size, size), dtype=np.uint8)
    values[6:18, 4:20] = 255
    return values


def _row(n: int) -> dict[str, Any]:
    return {
        "id": f"eb-{n:04d}",
        "image": f"images/eb-{n:04d}.png",
        "mask": f"masks/eb-{n:04d}.png",
        "reference": f"references/eb-{n:04d}.png",
        "source": "generated",
        "prompt_mask_simple": "a red circle",
        "prompt_mask_rich": "a small red striped circle",
        "prompt_full_image": "a photo of a kitchen with a small red striped circle on the table",
        "object_type": "common",
        "attribute_type": "color",
        "scene": "indoor",
        "style": "realistic",
        "target": {"object": "circle", "attributes": {"color": "red", "size": "small"}},
        "seed": 100 + n,
    }


def make_manifest(folder: Path, n: int = 3) -> Path:
    """A valid manifest of n items with real PNG files."""
    rows = []
    for i in range(1, n + 1):
        row = _row(i)
        _save_png(folder / row["image"], _image(i))
        _save_png(folder / row["mask"], _mask(), mode="L")
        _save_png(folder / row["reference"], _image(1000 + i))
        rows.append(row)
    write_rows(folder, rows)
    return folder / "manifest.jsonl"


def write_rows(folder: Path, rows: list[dict[str, Any]]) -> None:
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_rows(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def run_import(path: Path, **options: Any) -> str:
    out = io.StringIO()
    call_command("import_benchmark", str(path), "--no-progress", stdout=out, **options)
    return out.getvalue()


def assert_nothing_written() -> None:
    assert BenchmarkItem.objects.count() == 0
    assert Benchmark.objects.count() == 0
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def import_error(path: Path) -> str:
    with pytest.raises(CommandError) as caught:
        run_import(path)
    assert_nothing_written()
    return str(caught.value)


# --- the happy path -------------------------------------------------------------------------


def test_a_valid_manifest_imports_every_item_with_its_files(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "mini", n=3)
    output = run_import(manifest)
    assert "3 created, 0 updated, 0 unchanged" in output
    benchmark = Benchmark.objects.get()
    assert benchmark.name == "mini"
    item = BenchmarkItem.objects.get(external_id="eb-0002")
    assert (item.width, item.height) == (24, 24)
    assert item.target["object"] == "circle"
    assert item.seed == 102
    with item.image.open("rb") as handle:
        assert handle.read() == (tmp_path / "mini/images/eb-0002.png").read_bytes()
    # Stored names are random: no item id, prompt or model name in a URL.
    assert "eb-0002" not in item.image.name and "circle" not in item.mask.name


def test_a_folder_path_finds_its_manifest(tmp_path: Path) -> None:
    make_manifest(tmp_path / "mini", n=2)
    run_import(tmp_path / "mini", name="renamed", bench_version="2")
    assert Benchmark.objects.get().name == "renamed"
    assert Benchmark.objects.get().version == "2"


def test_a_csv_manifest_imports_like_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "csvbench"
    make_manifest(folder, n=2)
    rows = read_rows(folder)
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "target": json.dumps(row["target"])})
    (folder / "manifest.jsonl").unlink()
    assert "2 created" in run_import(folder)
    assert BenchmarkItem.objects.get(external_id="eb-0001").target["attributes"]["color"] == "red"


def test_reimporting_the_same_manifest_changes_nothing(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path / "mini", n=3)
    run_import(manifest)
    before = {i.external_id: (i.image.name, i.updated_at) for i in BenchmarkItem.objects.all()}
    output = run_import(manifest)
    assert "0 created, 0 updated, 3 unchanged" in output
    after = {i.external_id: (i.image.name, i.updated_at) for i in BenchmarkItem.objects.all()}
    assert after == before
    # input, mask, reference and the three derivatives (display, outline, thumbnail) of each
    assert len(list(Path(settings.MEDIA_ROOT).rglob("*.png"))) == 3 * 6


def test_a_changed_item_is_updated_and_its_old_file_removed(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    folder = tmp_path / "mini"
    manifest = make_manifest(folder, n=3)
    run_import(manifest)
    old_name = BenchmarkItem.objects.get(external_id="eb-0001").image.name
    rows = read_rows(folder)
    rows[0]["prompt_mask_simple"] = "a blue circle"
    write_rows(folder, rows)
    _save_png(folder / "images/eb-0001.png", _image(77))
    with django_capture_on_commit_callbacks(execute=True):
        assert "0 created, 1 updated, 2 unchanged" in run_import(manifest)
    item = BenchmarkItem.objects.get(external_id="eb-0001")
    assert item.prompt_mask_simple == "a blue circle"
    assert item.image.name != old_name
    assert not (Path(settings.MEDIA_ROOT) / old_name).exists()
    # input, mask, reference and the three derivatives (display, outline, thumbnail) of each
    assert len(list(Path(settings.MEDIA_ROOT).rglob("*.png"))) == 3 * 6


def test_items_missing_from_a_new_manifest_are_kept_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "mini"
    manifest = make_manifest(folder, n=3)
    run_import(manifest)
    write_rows(folder, read_rows(folder)[:2])
    assert "1 not in the manifest (kept)" in run_import(manifest)
    assert BenchmarkItem.objects.count() == 3


# --- every kind of bad input: a message with the row, and nothing written -------------------


def _break(tmp_path: Path, change: Any) -> Path:
    folder = tmp_path / "bad"
    make_manifest(folder, n=3)
    rows = read_rows(folder)
    change(folder, rows)
    write_rows(folder, rows)
    return folder / "manifest.jsonl"


def test_a_missing_file_is_reported_with_its_row(tmp_path: Path) -> None:
    path = _break(tmp_path, lambda folder, rows: (folder / rows[1]["image"]).unlink())
    assert "row 2: image file 'images/eb-0002.png' does not exist" in import_error(path)


def test_a_file_outside_the_manifest_folder_is_refused(tmp_path: Path) -> None:
    _save_png(tmp_path / "elsewhere.png", _image(5))
    path = _break(tmp_path, lambda folder, rows: rows[0].update(image="../elsewhere.png"))
    assert "row 1: image '../elsewhere.png' points outside the manifest's folder" in import_error(
        path
    )


@pytest.mark.parametrize(
    "column,value",
    [
        ("object_type", "animal"),
        ("attribute_type", "texture"),
        ("scene", "space"),
        ("style", "sketch"),
        ("source", "web"),
    ],
)
def test_an_unknown_category_value_is_reported(tmp_path: Path, column: str, value: str) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[2].update({column: value}))
    message = import_error(path)
    assert f"row 3: unknown {column} '{value}'; expected one of:" in message


def test_a_mask_of_another_size_is_refused(tmp_path: Path) -> None:
    path = _break(
        tmp_path, lambda folder, rows: _save_png(folder / rows[0]["mask"], _mask(32), mode="L")
    )
    assert "row 1: mask is 32×32 but the image is 24×24" in import_error(path)


def test_a_reference_of_another_size_is_refused(tmp_path: Path) -> None:
    path = _break(
        tmp_path, lambda folder, rows: _save_png(folder / rows[0]["reference"], _image(3, 30))
    )
    assert "row 1: reference is 30×30 but the image is 24×24" in import_error(path)


def test_a_soft_mask_is_refused_as_not_binary(tmp_path: Path) -> None:
    soft = _mask()
    soft[8, 8] = 128
    path = _break(tmp_path, lambda folder, rows: _save_png(folder / rows[1]["mask"], soft, "L"))
    assert "row 2: mask is not binary: it has 3 grey levels (0, 128, 255)" in import_error(path)


def test_an_empty_mask_is_refused(tmp_path: Path) -> None:
    empty = np.zeros((24, 24), dtype=np.uint8)
    path = _break(tmp_path, lambda folder, rows: _save_png(folder / rows[1]["mask"], empty, "L"))
    assert "row 2: mask is empty: no pixel is marked for editing" in import_error(path)


def test_a_colour_mask_is_refused(tmp_path: Path) -> None:
    colour = np.zeros((24, 24, 3), dtype=np.uint8)
    colour[4:10, 4:10, 0] = 255
    path = _break(tmp_path, lambda folder, rows: _save_png(folder / rows[0]["mask"], colour))
    assert "row 1: mask must be a grey-scale mask, not a colour image" in import_error(path)


def test_an_unreadable_image_is_refused(tmp_path: Path) -> None:
    path = _break(
        tmp_path, lambda folder, rows: (folder / rows[0]["image"]).write_bytes(b"not a png at all")
    )
    assert "row 1: image is not a readable image" in import_error(path)


def test_a_truncated_image_is_refused(tmp_path: Path) -> None:
    def truncate(folder: Path, rows: list[dict[str, Any]]) -> None:
        target = folder / rows[0]["image"]
        target.write_bytes(target.read_bytes()[:60])

    assert "row 1: image is damaged and cannot be decoded" in import_error(
        _break(tmp_path, truncate)
    )


def test_an_image_over_the_pixel_limit_is_refused(tmp_path: Path, settings: Any) -> None:
    settings.MAX_IMAGE_PIXELS = 500
    path = _break(tmp_path, lambda folder, rows: None)
    assert "row 1: image is 24×24 = 576 pixels; the limit is 500 pixels" in import_error(path)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    # A 20000×20000 PNG of one colour compresses to a few hundred kB but would
    # decode to 1.2 GB: the header alone must stop it.
    def bomb(folder: Path, rows: list[dict[str, Any]]) -> None:
        Image.new("L", (20000, 20000)).save(folder / rows[0]["image"], format="PNG")

    message = import_error(_break(tmp_path, bomb))
    assert "row 1: image declares too many pixels (decompression bomb guard)" in message


def test_an_unaccepted_format_is_refused(tmp_path: Path) -> None:
    def to_gif(folder: Path, rows: list[dict[str, Any]]) -> None:
        Image.fromarray(_image(1)).save(folder / rows[0]["image"], format="GIF")

    assert "row 1: image is in format GIF; accepted formats: PNG, JPEG, WEBP" in import_error(
        _break(tmp_path, to_gif)
    )


def test_a_duplicate_id_is_reported_with_both_rows(tmp_path: Path) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[2].update(id="eb-0001"))
    assert "row 3: id 'eb-0001' already used on row 1" in import_error(path)


def test_a_missing_column_is_reported(tmp_path: Path) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[1].pop("prompt_mask_rich"))
    assert "row 2: missing column(s): prompt_mask_rich" in import_error(path)


def test_a_misspelt_column_is_reported_rather_than_ignored(tmp_path: Path) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[1].update(referance="x.png"))
    assert "row 2: unknown column(s): referance" in import_error(path)


def test_an_empty_prompt_is_reported(tmp_path: Path) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[0].update(prompt_full_image="  "))
    assert "row 1: prompt_full_image is empty" in import_error(path)


def test_a_target_without_an_object_is_reported(tmp_path: Path) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[0].update(target={"attributes": {}}))
    assert "row 1: target has no 'object'" in import_error(path)


def test_a_line_that_is_not_json_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    make_manifest(folder, n=2)
    with (folder / "manifest.jsonl").open("a") as handle:
        handle.write("{not json\n")
    assert "row 3: not valid JSON" in import_error(folder / "manifest.jsonl")


def test_every_problem_is_listed_not_only_the_first(tmp_path: Path) -> None:
    def many(folder: Path, rows: list[dict[str, Any]]) -> None:
        rows[0]["scene"] = "space"
        (folder / rows[1]["mask"]).unlink()
        rows[2]["style"] = "sketch"

    message = import_error(_break(tmp_path, many))
    assert "3 problem(s)" in message
    assert "row 1:" in message and "row 2:" in message and "row 3:" in message


def test_a_manifest_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    assert "does not exist" in import_error(tmp_path / "nowhere.jsonl")


def test_a_failure_while_writing_leaves_no_rows_and_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = make_manifest(tmp_path / "mini", n=3)
    real = benchmarks._write_item
    calls = {"n": 0}

    def fail_on_third(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(benchmarks, "_write_item", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        run_import(manifest)
    assert_nothing_written()


# --- input that used to end in a traceback (#13 item 5): a message, exit code 1, nothing ----


@pytest.fixture
def command_exit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[str]], str]:
    """Run the command as ``manage.py`` does; its exit code must be 1 and stderr a message."""
    # manage.py closes every connection on the way out; the test's transaction needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    return lambda argv: _command_exit(argv, capsys)


def _command_exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "import_benchmark", *argv, "--no-progress"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert_nothing_written()
    return err


def test_a_seed_beyond_bigint_is_a_message(
    tmp_path: Path, command_exit: Callable[[list[str]], str]
) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[1].update(seed=2**63))
    err = command_exit([str(path)])
    assert f"row 2: seed {2**63} is out of range (a 64-bit signed integer)" in err


@pytest.mark.parametrize("column", ["prompt_mask_rich", "id", "scene"])
def test_a_nul_in_a_text_column_is_a_message(
    tmp_path: Path, command_exit: Callable[[list[str]], str], column: str
) -> None:
    path = _break(tmp_path, lambda folder, rows: rows[0].update({column: "a\x00b"}))
    assert f"row 1: {column} contains a NUL character" in command_exit([str(path)])


def test_a_nul_inside_the_target_is_a_message(
    tmp_path: Path, command_exit: Callable[[list[str]], str]
) -> None:
    def nul(folder: Path, rows: list[dict[str, Any]]) -> None:
        rows[2]["target"] = {"object": "circle", "attributes": {"colour\x00": "red"}}

    assert "row 3: target contains a NUL character" in command_exit([str(_break(tmp_path, nul))])


def test_a_nul_in_a_csv_target_is_a_message(
    tmp_path: Path, command_exit: Callable[[list[str]], str]
) -> None:
    folder = tmp_path / "csvbench"
    make_manifest(folder, n=2)
    rows = read_rows(folder)
    rows[1]["target"] = {"object": "ci\x00rcle"}
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            # json.dumps escapes the NUL as \u0000: it appears only once the target is parsed.
            writer.writerow({**row, "target": json.dumps(row["target"])})
    (folder / "manifest.jsonl").unlink()
    assert "row 3: target contains a NUL character" in command_exit([str(folder)])


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--name", "n" * 101, "--name is 101 characters long; the limit is 100"),
        ("--bench-version", "v" * 41, "--bench-version is 41 characters long; the limit is 40"),
        ("--name", "mi\x00ni", "--name contains a NUL character"),
    ],
)
def test_a_name_or_version_the_database_cannot_hold_is_a_message(
    tmp_path: Path,
    command_exit: Callable[[list[str]], str],
    option: str,
    value: str,
    message: str,
) -> None:
    manifest = make_manifest(tmp_path / "mini", n=1)
    assert message in command_exit([str(manifest), option, value])


def test_a_manifest_that_is_not_utf8_is_a_message(
    tmp_path: Path, command_exit: Callable[[list[str]], str]
) -> None:
    folder = tmp_path / "bad"
    manifest = make_manifest(folder, n=3)
    data = manifest.read_bytes().replace(b"a red circle", b"a r\xe9d circle")
    manifest.write_bytes(data)
    err = command_exit([str(manifest)])
    assert "manifest.jsonl: line 1: not UTF-8 (byte 0xe9 at offset" in err
