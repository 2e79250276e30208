"""Submitting answers: idempotent, validated, decoded for pairs, refused once the lease is gone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from annotation.models import Judgment, Study
from annotation.services.assignments import assignment_next
from annotation.services.errors import ServiceError
from annotation.services.raters import rater_for_participant
from annotation.services.studies import study_pause
from tests.annotation.rating import submit, yes_answers

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def test_a_double_submit_records_one_judgment(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="dbl")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    submission = uuid.uuid4()
    first = submit(rater, a, client_submission_id=submission)
    second = submit(rater, a, client_submission_id=submission)
    assert first.created and not second.created
    assert first.judgment.pk == second.judgment.pk
    assert Judgment.objects.filter(assignment=a).count() == 1


def test_a_second_submission_with_a_new_id_is_refused(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="again")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    submit(rater, a)
    with pytest.raises(ServiceError, match="already submitted"):
        submit(rater, a)


def test_a_submission_id_already_used_for_another_task_is_refused_and_records_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="reuse")
    first = assignment_next(rater=rater, study=study)
    assert first is not None
    submission = uuid.uuid4()
    submit(rater, first, client_submission_id=submission)
    second = assignment_next(rater=rater, study=study)
    assert second is not None
    with pytest.raises(ServiceError, match="already used for another task") as refused:
        submit(rater, second, client_submission_id=submission)
    assert refused.value.http_status == 409
    second.refresh_from_db()
    assert second.status == "leased" and not second.judgments.exists()


@pytest.mark.parametrize(
    "answers,message",
    [
        ({}, "needs one of: yes, no"),
        ("yes", "answers must be an object"),
        ({"object": "maybe"}, "needs one of"),
    ],
)
def test_incomplete_or_invalid_answers_are_refused(
    make_study: Callable[..., Study], answers: Any, message: str
) -> None:
    study = make_study(task_pairwise=False)
    rater = rater_for_participant(platform="prolific", participant_id="bad")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    with pytest.raises(ServiceError, match=message):
        submit(rater, a, answers=answers)
    assert Judgment.objects.count() == 0


def test_a_single_judgment_is_correct_only_when_every_check_is_yes(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(task_pairwise=False, prompt_types=["mask_simple"])
    rater = rater_for_participant(platform="prolific", participant_id="c")
    a = assignment_next(rater=rater, study=study)
    b = assignment_next(rater=rater, study=study, exclude=[a.pk] if a else [])
    assert a is not None and b is not None
    assert submit(rater, a).judgment.correct is True
    answers = {**yes_answers(b), "binding": "no"}
    assert submit(rater, b, answers=answers).judgment.correct is False


def test_a_pair_judgment_records_what_the_sides_meant(make_study: Callable[..., Study]) -> None:
    study = make_study(task_single=False)
    rater = rater_for_participant(platform="prolific", participant_id="pair")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    j = submit(rater, a, answers={"alignment": "left", "realism": "none"}).judgment
    assert j.answers["alignment_choice"] == ("a" if a.a_on_left else "b")
    assert j.answers["realism_choice"] == "none"


def test_a_paused_study_accepts_leased_work_but_hands_out_none(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="pz")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    study = study_pause(study=study)
    assert submit(rater, a).created
    with pytest.raises(ServiceError, match="not live"):
        assignment_next(rater=rater, study=study)
