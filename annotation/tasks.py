"""Celery tasks: thin adapters that take ids and call a service; retry policy lives here."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from annotation.generators import GenerationRefused
from annotation.services.adaptive import adaptive_refresh_live
from annotation.services.assignments import assignments_expire
from annotation.services.generation import (
    jobs_held_elsewhere,
    jobs_release,
    jobs_requeue_stale,
    jobs_run,
)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def generate_edits(self: Any, job_ids: list[int]) -> list[int]:
    """Generate the edits of a batch of jobs (all of one model).

    A failure puts the jobs back in the queue and retries with exponential backoff;
    a job that used GENERATION_MAX_ATTEMPTS attempts, or whose error no retry can fix
    (GenerationRefused: a missing pipeline folder, a wrong-size answer), is marked
    failed with the error, which the admin shows. Jobs that another live worker holds
    are checked again after GENERATION_CLAIM_TIMEOUT rather than dropped, so a message
    redelivered while their holder was still running cannot strand them.
    """
    try:
        done = jobs_run(job_ids=job_ids)
    except Exception as exc:
        refused = isinstance(exc, GenerationRefused)
        error = str(exc) if refused else f"{type(exc).__name__}: {exc}"
        if not jobs_release(job_ids=job_ids, error=error, final=refused):
            return []
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from None
    held = jobs_held_elsewhere(job_ids=[j for j in job_ids if j not in done])
    if held and not self.request.is_eager:
        raise self.retry(args=[held], countdown=settings.GENERATION_CLAIM_TIMEOUT)
    return done


@shared_task
def requeue_stale_jobs() -> int:
    """Safety net for lost messages: re-enqueue jobs whose worker died."""
    return jobs_requeue_stale()


@shared_task
def expire_leases() -> int:
    """Bookkeeping: mark leases past their expiry (slots are freed by the clock anyway)."""
    return assignments_expire()


@shared_task
def adaptive_refresh_studies() -> int:
    """Precision targets: open the next round of every open cell of the live studies."""
    return adaptive_refresh_live()
