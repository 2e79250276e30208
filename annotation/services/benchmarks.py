"""What studies are made of: benchmark import, the models under evaluation, the demo's admin."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import CharField
from django.db.models.fields.files import FieldFile
from tqdm import tqdm

from annotation.images import derivative_png
from annotation.importers import ReadOptions, read_benchmark
from annotation.manifest import ManifestInvalid, ManifestRow, nul_problems
from annotation.models import Benchmark, BenchmarkItem, EditModel
from annotation.services.edit_models import edit_model_definition_problems
from annotation.services.errors import ServiceError
from annotation.services.files import FileLedger


@dataclass(frozen=True)
class ImportReport:
    benchmark: Benchmark
    created: int
    updated: int
    unchanged: int
    not_in_manifest: int
    warnings: tuple[str, ...] = ()  # per item, e.g. a category the value table cannot place


def _item_fields(row: ManifestRow) -> dict[str, Any]:
    fields = dict(row.fields)
    fields.pop("external_id")
    return fields


def _files_changed(item: BenchmarkItem, row: ManifestRow) -> bool:
    def read(field: FieldFile) -> bytes | None:
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


def _has_derivatives(item: BenchmarkItem) -> bool:
    return bool(item.display and item.outline and item.thumbnail)


def _write_derivatives(item: BenchmarkItem, image: bytes, mask: bytes, ledger: FileLedger) -> None:
    for kind in ("display", "outline", "thumbnail"):
        field = getattr(item, kind)
        ledger.obsolete.append(field.name or "")
        ledger.save(field, derivative_png(image, mask, kind=kind))


def _write_item(item: BenchmarkItem, row: ManifestRow, ledger: FileLedger, *, new: bool) -> None:
    for name, value in _item_fields(row).items():
        setattr(item, name, value)
    item.extra = row.extra
    item.fingerprint = row.fingerprint
    if new or _files_changed(item, row) or not _has_derivatives(item):
        if not new:
            ledger.obsolete += [item.image.name, item.mask.name, item.reference.name or ""]
        ledger.save(item.image, row.image)
        ledger.save(item.mask, row.mask)
        if row.reference is not None:
            ledger.save(item.reference, row.reference)
        else:
            item.reference = ""
        _write_derivatives(item, row.image, row.mask, ledger)
    item.width, item.height = row.width, row.height
    item.full_clean(exclude=["image", "mask", "reference"], validate_unique=False)
    item.save()


def _name_problems(name: str, version: str, description: str) -> list[str]:
    problems = nul_problems(name, "--name") + nul_problems(version, "--bench-version")
    problems += nul_problems(description, "--description")
    for option, value, field in (("--name", name, "name"), ("--bench-version", version, "version")):
        model_field = Benchmark._meta.get_field(field)
        limit = model_field.max_length if isinstance(model_field, CharField) else None
        if not value.strip():
            problems.append(f"{option} is empty")
        elif limit is not None and len(value) > limit:
            problems.append(f"{option} is {len(value)} characters long; the limit is {limit}")
    return problems


def _echo_report(report: ImportReport, echo: Callable[[str], None]) -> None:
    echo(
        f"{report.benchmark}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.not_in_manifest} not in the manifest (kept)"
    )
    if report.warnings:
        echo(f"{len(report.warnings)} item(s) imported with a category unknown:")
        for line in report.warnings:
            echo(f"  - {line}")


def benchmark_import(
    *,
    path: Path,
    name: str | None = None,
    version: str = "1",
    description: str = "",
    format: str | None = None,
    strict: bool = False,
    caption_as: str = "full_image",
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import a benchmark into ``name``/``version``, all or nothing.

    ``format`` is one of ``annotation.importers.FORMATS`` (detected from the files when
    ``None``). Every row and file is validated before anything is written; an invalid
    benchmark raises :class:`ServiceError` listing every problem with its file and row.
    Re-importing the same files changes nothing; a changed row updates its item. Items of
    the benchmark that the files no longer list are kept (studies may refer to them) and
    counted in the report. Items whose category cannot be placed are imported as
    ``unknown`` and listed in the report's warnings (``strict``: refused instead).
    """
    benchmark_name = (
        name if name is not None else (path if path.is_dir() else path.parent).resolve().name
    )
    problems = _name_problems(benchmark_name, version, description)
    if problems:
        raise ServiceError(problems)
    options = ReadOptions(
        max_pixels=settings.MAX_IMAGE_PIXELS,
        progress=progress,
        strict=strict,
        caption_as=caption_as,
    )
    try:
        rows = read_benchmark(path, format=format, options=options)
    except ManifestInvalid as exc:
        raise ServiceError(exc.problems) from None
    ledger = FileLedger()
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
        warnings=tuple(f"{row.external_id}: {w}" for row in rows for w in row.warnings),
    )
    if echo is not None:
        _echo_report(report, echo)
    return report


def item_derivatives_ensure(*, item: BenchmarkItem) -> BenchmarkItem:
    """Make the item's resized derivatives if it has none yet (items imported before them).

    Imports make them; this is the once-per-item fallback the image views call, so no request
    after the first resizes the item's image. The common case (both exist) opens no
    transaction; otherwise the row is locked so that concurrent first requests make them once.
    """
    if _has_derivatives(item):
        return item
    ledger = FileLedger()
    try:
        with transaction.atomic():
            locked = BenchmarkItem.objects.select_for_update().get(pk=item.pk)
            if not _has_derivatives(locked):
                with locked.image.open("rb") as image, locked.mask.open("rb") as mask:
                    _write_derivatives(locked, image.read(), mask.read(), ledger)
                locked.save(update_fields=["display", "outline", "thumbnail", "updated_at"])
                ledger.on_commit_delete_obsolete()
    except BaseException:
        ledger.discard_written()
        raise
    return locked


def edit_model_ensure(*, name: str, **definition: Any) -> EditModel:
    """The model called ``name``; created from the given definition when it does not exist.

    The definition's keys are EditModel fields (kind, preset, checkpoint, parameters,
    description, source, licence, endpoint_url, auth_env, timeout_s, concurrency), checked by
    ``edit_models.edit_model_definition_problems``. An existing model whose definition
    differs is an error rather than being silently changed, since studies may already use it.
    """
    existing = EditModel.objects.filter(name=name).first()
    kind = definition.get("kind")
    if existing is not None:
        identity = ("kind", "preset", "checkpoint", "endpoint_url")
        theirs = tuple(getattr(existing, key) for key in identity)
        ours = tuple(definition.get(key, "") for key in identity)
        if kind is not None and theirs != ours:
            what = existing.preset or existing.checkpoint or existing.endpoint_url
            raise ServiceError(
                f"models: {name!r} exists with another definition "
                f"({existing.kind} {what}); rename the new one"
            )
        return existing
    problems = edit_model_definition_problems({"name": name, **definition})
    if problems:
        raise ServiceError([f"models: {name!r}: {key} {text}" for key, text in problems.items()])
    fields = {**definition, "parameters": definition.get("parameters") or {}}
    return EditModel.objects.create(name=name, **fields)


def demo_admin_ensure(*, username: str = "admin") -> str:
    """Create (or reset) the demo's superuser and return its new random password.

    For the one-command demo only: the password is printed once and never stored
    in clear anywhere.
    """
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
