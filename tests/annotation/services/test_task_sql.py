"""The task page's prepared statements (services/task_sql.py): how many a request takes, and
that they are prepared again on a new database session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from annotation.models import Judgment, Study
from annotation.services.assignments import assignment_next
from annotation.services.raters import rater_for_participant
from tests.annotation.rating import answer, answer_body, arrive, post_json, submit

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


@pytest.mark.django_db(transaction=True)
def test_a_task_request_takes_at_most_nine_statements_on_the_sql_path(
    make_study: Callable[..., Study],
    task_path: str,
    django_assert_max_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The lease scans the units from a random start key and wraps around to the first key when
    # nothing lies past it: one statement more, drawn by chance. Starting at the first key
    # makes the count the same on every run (the wrap-around is never needed).
    monkeypatch.setattr("annotation.services.assignments.shuffle_key", lambda: 0)
    study = make_study()
    client = Client()
    on_screen, preloaded = arrive(client, study, pid="statements")
    # One task request first, so each statement has been prepared on this connection.
    following = answer(client, study, on_screen, next={"exclude": [preloaded["assignment"]]})
    on_screen, preloaded = preloaded, following.json()["next"]
    # SQL: the study, the assignment's read and write, the progress count, then the next lease
    # in its short transaction behind the rater's row lock (BEGIN, lock, lease, COMMIT) (9).
    # ORM: reads, locks, writes and BEGIN/COMMIT pairs of both steps (20), and the side count
    # when the unit picked is a pair (which kind comes first depends on the study's row id).
    body = answer_body(on_screen, next={"exclude": [preloaded["assignment"]]})
    with django_assert_max_num_queries({"sql": 9, "orm": 21}[task_path]):
        response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code == 200 and response.json()["recorded"] is True
    assert response.json()["next"]["assignment"] not in (
        on_screen["assignment"],
        preloaded["assignment"],
    )


@pytest.mark.django_db(transaction=True)
def test_the_task_calls_work_again_on_a_new_database_connection(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="reconnect")
    for _ in range(3):
        a = assignment_next(rater=rater, study=study)
        assert a is not None and submit(rater, a).created
        # A new session has none of the statements the last one prepared.
        connection.close()
    assert Judgment.objects.filter(assignment__rater=rater).count() == 3
