"""Celery tasks: thin adapters that take ids and call a service; retry policy lives here."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from annotation.services.assignments import assignments_expire
from annotation.services.generation import jobs_release, jobs_requeue_stale, jobs_run


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def generate_edits(self: Any, job_ids: list[int]) -> list[int]:
    """Generate the edits of a batch of jobs (all of one model).

    A failure puts the jobs back in the queue and retries with exponential
    backoff; after GENERATION_MAX_ATTEMPTS attempts they are marked failed with
    the error, which the admin shows.
    """
    try:
        return jobs_run(job_ids=job_ids)
    except Exception as exc:
        final = self.request.retries + 1 >= settings.GENERATION_MAX_ATTEMPTS
        jobs_release(job_ids=job_ids, error=f"{type(exc).__name__}: {exc}", final=final)
        if final:
            return []
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**self.request.retries)) from None


@shared_task
def requeue_stale_jobs() -> int:
    """Safety net for lost messages: re-enqueue jobs whose worker died."""
    return jobs_requeue_stale()


@shared_task
def expire_leases() -> int:
    """Bookkeeping: mark leases past their expiry (slots are freed by the clock anyway)."""
    return assignments_expire()
