"""Every write to the domain models happens here.

Services are keyword-only, typed and atomic, and raise :class:`ServiceError`
(which the API maps to 400 or 409) for anything the caller did wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import random
import re
import secrets
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image
from tqdm import tqdm

from annotation import categories as cat
from annotation import task_sql
from annotation.generation import GeneratedEdit, GenerationInput, generator_for
from annotation.images import MAX_IMAGE_BYTES, ImageRejected, open_checked
from annotation.manifest import ManifestRow, read_manifest
from annotation.models import (
    Assignment,
    Benchmark,
    BenchmarkItem,
    BrokenItemReport,
    Edit,
    EditModel,
    GenerationJob,
    Judgment,
    Rater,
    Study,
    StudyUnit,
    live_assignment,
    live_lease,
    shuffle_key,
)
from annotation.questions import (
    pairwise_questions,
    single_correct,
    single_questions,
    validate_answers,
)

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

    @property
    def http_status(self) -> int:
        """What an HTTP endpoint answers with: 409 for a conflict, 400 otherwise."""
        return 409 if self.code == "conflict" else 400


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


# --- Studies ----------------------------------------------------------------------------------

QUALITY_RULES = {
    # rule: (lowest allowed value, highest allowed value)
    "min_gold_accuracy": (0.0, 1.0),
    "min_median_seconds": (0.0, 3600.0),
    "max_same_answer_share": (0.0, 1.0),
    "min_gold_answers": (0.0, 10000.0),
}
PROLIFIC_COMPLETION = "https://app.prolific.com/submissions/complete?cc={code}"
GOLD_MODELS = {
    "identity": "Gold: unedited input",
    "reference": "Gold: reference image",
    "blur_fill": "Gold: blurred fill",
}


@dataclass(frozen=True)
class StudySettings:
    """Everything a study is created with (validated by :func:`_study_problems`)."""

    name: str
    benchmark: Benchmark
    items: list[BenchmarkItem]
    models: list[EditModel]
    prompt_types: list[str]
    task_single: bool = True
    task_pairwise: bool = False
    raters_per_unit: int = 3
    gold_rate: float = 0.1
    lease_minutes: int = 30
    instructions: str = ""
    platform: str = "none"
    completion_code: str = ""
    completion_url: str = ""
    max_tasks_per_rater: int | None = None
    quality_rules: dict[str, float] | None = None


def _study_problems(s: StudySettings) -> list[str]:
    problems: list[str] = []
    if not s.name.strip():
        problems.append("name: a study needs a name")
    if not s.items:
        problems.append("items: the selection matches no item of the benchmark")
    if any(i.benchmark_id != s.benchmark.pk for i in s.items):
        problems.append("items: every item must belong to the study's benchmark")
    if not s.models:
        problems.append("models: choose at least one model")
    if s.task_pairwise and len(s.models) < 2:
        problems.append("models: side-by-side comparison needs at least two models")
    if not (s.task_single or s.task_pairwise):
        problems.append("tasks: choose single, pairwise or both")
    if s.task_single and not s.prompt_types:
        problems.append("prompt_types: choose at least one prompt type")
    bad = [p for p in s.prompt_types if p not in cat.PROMPT_TYPES]
    if bad:
        problems.append(
            f"prompt_types: unknown {', '.join(map(str, bad))}; "
            f"expected {', '.join(cat.PROMPT_TYPES)}"
        )
    if len(set(s.prompt_types)) != len(s.prompt_types):
        problems.append("prompt_types: a prompt type is listed twice")
    if not 1 <= s.raters_per_unit <= 100:
        problems.append("raters_per_unit: must be between 1 and 100")
    if not 0 <= s.gold_rate < 1:
        problems.append("gold_rate: must be at least 0 and below 1")
    if not 1 <= s.lease_minutes <= 24 * 60:
        problems.append("lease_minutes: must be between 1 and 1440")
    if s.platform not in ("none", "prolific", "mturk"):
        problems.append("platform: must be none, prolific or mturk")
    if s.platform == "prolific" and not s.completion_code:
        problems.append("completion_code: a Prolific study needs its completion code")
    if s.max_tasks_per_rater is not None and s.max_tasks_per_rater < 1:
        problems.append("max_tasks_per_rater: must be at least 1")
    for rule, value in (s.quality_rules or {}).items():
        if rule not in QUALITY_RULES:
            problems.append(
                f"quality_rules: unknown rule {rule!r}; known: {', '.join(QUALITY_RULES)}"
            )
            continue
        low, high = QUALITY_RULES[rule]
        if not isinstance(value, int | float) or not low <= float(value) <= high:
            problems.append(f"quality_rules: {rule} must be a number from {low:g} to {high:g}")
    return problems


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "study"
    slug = base
    while Study.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def study_create(*, owner: Any, settings_: StudySettings, slug: str | None = None) -> Study:
    """Create a draft study; every problem with the settings is reported at once."""
    problems = _study_problems(settings_)
    if slug is not None and Study.objects.filter(slug=slug).exists():
        problems.append(f"slug: a study with the slug {slug!r} exists already")
    if problems:
        raise ServiceError(problems)
    s = settings_
    with transaction.atomic():
        study = Study.objects.create(
            name=s.name.strip(),
            slug=slug or _unique_slug(s.name),
            owner=owner,
            benchmark=s.benchmark,
            task_single=s.task_single,
            task_pairwise=s.task_pairwise,
            prompt_types=list(s.prompt_types),
            raters_per_unit=s.raters_per_unit,
            gold_rate=s.gold_rate,
            lease_minutes=s.lease_minutes,
            instructions=s.instructions,
            platform=s.platform,
            completion_code=s.completion_code,
            completion_url=s.completion_url
            or (
                PROLIFIC_COMPLETION.format(code=s.completion_code)
                if s.platform == "prolific"
                else ""
            ),
            max_tasks_per_rater=s.max_tasks_per_rater,
            quality_rules=dict(s.quality_rules or {}),
        )
        study.items.set(s.items)
        study.edit_models.set(s.models)
    return study


def _require_status(study: Study, allowed: tuple[str, ...], action: str) -> None:
    if study.status not in allowed:
        raise ServiceError(
            f"cannot {action} a study that is {study.status}; "
            f"only a study that is {' or '.join(allowed)} can be",
            code="conflict",
        )


def study_update(*, study: Study, settings_: StudySettings) -> Study:
    """Replace a draft study's settings (name, items, models, tasks, …)."""
    _require_status(study, ("draft",), "change")
    problems = _study_problems(settings_)
    if settings_.benchmark.pk != study.benchmark_id:
        problems.append("benchmark: a study's benchmark cannot change; create a new study")
    if problems:
        raise ServiceError(problems)
    s = settings_
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_status(locked, ("draft",), "change")
        for field_name in (
            "task_single",
            "task_pairwise",
            "raters_per_unit",
            "gold_rate",
            "lease_minutes",
            "instructions",
            "platform",
            "completion_code",
            "max_tasks_per_rater",
        ):
            setattr(locked, field_name, getattr(s, field_name))
        locked.name = s.name.strip()
        locked.prompt_types = list(s.prompt_types)
        locked.quality_rules = dict(s.quality_rules or {})
        locked.completion_url = s.completion_url or (
            PROLIFIC_COMPLETION.format(code=s.completion_code) if s.platform == "prolific" else ""
        )
        locked.save()
        locked.items.set(s.items)
        locked.edit_models.set(s.models)
    return locked


def study_needed_edits(study: Study) -> list[tuple[BenchmarkItem, EditModel, str]]:
    """(item, model, prompt type) of every edit the study's units need (seed 0)."""
    prompt_types = set(study.prompt_types) if study.task_single else set()
    if study.task_pairwise:
        prompt_types.add("mask_rich")  # side-by-side uses Mask-Rich prompts
    items = list(study.items.all())
    models = list(study.edit_models.all())
    return [(i, m, p) for i in items for m in models for p in sorted(prompt_types)]


def study_generate(*, study: Study, enqueue: bool = True) -> GenerationRequestReport:
    """Ask for the study's missing edits (external models' outputs are uploaded instead).

    With ``enqueue=False`` the caller runs the returned batches itself (the demo's
    in-process runner with its progress bar).
    """
    _require_status(study, ("draft", "generating", "ready"), "generate edits for")
    items = list(study.items.all())
    models = [m for m in study.edit_models.all() if m.kind != EditModel.Kind.EXTERNAL]
    prompt_types = sorted({p for _, _, p in study_needed_edits(study)})
    with transaction.atomic():
        Study.objects.filter(pk=study.pk).update(status=Study.Status.GENERATING)
        study.status = Study.Status.GENERATING
        report = (
            generation_request(
                items=items, models=models, prompt_types=prompt_types, enqueue=enqueue
            )
            if models
            else GenerationRequestReport(created=0, existing=0, batches=[])
        )
    return report


def _gold_model(preset: str) -> EditModel:
    model, _ = EditModel.objects.get_or_create(
        name=GOLD_MODELS[preset],
        defaults={
            "kind": EditModel.Kind.BASELINE,
            "preset": preset,
            "description": "Built by EditBench Studio for gold units; never analysed.",
        },
    )
    return model


def _gold_edits(preset: str, items: list[BenchmarkItem], prompt_type: str) -> dict[int, Edit]:
    model = _gold_model(preset)
    report = generation_request(
        items=items, models=[model], prompt_types=[prompt_type], enqueue=False
    )
    for batch in report.batches:
        jobs_run(job_ids=batch)
    edits = Edit.objects.filter(item__in=items, model=model, prompt_type=prompt_type, seed=0)
    return {e.item_id: e for e in edits}


def _build_units(study: Study, rng: random.Random) -> int:
    edits = {
        (e.item_id, e.model_id, e.prompt_type): e
        for e in Edit.objects.filter(
            item__in=study.items.all(), model__in=study.edit_models.all(), seed=0
        )
    }
    items = list(study.items.order_by("pk"))
    models = list(study.edit_models.order_by("pk"))
    units: list[StudyUnit] = []
    if study.task_single:
        for item in items:
            for model in models:
                for prompt_type in study.prompt_types:
                    units.append(
                        StudyUnit(
                            study=study,
                            kind=StudyUnit.Kind.SINGLE,
                            prompt_type=prompt_type,
                            edit_a=edits[(item.pk, model.pk, prompt_type)],
                            questions=single_questions(item.target, prompt_type),
                        )
                    )
    if study.task_pairwise:
        for item in items:
            for a, b in itertools.combinations(models, 2):
                units.append(
                    StudyUnit(
                        study=study,
                        kind=StudyUnit.Kind.PAIRWISE,
                        prompt_type="mask_rich",
                        edit_a=edits[(item.pk, a.pk, "mask_rich")],
                        edit_b=edits[(item.pk, b.pk, "mask_rich")],
                        questions=pairwise_questions(),
                    )
                )
    regular = len(units)
    if study.gold_rate > 0:
        units += _gold_units(study, items, regular, rng)
    StudyUnit.objects.bulk_create(units)
    return len(units)


def _gold_units(
    study: Study, items: list[BenchmarkItem], regular: int, rng: random.Random
) -> list[StudyUnit]:
    """Units with a known answer, at ``gold_rate`` of all units, looking like any other.

    Single: the unedited input asked about the requested object, which the
    outlined region of an input does not show (answer: no object). Pair: the
    reference image against a blurred fill (the reference matches the caption).
    """
    wanted = max(1, round(regular * study.gold_rate / (1 - study.gold_rate)))
    kinds = (["single"] if study.task_single else []) + (
        ["pairwise"] if study.task_pairwise else []
    )
    per_kind = {
        k: wanted // len(kinds) + (1 if i < wanted % len(kinds) else 0) for i, k in enumerate(kinds)
    }
    units: list[StudyUnit] = []
    if per_kind.get("single"):
        chosen = [rng.choice(items) for _ in range(per_kind["single"])]
        prompt_type = (
            "mask_simple" if "mask_simple" in study.prompt_types else study.prompt_types[0]
        )
        inputs = _gold_edits("identity", sorted(set(chosen), key=lambda i: i.pk), prompt_type)
        for item in chosen:
            questions = single_questions(item.target, prompt_type)
            answer = {"object": "no"} if questions[0]["id"] == "object" else {"match": "no"}
            units.append(
                StudyUnit(
                    study=study,
                    kind=StudyUnit.Kind.SINGLE,
                    prompt_type=prompt_type,
                    edit_a=inputs[item.pk],
                    questions=questions,
                    is_gold=True,
                    gold_answer=answer,
                )
            )
    with_reference = [i for i in items if i.reference]
    if per_kind.get("pairwise") and with_reference:
        chosen = [rng.choice(with_reference) for _ in range(per_kind["pairwise"])]
        unique = sorted(set(chosen), key=lambda i: i.pk)
        references = _gold_edits("reference", unique, "mask_rich")
        fills = _gold_edits("blur_fill", unique, "mask_rich")
        for item in chosen:
            units.append(
                StudyUnit(
                    study=study,
                    kind=StudyUnit.Kind.PAIRWISE,
                    prompt_type="mask_rich",
                    edit_a=references[item.pk],
                    edit_b=fills[item.pk],
                    questions=pairwise_questions(),
                    is_gold=True,
                    gold_answer={"alignment": "a"},
                )
            )
    return units


def study_launch(*, study: Study) -> Study:
    """Go live: build the units on first launch (every needed edit must exist); resume a pause."""
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_status(locked, ("draft", "generating", "ready", "paused"), "launch")
        if locked.status != Study.Status.PAUSED:
            missing = study_missing_edits(locked)
            if missing:
                details = ", ".join(f"{name}: {n}" for name, n in sorted(missing.items()))
                raise ServiceError(
                    f"cannot launch: edits are still missing ({details}); generate them or "
                    "upload the external models' outputs first",
                    code="conflict",
                )
            if not locked.units.exists():
                _build_units(locked, random.Random(f"study-{locked.pk}"))
            locked.launched_at = timezone.now()
        locked.status = Study.Status.LIVE
        locked.save(update_fields=["status", "launched_at"])
    return locked


def study_missing_edits(study: Study) -> dict[str, int]:
    """Model name → number of edits the study needs that do not exist yet."""
    have = set(
        Edit.objects.filter(
            item__in=study.items.all(), model__in=study.edit_models.all(), seed=0
        ).values_list("item_id", "model_id", "prompt_type")
    )
    missing: dict[str, int] = {}
    for item, model, prompt_type in study_needed_edits(study):
        if (item.pk, model.pk, prompt_type) not in have:
            missing[model.name] = missing.get(model.name, 0) + 1
    return missing


def study_pause(*, study: Study) -> Study:
    """Stop handing out tasks; leases already given can still be submitted."""
    return _transition(study, ("live",), Study.Status.PAUSED, "pause")


def study_close(*, study: Study) -> Study:
    """End the study for good; no more tasks or submissions."""
    closed = _transition(study, ("live", "paused"), Study.Status.CLOSED, "close")
    Study.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    closed.refresh_from_db()
    return closed


def _transition(study: Study, allowed: tuple[str, ...], to: str, action: str) -> Study:
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_status(locked, allowed, action)
        locked.status = to
        locked.save(update_fields=["status"])
    return locked


def edit_model_ensure(
    *,
    name: str,
    kind: str | None = None,
    preset: str = "",
    checkpoint: str = "",
    parameters: dict[str, Any] | None = None,
    description: str = "",
) -> EditModel:
    """The model called ``name``; created from the given definition when it does not exist.

    An existing model whose definition differs is an error rather than being
    silently changed, since studies may already use it.
    """
    existing = EditModel.objects.filter(name=name).first()
    if existing is not None:
        if kind is not None and (existing.kind, existing.preset, existing.checkpoint) != (
            kind,
            preset,
            checkpoint,
        ):
            raise ServiceError(
                f"models: {name!r} exists with another definition "
                f"({existing.kind} {existing.preset or existing.checkpoint}); rename the new one"
            )
        return existing
    if kind not in ("cascade", "baseline", "external"):
        raise ServiceError(f"models: {name!r} needs a kind: cascade, baseline or external")
    if kind == "cascade" and not checkpoint:
        raise ServiceError(f"models: the cascade model {name!r} needs a checkpoint")
    if kind == "baseline" and preset not in ("identity", "blur_fill", "reference"):
        raise ServiceError(
            f"models: the baseline {name!r} needs a preset: identity, blur_fill or reference"
        )
    return EditModel.objects.create(
        name=name,
        kind=kind,
        preset=preset,
        checkpoint=checkpoint,
        parameters=parameters or {},
        description=description,
    )


def study_create_from_spec(*, owner: Any, spec: dict[str, Any], slug: str | None = None) -> Study:
    """Create a study from a validated spec (StudySpecSerializer), its inline models included."""
    from annotation.serializers import spec_to_settings

    with transaction.atomic():
        models = [edit_model_ensure(**ref) for ref in spec["models"]]
        return study_create(owner=owner, settings_=spec_to_settings(spec, models), slug=slug)


# --- Raters, assignment and judgments ---------------------------------------------------------


def rater_for_user(*, user: Any) -> Rater:
    """The internal rater of a logged-in Django user (created on first use)."""
    rater, _ = Rater.objects.get_or_create(
        user=user, defaults={"platform": Rater.Platform.INTERNAL}
    )
    return rater


def participant_hash(*, platform: str, participant_id: str) -> str:
    """HMAC of a crowd participant's platform id: the raw id is never stored."""
    message = f"{platform}:{participant_id}".encode()
    return hmac.new(settings.PARTICIPANT_ID_SALT.encode(), message, hashlib.sha256).hexdigest()


def rater_for_participant(*, platform: str, participant_id: str) -> Rater:
    """The rater of a crowd participant; the same id always gives the same rater.

    Platform ``simulated`` gives a simulated rater (``simulate_raters``), whose
    judgments are marked and left out of reports unless asked for.
    """
    participant_id = participant_id.strip()
    if platform not in (Rater.Platform.PROLIFIC, Rater.Platform.MTURK, Rater.Platform.SIMULATED):
        raise ServiceError(f"unknown crowd platform {platform!r}")
    if not participant_id or len(participant_id) > 200:
        raise ServiceError("the participant id is missing or too long")
    digest = participant_hash(platform=platform, participant_id=participant_id)
    try:
        with transaction.atomic():
            rater, _ = Rater.objects.get_or_create(
                platform=platform,
                participant_hash=digest,
                defaults={"simulated": platform == Rater.Platform.SIMULATED},
            )
    except IntegrityError:  # two first requests of one participant at once
        rater = Rater.objects.get(platform=platform, participant_hash=digest)
    return rater


def assignments_expire(*, study: Study | None = None) -> int:
    """Mark leases past their expiry as expired and give their units the slots back.

    Run periodically (a beat task) and, for one study, when a rater finds no unit left.
    Leases another request holds locked (being submitted or reported) are left for the
    next run. Returns how many leases expired.
    """
    with transaction.atomic():
        expiring = Assignment.objects.select_for_update(skip_locked=True).filter(
            status=Assignment.Status.LEASED, lease_expires_at__lte=timezone.now()
        )
        if study is not None:
            expiring = expiring.filter(study=study)
        rows = list(expiring.values_list("pk", "unit_id"))
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=Assignment.Status.EXPIRED
        )
        # Units in key order, so two concurrent runs cannot deadlock on them.
        for unit_id, n in sorted(Counter(unit for _, unit in rows).items()):
            _slots_taken_add(unit_id, -n)
    return len(rows)


def _slots_taken_add(unit_id: int, n: int) -> None:
    StudyUnit.objects.filter(pk=unit_id).update(slots_taken=F("slots_taken") + n)


def rater_task_count(*, rater: Rater, study: Study) -> int:
    """Tasks a rater has submitted or holds in a study (what the per-rater cap counts)."""
    return Assignment.objects.filter(live_assignment(), rater=rater, study=study).count()


def _lease(rater: Rater, study: Study, unit_id: int, kind: str) -> Assignment:
    """Create the assignment for a locked unit, balancing left/right over its raters."""
    a_on_left = True
    if kind == StudyUnit.Kind.PAIRWISE:
        sides = Assignment.objects.filter(live_assignment(), unit_id=unit_id).aggregate(
            left=Count("pk", filter=Q(a_on_left=True)),
            right=Count("pk", filter=Q(a_on_left=False)),
        )
        if sides["left"] == sides["right"]:
            a_on_left = secrets.randbelow(2) == 0
        else:
            a_on_left = sides["left"] < sides["right"]
    assignment = Assignment.objects.create(
        rater=rater,
        unit_id=unit_id,
        study=study,
        a_on_left=a_on_left,
        lease_expires_at=timezone.now() + timedelta(minutes=study.lease_minutes),
    )
    _slots_taken_add(unit_id, 1)
    return assignment


@dataclass(frozen=True)
class _Pick:
    assignment: Assignment | None
    # True when candidates existed but were taken or locked by concurrent requests:
    # "nothing this time" is then not "nothing left", and the caller tries again.
    contended: bool = False


def _from_random_start(units: QuerySet[StudyUnit]) -> list[QuerySet[StudyUnit]]:
    """``units`` in their fixed random order (``StudyUnit.shuffle``) from a random key on,
    wrapping around: two index range scans that together meet every unit once."""
    start = shuffle_key()
    return [
        units.filter(shuffle__gte=start).order_by("shuffle"),
        units.filter(shuffle__lt=start).order_by("shuffle"),
    ]


def _pick_unit(rater: Rater, study: Study, *, gold: bool, wait: bool) -> _Pick:
    seen = Assignment.objects.filter(rater=rater, study=study).values("unit_id")
    units = StudyUnit.objects.filter(study=study, is_gold=gold).exclude(pk__in=seen)
    if gold:
        # Gold units are not limited to K raters: every rater should meet some.
        ways = _from_random_start(units)
    else:
        # The emptiest units first, by the slot counter, random among them; every step is a
        # short scan of one index, however large the study.
        units = units.filter(slots_taken__lt=study.raters_per_unit)
        # The emptiest level is a subquery of the same statement (evaluated once by it).
        level = Subquery(units.order_by("slots_taken").values("slots_taken")[:1])
        fuller = units.filter(slots_taken__gt=level).order_by("slots_taken", "shuffle")
        ways = [*_from_random_start(units.filter(slots_taken=level)), fuller]
    # Each way finds and locks one unit in one statement. Normally rows another request
    # holds are skipped, so concurrent raters spread over different units instead of
    # queueing on one; when that keeps finding nothing, the caller asks to wait for the
    # locks instead. A row that changed while this waited for it is checked against the
    # filter again by PostgreSQL, so the counter read under the lock is current: every
    # change to it happens under the same lock, and it decides.
    for way in ways:
        locked = way.select_for_update(skip_locked=not wait)
        for pk, kind, slots_taken in locked.values_list("pk", "kind", "slots_taken")[:1]:
            if gold or slots_taken < study.raters_per_unit:  # (SQLite has no re-check)
                return _Pick(_lease(rater, study, pk, kind))
    # Nothing unlocked: "nothing left" only if nothing is open at all.
    return _Pick(None, contended=units.exists())


# Attempts before a rater is told there is nothing for them while other requests
# keep taking the candidates first; the later attempts wait for row locks.
_PICK_ATTEMPTS = 8
_PICK_SKIP_LOCKED_ATTEMPTS = 3


def _pick_with_retries(rater: Rater, study: Study, *, gold: bool) -> Assignment | None:
    expired = False
    for attempt in range(_PICK_ATTEMPTS):
        # Each attempt is its own transaction: locks taken on units that turned
        # out full are released, and the next candidate query sees fresh counts.
        with transaction.atomic():
            pick = _pick_unit(rater, study, gold=gold, wait=attempt >= _PICK_SKIP_LOCKED_ATTEMPTS)
        if pick.assignment is not None:
            return pick.assignment
        if not pick.contended:
            # Nothing open by the counters. Leases past their expiry still count there
            # until they are marked (a beat task does it; the embedded demo runs none), so
            # mark this study's now and look once more before saying nothing is left.
            if gold or expired or not assignments_expire(study=study):
                return None
            expired = True
    return None


def assignment_next(
    *, rater: Rater, study: Study, exclude: Iterable[int] = ()
) -> Assignment | None:
    """The rater's next task in the study, or None when there is none for them.

    A live lease the rater already holds (other than ``exclude``) comes back first,
    so a reload never loses or duplicates work. Otherwise a unit the rater has not
    seen, with the fewest submitted + live assignments below K, random among ties;
    gold units are mixed in at the study's gold rate. None means no unit is left
    for this rater, not that concurrent requests happened to take the candidates.
    """
    if study.status != Study.Status.LIVE:
        raise ServiceError(f"the study is {study.status}, not live", code="conflict")
    exclude = list(exclude)
    want_gold = study.gold_rate > 0 and random.random() < study.gold_rate
    if task_sql.enabled():
        # The common case in one statement (task_sql); anything else falls through to the
        # ORM code below, which decides every case.
        now = timezone.now()
        for gold in (True, False) if want_gold else (False,):
            # From a random key on, then (the wrap-around) from the first key.
            for start in (shuffle_key(), 0):
                leased = task_sql.lease_next(
                    rater_id=rater.pk,
                    study=study,
                    exclude=exclude,
                    gold=gold,
                    start=start,
                    now=now,
                )
                if leased is not None:
                    return leased
    if rater.excluded:
        return None
    held = (
        Assignment.objects.filter(live_lease(), rater=rater, study=study)
        .exclude(pk__in=exclude)
        .order_by("leased_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if held is not None:
        return _with_task(held)
    if (
        study.max_tasks_per_rater is not None
        and rater_task_count(rater=rater, study=study) >= study.max_tasks_per_rater
    ):
        return None
    assignment = _pick_with_retries(rater, study, gold=True) if want_gold else None
    if assignment is None:
        assignment = _pick_with_retries(rater, study, gold=False)
    return None if assignment is None else _with_task(assignment.pk)


def _with_task(assignment_id: int) -> Assignment:
    """The assignment with what its task payload shows, in one query. The lookups that
    choose an assignment read ids only: joins cost planning time on every request."""
    return Assignment.objects.select_related("unit__edit_a__item").get(pk=assignment_id)


@dataclass(frozen=True)
class SubmitResult:
    judgment: Judgment
    created: bool


def judgment_submit(
    *,
    rater: Rater,
    assignment_id: int,
    answers: Any,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
) -> SubmitResult:
    """Record a rater's answers for their assignment; the same submission id twice records one.

    Raises Http404 for an assignment that is not the rater's, ServiceError for
    invalid answers (invalid) or a lease that can no longer be submitted (conflict).
    """
    if not 0 <= time_on_task_ms <= 24 * 3600 * 1000:
        raise ServiceError("time_on_task_ms must be between 0 and one day")
    recorded = None
    if task_sql.enabled():
        # The common case in two statements (task_sql); anything else falls through to the
        # ORM code, which decides every case.
        recorded = _judgment_submit_sql(
            rater=rater,
            assignment_id=assignment_id,
            answers=answers,
            time_on_task_ms=time_on_task_ms,
            client_submission_id=client_submission_id,
        )
    if recorded is None:
        recorded = _judgment_submit_orm(
            rater=rater,
            assignment_id=assignment_id,
            answers=answers,
            time_on_task_ms=time_on_task_ms,
            client_submission_id=client_submission_id,
        )
    result, study = recorded
    if result.created and study.quality_rules:
        rater_apply_quality_rules(rater=rater, study=study)
    return result


def _judgment_answers(
    kind: str, questions: list[dict[str, Any]], answers: Any, *, a_on_left: bool
) -> tuple[dict[str, str], bool | None]:
    """The answers as stored, and whether a single-image judgment is correct."""
    try:
        cleaned = validate_answers(questions, answers)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if kind == StudyUnit.Kind.PAIRWISE:
        # Store what the rater saw (left/right) and what it means (a/b).
        return {**cleaned, **_pair_meaning(cleaned, a_on_left=a_on_left)}, None
    return cleaned, single_correct(cleaned)


def _judgment_submit_sql(
    *,
    rater: Rater,
    assignment_id: int,
    answers: Any,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
) -> tuple[SubmitResult, Study] | None:
    """A live lease submitted by two statements; None for anything else (nothing written)."""
    now = timezone.now()
    task = task_sql.submit_read(rater_id=rater.pk, assignment_id=assignment_id, now=now)
    if task is None:
        return None
    cleaned, correct = _judgment_answers(
        task["kind"], task["questions"], answers, a_on_left=task["a_on_left"]
    )
    judgment = task_sql.submit_write(
        rater_id=rater.pk,
        assignment_id=assignment_id,
        answers=cleaned,
        correct=correct,
        time_on_task_ms=time_on_task_ms,
        client_submission_id=client_submission_id,
        simulated=task["simulated"],
        now=now,
    )
    return None if judgment is None else (SubmitResult(judgment, created=True), task["study"])


def _judgment_submit_orm(
    *,
    rater: Rater,
    assignment_id: int,
    answers: Any,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
) -> tuple[SubmitResult, Study]:
    from annotation.selectors import assignment_get_for_rater

    with transaction.atomic():
        assignment = assignment_get_for_rater(
            rater=rater, assignment_id=assignment_id, for_update=True
        )
        study = assignment.study
        if assignment.status == Assignment.Status.SUBMITTED:
            # A retry of the submission that was recorded (the answer to it was lost) gets
            # that judgment back; the row lock makes a concurrent double submit wait here.
            previous = assignment.judgments.filter(client_submission_id=client_submission_id)
            if (judgment := previous.first()) is not None:
                return SubmitResult(judgment, created=False), study
            raise ServiceError("this task was already submitted", code="conflict")
        if study.status not in (Study.Status.LIVE, Study.Status.PAUSED):
            raise ServiceError(f"the study is {study.status}; no more answers", code="conflict")
        if assignment.status != Assignment.Status.LEASED or (
            assignment.lease_expires_at <= timezone.now()
        ):
            raise ServiceError(
                "the time for this task ran out and it went to someone else; "
                "continue with the next task",
                code="conflict",
            )
        unit = assignment.unit
        cleaned, correct = _judgment_answers(
            unit.kind, unit.questions, answers, a_on_left=assignment.a_on_left
        )
        try:
            judgment = Judgment.objects.create(
                assignment=assignment,
                answers=cleaned,
                correct=correct,
                time_on_task_ms=time_on_task_ms,
                client_submission_id=client_submission_id,
                simulated=rater.simulated,
            )
        except IntegrityError:
            # The unique submission id, already used for another task: a client bug, not a
            # retry (a retry names the same task, answered above). Leaving the block rolls
            # the transaction back.
            raise ServiceError(
                "this submission id was already used for another task", code="conflict"
            ) from None
        assignment.status = Assignment.Status.SUBMITTED
        assignment.submitted_at = timezone.now()
        assignment.save(update_fields=["status", "submitted_at"])
    return SubmitResult(judgment, created=True), study


def _pair_meaning(answers: dict[str, str], *, a_on_left: bool) -> dict[str, str]:
    sides = {"left": "a" if a_on_left else "b", "right": "b" if a_on_left else "a", "none": "none"}
    return {f"{question}_choice": sides[value] for question, value in answers.items()}


def assignment_report_broken(*, rater: Rater, assignment_id: int, note: str) -> Assignment:
    """ "Report a broken item": the task is skipped (its slot freed) and the report kept."""
    from annotation.selectors import assignment_get_for_rater

    with transaction.atomic():
        assignment = assignment_get_for_rater(
            rater=rater, assignment_id=assignment_id, for_update=True
        )
        if assignment.status != Assignment.Status.LEASED:
            raise ServiceError("only a task in progress can be reported", code="conflict")
        BrokenItemReport.objects.create(assignment=assignment, note=note.strip()[:2000])
        _slots_taken_add(assignment.unit_id, -1)
        assignment.status = Assignment.Status.SKIPPED
        assignment.save(update_fields=["status"])
    return assignment


def rater_apply_quality_rules(*, rater: Rater, study: Study) -> bool:
    """Flag the rater as excluded when the study's quality rules say so.

    The judgments are kept (analyses report with and without them), never deleted.
    Returns whether the rater is excluded now.
    """
    from annotation.selectors import rater_quality

    rules = study.quality_rules or {}
    if not rules or rater.excluded:
        return rater.excluded
    quality = rater_quality(rater=rater, study=study)
    reasons = []
    enough_gold = quality["gold_answers"] >= rules.get("min_gold_answers", 3)
    if "min_gold_accuracy" in rules and enough_gold:
        accuracy = quality["gold_accuracy"]
        if accuracy is not None and accuracy < rules["min_gold_accuracy"]:
            reasons.append(
                f"min_gold_accuracy: gold accuracy {accuracy:.2f} < {rules['min_gold_accuracy']}"
            )
    enough = quality["judgments"] >= 10
    if "min_median_seconds" in rules and enough:
        median = quality["median_seconds"]
        if median is not None and median < rules["min_median_seconds"]:
            reasons.append(
                f"min_median_seconds: median {median:.1f}s < {rules['min_median_seconds']}s"
            )
    if "max_same_answer_share" in rules and enough:
        share = quality["same_answer_share"]
        if share is not None and share > rules["max_same_answer_share"]:
            reasons.append(
                f"max_same_answer_share: same answer {share:.0%} of the time (straight-lining)"
            )
    if reasons:
        Rater.objects.filter(pk=rater.pk).update(excluded=True, exclusion_reason="; ".join(reasons))
        rater.excluded, rater.exclusion_reason = True, "; ".join(reasons)
    return rater.excluded


# --- Simulated raters -------------------------------------------------------------------------


def _simulated_answers(assignment: Assignment, rng: random.Random, noise: float) -> dict[str, str]:
    from annotation import autojudge

    unit = assignment.unit
    if unit.kind == StudyUnit.Kind.SINGLE:
        correct = autojudge.verdicts(unit.edit_a)
        tested = str(unit.edit_a.item.target.get("tested_attribute", ""))
        answers = (
            autojudge.answer(unit.questions, correct, tested)
            if correct is not None
            else {q["id"]: rng.choice(("yes", "no")) for q in unit.questions}
        )
        flip = {"yes": "no", "no": "yes"}
        return {k: flip[v] if rng.random() < noise else v for k, v in answers.items()}
    assert unit.edit_b is not None
    scores = [autojudge.verdicts(e) for e in (unit.edit_a, unit.edit_b)]
    a, b = (autojudge.score(s) if s is not None else 0 for s in scores)
    winner = "a" if a > b else "b" if b > a else "none"
    left_is_a = assignment.a_on_left
    side = {"a": "left" if left_is_a else "right", "b": "right" if left_is_a else "left"}
    answers = {}
    for question in ("alignment", "realism"):
        # Realism has no automatic judge; a simulated rater leans towards the better match.
        choice = winner if question == "alignment" or rng.random() < 0.6 else "none"
        if rng.random() < noise:
            choice = rng.choice(("a", "b", "none"))
        answers[question] = side.get(choice, "none")
    return answers


def raters_simulate(
    *, study: Study, raters: int, noise: float, seed: int = 0, progress: bool = False
) -> int:
    """Simulated raters work through the study with the same services as people.

    Each answers from the automatic judge's verdicts, each answer flipped with
    probability ``noise``. Their raters and judgments are marked simulated, and
    reports leave them out unless asked. Returns the number of judgments made.
    """
    if not 0 <= noise <= 1:
        raise ServiceError("noise must be between 0 and 1")
    if raters < 1:
        raise ServiceError("at least one simulated rater")
    rng = random.Random(seed)
    made = 0
    total = study.units.filter(is_gold=False).count() * study.raters_per_unit
    with tqdm(total=total, unit="judgment", desc="simulating", disable=not progress) as bar:
        for n in range(raters):
            rater = rater_for_participant(
                platform=Rater.Platform.SIMULATED, participant_id=f"sim-{study.pk}-{seed}-{n}"
            )
            while (assignment := assignment_next(rater=rater, study=study)) is not None:
                judgment_submit(
                    rater=rater,
                    assignment_id=assignment.pk,
                    answers=_simulated_answers(assignment, rng, noise),
                    time_on_task_ms=int(rng.uniform(2500, 9000)),
                    client_submission_id=uuid.UUID(int=rng.getrandbits(128)),
                )
                made += 1
                bar.update(1)
    return made
