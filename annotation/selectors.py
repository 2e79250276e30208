"""Reads that need a permission check or aggregation.

Fetching an object together with its permission check is one function, so a
view cannot forget the check.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
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
            leased=Count("pk", filter=Q(status=Assignment.Status.LEASED)),
        )
        .order_by("-submitted")
    )
    first = judgments.order_by("created_at").values_list("created_at", flat=True).first()
    hours = max((now - first).total_seconds() / 3600, 1 / 60) if first else None
    total = judgments.count()
    return {
        "progress": study_progress(study=study),
        "models": per_model,
        "raters": list(raters),
        "judgments_last_hour": judgments.filter(created_at__gte=now - timedelta(hours=1)).count(),
        "judgments_per_hour": round(total / hours, 1) if hours else 0.0,
    }


def assignment_get_for_rater(
    *, rater: Rater, assignment_id: int, for_update: bool = False
) -> Assignment:
    """The rater's own assignment; any other id is a 404 (not 403), so ids cannot be probed."""
    assignments = Assignment.objects.select_related("unit", "study", "unit__edit_a__item")
    if for_update:
        assignments = assignments.select_for_update(of=("self",))
    try:
        return assignments.get(pk=assignment_id, rater=rater)
    except Assignment.DoesNotExist:
        raise Http404 from None


def rater_quality(*, rater: Rater, study: Study) -> dict[str, Any]:
    """Quality signals of one rater in one study: gold accuracy, median time, straight-lining."""
    judgments = list(
        Judgment.objects.filter(
            assignment__rater=rater, assignment__study=study, superseded_by__isnull=True
        ).select_related("assignment__unit")
    )
    gold = [j for j in judgments if j.assignment.unit.is_gold]
    gold_right = sum(1 for j in gold if _gold_passed(j))
    # Straight-lining: the same raw answers (what was clicked, before any
    # left/right decoding) on every task of a kind.
    patterns: dict[str, list[tuple[str, ...]]] = {}
    for j in judgments:
        if j.assignment.unit.is_gold:
            continue
        clicked = tuple(str(v) for k, v in sorted(j.answers.items()) if not k.endswith("_choice"))
        patterns.setdefault(j.assignment.unit.kind, []).append(clicked)
    shares = [
        max(values.count(v) for v in set(values)) / len(values)
        for values in patterns.values()
        if len(values) >= 5
    ]
    times = sorted(j.time_on_task_ms for j in judgments)
    return {
        "judgments": len(judgments),
        "gold_answers": len(gold),
        "gold_accuracy": gold_right / len(gold) if gold else None,
        "median_seconds": statistics.median(times) / 1000 if times else None,
        "same_answer_share": max(shares) if shares else None,
    }


def _gold_passed(judgment: Judgment) -> bool:
    expected = judgment.assignment.unit.gold_answer or {}
    answers = judgment.answers
    for question, value in expected.items():
        if judgment.assignment.unit.kind == StudyUnit.Kind.PAIRWISE:
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


def rater_progress(*, rater: Rater, study: Study) -> dict[str, Any]:
    done = Assignment.objects.filter(
        rater=rater, study=study, status=Assignment.Status.SUBMITTED
    ).count()
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
