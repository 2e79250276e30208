"""Generation that never runs inside a web request.

With a broker (``CELERY_BROKER_URL``) a study's jobs are enqueued for the workers, as before.
Without one (the embedded demo), ``study_generate_background`` creates the job rows and starts
one background thread per study in this process, which claims and runs them batch by batch
with the same exactly-once claim as the workers (``jobs_run``), and returns at once. Because
jobs are rows, a runner killed with its process leaves queued (or stale running) jobs that the
next generate picks up: generation resumes where it stopped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from annotation.models import EditModel, GenerationJob, Study
from annotation.services.generation import jobs_release, jobs_run
from annotation.services.studies import study_generate

_runners: dict[int, threading.Thread] = {}
_runners_lock = threading.Lock()


@dataclass(frozen=True)
class GenerationStart:
    # "workers" (enqueued for Celery), "background" (a runner thread started here), or
    # "running" (a runner of this study was already at work: nothing new started).
    mode: str
    created: int
    jobs: int


def _uses_workers() -> bool:
    return not settings.CELERY_TASK_ALWAYS_EAGER


def study_jobs_to_run(*, study_id: int) -> list[list[int]]:
    """The study's jobs a runner may take now, in batches of one model: queued ones, and
    running ones whose claim has expired (their runner or worker is gone)."""
    study = Study.objects.filter(pk=study_id).first()
    if study is None:  # deleted meanwhile: nothing to run
        return []
    stale = timezone.now() - timedelta(seconds=settings.GENERATION_CLAIM_TIMEOUT)
    rows = (
        GenerationJob.objects.filter(
            item__in=study.items.all(),
            model__in=study.edit_models.exclude(kind=EditModel.Kind.EXTERNAL),
        )
        .filter(
            Q(status=GenerationJob.Status.QUEUED)
            | Q(status=GenerationJob.Status.RUNNING, claimed_at__lt=stale)
        )
        .order_by("model_id", "pk")
        .values_list("model_id", "pk")
    )
    batches: list[list[int]] = []
    last_model = None
    for model_id, job_id in rows:
        if model_id != last_model or len(batches[-1]) >= settings.GENERATION_BATCH_SIZE:
            batches.append([])
            last_model = model_id
        batches[-1].append(job_id)
    return batches


def study_jobs_run_all(*, study_id: int) -> int:
    """Run every job of the study a runner may take, until none is left; returns how many
    were done here. A failing batch is released as the workers do: queued again until its
    last attempt, then failed with the error, which the dashboard shows."""
    done = 0
    while batches := study_jobs_to_run(study_id=study_id):
        progressed = False
        for batch in batches:
            try:
                ran = jobs_run(job_ids=batch)
            except Exception as exc:  # the job rows record it; the runner goes on
                final = (
                    GenerationJob.objects.filter(pk__in=batch)
                    .filter(attempts__gte=settings.GENERATION_MAX_ATTEMPTS)
                    .exists()
                )
                jobs_release(job_ids=batch, error=f"{type(exc).__name__}: {exc}", final=final)
                progressed = True
                continue
            done += len(ran)
            progressed = progressed or bool(ran)
        if not progressed:  # everything left is someone else's claim
            break
    return done


def _runner(study_id: int) -> None:
    try:
        close_old_connections()
        study_jobs_run_all(study_id=study_id)
    finally:
        connection.close()
        with _runners_lock:
            _runners.pop(study_id, None)


def study_runner_active(*, study: Study) -> bool:
    """Whether a background runner of this study is at work in this process."""
    with _runners_lock:
        thread = _runners.get(study.pk)
        return thread is not None and thread.is_alive()


def study_runner_wait(*, study: Study, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for this process's runner of the study to finish
    (the ``study generate --wait`` of the embedded setup, and tests); whether it has."""
    with _runners_lock:
        thread = _runners.get(study.pk)
    if thread is not None:
        thread.join(timeout)
    return not study_runner_active(study=study)


def study_generate_background(*, study: Study) -> GenerationStart:
    """Ask for the study's missing edits and return at once: enqueued for the workers with a
    broker; without one, run by this process's background runner of the study (one at a
    time: asking again while it works starts nothing)."""
    if _uses_workers():
        report = study_generate(study=study, enqueue=True)
        return GenerationStart("workers", report.created, sum(map(len, report.batches)))
    with _runners_lock:
        thread = _runners.get(study.pk)
        if thread is not None and thread.is_alive():
            return GenerationStart("running", 0, 0)
        report = study_generate(study=study, enqueue=False)
        thread = threading.Thread(
            target=_runner, args=(study.pk,), name=f"generate-study-{study.pk}", daemon=True
        )
        _runners[study.pk] = thread
        thread.start()
    return GenerationStart("background", report.created, sum(map(len, report.batches)))
