"""Uploading an external model's outputs: every file checked, all or nothing."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from annotation.models import Benchmark, Edit, EditModel
from annotation.services.errors import ServiceError
from annotation.services.uploads import external_outputs_upload
from tests.annotation import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def benchmark() -> Benchmark:
    bench = f.BenchmarkFactory()
    f.BenchmarkItemFactory(benchmark=bench, external_id="eb-0001")
    f.BenchmarkItemFactory(benchmark=bench, external_id="eb-0002")
    return bench


@pytest.fixture
def theirs() -> EditModel:
    return EditModel.objects.create(name="their model", kind="external")


def archive(files: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    out.seek(0)
    return out


def good(**extra: bytes) -> dict[str, bytes]:
    return {
        "eb-0001__mask_simple.png": f.png_bytes(),
        "eb-0002__mask_rich.png": f.png_bytes(color=(1, 2, 3)),
        **extra,
    }


def stored_files() -> list[Path]:
    media = Path(settings.MEDIA_ROOT) / "edits"
    return list(media.glob("*")) if media.exists() else []


def rejected(model: EditModel, bench: Benchmark, files: dict[str, bytes], name: str) -> str:
    report = external_outputs_upload(model=model, benchmark=bench, archive=archive(files))
    assert not report.ok and report.created == 0
    assert Edit.objects.count() == 0 and stored_files() == []
    by_name = {r.name: r for r in report.files}
    assert not by_name[name].ok
    # The other files are reported as fine, so the user knows what to fix.
    assert all(r.ok for r in report.files if r.name != name)
    return by_name[name].message


def test_a_valid_archive_stores_one_edit_per_file(benchmark: Benchmark, theirs: EditModel) -> None:
    report = external_outputs_upload(model=theirs, benchmark=benchmark, archive=archive(good()))
    assert report.ok and report.created == 2
    edit = Edit.objects.get(item__external_id="eb-0002")
    assert (edit.model, edit.prompt_type, edit.seed) == (theirs, "mask_rich", 0)
    assert "eb-0002" not in edit.image.name and "their" not in edit.image.name
    assert len(stored_files()) == 2


def test_files_inside_a_folder_are_accepted(benchmark: Benchmark, theirs: EditModel) -> None:
    files = {f"outputs/{k}": v for k, v in good().items()}
    report = external_outputs_upload(model=theirs, benchmark=benchmark, archive=archive(files))
    assert report.ok and report.created == 2


def test_a_zip_slip_path_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    name = "../../etc/eb-0001__full_image.png"
    message = rejected(theirs, benchmark, good(**{name: f.png_bytes()}), name)
    assert message == "unsafe path: it would leave the upload folder"


def test_an_absolute_path_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    name = "/tmp/eb-0001__full_image.png"
    assert "unsafe path" in rejected(theirs, benchmark, good(**{name: f.png_bytes()}), name)


def test_a_badly_named_file_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    name = "eb-0001-mask_simple.png"
    message = rejected(theirs, benchmark, {**good(), name: f.png_bytes()}, name)
    assert message.startswith("the name must be <item id>__<prompt type>.png")


def test_an_unknown_item_id_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    name = "eb-9999__mask_simple.png"
    message = rejected(theirs, benchmark, {**good(), name: f.png_bytes()}, name)
    assert message == "unknown item id 'eb-9999' in this benchmark"


def test_a_duplicate_item_and_prompt_type_is_refused(
    benchmark: Benchmark, theirs: EditModel
) -> None:
    name = "again/eb-0001__mask_simple.png"
    message = rejected(theirs, benchmark, {**good(), name: f.png_bytes()}, name)
    assert message == "duplicate: eb-0001__mask_simple.png already gives this item and prompt type"


def test_a_file_of_another_size_than_its_item_is_refused(
    benchmark: Benchmark, theirs: EditModel
) -> None:
    name = "eb-0001__full_image.png"
    message = rejected(theirs, benchmark, {**good(), name: f.png_bytes(32, 16)}, name)
    assert message == "the image is 32×16 but the item is 16×16"


def test_a_file_that_is_not_an_image_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    name = "eb-0001__full_image.png"
    message = rejected(theirs, benchmark, {**good(), name: b"<html>not an image</html>"}, name)
    assert message == "the file is not a readable image"


def test_an_unaccepted_image_format_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (16, 16)).save(gif, format="GIF")
    name = "eb-0001__full_image.png"
    message = rejected(theirs, benchmark, {**good(), name: gif.getvalue()}, name)
    assert message == "the file is in format GIF; accepted formats: PNG, JPEG, WEBP"


def test_a_decompression_bomb_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    bomb = io.BytesIO()
    Image.new("L", (20000, 20000)).save(bomb, format="PNG")
    name = "eb-0001__full_image.png"
    message = rejected(theirs, benchmark, {**good(), name: bomb.getvalue()}, name)
    assert "decompression bomb guard" in message or "pixels; the limit is" in message


def test_an_output_that_already_exists_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    external_outputs_upload(
        model=theirs,
        benchmark=benchmark,
        archive=archive({"eb-0001__mask_simple.png": f.png_bytes()}),
    )
    report = external_outputs_upload(model=theirs, benchmark=benchmark, archive=archive(good()))
    assert report.created == 0 and Edit.objects.count() == 1
    message = {r.name: r.message for r in report.files}["eb-0001__mask_simple.png"]
    assert message == "this model already has an edit for this item and prompt type"


def test_a_file_that_is_not_a_zip_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    with pytest.raises(ServiceError, match="not a readable zip archive"):
        external_outputs_upload(model=theirs, benchmark=benchmark, archive=io.BytesIO(b"PK?"))
    assert Edit.objects.count() == 0


def test_an_empty_archive_is_refused(benchmark: Benchmark, theirs: EditModel) -> None:
    with pytest.raises(ServiceError, match="holds no files"):
        external_outputs_upload(model=theirs, benchmark=benchmark, archive=archive({}))


def test_outputs_are_only_uploaded_for_external_models(benchmark: Benchmark) -> None:
    ours = EditModel.objects.create(name="ours", kind="baseline", preset="identity")
    with pytest.raises(ServiceError, match="outputs are uploaded for external models only") as e:
        external_outputs_upload(model=ours, benchmark=benchmark, archive=archive(good()))
    assert e.value.code == "conflict"


def test_outputs_are_stored_as_our_own_png_of_the_same_pixels(
    benchmark: Benchmark, theirs: EditModel
) -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 128, 255)).save(jpeg, format="JPEG", quality=100)
    files = {
        "eb-0001__mask_simple.png": f.png_bytes(color=(7, 8, 9)),
        "eb-0002__mask_rich.png": jpeg.getvalue(),
    }
    report = external_outputs_upload(model=theirs, benchmark=benchmark, archive=archive(files))
    assert report.ok and report.created == 2
    for edit in Edit.objects.all():
        stored = Image.open(io.BytesIO(edit.image.read()))
        assert stored.format == "PNG" and stored.mode == "RGB" and not stored.info
    png = Edit.objects.get(item__external_id="eb-0001").image.read()
    assert Image.open(io.BytesIO(png)).getpixel((3, 3)) == (7, 8, 9)  # lossless from a PNG


def patched(
    files: dict[str, bytes], name: str, patch: Callable[[bytearray, int, int], None]
) -> bytes:
    """An archive of ``files`` stored uncompressed, with the entry of ``name`` patched.

    ``patch(raw, local, central)`` gets the offsets of the member's local and
    central-directory headers.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for member, data in files.items():
            z.writestr(member, data)
    raw = bytearray(out.getvalue())
    encoded = name.encode()
    local = raw.index(b"PK\x03\x04")
    while raw[local + 30 : local + 30 + len(encoded)] != encoded:
        local = raw.index(b"PK\x03\x04", local + 4)
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(encoded)] != encoded:
        central = raw.index(b"PK\x01\x02", central + 4)
    patch(raw, local, central)
    return bytes(raw)


def _flip_a_data_byte(raw: bytearray, local: int, central: int) -> None:
    start = local + 30 + int.from_bytes(raw[local + 26 : local + 28], "little")
    raw[start + 40] ^= 0xFF


def _shrink_sizes(raw: bytearray, local: int, central: int) -> None:
    for at in (local + 18, local + 22, central + 20, central + 24):
        size = int.from_bytes(raw[at : at + 4], "little")
        raw[at : at + 4] = (size - 20).to_bytes(4, "little")


def _mark_encrypted(raw: bytearray, local: int, central: int) -> None:
    raw[central + 8] |= 0x1
    raw[local + 6] |= 0x1


def _unknown_method(raw: bytearray, local: int, central: int) -> None:
    raw[central + 10 : central + 12] = (99).to_bytes(2, "little")  # AES, which we do not read
    raw[local + 8 : local + 10] = (99).to_bytes(2, "little")


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (_flip_a_data_byte, "damaged in the archive"),
        (_shrink_sizes, "damaged in the archive"),
        (_mark_encrypted, "encrypted"),
        (_unknown_method, "compressed with method 99"),
    ],
)
def test_a_malformed_member_is_named_and_nothing_is_stored(
    benchmark: Benchmark,
    theirs: EditModel,
    patch: Callable[[bytearray, int, int], None],
    expected: str,
) -> None:
    raw = patched(good(), "eb-0002__mask_rich.png", patch)
    report = external_outputs_upload(model=theirs, benchmark=benchmark, archive=io.BytesIO(raw))
    assert not report.ok and report.created == 0
    assert Edit.objects.count() == 0 and stored_files() == []
    by_name = {r.name: r for r in report.files}
    assert expected in by_name["eb-0002__mask_rich.png"].message
    assert by_name["eb-0001__mask_simple.png"].ok


def test_a_name_flagged_utf8_that_is_not_is_refused_with_a_message(
    benchmark: Benchmark, theirs: EditModel
) -> None:
    def bad_name(raw: bytearray, local: int, central: int) -> None:
        raw[central + 9] |= 0x08  # flag bit 11: the name is UTF-8
        raw[central + 46 : central + 48] = b"\xff\xfe"

    raw = patched(good(), "eb-0001__mask_simple.png", bad_name)
    with pytest.raises(ServiceError, match="marked as UTF-8 but is not"):
        external_outputs_upload(model=theirs, benchmark=benchmark, archive=io.BytesIO(raw))
    assert Edit.objects.count() == 0 and stored_files() == []
