"""Helpers of the rater tests: answering a task, arriving as a crowd participant, posting JSON,
and reading the units' slot counters."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from typing import Any

from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, Rater, Study, StudyUnit
from annotation.services.judgments import judgment_submit


def yes_answers(assignment: Assignment) -> dict[str, str]:
    return {
        q["id"]: ("yes" if q["kind"] == "yes_no" else "left") for q in assignment.unit.questions
    }


def submit(rater: Rater, assignment: Assignment, **kw: Any) -> Any:
    return judgment_submit(
        rater=rater,
        assignment_id=assignment.pk,
        answers=kw.get("answers", yes_answers(assignment)),
        time_on_task_ms=kw.get("time_on_task_ms", 4000),
        client_submission_id=kw.get("client_submission_id", uuid.uuid4()),
    )


def prolific_id(label: str) -> str:
    """A valid Prolific id (24 hex characters) for a test's participant label."""
    if re.fullmatch(r"[0-9a-f]{24}", label):
        return label
    return hashlib.sha256(label.encode()).hexdigest()[:24]


def prolific(client: Client, study: Study, pid: str = "5f1e2d3c4b5a6978a1b2c3d4") -> Any:
    return client.get(
        f"/s/{study.slug}/",
        {"PROLIFIC_PID": prolific_id(pid), "STUDY_ID": "st1", "SESSION_ID": "se1"},
    )


def post_json(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def page_task(client: Client, study: Study) -> dict[str, Any]:
    task: dict[str, Any] = client.get(f"/s/{study.slug}/task/").context["task"]
    return task


def arrive(client: Client, study: Study, pid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A participant arrives: the task on screen, and the following one preloaded."""
    prolific(client, study, pid=pid)
    on_screen = page_task(client, study)
    preloaded = post_json(
        client, reverse("rater-next", args=[study.slug]), {"exclude": [on_screen["assignment"]]}
    ).json()["task"]
    return on_screen, preloaded


def answer_body(task: dict[str, Any], **extra: Any) -> dict[str, Any]:
    assignment = Assignment.objects.get(pk=task["assignment"])
    return {
        "assignment": assignment.pk,
        "answers": yes_answers(assignment),
        "time_on_task_ms": 2500,
        "client_submission_id": str(uuid.uuid4()),
        **extra,
    }


def answer(client: Client, study: Study, task: dict[str, Any], **extra: Any) -> Any:
    body = answer_body(task, **extra)
    return post_json(client, reverse("rater-submit", args=[study.slug]), body)


def slots(study: Study) -> dict[int, int]:
    return dict(StudyUnit.objects.filter(study=study).values_list("pk", "slots_taken"))


def holding(study: Study) -> dict[int, int]:
    counts = Counter(
        Assignment.objects.filter(study=study, status__in=["leased", "submitted"]).values_list(
            "unit", flat=True
        )
    )
    return {pk: counts.get(pk, 0) for pk in study.units.values_list("pk", flat=True)}
