"""Generation jobs: requested once, claimed once, each edit produced exactly once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from annotation.models import Edit, EditModel, GenerationJob
from annotation.services import generation as generation_service
from annotation.services.errors import ServiceError
from annotation.services.generation import (
    generation_request,
    job_claim,
    job_file_name,
    jobs_retry_failed,
    jobs_run,
)
from tests.annotation import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def blur() -> EditModel:
    return EditModel.objects.create(name="blur fill", kind="baseline", preset="blur_fill")


@pytest.fixture
def identity() -> EditModel:
    return EditModel.objects.create(name="unedited", kind="baseline", preset="identity")


def edit_files() -> list[Path]:
    return sorted((Path(settings.MEDIA_ROOT) / "edits").glob("*.png"))


def test_a_request_creates_one_job_per_item_model_prompt_type_and_seed(
    blur: EditModel, identity: EditModel
) -> None:
    items = f.BenchmarkItemFactory.create_batch(3)
    report = generation_request(
        items=items,
        models=[blur, identity],
        prompt_types=["mask_simple", "full_image"],
        seeds=[0, 1],
        enqueue=False,
    )
    assert report.created == 3 * 2 * 2 * 2
    assert GenerationJob.objects.count() == 24


def test_asking_twice_creates_nothing_new(blur: EditModel) -> None:
    items = f.BenchmarkItemFactory.create_batch(2)
    generation_request(items=items, models=[blur], prompt_types=["mask_rich"], enqueue=False)
    again = generation_request(
        items=items, models=[blur], prompt_types=["mask_rich"], enqueue=False
    )
    assert (again.created, again.existing) == (0, 2)
    assert GenerationJob.objects.count() == 2


def test_jobs_are_enqueued_in_batches_per_model(
    blur: EditModel, identity: EditModel, settings: Any
) -> None:
    settings.GENERATION_BATCH_SIZE = 2
    items = f.BenchmarkItemFactory.create_batch(3)
    report = generation_request(
        items=items, models=[blur, identity], prompt_types=["mask_simple"], enqueue=False
    )
    models_of = {j.pk: j.model_id for j in GenerationJob.objects.all()}
    assert sorted(len(b) for b in report.batches) == [1, 1, 2, 2]
    assert all(len({models_of[j] for j in batch}) == 1 for batch in report.batches)


def test_an_external_model_cannot_be_asked_to_generate() -> None:
    external = EditModel.objects.create(name="theirs", kind="external")
    with pytest.raises(ServiceError, match="cannot generate; upload their outputs"):
        generation_request(
            items=[f.BenchmarkItemFactory()], models=[external], prompt_types=["mask_simple"]
        )


def test_an_unknown_prompt_type_is_refused(blur: EditModel) -> None:
    with pytest.raises(ServiceError, match="unknown prompt type"):
        generation_request(items=[f.BenchmarkItemFactory()], models=[blur], prompt_types=["x"])


def test_a_job_is_claimed_by_one_worker_only(blur: EditModel) -> None:
    job = GenerationJob.objects.create(
        item=f.BenchmarkItemFactory(), model=blur, prompt_type="mask_simple"
    )
    assert job_claim(job_id=job.pk) is True
    assert job_claim(job_id=job.pk) is False
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("running", 1)


def test_a_job_whose_worker_died_can_be_reclaimed_after_the_timeout(blur: EditModel) -> None:
    job = GenerationJob.objects.create(
        item=f.BenchmarkItemFactory(), model=blur, prompt_type="mask_simple"
    )
    assert job_claim(job_id=job.pk)
    GenerationJob.objects.filter(pk=job.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.GENERATION_CLAIM_TIMEOUT + 1)
    )
    assert job_claim(job_id=job.pk) is True


def test_running_jobs_writes_edits_that_keep_the_unmasked_pixels(blur: EditModel) -> None:
    items = f.BenchmarkItemFactory.create_batch(2)
    report = generation_request(
        items=items, models=[blur], prompt_types=["mask_simple"], enqueue=False
    )
    done = jobs_run(job_ids=report.batches[0])
    assert len(done) == 2
    assert GenerationJob.objects.filter(status="done").count() == 2
    for edit in Edit.objects.select_related("item"):
        with edit.image.open("rb") as out, edit.item.image.open("rb") as src:
            a, b = np.asarray(Image.open(out)), np.asarray(Image.open(src).convert("RGB"))
        with edit.item.mask.open("rb") as m:
            mask = np.asarray(Image.open(m)) > 0
        assert (a[~mask] == b[~mask]).all()
        assert edit.wall_time_s is not None and edit.job is not None
    assert len(edit_files()) == 2


def test_edit_file_names_reveal_neither_model_nor_prompt(identity: EditModel) -> None:
    item = f.BenchmarkItemFactory(external_id="eb-0007")
    report = generation_request(
        items=[item], models=[identity], prompt_types=["mask_rich"], enqueue=False
    )
    jobs_run(job_ids=report.batches[0])
    name = Edit.objects.get().image.name
    for secret in ("unedited", "identity", "baseline", "mask_rich", "eb-0007", str(identity.pk)):
        assert secret not in name.replace("edits/", "")


def test_running_the_same_jobs_again_produces_nothing_more(blur: EditModel) -> None:
    items = f.BenchmarkItemFactory.create_batch(2)
    report = generation_request(
        items=items, models=[blur], prompt_types=["mask_simple"], enqueue=False
    )
    jobs_run(job_ids=report.batches[0])
    assert jobs_run(job_ids=report.batches[0]) == []
    assert Edit.objects.count() == 2 and len(edit_files()) == 2


def test_a_rerun_of_a_stale_job_overwrites_its_file_instead_of_orphaning_one(
    blur: EditModel,
) -> None:
    report = generation_request(
        items=[f.BenchmarkItemFactory()], models=[blur], prompt_types=["mask_simple"], enqueue=False
    )
    job = GenerationJob.objects.get()
    # A worker wrote the file, then died before recording the edit.
    Path(settings.MEDIA_ROOT, "edits").mkdir(parents=True)
    Path(settings.MEDIA_ROOT, job_file_name(job)).write_bytes(b"partial")
    jobs_run(job_ids=report.batches[0])
    assert len(edit_files()) == 1
    assert Edit.objects.get().image.name == job_file_name(job)


def test_a_failing_generator_retries_then_marks_the_job_failed_with_the_error(
    blur: EditModel, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.GENERATION_MAX_ATTEMPTS = 3
    calls = {"n": 0}

    def broken(*args: Any, **kwargs: Any) -> Any:
        def generate(batch: Any) -> Any:
            calls["n"] += 1
            raise RuntimeError("out of memory")

        return generate

    monkeypatch.setattr(generation_service, "generator_for", broken)
    from annotation.tasks import generate_edits

    generation_request(
        items=[f.BenchmarkItemFactory()], models=[blur], prompt_types=["mask_simple"], enqueue=False
    )
    job = GenerationJob.objects.get()
    generate_edits.apply(args=[[job.pk]])
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == "RuntimeError: out of memory"
    assert calls["n"] == 3 and job.attempts == 3
    assert Edit.objects.count() == 0


def test_failed_jobs_can_be_retried(blur: EditModel) -> None:
    job = GenerationJob.objects.create(
        item=f.BenchmarkItemFactory(),
        model=blur,
        prompt_type="mask_simple",
        status="failed",
        error="x",
        attempts=4,
    )
    assert jobs_retry_failed(job_ids=[job.pk]) == 1
    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == ("queued", "", 0)


def test_the_enqueued_task_runs_in_process_without_a_broker(
    blur: EditModel, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        generation_request(
            items=f.BenchmarkItemFactory.create_batch(3), models=[blur], prompt_types=["full_image"]
        )
    assert GenerationJob.objects.filter(status="done").count() == 3
    assert Edit.objects.count() == 3


def test_a_job_whose_process_is_gone_is_taken_over_at_once(blur: EditModel) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process now
    job = GenerationJob.objects.create(
        item=f.BenchmarkItemFactory(),
        model=blur,
        prompt_type="mask_simple",
        status="running",
        claimed_at=timezone.now(),
        claimed_by=f"{socket.gethostname()}:{gone.pid}",
        attempts=1,
    )
    assert jobs_run(job_ids=[job.pk]) == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)
    assert job.claimed_by == generation_service.worker_id()


def test_a_fresh_claim_of_a_live_or_remote_process_is_left_alone(blur: EditModel) -> None:
    import os
    import socket

    live = f"{socket.gethostname()}:{os.getppid()}"  # our parent: alive, not us
    jobs = [
        GenerationJob.objects.create(
            item=f.BenchmarkItemFactory(),
            model=blur,
            prompt_type="mask_simple",
            status="running",
            claimed_at=timezone.now(),
            claimed_by=holder,
        )
        for holder in (live, "another-machine:1")
    ]
    ids = [j.pk for j in jobs]
    assert jobs_run(job_ids=ids) == []
    assert generation_service.jobs_held_elsewhere(job_ids=ids) == ids
    assert Edit.objects.count() == 0
