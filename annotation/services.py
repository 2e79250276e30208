"""Every write to the domain models happens here.

Services are keyword-only, typed and atomic, and raise :class:`ServiceError`
(which the API maps to 400 or 409) for anything the caller did wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image
from tqdm import tqdm

from annotation import categories as cat
from annotation.generation import GeneratedEdit, GenerationInput, generator_for
from annotation.images import MAX_IMAGE_BYTES, ImageRejected, open_checked
from annotation.manifest import ManifestRow, read_manifest
from annotation.models import Benchmark, BenchmarkItem, Edit, EditModel, GenerationJob

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


# --- Generation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationRequestReport:
    created: int
    existing: int
    batches: list[list[int]]


def _job_batches(jobs: list[GenerationJob], batch_size: int) -> list[list[int]]:
    by_model: dict[int, list[int]] = {}
    for job in jobs:
        by_model.setdefault(job.model_id, []).append(job.pk)
    return [
        ids[start : start + batch_size]
        for ids in by_model.values()
        for start in range(0, len(ids), batch_size)
    ]


def generation_request(
    *,
    items: Iterable[BenchmarkItem],
    models: Iterable[EditModel],
    prompt_types: Iterable[str],
    seeds: Iterable[int] = (0,),
    enqueue: bool = True,
) -> GenerationRequestReport:
    """Create the missing GenerationJobs for items × models × prompt types × seeds.

    Asking twice creates nothing new. Jobs without an edit yet (new ones, and
    queued ones left from before) are enqueued after commit, in batches per model.
    External models have no generator and are refused.
    """
    items, models = list(items), list(models)
    prompt_types, seeds = list(prompt_types), list(seeds)
    bad = [p for p in prompt_types if p not in cat.PROMPT_TYPES]
    if bad:
        raise ServiceError(f"unknown prompt type(s): {', '.join(bad)}")
    external = [m.name for m in models if m.kind == EditModel.Kind.EXTERNAL]
    if external:
        raise ServiceError(
            f"external model(s) {', '.join(external)} cannot generate; upload their outputs"
        )
    with transaction.atomic():
        wanted = [
            GenerationJob(item=i, model=m, prompt_type=p, seed=s)
            for i in items
            for m in models
            for p in prompt_types
            for s in seeds
        ]
        before = GenerationJob.objects.filter(item__in=items, model__in=models).count()
        # The unique constraint decides what already exists, also under concurrency.
        GenerationJob.objects.bulk_create(wanted, ignore_conflicts=True)
        jobs = list(
            GenerationJob.objects.filter(
                item__in=items,
                model__in=models,
                prompt_type__in=prompt_types,
                seed__in=seeds,
                status=GenerationJob.Status.QUEUED,
            ).order_by("model_id", "pk")
        )
        after = GenerationJob.objects.filter(item__in=items, model__in=models).count()
        batches = _job_batches(jobs, settings.GENERATION_BATCH_SIZE)
        if enqueue and batches:
            transaction.on_commit(lambda: _enqueue(batches))
    return GenerationRequestReport(
        created=after - before, existing=len(wanted) - (after - before), batches=batches
    )


def _enqueue(batches: list[list[int]]) -> None:
    from annotation.tasks import generate_edits

    for batch in batches:
        generate_edits.delay(batch)


def job_claim(*, job_id: int) -> bool:
    """Take a job for this worker: one conditional UPDATE, so two workers never both win.

    A queued job can be claimed; so can a running one whose claim is older than
    GENERATION_CLAIM_TIMEOUT (its worker died). Returns whether we got it.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GENERATION_CLAIM_TIMEOUT)
    claimable = Q(status=GenerationJob.Status.QUEUED) | Q(
        status=GenerationJob.Status.RUNNING, claimed_at__lt=stale
    )
    updated = GenerationJob.objects.filter(claimable, pk=job_id).update(
        status=GenerationJob.Status.RUNNING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return updated == 1


def job_file_name(job: GenerationJob) -> str:
    """The storage name of a job's edit: fixed per job, so a rerun overwrites instead of
    leaving an orphan; keyed by SECRET_KEY, so it reveals nothing about model or prompt."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"generation-job:{job.pk}".encode(), hashlib.sha256
    )
    return f"edits/{digest.hexdigest()[:32]}.png"


def _job_input(job: GenerationJob) -> GenerationInput:
    with job.item.image.open("rb") as handle:
        image = Image.open(handle).convert("RGB")
    with job.item.mask.open("rb") as handle:
        mask = np.asarray(Image.open(handle).convert("L")) > 0
    reference = None
    if job.item.reference:
        with job.item.reference.open("rb") as handle:
            reference = Image.open(handle).convert("RGB")
    return GenerationInput(
        image=image,
        mask=mask,
        prompt=job.item.prompt(job.prompt_type),
        seed=job.seed,
        reference=reference,
    )


def _edit_store(*, job: GenerationJob, output: GeneratedEdit, wall_time_s: float) -> None:
    name = job_file_name(job)
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(output.png()))
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == GenerationJob.Status.DONE:
            return  # another delivery finished it first; the file name is shared
        Edit.objects.update_or_create(
            item_id=job.item_id,
            model_id=job.model_id,
            prompt_type=job.prompt_type,
            seed=job.seed,
            defaults={
                "job": job,
                "image": saved,
                "steps": output.steps,
                "guidance": output.guidance,
                "wall_time_s": wall_time_s,
                "metadata": output.metadata,
            },
        )
        locked.status = GenerationJob.Status.DONE
        locked.error = ""
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "error", "finished_at", "updated_at"])


def jobs_run(*, job_ids: list[int]) -> list[int]:
    """Claim and run the given jobs in one batched model call; return the ids done here.

    Jobs another worker holds (or that are done) are skipped, so a redelivered
    message is harmless. Generator errors propagate to the caller (the task),
    which owns the retry policy; claimed jobs stay ``running`` until then.
    """
    claimed = [job_id for job_id in job_ids if job_claim(job_id=job_id)]
    if not claimed:
        return []
    jobs = list(
        GenerationJob.objects.select_related("item", "model").filter(pk__in=claimed).order_by("pk")
    )
    done: list[int] = []
    by_model: dict[int, list[GenerationJob]] = {}
    for job in jobs:
        by_model.setdefault(job.model_id, []).append(job)
    for group in by_model.values():
        model = group[0].model
        generate = generator_for(
            kind=model.kind,
            preset=model.preset,
            checkpoint=model.checkpoint,
            parameters=model.parameters,
        )
        started = time.perf_counter()
        outputs = generate([_job_input(job) for job in group])
        per_edit = (time.perf_counter() - started) / len(group)
        for job, output in zip(group, outputs, strict=True):
            _edit_store(job=job, output=output, wall_time_s=per_edit)
            done.append(job.pk)
    return done


def jobs_release(*, job_ids: list[int], error: str, final: bool) -> None:
    """After a failed attempt: back to ``queued`` for a retry, or ``failed`` for good."""
    status = GenerationJob.Status.FAILED if final else GenerationJob.Status.QUEUED
    GenerationJob.objects.filter(pk__in=job_ids).exclude(status=GenerationJob.Status.DONE).update(
        status=status, error=error[:4000], updated_at=timezone.now()
    )


def jobs_retry_failed(*, job_ids: Iterable[int]) -> int:
    """Put failed jobs back in the queue (admin action); returns how many."""
    with transaction.atomic():
        jobs = list(
            GenerationJob.objects.select_for_update().filter(
                pk__in=list(job_ids), status=GenerationJob.Status.FAILED
            )
        )
        ids = [j.pk for j in jobs]
        GenerationJob.objects.filter(pk__in=ids).update(
            status=GenerationJob.Status.QUEUED, attempts=0, error="", updated_at=timezone.now()
        )
        batches = _job_batches(jobs, settings.GENERATION_BATCH_SIZE)
        if batches:
            transaction.on_commit(lambda: _enqueue(batches))
    return len(ids)


def jobs_requeue_stale() -> int:
    """Re-enqueue jobs left ``running`` by a dead worker past the claim timeout."""
    stale = timezone.now() - timedelta(seconds=settings.GENERATION_CLAIM_TIMEOUT)
    jobs = list(
        GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING, claimed_at__lt=stale)
    )
    batches = _job_batches(jobs, settings.GENERATION_BATCH_SIZE)
    if batches:
        transaction.on_commit(lambda: _enqueue(batches))
    return len(jobs)


# --- External model outputs -------------------------------------------------------------------

UPLOAD_NAME = re.compile(r"^(?P<item>[^/\\]+?)__(?P<prompt>mask_simple|mask_rich|full_image)\.png$")
UPLOAD_MAX_FILES = 5000
UPLOAD_MAX_TOTAL_BYTES = 2 * 1024**3
IGNORED_UPLOAD_NAMES = ("__MACOSX/", ".DS_Store", "Thumbs.db")


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
    with archive.open(info) as handle:
        data = handle.read(MAX_IMAGE_BYTES + 1)
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
    return "ok", (item, prompt_type, data)


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
    except (zipfile.BadZipFile, OSError):
        raise ServiceError("the upload is not a readable zip archive") from None
    with zipped:
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
        items = {i.external_id: i for i in benchmark.items.all()}
        seen: dict[tuple[str, str], str] = {}
        results: list[UploadedFile] = []
        accepted: list[tuple[BenchmarkItem, str, bytes]] = []
        for member in members:
            message, edit = _upload_check(member, zipped, items, seen, model)
            results.append(UploadedFile(member.filename, edit is not None, message))
            if edit is not None:
                accepted.append(edit)
    if len(accepted) < len(results):
        return UploadReport(files=results, created=0)
    ledger = _FileLedger()
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
