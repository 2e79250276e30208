"""Every write to the domain models happens here.

Services are keyword-only, typed and atomic, and raise :class:`ServiceError`
(which the API maps to 400 or 409) for anything the caller did wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from tqdm import tqdm

from annotation.manifest import ManifestRow, read_manifest
from annotation.models import Benchmark, BenchmarkItem

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request the domain refuses; ``problems`` are messages for the user.

    ``code`` is ``"invalid"`` (bad input: HTTP 400) or ``"conflict"`` (the
    current state forbids it: HTTP 409).
    """

    def __init__(self, problems: str | list[str], *, code: str = "invalid") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.code = code
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class ImportReport:
    benchmark: Benchmark
    created: int
    updated: int
    unchanged: int
    not_in_manifest: int


class _FileLedger:
    """Files written during a transaction: removed again if it rolls back,
    and superseded files removed only once it commits."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.obsolete: list[str] = []

    def save(self, field: Any, content: bytes) -> None:
        field.save("upload.png", ContentFile(content), save=False)
        self.written.append(field.name)

    def discard_written(self) -> None:
        for name in self.written:
            default_storage.delete(name)

    def on_commit_delete_obsolete(self) -> None:
        names = [n for n in self.obsolete if n]
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names])


def _item_fields(row: ManifestRow) -> dict[str, Any]:
    fields = dict(row.fields)
    fields.pop("external_id")
    return fields


def _files_changed(item: BenchmarkItem, row: ManifestRow) -> bool:
    def read(field: Any) -> bytes | None:
        if not field:
            return None
        with field.open("rb") as handle:
            data: bytes = handle.read()
        return data

    return (
        read(item.image) != row.image
        or read(item.mask) != row.mask
        or read(item.reference) != row.reference
    )


def _write_item(item: BenchmarkItem, row: ManifestRow, ledger: _FileLedger, *, new: bool) -> None:
    for name, value in _item_fields(row).items():
        setattr(item, name, value)
    item.fingerprint = row.fingerprint
    if new or _files_changed(item, row):
        if not new:
            ledger.obsolete += [item.image.name, item.mask.name, item.reference.name or ""]
        ledger.save(item.image, row.image)
        ledger.save(item.mask, row.mask)
        if row.reference is not None:
            ledger.save(item.reference, row.reference)
        else:
            item.reference = ""  # type: ignore[assignment]
    item.width, item.height = row.width, row.height
    item.full_clean(exclude=["image", "mask", "reference"], validate_unique=False)
    item.save()


def benchmark_import(
    *,
    path: Path,
    name: str | None = None,
    version: str = "1",
    description: str = "",
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import a manifest into the benchmark ``name``/``version``, all or nothing.

    Every row and file is validated before anything is written; an invalid
    manifest raises :class:`ServiceError` listing every problem with its row.
    Re-importing the same manifest changes nothing; a changed row updates its
    item. Items of the benchmark that the manifest no longer lists are kept
    (studies may refer to them) and counted in the report.
    """
    from annotation.manifest import ManifestInvalid

    try:
        rows = read_manifest(path, max_pixels=settings.MAX_IMAGE_PIXELS, progress=progress)
    except ManifestInvalid as exc:
        raise ServiceError(exc.problems) from None
    benchmark_name = name or (path if path.is_dir() else path.parent).resolve().name
    ledger = _FileLedger()
    try:
        with transaction.atomic():
            benchmark, _ = Benchmark.objects.get_or_create(
                name=benchmark_name, version=version, defaults={"description": description}
            )
            if description and benchmark.description != description:
                benchmark.description = description
                benchmark.save(update_fields=["description"])
            existing = {
                item.external_id: item
                for item in BenchmarkItem.objects.select_for_update().filter(benchmark=benchmark)
            }
            created = updated = unchanged = 0
            for row in tqdm(rows, desc="importing", unit="item", disable=not progress):
                item = existing.get(row.external_id)
                if item is None:
                    item = BenchmarkItem(benchmark=benchmark, external_id=row.external_id)
                    _write_item(item, row, ledger, new=True)
                    created += 1
                elif item.fingerprint == row.fingerprint:
                    unchanged += 1
                else:
                    _write_item(item, row, ledger, new=False)
                    updated += 1
            listed = {row.external_id for row in rows}
            ledger.on_commit_delete_obsolete()
    except BaseException:
        ledger.discard_written()
        raise
    report = ImportReport(
        benchmark=benchmark,
        created=created,
        updated=updated,
        unchanged=unchanged,
        not_in_manifest=len(set(existing) - listed),
    )
    if echo is not None:
        echo(
            f"{benchmark}: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.not_in_manifest} not in the manifest (kept)"
        )
    return report


def demo_admin_ensure(*, username: str = "admin") -> str:
    """Create (or reset) the demo's superuser and return its new random password.

    For the one-command demo only: the password is printed once and never stored
    in clear anywhere.
    """
    import secrets

    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@localhost"}
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
    return password
