"""Blinding: nothing a rater is sent (pages, JSON, images, headers) reveals a model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, EditModel, Study
from tests.annotation.rating import post_json, prolific, yes_answers

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def model_secrets() -> list[str]:
    secrets: list[str] = []
    # Names and checkpoints identify a model; a preset is a plain word such as
    # "reference" (as in "preference"), so only the distinctive ones are listed below.
    for model in EditModel.objects.all():
        secrets += [model.name, model.checkpoint or model.name]
    secrets += [
        "Secret",
        "Alpha",
        "Beta",
        "Gamma",
        "gamma-ckpt",
        "identity",
        "blur_fill",
        "Gold:",
        "model_id",
        "edit_a",
        "edit_b",
    ]
    return secrets


def test_nothing_a_rater_sees_reveals_a_model(
    make_study: Callable[..., Study], baselines: list[EditModel]
) -> None:
    study = make_study(gold_rate=0.2, platform="prolific", completion_code="CODE")
    secrets = model_secrets()
    client = Client()
    seen: list[str] = []

    def record(response: Any) -> None:
        seen.append(response.content.decode("latin-1"))
        seen.append(repr(sorted(response.headers.items())))

    record(prolific(client, study))
    # The start page, the practice and their images (the benchmark's own, never a model's).
    record(client.get(f"/s/{study.slug}/start/"))
    practice = client.get(f"/s/{study.slug}/practice/")
    record(practice)
    for practice_task in practice.context["practice_tasks"]:
        for image in [practice_task["input"], practice_task["mask"], *practice_task["outputs"]]:
            response = client.get(image)
            assert response.status_code == 200
            seen.append(image)
            seen.append(repr(sorted(response.headers.items())))
    page = client.get(f"/s/{study.slug}/task/")
    record(page)
    url = reverse("rater-submit", args=[study.slug])
    for _ in range(study.units.count()):
        task = page.context["task"] if page is not None else None
        if task is None:
            break
        for image in [task["input"], task["mask"], *task["outputs"]]:
            response = client.get(image)
            assert response.status_code == 200
            seen.append(image)
            seen.append(repr(sorted(response.headers.items())))
        assignment = Assignment.objects.get(pk=task["assignment"])
        preload = post_json(
            client, reverse("rater-next", args=[study.slug]), {"exclude": [task["assignment"]]}
        )
        record(preload)
        preloaded = preload.json()["task"]
        # As the page sends it: the answers, and a request for the task after the preloaded one.
        submitted = post_json(
            client,
            url,
            {
                "assignment": assignment.pk,
                "answers": yes_answers(assignment),
                "time_on_task_ms": 2000,
                "client_submission_id": str(uuid.uuid4()),
                "next": {"exclude": [preloaded["assignment"]] if preloaded else []},
            },
        )
        record(submitted)
        assert "next" in submitted.json()
        page = client.get(f"/s/{study.slug}/task/")
        if page.status_code != 200:
            break
        record(page)
    record(client.get(f"/s/{study.slug}/done/"))
    text = "\n".join(seen)
    for secret in secrets:
        assert secret not in text, f"{secret!r} leaked to a rater"
    ids = {str(pk) for pk in EditModel.objects.values_list("pk", flat=True)}
    assert not any(f"model={i}" in text or f"/models/{i}" in text for i in ids)
