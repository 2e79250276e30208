"""A study's results: its judgments as analysis tables, the report, the dashboard's preview."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from PIL import Image

from analysis.pairwise import pairwise_comparisons
from analysis.questions import ANSWER_PREFIX
from analysis.report import Report, ReportSettings, StudyData, build_report
from analysis.report.model import EXAMPLE_COLUMNS, INPUT_IMAGE
from analysis.tables import accuracy_table, apply_exclusions
from annotation.autojudge import answer, verdicts
from annotation.models import Edit, Judgment, Rater, Study, StudyUnit, study_is_adaptive
from annotation.questions import single_correct
from annotation.selectors.adaptive import adaptive_state_now
from annotation.selectors.raters import rater_quality


def report_salt(study: Study) -> str:
    """The key of a study's rater pseudonyms, the one formula for the report and the raw
    export, so a rater has the same pseudonym in both and in no other study."""
    return f"{settings.SECRET_KEY}:report:{study.pk}"


def _judgment_common(judgment: Judgment) -> dict[str, Any]:
    """The columns both tidy tables share (analysis/tables.py)."""
    unit, rater = judgment.assignment.unit, judgment.assignment.rater
    rule = rater.exclusion_reason.split(":", 1)[0] if rater.excluded else None
    return {
        "unit": unit.pk,
        "item": unit.edit_a.item.external_id,
        "prompt_type": unit.prompt_type,
        "rater": f"rater-{rater.pk}",
        "excluded": rater.excluded,
        "exclusion_rule": rule,
    }


def _single_row(judgment: Judgment, common: dict[str, Any]) -> dict[str, Any]:
    unit = judgment.assignment.unit
    item = unit.edit_a.item
    return {
        **common,
        "model": unit.edit_a.model.name,
        "object_type": item.object_type,
        "attribute_type": item.attribute_type,
        "scene": item.scene,
        "style": item.style,
        "source": item.source,
        "correct": bool(judgment.correct),
        "time_on_task_ms": judgment.time_on_task_ms,
        # Each question's answer (yes / no), for the per-question breakdowns and the raw
        # export; a question the unit did not ask is missing.
        **{f"{ANSWER_PREFIX}{question}": value for question, value in judgment.answers.items()},
    }


def _pair_rows(judgment: Judgment, common: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per question, with the models in name order (analysis wants model_a <
    model_b) and the sides and choices relabelled to match."""
    unit = judgment.assignment.unit
    assert unit.edit_b is not None
    names = (unit.edit_a.model.name, unit.edit_b.model.name)
    flip = names[0] > names[1]
    swap = {"a": "b", "b": "a", "none": "none"}
    left = "a" if judgment.assignment.a_on_left else "b"
    rows = []
    for question in ("alignment", "realism"):
        choice = judgment.answers.get(f"{question}_choice", "none")
        rows.append(
            {
                **common,
                "model_a": min(names),
                "model_b": max(names),
                "left": swap[left] if flip else left,
                "question": question,
                "choice": swap[choice] if flip else choice,
                "time_on_task_ms": judgment.time_on_task_ms,
                # What was clicked: left / right / none (the side, not the model).
                f"{ANSWER_PREFIX}side": judgment.answers.get(question, "none"),
            }
        )
    return rows


def study_judgment_frames(
    *, study: Study, include_simulated: bool = False, platform_export_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's judgments as the tidy tables of analysis/tables.py (single, pairwise).

    Gold units are left out (they check raters, they are not results); excluded
    raters' judgments are kept and marked with the rule that excluded them.
    Simulated judgments are left out unless asked for. With ``platform_export_only``, only
    raters found in the platform's uploaded export (``services.crowd.platform_export_upload``)
    are kept.
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
    if platform_export_only:
        judgments = judgments.filter(assignment__rater__participant_hash__in=study.platform_export)
    single: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for j in judgments:
        common = _judgment_common(j)
        if j.assignment.unit.kind == StudyUnit.Kind.SINGLE:
            single.append(_single_row(j, common))
        else:
            pairs += _pair_rows(j, common)
    return pd.DataFrame(single), pd.DataFrame(pairs)


def study_auto_judge_frame(*, study: Study) -> pd.DataFrame:
    """The automatic judge's verdict on every edit of the study's single-image units."""
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


RATER_QUALITY_COLUMNS = [
    "rater",
    "platform",
    "excluded",
    "judgments",
    "gold_answers",
    "gold_accuracy",
    "median_seconds",
    "same_answer_share",
]


def study_rater_quality_frame(*, study: Study, include_simulated: bool = False) -> pd.DataFrame:
    """Per-rater quality signals (raw rater ids; the report pseudonymises them); simulated
    raters only when their judgments are included."""
    raters = Rater.objects.filter(assignments__study=study).distinct()
    if not include_simulated:
        raters = raters.filter(simulated=False)
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
    # The columns even without raters: the report's rater table needs them (a study with no
    # judgment yet still has a report, its tables empty).
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=RATER_QUALITY_COLUMNS)


def _thumbnail(field: Any, size: int = 128) -> bytes:
    """A stored image, shrunk to fit ``size`` pixels, as PNG bytes."""
    with field.open("rb") as handle, Image.open(handle) as stored:
        thumb = stored.convert("RGB")
    thumb.thumbnail((size, size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    thumb.save(out, format="PNG")
    return out.getvalue()


def study_examples_frame(*, study: Study, n_items: int = 3) -> pd.DataFrame:
    """The report's example grid (staff only): the first ``n_items`` items (by id) that every
    model edited, on the study's first prompt type; the input and each model's edit."""
    models = list(study.edit_models.exclude(name__startswith="Gold:").order_by("name"))
    prompt_types = list(study.prompt_types or ["mask_rich"])
    if not models or not prompt_types:
        return pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
    prompt_type = prompt_types[0]
    rows: list[dict[str, Any]] = []
    for item in study.items.order_by("external_id"):
        edits = {
            e.model_id: e
            for e in Edit.objects.filter(item=item, model__in=models, prompt_type=prompt_type)
            if e.image
        }
        if len(edits) < len(models):
            continue
        common = {"item": item.external_id, "prompt_type": prompt_type}
        common["prompt"] = item.prompt(prompt_type)
        rows.append({**common, "model": INPUT_IMAGE, "png": _thumbnail(item.image)})
        for model in models:
            rows.append({**common, "model": model.name, "png": _thumbnail(edits[model.pk].image)})
        if len(rows) >= n_items * (len(models) + 1):
            break
    return pd.DataFrame(rows, columns=list(EXAMPLE_COLUMNS))


def study_report_settings(*, study: Study) -> ReportSettings:
    """What the report needs to know of the study's design."""
    models = tuple(
        sorted(study.edit_models.exclude(name__startswith="Gold:").values_list("name", flat=True))
    )
    return ReportSettings(
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
        adaptive=_adaptive_summary(study),
    )


def _adaptive_summary(study: Study) -> dict[str, Any] | None:
    """The adaptive design and each cell's status now (None for a fixed-K study), for the
    report's methods text and JSON."""
    if not study_is_adaptive(study):
        return None
    state = adaptive_state_now(study=study)
    statuses = Counter(str(cell["status"]) for cell in state.get("cells", []))
    return {
        "k_min": study.k_min,
        "k_max": study.raters_per_unit,
        "target_half_width": study.target_half_width,
        "target_by_category": study.target_by_category,
        "pairwise_target": study.pairwise_target,
        "pairwise_half_width": study.pairwise_half_width,
        "decide_alpha": study.decide_alpha,
        "budget": study.judgment_budget,
        "budget_reached": bool(state.get("budget_reached", False)),
        "statuses": dict(statuses),
        "cells": state.get("cells", []),
    }


def study_report(
    *,
    study: Study,
    include_simulated: bool = False,
    auto_judge: bool = True,
    n_resamples: int = 2000,
    seed: int = 0,
    platform_export_only: bool = False,
    examples: bool = True,
) -> Report:
    """The analysis report of a study, rater ids pseudonymised with :func:`report_salt`;
    ``platform_export_only`` keeps only the raters of the platform's uploaded export."""
    single, pairwise = study_judgment_frames(
        study=study,
        include_simulated=include_simulated,
        platform_export_only=platform_export_only,
    )
    simulated = simulated_rater_count(study=study) if include_simulated else 0
    data = StudyData(
        name=study.name,
        settings=replace(study_report_settings(study=study), simulated_raters=simulated),
        single=single,
        pairwise=pairwise,
        rater_quality=study_rater_quality_frame(study=study, include_simulated=include_simulated),
        examples=study_examples_frame(study=study) if examples else None,
        auto_judge=study_auto_judge_frame(study=study)
        if auto_judge and study.task_single
        else None,
    )
    return build_report(data, rng=seed, n_resamples=n_resamples, salt=report_salt(study))


def simulated_rater_count(*, study: Study) -> int:
    """Simulated raters with a counted (non-gold) judgment in the study."""
    return (
        Judgment.objects.filter(
            assignment__study=study, assignment__unit__is_gold=False, simulated=True
        )
        .values("assignment__rater")
        .distinct()
        .count()
    )


def _accuracy_preview(single: pd.DataFrame, rng: np.random.Generator) -> list[dict[str, Any]]:
    if not len(single):
        return []
    kept, _ = apply_exclusions(single)
    if not len(kept):
        return []
    table = accuracy_table(kept, by=["model", "prompt_type"], rng=rng, n_resamples=200)
    return [
        {
            "model": row["model"],
            "prompt_type": row["prompt_type"],
            "n": int(row["n_judgments"]),
            "accuracy": row["accuracy"],
            # The two-way (items and raters) interval: never zero width, drawn for 0 of n.
            "low": row["crossed_low"],
            "high": row["crossed_high"],
        }
        for row in table.to_dict("records")
    ]


def _wins_preview(pairwise: pd.DataFrame, rng: np.random.Generator) -> list[dict[str, Any]]:
    if not len(pairwise):
        return []
    kept, _ = apply_exclusions(pairwise)
    if not len(kept):
        return []
    return [
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
        for c in pairwise_comparisons(kept, rng=rng, n_resamples=200)
    ]


def study_headlines(*, study: Study, include_simulated: bool = False) -> dict[str, Any]:
    """A quick preview of the results for the dashboard (few resamples; the report has it all)."""
    single, pairwise = study_judgment_frames(study=study, include_simulated=include_simulated)
    # One generator for both previews, in this order, as the figures were always drawn.
    rng = np.random.default_rng(0)
    return {
        "accuracy": _accuracy_preview(single, rng),
        "wins": _wins_preview(pairwise, rng),
        "include_simulated": include_simulated,
        # The dashboard's banner: how many simulated raters these figures include.
        "simulated_raters": simulated_rater_count(study=study) if include_simulated else 0,
    }
