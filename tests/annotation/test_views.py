"""The rater pages and their JSON calls: crowd entry, identities, end pages, one request a task."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment, Judgment, Rater, Study
from annotation.services.assignments import assignment_next
from annotation.services.raters import rater_for_participant
from annotation.services.studies import study_pause
from tests.annotation.rating import (
    answer,
    answer_body,
    arrive,
    page_task,
    post_json,
    prolific,
    yes_answers,
)

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def test_a_prolific_participant_is_stored_only_as_a_hash(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client()
    response = prolific(client, study, pid="5f1e2d3c4b5a6978a1b2c3d4")
    assert response.status_code == 302 and response["Location"] == f"/s/{study.slug}/start/"
    rater = Rater.objects.get(platform="prolific")
    assert rater.participant_hash and "5f1e2d3c4b5a6978a1b2c3d4" not in rater.participant_hash
    with connection.cursor() as cursor:
        for table in ("annotation_rater", "django_session"):
            cursor.execute(f"SELECT * FROM {table}")
            assert "5f1e2d3c4b5a6978a1b2c3d4" not in repr(cursor.fetchall())


def test_a_returning_participant_resumes_with_the_same_identity(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    first, later = Client(), Client()
    prolific(first, study, pid="same-person")
    page = first.get(f"/s/{study.slug}/task/")
    task = json.loads(page.context["task"] and json.dumps(page.context["task"]))
    prolific(later, study, pid="same-person")
    again = later.get(f"/s/{study.slug}/task/")
    assert Rater.objects.filter(platform="prolific").count() == 1
    assert again.context["task"]["assignment"] == task["assignment"]


def test_the_mturk_preview_shows_instructions_and_assigns_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    response = Client().get(
        f"/s/{study.slug}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "h"}
    )
    assert response.status_code == 200
    assert b"Accept the HIT to start" in response.content
    assert Rater.objects.count() == 0 and Assignment.objects.count() == 0


def test_the_mturk_end_page_posts_back_to_mturk(make_study: Callable[..., Study]) -> None:
    study = make_study(max_tasks_per_rater=1)
    client = Client()
    client.get(
        f"/s/{study.slug}/",
        {
            "workerId": "A1WORKER0001",
            "assignmentId": "A77",
            "hitId": "H",
            "turkSubmitTo": "https://www.mturk.com",
        },
    )
    page = client.get(f"/s/{study.slug}/task/")
    task = page.context["task"]
    assignment = Assignment.objects.get(pk=task["assignment"])
    post_json(
        client,
        reverse("rater-submit", args=[study.slug]),
        {
            "assignment": assignment.pk,
            "answers": yes_answers(assignment),
            "time_on_task_ms": 3000,
            "client_submission_id": str(uuid.uuid4()),
        },
    )
    assert client.get(f"/s/{study.slug}/task/")["Location"] == f"/s/{study.slug}/done/"
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert 'action="https://www.mturk.com/mturk/externalSubmit"' in done
    assert 'name="assignmentId" value="A77"' in done


def test_the_mturk_end_page_never_posts_to_another_host(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client()
    client.get(
        f"/s/{study.slug}/",
        {"workerId": "A2WORKER0002", "assignmentId": "A", "turkSubmitTo": "https://evil.example"},
    )
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert "evil.example" not in done and "mturk-form" not in done


def _answer_on_screen(client: Client, study: Study) -> None:
    assert answer(client, study, page_task(client, study)).status_code == 200


def test_the_prolific_end_page_shows_the_code_and_the_way_back_once_earned(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(platform="prolific", completion_code="C0DE 42&x", max_tasks_per_rater=2)
    client = Client()
    prolific(client, study)
    for done_so_far in range(2):
        done = client.get(f"/s/{study.slug}/done/").content.decode()
        # 0 tasks, then 1 of the quota of 2: no code, no way back, a way to the tasks.
        assert "C0DE 42" not in done and "return-link" not in done, done_so_far
        assert 'id="back-to-task"' in done
        _answer_on_screen(client, study)
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert "C0DE 42&amp;x" in done
    # The code is URL-encoded in Prolific's return link.
    assert 'href="https://app.prolific.com/submissions/complete?cc=C0DE%2042%26x"' in done


def test_without_a_cap_the_code_is_earned_when_no_task_is_left_for_the_rater(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(platform="prolific", completion_code="DONECODE")
    client = Client()
    prolific(client, study)
    _answer_on_screen(client, study)
    assert "DONECODE" not in client.get(f"/s/{study.slug}/done/").content.decode()
    while client.get(f"/s/{study.slug}/task/").status_code == 200:
        _answer_on_screen(client, study)
    assert "DONECODE" in client.get(f"/s/{study.slug}/done/").content.decode()


def test_an_excluded_rater_gets_no_code(make_study: Callable[..., Study]) -> None:
    study = make_study(platform="prolific", completion_code="DONECODE", max_tasks_per_rater=1)
    client = Client()
    prolific(client, study)
    _answer_on_screen(client, study)
    Rater.objects.update(excluded=True, exclusion_reason="gold accuracy 0.1 < 0.8")
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert "DONECODE" not in done and "quality checks" in done and "back-to-task" not in done


def test_an_internal_rater_logs_in_and_sees_live_studies(
    make_study: Callable[..., Study], rater_a: User
) -> None:
    study = make_study()
    client = Client()
    assert client.get(f"/s/{study.slug}/")["Location"].startswith("/accounts/login/") or (
        "login" in client.get(f"/s/{study.slug}/")["Location"]
    )
    client.force_login(rater_a)
    assert study.name.encode() in client.get("/rate/").content
    assert client.get(f"/s/{study.slug}/").status_code == 302
    assert client.get(f"/s/{study.slug}/task/").status_code == 200
    assert Rater.objects.get(user=rater_a).platform == "internal"


def test_a_draft_study_has_no_crowd_page(make_study: Callable[..., Study]) -> None:
    study = make_study(launch=False)
    assert prolific(Client(), study).status_code == 404


def test_one_request_records_the_answers_and_leases_the_task_after_the_preloaded_one(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    on_screen, preloaded = arrive(client, study, pid="one-trip")
    response = answer(client, study, on_screen, next={"exclude": [preloaded["assignment"]]})
    assert response.status_code == 200
    body = response.json()
    assert body["recorded"] is True and body["progress"]["done"] == 1
    following = body["next"]
    assert following["assignment"] not in (on_screen["assignment"], preloaded["assignment"])
    assert set(following) == set(preloaded)  # the same payload as the next endpoint's
    rater = Assignment.objects.get(pk=on_screen["assignment"]).rater
    assert set(
        Assignment.objects.filter(rater=rater, status="leased").values_list("pk", flat=True)
    ) == {preloaded["assignment"], following["assignment"]}
    assert Judgment.objects.filter(assignment_id=on_screen["assignment"]).count() == 1


def test_without_next_the_submit_answer_has_no_task_and_leases_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="no-next")
    response = answer(client, study, page_task(client, study))
    assert response.status_code == 200 and "next" not in response.json()
    assert not Assignment.objects.filter(status="leased").exists()


def test_a_paused_study_records_the_answers_and_offers_no_next_task(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="pause-next")
    task = page_task(client, study)
    study_pause(study=study)
    response = answer(client, study, task, next={"exclude": []})
    assert response.status_code == 200
    assert response.json()["recorded"] is True and response.json()["next"] is None
    assert Judgment.objects.filter(assignment_id=task["assignment"]).count() == 1


def test_a_session_whose_rater_was_deleted_gets_no_task_and_records_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="deleted")
    Rater.objects.all().delete()
    response = post_json(client, reverse("rater-next", args=[study.slug]), {"exclude": []})
    assert response.status_code == 403
    other = rater_for_participant(platform="prolific", participant_id="other")
    task = assignment_next(rater=other, study=study)
    assert task is not None
    body = {
        "assignment": task.pk,
        "answers": yes_answers(task),
        "time_on_task_ms": 2500,
        "client_submission_id": str(uuid.uuid4()),
    }
    response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code == 404
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("bad_id", [10**20, -1, "12abc", None])
def test_out_of_range_or_malformed_ids_are_a_clear_refusal_not_a_server_error(
    make_study: Callable[..., Study], bad_id: Any
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="huge-ids")
    task = page_task(client, study)
    body = answer_body(task, next={"exclude": [bad_id]})
    response = post_json(client, reverse("rater-next", args=[study.slug]), {"exclude": [bad_id]})
    assert response.status_code == 200 and response.json()["task"] is not None
    response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code == 200 and response.json()["next"] is not None
    body = answer_body(task, assignment=bad_id)
    response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code in (400, 404)
    assert Judgment.objects.count() == 1
