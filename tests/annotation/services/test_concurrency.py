"""50 raters at once over a study with K=3: no over-assignment, no repeat, nothing lost.

Runs on whichever database the suite uses; CI runs it on PostgreSQL, where
assignment relies on SELECT … FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from annotation.models import Assignment, Judgment, Study, StudyUnit
from annotation.services.assignments import assignment_next
from annotation.services.judgments import judgment_submit
from annotation.services.raters import rater_for_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("task_path")]


def test_fifty_concurrent_raters_never_over_assign_or_lose_work(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(raters_per_unit=3)
    units = study.units.count()
    start = threading.Barrier(50)
    recorded: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def rate(n: int) -> None:
        try:
            rater = rater_for_participant(platform="prolific", participant_id=f"crowd-{n}")
            start.wait(timeout=60)
            while (a := assignment_next(rater=rater, study=study)) is not None:
                answers = {
                    q["id"]: ("no" if q["kind"] == "yes_no" else "right") for q in a.unit.questions
                }
                result = judgment_submit(
                    rater=rater,
                    assignment_id=a.pk,
                    answers=answers,
                    time_on_task_ms=1500,
                    client_submission_id=uuid.uuid4(),
                )
                with lock:
                    recorded.append(result.judgment.pk)
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rate, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    submitted = Counter(
        Assignment.objects.filter(study=study, status="submitted").values_list("unit", flat=True)
    )
    assert max(submitted.values()) <= 3
    assert sum(submitted.values()) == units * 3  # every slot filled exactly
    pairs = Assignment.objects.filter(study=study).values_list("rater", "unit")
    assert len(set(pairs)) == len(pairs)
    assert sorted(recorded) == sorted(Judgment.objects.values_list("pk", flat=True))
    assert len(recorded) == units * 3


def test_a_unit_locked_by_another_request_is_waited_for_not_reported_as_none(
    make_study: Callable[..., Study],
) -> None:
    # K=1; another rater takes every unit but one. While a concurrent request
    # holds that last unit's row lock (and then lets it go without leasing it),
    # a new rater must still get it: "none for you" may only mean none is left.
    study = make_study(raters_per_unit=1, task_pairwise=False)
    filler = rater_for_participant(platform="prolific", participant_id="filler")
    for _ in range(study.units.count() - 1):
        a = assignment_next(rater=filler, study=study)
        assert a is not None
        judgment_submit(
            rater=filler,
            assignment_id=a.pk,
            answers={q["id"]: "no" for q in a.unit.questions},
            time_on_task_ms=900,
            client_submission_id=uuid.uuid4(),
        )
    last = StudyUnit.objects.get(study=study, assignments__isnull=True)
    holding = threading.Event()
    errors: list[BaseException] = []

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                StudyUnit.objects.select_for_update().get(pk=last.pk)
                holding.set()
                threading.Event().wait(0.8)
        except BaseException as exc:
            errors.append(exc)
            holding.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holding.wait(timeout=30)
    newcomer = rater_for_participant(platform="prolific", participant_id="newcomer")
    got = assignment_next(rater=newcomer, study=study)
    holder.join(timeout=30)
    assert not errors, errors
    assert got is not None and got.unit_id == last.pk


def test_twenty_concurrent_next_calls_of_one_identity_lease_at_most_two_units(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(raters_per_unit=2)
    rater = rater_for_participant(platform="prolific", participant_id="hoarder")
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def grab() -> None:
        try:
            start.wait(timeout=60)
            for _ in range(3):
                # The attack: exclude every lease held so far, ask again.
                held = list(Assignment.objects.filter(rater=rater).values_list("pk", flat=True))
                assignment_next(rater=rater, study=study, exclude=held)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=grab) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    leased = Assignment.objects.filter(rater=rater, study=study, status="leased").count()
    assert leased == 2
    # Real raters still find the rest of the study.
    other = rater_for_participant(platform="prolific", participant_id="honest")
    assert assignment_next(rater=other, study=study) is not None
