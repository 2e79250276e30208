"""Reads about studies: what they need, how far they are, what the dashboard shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import (
    Assignment,
    BenchmarkItem,
    Edit,
    EditModel,
    GenerationJob,
    Judgment,
    Rater,
    Study,
    live_lease,
)
from annotation.selectors.raters import rater_quality


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


def study_needed_edits(study: Study) -> list[tuple[BenchmarkItem, EditModel, str]]:
    """(item, model, prompt type) of every edit the study's units need (seed 0)."""
    prompt_types = set(study.prompt_types) if study.task_single else set()
    if study.task_pairwise:
        prompt_types.add("mask_rich")  # side-by-side uses Mask-Rich prompts
    items = list(study.items.all())
    models = list(study.edit_models.all())
    return [(i, m, p) for i in items for m in models for p in sorted(prompt_types)]


def study_missing_edits(study: Study) -> dict[str, int]:
    """Model name → number of edits the study needs that do not exist yet."""
    have = set(
        Edit.objects.filter(
            item__in=study.items.all(), model__in=study.edit_models.all(), seed=0
        ).values_list("item_id", "model_id", "prompt_type")
    )
    missing: dict[str, int] = {}
    for item, model, prompt_type in study_needed_edits(study):
        if (item.pk, model.pk, prompt_type) not in have:
            missing[model.name] = missing.get(model.name, 0) + 1
    return missing


def study_progress(*, study: Study) -> dict[str, Any]:
    """Generation and rating progress of a study (dashboard and API)."""
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


def _dashboard_raters(study: Study) -> list[dict[str, Any]]:
    """One row per rater of the study: platform, exclusion, counts and quality signals."""
    raters = (
        Assignment.objects.filter(study=study)
        .values("rater_id", "rater__platform", "rater__excluded", "rater__exclusion_reason")
        .annotate(
            submitted=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
            leased=Count("pk", filter=live_lease()),
        )
        .order_by("-submitted")
    )
    rows = list(raters)
    by_id = {r.pk: r for r in Rater.objects.filter(pk__in=[row["rater_id"] for row in rows])}
    for row in rows:
        quality = rater_quality(rater=by_id[row["rater_id"]], study=study)
        row["gold_accuracy"] = quality["gold_accuracy"]
        row["gold_answers"] = quality["gold_answers"]
        row["median_seconds"] = quality["median_seconds"]
    return rows


def _generation_eta(model: EditModel, study: Study, counts: dict[str, int]) -> dict[str, Any]:
    """Share of the model's jobs done, and the time left at its median seconds per edit."""
    total = sum(counts.values())
    left = counts.get("queued", 0) + counts.get("running", 0)
    seconds = sorted(
        float(t)
        for t in Edit.objects.filter(
            model=model, item__in=study.items.all(), wall_time_s__isnull=False
        ).values_list("wall_time_s", flat=True)[:500]
        if t is not None
    )
    median = seconds[len(seconds) // 2] if seconds else None
    return {
        "percent": round(100 * counts.get("done", 0) / total) if total else None,
        "eta_s": round(median * left) if median is not None and left else None,
    }


def study_dashboard(*, study: Study) -> dict[str, Any]:
    """Everything the staff dashboard of a study shows."""
    now = timezone.now()
    judgments = Judgment.objects.filter(assignment__study=study)
    per_model = []
    for model in study.edit_models.order_by("name"):
        counts = generation_counts(model=model, study=study)
        per_model.append(
            {
                "name": model.name,
                "kind": model.kind,
                **counts,
                **_generation_eta(model, study, counts),
            }
        )
    first = judgments.order_by("created_at").values_list("created_at", flat=True).first()
    hours = max((now - first).total_seconds() / 3600, 1 / 60) if first else None
    total = judgments.count()
    rows = _dashboard_raters(study)
    return {
        "progress": study_progress(study=study),
        "models": per_model,
        "raters": rows,
        "excluded_raters": sum(1 for row in rows if row["rater__excluded"]),
        "judgments_last_hour": judgments.filter(created_at__gte=now - timedelta(hours=1)).count(),
        "judgments_per_hour": round(total / hours, 1) if hours else 0.0,
    }


def live_studies() -> list[Study]:
    """Every live study, by name: what an internal rater can work on."""
    return list(Study.objects.filter(status=Study.Status.LIVE).order_by("name"))
