"""Generation jobs: requested once, claimed by one worker, each edit stored exactly once.

The web request creates the jobs and enqueues them after commit; a Celery task
(annotation/tasks.py) claims and runs them and owns the retry policy.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from annotation import categories as cat
from annotation.generators import (
    Endpoint,
    GeneratedEdit,
    GenerationInput,
    Generator,
    generator_for,
)
from annotation.models import BenchmarkItem, Edit, EditModel, GenerationJob
from annotation.services.errors import ServiceError


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
    # The one import inside a function, sanctioned: the tasks call these services, and
    # the enqueue after commit is the only way back from the services to the tasks.
    from annotation.tasks import generate_edits

    for batch in batches:
        generate_edits.delay(batch)


def worker_id() -> str:
    """This process as a claim holder: ``host:pid`` (host names must be unique per machine)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    try:  # a zombie (killed, not yet reaped by its parent) is gone too
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def _dead_holders(job_ids: list[int]) -> list[str]:
    """The claim holders of these running jobs that were processes on this machine and are
    gone; holders on other machines are judged by their heartbeat only."""
    host = socket.gethostname()
    holders = set(
        GenerationJob.objects.filter(
            pk__in=job_ids, status=GenerationJob.Status.RUNNING, claimed_by__startswith=f"{host}:"
        ).values_list("claimed_by", flat=True)
    )
    dead = []
    for holder in holders:
        pid = holder.rpartition(":")[2]
        if pid.isdigit() and int(pid) != os.getpid() and _process_gone(int(pid)):
            dead.append(holder)
    return dead


def job_claim(*, job_id: int, dead_holders: Iterable[str] = ()) -> bool:
    """Take a job for this worker: one conditional UPDATE, so two workers never both win.

    A queued job can be claimed; so can a running one whose holder is in ``dead_holders``
    (a process of this machine that is gone: its pool process was killed) or whose claim's
    heartbeat is older than GENERATION_CLAIM_TIMEOUT (its machine died). Returns whether
    we got it.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GENERATION_CLAIM_TIMEOUT)
    running = Q(status=GenerationJob.Status.RUNNING)
    claimable = (
        Q(status=GenerationJob.Status.QUEUED)
        | (running & Q(claimed_at__lt=stale))
        | (running & Q(claimed_by__in=list(dead_holders)))
    )
    updated = GenerationJob.objects.filter(claimable, pk=job_id).update(
        status=GenerationJob.Status.RUNNING,
        claimed_at=now,
        claimed_by=worker_id(),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return updated == 1


class _Heartbeat:
    """Renews this worker's claims every third of GENERATION_CLAIM_TIMEOUT while a batch runs,
    so a long batch keeps its jobs and only a dead worker's claims go stale."""

    def __init__(self, job_ids: list[int]) -> None:
        self.job_ids = job_ids
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        interval = settings.GENERATION_CLAIM_TIMEOUT / 3
        try:
            while not self.stop.wait(interval):
                GenerationJob.objects.filter(
                    pk__in=self.job_ids,
                    status=GenerationJob.Status.RUNNING,
                    claimed_by=worker_id(),
                ).update(claimed_at=timezone.now())
        finally:
            connections.close_all()  # this thread's own connection

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def jobs_held_elsewhere(*, job_ids: list[int]) -> list[int]:
    """Those of the jobs that another live claim holds (running, not by this process)."""
    return list(
        GenerationJob.objects.filter(pk__in=job_ids, status=GenerationJob.Status.RUNNING)
        .exclude(claimed_by=worker_id())
        .values_list("pk", flat=True)
    )


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


def _model_generator(model: EditModel) -> Generator:
    endpoint = None
    if model.kind == EditModel.Kind.HTTP:
        endpoint = Endpoint(
            url=model.endpoint_url,
            auth_env=model.auth_env,
            timeout_s=model.timeout_s,
            concurrency=model.concurrency,
        )
    return generator_for(
        kind=model.kind,
        preset=model.preset,
        checkpoint=model.checkpoint,
        parameters=model.parameters,
        endpoint=endpoint,
    )


def jobs_run(*, job_ids: list[int]) -> list[int]:
    """Claim and run the given jobs in one batched model call; return the ids done here.

    Jobs another live worker holds (or that are done) are skipped, so a redelivered
    message is harmless; jobs whose holder died are taken over. Generator errors
    propagate to the caller (the task), which owns the retry policy; claimed jobs stay
    ``running`` until then.
    """
    dead = _dead_holders(job_ids)
    claimed = [job_id for job_id in job_ids if job_claim(job_id=job_id, dead_holders=dead)]
    if not claimed:
        return []
    jobs = list(
        GenerationJob.objects.select_related("item", "model").filter(pk__in=claimed).order_by("pk")
    )
    done: list[int] = []
    by_model: dict[int, list[GenerationJob]] = {}
    for job in jobs:
        by_model.setdefault(job.model_id, []).append(job)
    with _Heartbeat(claimed):
        for group in by_model.values():
            generate = _model_generator(group[0].model)
            started = time.perf_counter()
            outputs = generate([_job_input(job) for job in group])
            per_edit = (time.perf_counter() - started) / len(group)
            for job, output in zip(group, outputs, strict=True):
                _edit_store(job=job, output=output, wall_time_s=per_edit)
                done.append(job.pk)
    return done


def jobs_release(*, job_ids: list[int], error: str, final: bool) -> list[int]:
    """After a failed attempt: this worker's jobs back to ``queued`` for a retry, or
    ``failed`` for good when ``final`` or when they used GENERATION_MAX_ATTEMPTS attempts.
    Returns the ids put back in the queue (the ones a retry should run)."""
    mine = GenerationJob.objects.filter(
        pk__in=job_ids, status=GenerationJob.Status.RUNNING, claimed_by=worker_id()
    )
    now, error = timezone.now(), error[:4000]
    limit = settings.GENERATION_MAX_ATTEMPTS
    spent = mine if final else mine.filter(attempts__gte=limit)
    spent.update(status=GenerationJob.Status.FAILED, error=error, updated_at=now)
    retry = list(mine.values_list("pk", flat=True))
    mine.update(status=GenerationJob.Status.QUEUED, error=error, updated_at=now)
    return retry


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
