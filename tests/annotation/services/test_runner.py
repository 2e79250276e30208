"""Generation never runs in a web request: without a broker a generate starts the study's
background runner and returns; the runner does every job exactly once; a second generate
during a run starts nothing; a killed runner's jobs are resumed (issue #15 item 4)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from annotation import generators
from annotation.models import Edit, GenerationJob, Study
from annotation.services.runner import (
    study_jobs_run_all,
    study_runner_active,
    study_runner_wait,
)
from annotation.services.studies import study_generate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Generators wait on this event, so a test can look while the runner is at work; every
    call is counted."""
    release = threading.Event()
    calls: list[int] = []
    real = generators.generator_for

    def slow_generator_for(**kwargs: Any) -> Callable[..., Any]:
        generate = real(**kwargs)

        def wrapped(inputs: list[Any]) -> Any:
            calls.append(len(inputs))
            assert release.wait(timeout=120)
            return generate(inputs)

        return wrapped

    monkeypatch.setattr("annotation.services.generation.generator_for", slow_generator_for)
    release.calls = calls  # type: ignore[attr-defined]
    yield release
    release.set()


def test_generate_returns_before_the_work_and_the_runner_does_each_job_once(
    make_study: Callable[..., Study], admin_user: User, gate: threading.Event
) -> None:
    study = make_study(launch=False)
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/studies/{study.pk}/generate/", follow=True)
    # The page answered while the generator was still held: nothing ran in the request.
    assert response.status_code == 200 and "in the background" in response.content.decode()
    assert Edit.objects.count() == 0 and study_runner_active(study=study)
    # A second generate during the run starts nothing new.
    again = client.post(f"/studies/{study.pk}/generate/", follow=True)
    assert "already running" in again.content.decode()
    jobs = GenerationJob.objects.count()
    gate.set()
    assert study_runner_wait(study=study, timeout=120)
    assert GenerationJob.objects.filter(status="done").count() == jobs > 0
    assert Edit.objects.count() == jobs  # each job's edit stored once
    assert sum(gate.calls) == jobs  # type: ignore[attr-defined]
    page = client.get(f"/studies/{study.pk}/?fragment=live").content.decode()
    assert "100%" in page  # the progress bar of every model is full


def test_a_runner_killed_with_its_process_is_resumed_by_the_next_generate(
    make_study: Callable[..., Study], settings: Any
) -> None:
    study = make_study(launch=False)
    # As a dead process leaves them: jobs created, one claimed long ago and never finished.
    report = study_generate(study=study, enqueue=False)
    stuck = report.batches[0][0]
    settings.GENERATION_CLAIM_TIMEOUT = 1
    GenerationJob.objects.filter(pk=stuck).update(status="running", claimed_at="2000-01-01T00:00Z")
    done = study_jobs_run_all(study_id=study.pk)
    assert done == GenerationJob.objects.count()
    assert not GenerationJob.objects.exclude(status="done").exists()
