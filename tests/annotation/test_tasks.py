"""A real worker on a real Redis broker: killed mid-run, every edit still comes out exactly once.

Needs Redis (CELERY_TEST_BROKER_URL, default redis://127.0.0.1:6379/15); `.ci/run`
starts it. The worker is a separate process, so the test commits its data. No beat runs
in these tests: the redelivered messages alone must finish every job.
"""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from celery import Celery
from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image

from annotation.models import Edit, EditModel, GenerationJob
from annotation.services.generation import generation_request
from tests.annotation import factories as f
from tests.annotation.worker import (
    QUEUE,
    TASK,
    kill,
    patient_publisher,
    publisher,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["patient_publisher", "publisher"]  # the fixtures, imported for the tests below

SIZE = 384  # large enough that a batch takes a noticeable moment (about 2 s for 4 edits)


def big_item(seed: int) -> Any:
    rng = np.random.default_rng(seed)
    image = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(image, "PNG")
    return f.BenchmarkItemFactory(
        image=ContentFile(image.getvalue(), name="i.png"),
        mask=ContentFile(f.mask_bytes(SIZE, SIZE), name="m.png"),
    )


def enqueue(publisher: Celery, n_items: int, seeds: list[int]) -> int:
    model = EditModel.objects.create(name="blur", kind="baseline", preset="blur_fill")
    report = generation_request(
        items=[big_item(seed) for seed in range(n_items)],
        models=[model],
        prompt_types=["mask_simple", "mask_rich"],
        seeds=seeds,
        enqueue=False,
    )
    for batch in report.batches:
        publisher.send_task(TASK, args=[batch], queue=QUEUE)
    return sum(len(b) for b in report.batches)


def assert_each_edit_exactly_once(n: int) -> None:
    assert Edit.objects.count() == n
    assert GenerationJob.objects.exclude(status="done").count() == 0
    names = set(Edit.objects.values_list("image", flat=True))
    files = {f"edits/{p.name}" for p in (Path(settings.MEDIA_ROOT) / "edits").iterdir()}
    assert files == names, "orphan or missing edit files"
    assert all(j.edit is not None for j in GenerationJob.objects.all())


def done() -> int:
    return GenerationJob.objects.filter(status="done").count()


def test_a_killed_worker_s_jobs_finish_exactly_once_on_a_new_worker(
    publisher: Celery, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        # 10 items × 2 prompt types × 2 seeds = 40 jobs, in batches of 4.
        n = enqueue(publisher, 10, [0, 1])
        assert n == 40
        wait_for(lambda: done() >= 3, 120, "the first edits", log)
        kill(worker)
        done_at_kill = done()
        assert done_at_kill < 40, "the worker finished before it could be killed"
        print(f"killed the worker with {done_at_kill} of 40 jobs done")

        worker = start_worker(log)
        wait_for(lambda: done() == 40, 180, "all 40 jobs done", log)
    finally:
        kill(worker)
    assert_each_edit_exactly_once(40)


def test_a_killed_pool_process_s_jobs_are_taken_over_by_the_redelivery_without_beat(
    patient_publisher: Celery, tmp_path: Path
) -> None:
    # The claim and the broker's visibility timeout are far longer than the test, so
    # neither an expired claim nor a broker redelivery can be what finishes the jobs:
    # only the redelivery of the rejected message taking over the dead process's claims.
    log = tmp_path / "worker.log"
    worker = start_worker(log, GENERATION_CLAIM_TIMEOUT="600", CELERY_VISIBILITY_TIMEOUT="900")
    try:
        n = enqueue(patient_publisher, 6, [0])  # 12 jobs, batches of 4
        wait_for(
            lambda: done() >= 1 and GenerationJob.objects.filter(status="running").exists(),
            120,
            "a batch running after the first edit",
            log,
        )
        running = GenerationJob.objects.filter(status="running").first()
        assert running is not None
        pid = int(running.claimed_by.rpartition(":")[2])
        assert pid != worker.pid, "the claim must name the pool process, not the main one"
        os.kill(pid, signal.SIGKILL)  # the pool process only; the main worker stays up
        stranded = list(
            GenerationJob.objects.filter(claimed_by=running.claimed_by)
            .exclude(status="done")
            .values_list("pk", flat=True)
        )
        assert stranded, "the batch finished before its process could be killed"
        wait_for(lambda: done() == n, 120, f"all {n} jobs done", log)
        assert worker.poll() is None, "the main worker process must have survived"
    finally:
        kill(worker)
    assert_each_edit_exactly_once(n)
    for job in GenerationJob.objects.filter(pk__in=stranded):
        assert job.claimed_by != running.claimed_by  # taken over by the new pool process
        assert job.attempts == 2
