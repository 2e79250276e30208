"""Reads that need a permission check or aggregation.

Fetching an object together with its permission check is one function, so a
view cannot forget the check.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from annotation.models import (
    Assignment,
    BenchmarkItem,
    EditModel,
    GenerationJob,
    Judgment,
    Rater,
    Study,
    StudyUnit,
    live_lease,
)


def _is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_staff", False))


def item_get_for_staff(*, user: AbstractBaseUser | AnonymousUser, item_id: int) -> BenchmarkItem:
    """The item, for staff only; anyone else gets 404 so ids cannot be probed."""
    if not _is_staff(user):
        raise Http404
    try:
        return BenchmarkItem.objects.get(pk=item_id)
    except BenchmarkItem.DoesNotExist:
        raise Http404 from None


def generation_counts(
    *, model: EditModel | None = None, study: Study | None = None
) -> dict[str, int]:
    """Jobs per status (queued / running / done / failed), for one model and/or study."""
    jobs = GenerationJob.objects.all()
    if model is not None:
        jobs = jobs.filter(model=model)
    if study is not None:
        jobs = jobs.filter(item__in=study.items.all(), model__in=study.edit_models.all())
    return {row["status"]: row["n"] for row in jobs.values("status").annotate(n=Count("pk"))}


def study_progress(*, study: Study) -> dict[str, Any]:
    """Generation and rating progress of a study (dashboard and API)."""
    from annotation.services import study_missing_edits

    units = study.units.filter(is_gold=False)
    k = study.raters_per_unit
    complete = (
        units.annotate(
            n=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED))
        )
        .filter(n__gte=k)
        .count()
    )
    return {
        "status": study.status,
        "jobs": generation_counts(study=study),
        "missing_edits": study_missing_edits(study),
        "units": units.count(),
        "units_complete": complete,
        "judgments": Judgment.objects.filter(assignment__study=study).count(),
    }


def study_get_for_staff(*, user: AbstractBaseUser | AnonymousUser, study_id: int) -> Study:
    """The study, for staff only; anyone else gets 404."""
    if not _is_staff(user):
        raise Http404
    try:
        return Study.objects.select_related("benchmark", "owner").get(pk=study_id)
    except Study.DoesNotExist:
        raise Http404 from None


def study_dashboard(*, study: Study) -> dict[str, Any]:
    """Everything the staff dashboard of a study shows."""
    now = timezone.now()
    judgments = Judgment.objects.filter(assignment__study=study)
    per_model = []
    for model in study.edit_models.order_by("name"):
        counts = generation_counts(model=model, study=study)
        per_model.append({"name": model.name, "kind": model.kind, **counts})
    raters = (
        Assignment.objects.filter(study=study)
        .values("rater_id", "rater__platform", "rater__excluded", "rater__exclusion_reason")
        .annotate(
            submitted=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
            leased=Count("pk", filter=live_lease()),
        )
        .order_by("-submitted")
    )
    first = judgments.order_by("created_at").values_list("created_at", flat=True).first()
    hours = max((now - first).total_seconds() / 3600, 1 / 60) if first else None
    total = judgments.count()
    rows = list(raters)
    by_id = {r.pk: r for r in Rater.objects.filter(pk__in=[row["rater_id"] for row in rows])}
    for row in rows:
        quality = rater_quality(rater=by_id[row["rater_id"]], study=study)
        row["gold_accuracy"] = quality["gold_accuracy"]
        row["gold_answers"] = quality["gold_answers"]
        row["median_seconds"] = quality["median_seconds"]
    return {
        "progress": study_progress(study=study),
        "models": per_model,
        "raters": rows,
        "excluded_raters": sum(1 for row in rows if row["rater__excluded"]),
        "judgments_last_hour": judgments.filter(created_at__gte=now - timedelta(hours=1)).count(),
        "judgments_per_hour": round(total / hours, 1) if hours else 0.0,
    }


def assignment_get_for_rater(
    *, rater: Rater, assignment_id: int, for_update: bool = False, with_edits: bool = False
) -> Assignment:
    """The rater's own assignment, with its unit and study (``with_edits``: the unit's edits
    and item too); any other id is a 404 (not 403), so ids cannot be probed."""
    related = ["unit", "study"]
    if with_edits:
        related += ["unit__edit_a__item", "unit__edit_b"]
    assignments = Assignment.objects.select_related(*related)
    if for_update:
        assignments = assignments.select_for_update(of=("self",))
    try:
        return assignments.get(pk=assignment_id, rater=rater)
    except Assignment.DoesNotExist:
        raise Http404 from None


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


def study_get_for_raters(*, slug: str) -> Study:
    """A study raters may open (not a draft); 404 otherwise."""
    try:
        return Study.objects.exclude(status=Study.Status.DRAFT).get(slug=slug)
    except Study.DoesNotExist:
        raise Http404 from None


def rater_get(*, rater_id: int | None) -> Rater | None:
    if rater_id is None:
        return None
    return Rater.objects.filter(pk=rater_id).first()


def rater_ref(*, rater_id: int) -> Rater:
    """The rater with this id, read from the database only when a field other than the id is
    first used (then ``Rater.DoesNotExist`` if it is gone). For the task page's calls, whose
    statements check the rater themselves."""
    return Rater.from_db(DEFAULT_DB_ALIAS, ["id"], [rater_id])


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


def task_payload(*, assignment: Assignment, image_url: Any) -> dict[str, Any]:
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
        "outputs": [image_url(which) for which in outputs],
        "width": item.width,
        "height": item.height,
    }


def live_studies_for_user() -> list[Study]:
    """Studies an internal rater can work on."""
    return list(Study.objects.filter(status=Study.Status.LIVE).order_by("name"))


def study_judgment_frames(
    *, study: Study, include_simulated: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's judgments as the tidy tables of analysis/tables.py (single, pairwise).

    Gold units are left out (they check raters, they are not results); excluded
    raters' judgments are kept and marked with the rule that excluded them.
    Simulated judgments are left out unless asked for.
    """
    judgments = (
        Judgment.objects.filter(
            assignment__study=study,
            assignment__unit__is_gold=False,
            superseded_by__isnull=True,
        )
        .select_related(
            "assignment__rater",
            "assignment__unit__edit_a__item",
            "assignment__unit__edit_a__model",
            "assignment__unit__edit_b__model",
        )
        .order_by("pk")
    )
    if not include_simulated:
        judgments = judgments.filter(simulated=False)
    single, pairs = [], []
    for j in judgments:
        a = j.assignment
        unit, rater = a.unit, a.rater
        item = unit.edit_a.item
        rule = rater.exclusion_reason.split(":", 1)[0] if rater.excluded else None
        common = {
            "unit": unit.pk,
            "item": item.external_id,
            "prompt_type": unit.prompt_type,
            "rater": f"rater-{rater.pk}",
            "excluded": rater.excluded,
            "exclusion_rule": rule,
        }
        if unit.kind == StudyUnit.Kind.SINGLE:
            single.append(
                {
                    **common,
                    "model": unit.edit_a.model.name,
                    "object_type": item.object_type,
                    "attribute_type": item.attribute_type,
                    "scene": item.scene,
                    "style": item.style,
                    "source": item.source,
                    "correct": bool(j.correct),
                }
            )
            continue
        assert unit.edit_b is not None
        names = (unit.edit_a.model.name, unit.edit_b.model.name)
        flip = names[0] > names[1]  # analysis wants model_a < model_b
        swap = {"a": "b", "b": "a", "none": "none"}
        left = "a" if a.a_on_left else "b"
        for question in ("alignment", "realism"):
            choice = j.answers.get(f"{question}_choice", "none")
            pairs.append(
                {
                    **common,
                    "model_a": min(names),
                    "model_b": max(names),
                    "left": swap[left] if flip else left,
                    "question": question,
                    "choice": swap[choice] if flip else choice,
                }
            )
    return pd.DataFrame(single), pd.DataFrame(pairs)


def study_auto_judge_frame(*, study: Study) -> pd.DataFrame:
    """The automatic judge's verdict on every edit of the study's single-image units."""
    from annotation.autojudge import answer, verdicts
    from annotation.questions import single_correct

    rows = []
    units = StudyUnit.objects.filter(study=study, kind="single", is_gold=False).select_related(
        "edit_a__item", "edit_a__model"
    )
    for unit in units:
        edit = unit.edit_a
        correct = verdicts(edit)
        if correct is None:
            continue
        item = edit.item
        tested = str(item.target.get("tested_attribute", ""))
        rows.append(
            {
                "unit": unit.pk,
                "item": item.external_id,
                "model": edit.model.name,
                "prompt_type": unit.prompt_type,
                "object_type": item.object_type,
                "attribute_type": item.attribute_type,
                "scene": item.scene,
                "style": item.style,
                "source": item.source,
                "rater": "auto-judge",
                "correct": single_correct(answer(unit.questions, correct, tested)),
            }
        )
    return pd.DataFrame(rows)


def study_rater_quality_frame(*, study: Study) -> pd.DataFrame:
    """Per-rater quality signals (raw rater ids; the report pseudonymises them)."""
    raters = Rater.objects.filter(assignments__study=study).distinct()
    rows = []
    for rater in raters:
        quality = rater_quality(rater=rater, study=study)
        rows.append(
            {
                "rater": f"rater-{rater.pk}",
                "platform": rater.platform,
                "excluded": rater.excluded,
                **quality,
            }
        )
    return pd.DataFrame(rows)


def study_report(
    *,
    study: Study,
    include_simulated: bool = False,
    auto_judge: bool = True,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Any:
    """The analysis report of a study (analysis.report.Report)."""
    from analysis.report import StudyData, build_report
    from analysis.report import StudySettings as ReportSettings

    single, pairwise = study_judgment_frames(study=study, include_simulated=include_simulated)
    models = tuple(
        sorted(study.edit_models.exclude(name__startswith="Gold:").values_list("name", flat=True))
    )
    settings_ = ReportSettings(
        task_kinds=tuple(
            k for k, on in (("single", study.task_single), ("pairwise", study.task_pairwise)) if on
        ),
        prompt_types=tuple(study.prompt_types) if study.task_single else (),
        raters_per_unit=study.raters_per_unit,
        gold_rate=study.gold_rate,
        exclusion_rules=dict(study.quality_rules or {}),
        models=models,
        launched_at=study.launched_at.date() if study.launched_at else None,
        closed_at=study.closed_at.date() if study.closed_at else None,
    )
    data = StudyData(
        name=study.name,
        settings=settings_,
        single=single,
        pairwise=pairwise,
        rater_quality=study_rater_quality_frame(study=study),
        auto_judge=study_auto_judge_frame(study=study)
        if auto_judge and study.task_single
        else None,
    )
    return build_report(
        data, rng=seed, n_resamples=n_resamples, salt=f"{settings.SECRET_KEY}:report:{study.pk}"
    )


def study_headlines(*, study: Study, include_simulated: bool = False) -> dict[str, Any]:
    """A quick preview of the results for the dashboard (few resamples; the report has it all)."""
    import numpy as np

    from analysis.pairwise import pairwise_comparisons
    from analysis.tables import accuracy_table, apply_exclusions

    single, pairwise = study_judgment_frames(study=study, include_simulated=include_simulated)
    rng = np.random.default_rng(0)
    accuracy: list[dict[str, Any]] = []
    if len(single):
        kept, _ = apply_exclusions(single)
        if len(kept):
            table = accuracy_table(kept, by=["model", "prompt_type"], rng=rng, n_resamples=200)
            accuracy = [
                {
                    "model": row["model"],
                    "prompt_type": row["prompt_type"],
                    "n": int(row["n_judgments"]),
                    "accuracy": row["accuracy"],
                    "low": row["bootstrap_low"],
                    "high": row["bootstrap_high"],
                }
                for row in table.to_dict("records")
            ]
    wins: list[dict[str, Any]] = []
    if len(pairwise):
        kept, _ = apply_exclusions(pairwise)
        if len(kept):
            for c in pairwise_comparisons(kept, rng=rng, n_resamples=200):
                wins.append(
                    {
                        "question": c.question,
                        "model_a": c.model_a,
                        "model_b": c.model_b,
                        "wins_a": c.wins_a,
                        "wins_b": c.wins_b,
                        "ties": c.ties,
                        "win_rate_a": c.win_rate_a.estimate,
                        "p_holm": c.p_holm,
                    }
                )
    return {"accuracy": accuracy, "wins": wins, "include_simulated": include_simulated}
