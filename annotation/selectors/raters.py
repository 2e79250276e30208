"""Reads about raters: who a session is, their quality signals, what their task page shows."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection

from annotation.models import (
    Assignment,
    Judgment,
    Rater,
    Study,
    StudyUnit,
    live_assignment,
    live_lease,
    rater_cap_reached,
    units_open,
    units_unseen,
)


def rater_get(*, rater_id: int | None) -> Rater | None:
    if rater_id is None:
        return None
    return Rater.objects.filter(pk=rater_id).first()


def rater_ref(*, rater_id: int) -> Rater:
    """The rater with this id, read from the database only when a field other than the id is
    first used (then ``Rater.DoesNotExist`` if it is gone). For the task page's calls, whose
    statements check the rater themselves."""
    return Rater.from_db(DEFAULT_DB_ALIAS, ["id"], [rater_id])


def rater_task_count(*, rater: Rater, study: Study) -> int:
    """Tasks a rater has submitted or holds in a study (what the per-rater cap counts)."""
    return Assignment.objects.filter(live_assignment(), rater=rater, study=study).count()


def rater_has_started(*, rater: Rater, study: Study) -> bool:
    """Whether the rater has taken a task of the study (then the start page is skipped)."""
    return Assignment.objects.filter(rater=rater, study=study).exists()


def rater_progress(*, rater: Rater, study: Study) -> dict[str, Any]:
    # One count per task request: plain SQL, not the ORM's query building (0.3 ms a call).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM annotation_assignment"
            " WHERE rater_id = %s AND study_id = %s AND status = %s",
            [rater.pk, study.pk, Assignment.Status.SUBMITTED],
        )
        (done,) = cursor.fetchone()
    return {"done": done, "total": study.max_tasks_per_rater}


def rater_quality(*, rater: Rater, study: Study) -> dict[str, Any]:
    """Quality signals of one rater in one study: gold accuracy, median time, straight-lining.

    Runs after every submission when a study has quality rules, so it reads the few columns it
    needs as tuples, not model instances.
    """
    rows = Judgment.objects.filter(
        assignment__rater=rater, assignment__study=study, superseded_by__isnull=True
    ).values_list(
        "answers",
        "time_on_task_ms",
        "assignment__unit__kind",
        "assignment__unit__is_gold",
        "assignment__unit__gold_answer",
    )
    gold = gold_right = 0
    # Straight-lining: the same raw answers (what was clicked, before any
    # left/right decoding) on every task of a kind.
    patterns: dict[str, list[tuple[str, ...]]] = {}
    times = []
    for answers, time_ms, kind, is_gold, gold_answer in rows:
        times.append(time_ms)
        if is_gold:
            gold += 1
            gold_right += _gold_passed(answers, kind=kind, expected=gold_answer or {})
            continue
        clicked = tuple(str(v) for k, v in sorted(answers.items()) if not k.endswith("_choice"))
        patterns.setdefault(kind, []).append(clicked)
    shares = [
        Counter(values).most_common(1)[0][1] / len(values)
        for values in patterns.values()
        if len(values) >= 5
    ]
    return {
        "judgments": len(times),
        "gold_answers": gold,
        "gold_accuracy": gold_right / gold if gold else None,
        "median_seconds": statistics.median(times) / 1000 if times else None,
        "same_answer_share": max(shares) if shares else None,
    }


def _gold_passed(answers: dict[str, Any], *, kind: str, expected: dict[str, Any]) -> bool:
    for question, value in expected.items():
        if kind == StudyUnit.Kind.PAIRWISE:
            if answers.get(f"{question}_choice") != value:
                return False
        elif answers.get(question) != value:
            return False
    return True


def task_payload(*, assignment: Assignment, image_url: Callable[[str], str]) -> dict[str, Any]:
    """What the task page needs for one assignment. Carries no model identity:
    images are addressed by assignment and side only (``image_url(which)``)."""
    unit = assignment.unit
    item = unit.edit_a.item
    outputs = ["single"] if unit.kind == StudyUnit.Kind.SINGLE else ["left", "right"]
    return {
        "assignment": assignment.pk,
        "kind": unit.kind,
        "prompt": item.prompt(unit.prompt_type),
        "prompt_type": unit.prompt_type,
        "questions": unit.questions,
        "input": image_url("input"),
        "mask": image_url("mask"),
        "outputs": [image_url(which) for which in outputs],
        "width": item.width,
        "height": item.height,
    }


@dataclass(frozen=True)
class Completion:
    """Whether a rater has earned the study's completion code, and if not, why not."""

    earned: bool
    done: int
    reason: str = ""
    # Whether going back to the tasks can change it (not for an excluded rater).
    can_go_on: bool = False


def rater_completion(*, rater: Rater, study: Study) -> Completion:
    """The completion code's rule: the code is earned by a rater who is not excluded, has done
    at least one task, and has either reached the study's cap per rater or done every task
    that was available to them (holds no open lease, and no unit is left that they could
    still take while the study is live)."""
    done = int(rater_progress(rater=rater, study=study)["done"])
    if rater.excluded:
        return Completion(False, done, "Your answers did not meet this study's quality checks.")
    if done == 0:
        return Completion(False, 0, "You have not completed any task of this study yet.", True)
    if rater_cap_reached(study=study, tasks=done):
        return Completion(True, done)
    if Assignment.objects.filter(live_lease(), rater=rater, study=study).exists():
        return Completion(False, done, "You still have a task open: please finish it first.", True)
    if (
        study.status == Study.Status.LIVE
        and units_open(units_unseen(rater=rater, study=study, gold=False), study=study).exists()
    ):
        return Completion(False, done, "There are tasks left for you: please go on.", True)
    return Completion(True, done)
