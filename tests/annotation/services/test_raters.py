"""Quality rules: the signals read per rater, and the exclusions they decide (judgments kept)."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from annotation.models import Judgment, Rater, Study
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
    # The same figures decide exclusion once the study has a rule on them. 2 of 4 right is
    # not evidence of an accuracy below 0.6 (the one-sided 95% Clopper-Pearson upper bound of
    # 2/4 is 0.902, statsmodels proportion_confint(2, 4, alpha=0.1, method="beta")[1]) ...
    study.quality_rules = {"min_gold_accuracy": 0.6, "min_gold_answers": 4}
    assert not rater_apply_quality_rules(rater=rater, study=study)
    # ... but it is of one below 0.95: excluded.
    study.quality_rules = {"min_gold_accuracy": 0.95, "min_gold_answers": 4}
    assert rater_apply_quality_rules(rater=rater, study=study)
    rater.refresh_from_db()
    assert rater.excluded and "min_gold_accuracy" in rater.exclusion_reason
    assert Judgment.objects.filter(assignment__rater=rater).count() == len(times)


def _rate_gold(study: Study, pid: str, right: Callable[[int], bool], gold_units: int) -> Rater:
    """A rater who answers ``gold_units`` gold units (the k-th right when ``right(k)``)."""
    rater = rater_for_participant(platform="prolific", participant_id=pid)
    seen = 0
    while seen < gold_units and (a := assignment_next(rater=rater, study=study)) is not None:
        answers = yes_answers(a)
        if a.unit.is_gold:
            (question, expected), *_ = a.unit.gold_answer.items()
            good = right(seen)
            answers[question] = expected if good else ("yes" if expected == "no" else "no")
            seen += 1
        submit(rater, a, answers=answers)
    assert seen == gold_units
    rater.refresh_from_db()
    return rater


def test_the_gold_rule_decides_on_the_first_gold_answers_only(
    make_study: Callable[..., Study],
) -> None:
    rules = {"min_gold_accuracy": 0.7, "min_gold_answers": 3}
    study = make_study(gold_rate=0.5, raters_per_unit=1, task_pairwise=False, quality_rules=rules)
    # 0 of the first 3 right (upper bound 0.63 < 0.7): excluded, although right afterwards.
    late = _rate_gold(study, "late-starter", lambda k: k >= 3, 3)
    assert late.excluded and "0 of the first 3" in late.exclusion_reason
    # Right on the first 3, wrong on every later one: the decision was made, never revisited.
    fading = _rate_gold(study, "fading", lambda k: k < 3, 5)
    assert not fading.excluded


def test_the_gold_rule_waits_for_enough_gold_answers(make_study: Callable[..., Study]) -> None:
    rules = {"min_gold_accuracy": 0.7, "min_gold_answers": 3}
    study = make_study(gold_rate=0.5, raters_per_unit=1, task_pairwise=False, quality_rules=rules)
    # Two wrong gold answers are not yet a decision.
    rater = _rate_gold(study, "two-wrong", lambda k: False, 2)
    assert not rater.excluded
