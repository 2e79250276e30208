"""External models' outputs, uploaded as a zip and stored all or nothing."""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings
from django.db import transaction

from annotation import categories as cat
from annotation.images import MAX_IMAGE_BYTES, ImageRejected, open_checked, pixels_png
from annotation.models import Benchmark, BenchmarkItem, Edit, EditModel
from annotation.services.errors import ServiceError
from annotation.services.files import FileLedger

UPLOAD_NAME = re.compile(
    r"^(?P<item>[^/\\]+?)__(?P<prompt>"
    + "|".join(re.escape(p) for p in cat.PROMPT_TYPES)
    + r")\.png$"
)
UPLOAD_MAX_FILES = 5000
UPLOAD_MAX_TOTAL_BYTES = 2 * 1024**3
IGNORED_UPLOAD_NAMES = ("__MACOSX/", ".DS_Store", "Thumbs.db")
READABLE_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
# What reading a damaged member raises: a CRC or size that does not match the
# header, a truncated or corrupt compressed stream.
DAMAGED_MEMBER = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


@dataclass(frozen=True)
class UploadedFile:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class UploadReport:
    files: list[UploadedFile]
    created: int

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)


def _upload_check(
    info: zipfile.ZipInfo,
    archive: zipfile.ZipFile,
    items: dict[str, BenchmarkItem],
    seen: dict[tuple[str, str], str],
    model: EditModel,
) -> tuple[str, tuple[BenchmarkItem, str, bytes] | None]:
    """Validate one archive member; return (message, accepted edit or None)."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        return "unsafe path: it would leave the upload folder", None
    base = parts[-1] if parts else name
    match = UPLOAD_NAME.match(base)
    if match is None:
        return "the name must be <item id>__<prompt type>.png, e.g. eb-0001__mask_rich.png", None
    external_id, prompt_type = match["item"], match["prompt"]
    item = items.get(external_id)
    if item is None:
        return f"unknown item id {external_id!r} in this benchmark", None
    key = (external_id, prompt_type)
    if key in seen:
        return f"duplicate: {seen[key]} already gives this item and prompt type", None
    seen[key] = name
    if Edit.objects.filter(item=item, model=model, prompt_type=prompt_type, seed=0).exists():
        return "this model already has an edit for this item and prompt type", None
    if info.file_size > MAX_IMAGE_BYTES:
        return f"the file is {info.file_size / 1e6:.1f} MB; the limit is 20 MB", None
    data, problem = _member_bytes(info, archive)
    if data is None:
        return problem, None
    try:
        checked = open_checked(data, what="the file", max_pixels=settings.MAX_IMAGE_PIXELS)
    except ImageRejected as exc:
        return str(exc), None
    if (checked.width, checked.height) != (item.width, item.height):
        return (
            f"the image is {checked.width}×{checked.height} "
            f"but the item is {item.width}×{item.height}",
            None,
        )
    # Stored as our own PNG of the pixels: the file's metadata (which names the
    # model) never reaches storage, let alone a rater.
    return "ok", (item, prompt_type, pixels_png(checked.image))


def _member_bytes(info: zipfile.ZipInfo, archive: zipfile.ZipFile) -> tuple[bytes | None, str]:
    """The member's bytes, or None and why they cannot be read."""
    if info.flag_bits & 0x1:
        return None, "the file is encrypted; zip the outputs without a password"
    if info.compress_type not in READABLE_METHODS:
        return None, (
            f"the file is compressed with method {info.compress_type}, which we cannot read; "
            f"use one of {', '.join(READABLE_METHODS.values())} (deflate is the usual)"
        )
    try:
        with archive.open(info) as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except DAMAGED_MEMBER as exc:
        return None, f"the file is damaged in the archive ({exc}); zip the outputs again"
    if len(data) > MAX_IMAGE_BYTES:
        return None, "the file is larger than the archive's header says; zip the outputs again"
    return data, ""


def _members(zipped: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's files, within the limits on their number and unpacked size."""
    members = [
        m
        for m in zipped.infolist()
        if not m.is_dir() and not any(n in m.filename for n in IGNORED_UPLOAD_NAMES)
    ]
    if not members:
        raise ServiceError("the zip archive holds no files")
    if len(members) > UPLOAD_MAX_FILES:
        raise ServiceError(f"the archive holds {len(members)} files; the limit is 5000")
    if sum(m.file_size for m in members) > UPLOAD_MAX_TOTAL_BYTES:
        raise ServiceError("the archive unpacks to more than 2 GB")
    return members


def external_outputs_upload(
    *, model: EditModel, benchmark: Benchmark, archive: IO[bytes]
) -> UploadReport:
    """Store an external model's outputs from a zip, all or nothing.

    Members are named ``<item id>__<prompt type>.png``. Every member is checked
    (safe path, name, known item, no duplicate, no existing edit, readable image
    of an accepted format, within the pixel limit, the item's size); the report
    has a line per file. If any file fails, nothing is stored.
    """
    if model.kind != EditModel.Kind.EXTERNAL:
        raise ServiceError(
            f"{model.name} is a {model.kind} model; outputs are uploaded for external models only",
            code="conflict",
        )
    try:
        zipped = zipfile.ZipFile(archive)
    except UnicodeDecodeError:
        raise ServiceError(
            "a file name in the archive is marked as UTF-8 but is not; "
            "rename the files with plain ASCII names and zip them again"
        ) from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ServiceError("the upload is not a readable zip archive") from None
    with zipped:
        members = _members(zipped)
        items = {i.external_id: i for i in benchmark.items.all()}
        seen: dict[tuple[str, str], str] = {}
        results: list[UploadedFile] = []
        accepted: list[tuple[BenchmarkItem, str, bytes]] = []
        for member in members:
            message, checked = _upload_check(member, zipped, items, seen, model)
            results.append(UploadedFile(member.filename, checked is not None, message))
            if checked is not None:
                accepted.append(checked)
    if len(accepted) < len(results):
        return UploadReport(files=results, created=0)
    ledger = FileLedger()
    try:
        with transaction.atomic():
            for item, prompt_type, data in accepted:
                edit = Edit(item=item, model=model, prompt_type=prompt_type, seed=0)
                ledger.save(edit.image, data)
                edit.save()
    except BaseException:
        ledger.discard_written()
        raise
    return UploadReport(files=results, created=len(accepted))
