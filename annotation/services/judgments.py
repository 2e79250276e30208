"""Recording what raters answer, and their reports of broken items.

On PostgreSQL a submission of a live lease runs as two prepared statements first
(task_sql); the ORM code here decides every case and is all there is on SQLite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import (
    STUDY_STATUSES_TAKING_ANSWERS,
    Assignment,
    BrokenItemReport,
    Judgment,
    Rater,
    Study,
    StudyUnit,
    lease_is_live,
)
from annotation.questions import single_correct, validate_answers
from annotation.selectors.access import assignment_get_for_rater
from annotation.services import task_sql
from annotation.services.assignments import slots_taken_add
from annotation.services.errors import ServiceError
from annotation.services.raters import rater_apply_quality_rules


@dataclass(frozen=True)
class SubmitResult:
    judgment: Judgment
    created: bool


def judgment_submit(
    *,
    rater: Rater,
    assignment_id: int,
    answers: Any,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
) -> SubmitResult:
    """Record a rater's answers for their assignment; the same submission id twice records one.

    Raises Http404 for an assignment that is not the rater's, ServiceError for
    invalid answers (invalid) or a lease that can no longer be submitted (conflict).
    """
    if not 0 <= time_on_task_ms <= 24 * 3600 * 1000:
        raise ServiceError("time_on_task_ms must be between 0 and one day")
    recorded = None
    if task_sql.enabled():
        # The common case in two statements (task_sql); anything else falls through to the
        # ORM code, which decides every case.
        recorded = _judgment_submit_sql(
            rater=rater,
            assignment_id=assignment_id,
            answers=answers,
            time_on_task_ms=time_on_task_ms,
            client_submission_id=client_submission_id,
        )
    if recorded is None:
        recorded = _judgment_submit_orm(
            rater=rater,
            assignment_id=assignment_id,
            answers=answers,
            time_on_task_ms=time_on_task_ms,
            client_submission_id=client_submission_id,
        )
    result, study = recorded
    if result.created and study.quality_rules:
        rater_apply_quality_rules(rater=rater, study=study)
    return result


def _judgment_answers(
    kind: str, questions: list[dict[str, Any]], answers: Any, *, a_on_left: bool
) -> tuple[dict[str, str], bool | None]:
    """The answers as stored, and whether a single-image judgment is correct."""
    try:
        cleaned = validate_answers(questions, answers)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if kind == StudyUnit.Kind.PAIRWISE:
        # Store what the rater saw (left/right) and what it means (a/b).
        return {**cleaned, **_pair_meaning(cleaned, a_on_left=a_on_left)}, None
    return cleaned, single_correct(cleaned)


def _pair_meaning(answers: dict[str, str], *, a_on_left: bool) -> dict[str, str]:
    sides = {"left": "a" if a_on_left else "b", "right": "b" if a_on_left else "a", "none": "none"}
    return {f"{question}_choice": sides[value] for question, value in answers.items()}


def _judgment_submit_sql(
    *,
    rater: Rater,
    assignment_id: int,
    answers: Any,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
) -> tuple[SubmitResult, Study] | None:
    """A live lease submitted by two statements; None for anything else (nothing written)."""
    now = timezone.now()
    task = task_sql.submit_read(rater_id=rater.pk, assignment_id=assignment_id, now=now)
    if task is None:
        return None
    cleaned, correct = _judgment_answers(
        task["kind"], task["questions"], answers, a_on_left=task["a_on_left"]
    )
    judgment = task_sql.submit_write(
        rater_id=rater.pk,
        assignment_id=assignment_id,
        answers=cleaned,
        correct=correct,
        time_on_task_ms=time_on_task_ms,
        client_submission_id=client_submission_id,
        simulated=task["simulated"],
        now=now,
    )
    return None if judgment is None else (SubmitResult(judgment, created=True), task["study"])


def _submittable(assignment: Assignment, client_submission_id: uuid.UUID) -> Judgment | None:
    """Under the assignment's row lock: the judgment a retry of a recorded submission gets
    back, or None when the lease can be submitted now; ServiceError (conflict) otherwise."""
    study = assignment.study
    if assignment.status == Assignment.Status.SUBMITTED:
        # A retry of the submission that was recorded (the answer to it was lost) gets
        # that judgment back; the row lock makes a concurrent double submit wait here.
        previous = assignment.judgments.filter(client_submission_id=client_submission_id)
        if (judgment := previous.first()) is not None:
            return judgment
        raise ServiceError("this task was already submitted", code="conflict")
    if study.status not in STUDY_STATUSES_TAKING_ANSWERS:
        raise ServiceError(f"the study is {study.status}; no more answers", code="conflict")
    if not lease_is_live(
        status=assignment.status,
        lease_expires_at=assignment.lease_expires_at,
        now=timezone.now(),
    ):
        raise ServiceError(
            "the time for this task ran out and it went to someone else; "
            "continue with the next task",
            code="conflict",
        )
    return None


def _judgment_submit_orm(
    *,
    rater: Rater,
    assignment_id: int,
    answers: Any,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
) -> tuple[SubmitResult, Study]:
    with transaction.atomic():
        assignment = assignment_get_for_rater(
            rater=rater, assignment_id=assignment_id, for_update=True
        )
        study = assignment.study
        if (previous := _submittable(assignment, client_submission_id)) is not None:
            return SubmitResult(previous, created=False), study
        unit = assignment.unit
        cleaned, correct = _judgment_answers(
            unit.kind, unit.questions, answers, a_on_left=assignment.a_on_left
        )
        try:
            judgment = Judgment.objects.create(
                assignment=assignment,
                answers=cleaned,
                correct=correct,
                time_on_task_ms=time_on_task_ms,
                client_submission_id=client_submission_id,
                simulated=rater.simulated,
            )
        except IntegrityError:
            # The unique submission id, already used for another task: a client bug, not a
            # retry (a retry names the same task, answered above). Leaving the block rolls
            # the transaction back.
            raise ServiceError(
                "this submission id was already used for another task", code="conflict"
            ) from None
        assignment.status = Assignment.Status.SUBMITTED
        assignment.submitted_at = timezone.now()
        assignment.save(update_fields=["status", "submitted_at"])
    return SubmitResult(judgment, created=True), study


def assignment_report_broken(*, rater: Rater, assignment_id: int, note: str) -> Assignment:
    """ "Report a broken item": the task is skipped (its slot freed) and the report kept."""
    with transaction.atomic():
        assignment = assignment_get_for_rater(
            rater=rater, assignment_id=assignment_id, for_update=True
        )
        if assignment.status != Assignment.Status.LEASED:
            raise ServiceError("only a task in progress can be reported", code="conflict")
        BrokenItemReport.objects.create(assignment=assignment, note=note.strip()[:2000])
        slots_taken_add(assignment.unit_id, -1)
        assignment.status = Assignment.Status.SKIPPED
        assignment.save(update_fields=["status"])
    return assignment
