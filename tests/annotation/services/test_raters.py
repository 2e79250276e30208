"""Quality rules: the signals read per rater, and the exclusions they decide (judgments kept)."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from annotation.models import Judgment, Study
from annotation.selectors.raters import rater_quality
from annotation.services.assignments import assignment_next
from annotation.services.raters import rater_apply_quality_rules, rater_for_participant
from tests.annotation.rating import submit, yes_answers

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def test_quality_rules_flag_a_straight_liner_and_keep_the_judgments(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(quality_rules={"max_same_answer_share": 0.9}, raters_per_unit=3)
    rater = rater_for_participant(platform="prolific", participant_id="lazy")
    while (a := assignment_next(rater=rater, study=study)) is not None:
        submit(rater, a)
    rater.refresh_from_db()
    assert rater.excluded and "straight-lining" in rater.exclusion_reason
    assert Judgment.objects.filter(assignment__rater=rater).count() >= 10


def test_rater_quality_reads_gold_accuracy_and_median_time_and_excludes_by_them(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(gold_rate=0.5, raters_per_unit=1, task_pairwise=False, quality_rules={})
    rater = rater_for_participant(platform="prolific", participant_id="golden")
    gold_seen = gold_right = 0
    times: list[int] = []
    while gold_seen < 4 and (a := assignment_next(rater=rater, study=study)) is not None:
        answers = yes_answers(a)
        if a.unit.is_gold:
            gold_seen += 1
            (question, expected), *_ = a.unit.gold_answer.items()
            right = gold_seen % 2 == 1  # right on the 1st and 3rd gold unit only
            answers[question] = expected if right else ("yes" if expected == "no" else "no")
            gold_right += right
        times.append(1000 + 700 * len(times))
        submit(rater, a, answers=answers, time_on_task_ms=times[-1])
    assert gold_seen == 4
    quality = rater_quality(rater=rater, study=study)
    assert quality["judgments"] == len(times)
    assert quality["gold_answers"] == 4 and quality["gold_accuracy"] == gold_right / 4 == 0.5
    assert quality["median_seconds"] == statistics.median(times) / 1000
    # The same figures decide exclusion once the study has a rule on them.
    study.quality_rules = {"min_gold_accuracy": 0.6}
    assert rater_apply_quality_rules(rater=rater, study=study)
    rater.refresh_from_db()
    assert rater.excluded and "min_gold_accuracy" in rater.exclusion_reason
    assert Judgment.objects.filter(assignment__rater=rater).count() == len(times)
