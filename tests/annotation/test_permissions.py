"""Permissions, with the fixed cast: admin, rater A, rater B, anonymous."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, Judgment, Study
from annotation.services.assignments import assignment_next
from annotation.services.raters import rater_for_participant
from tests.annotation.rating import post_json, prolific, yes_answers

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def test_rater_b_can_neither_see_nor_submit_rater_a_s_assignment(
    make_study: Callable[..., Study], rater_a: User, rater_b: User
) -> None:
    study = make_study()
    a_client, b_client = Client(), Client()
    a_client.force_login(rater_a)
    b_client.force_login(rater_b)
    a_client.get(f"/s/{study.slug}/")
    task = a_client.get(f"/s/{study.slug}/task/").context["task"]
    assignment = Assignment.objects.get(pk=task["assignment"])
    b_client.get(f"/s/{study.slug}/")
    for which in ("input", "single", "left", "right"):
        url = reverse("rater-image", args=[study.slug, assignment.pk, which])
        assert b_client.get(url).status_code == 404
    response = post_json(
        b_client,
        reverse("rater-submit", args=[study.slug]),
        {
            "assignment": assignment.pk,
            "answers": yes_answers(assignment),
            "time_on_task_ms": 1000,
            "client_submission_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 404
    assert Judgment.objects.count() == 0
    # Rater A can.
    response = post_json(
        a_client,
        reverse("rater-submit", args=[study.slug]),
        {
            "assignment": assignment.pk,
            "answers": yes_answers(assignment),
            "time_on_task_ms": 1000,
            "client_submission_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200 and Judgment.objects.count() == 1


def test_anonymous_visitors_get_nothing(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="x")
    assignment = assignment_next(rater=rater, study=study)
    assert assignment is not None
    anon = Client()
    assert anon.get(f"/s/{study.slug}/task/").status_code == 302
    image = reverse("rater-image", args=[study.slug, assignment.pk, "input"])
    assert anon.get(image).status_code == 404
    submit_url = reverse("rater-submit", args=[study.slug])
    assert post_json(anon, submit_url, {"assignment": assignment.pk}).status_code == 403
    assert post_json(anon, reverse("rater-next", args=[study.slug]), {}).status_code == 403
    # Staff pages send anonymous visitors to sign in, whatever the id (nothing to probe).
    response = anon.get(f"/studies/{study.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_dashboard_is_for_staff_only(
    make_study: Callable[..., Study], admin_user: User, rater_a: User
) -> None:
    study = make_study()
    client = Client()
    client.force_login(rater_a)
    assert client.get(f"/studies/{study.pk}/").status_code == 404
    client.force_login(admin_user)
    page = client.get(f"/studies/{study.pk}/").content.decode()
    assert f"/s/{study.slug}/" in page and "Secret Model Alpha" in page


def test_cross_site_submissions_are_refused(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client(enforce_csrf_checks=True)
    prolific(client, study)
    response = post_json(client, reverse("rater-next", args=[study.slug]), {})
    assert response.status_code == 403
