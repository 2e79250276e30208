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
from django.db.models.fields.files import FieldFile
from tqdm import tqdm

from annotation.manifest import ManifestInvalid, ManifestRow, read_manifest
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


def _write_item(item: BenchmarkItem, row: ManifestRow, ledger: FileLedger, *, new: bool) -> None:
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
            item.reference = ""
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
    try:
        rows = read_manifest(path, max_pixels=settings.MAX_IMAGE_PIXELS, progress=progress)
    except ManifestInvalid as exc:
        raise ServiceError(exc.problems) from None
    benchmark_name = name or (path if path.is_dir() else path.parent).resolve().name
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
    )
    if echo is not None:
        echo(
            f"{benchmark}: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.not_in_manifest} not in the manifest (kept)"
        )
    return report


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
