"""Reads for planning and running a study: the estimate, coverage, per-rater detail, gallery."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import asdict
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Q

from analysis.adaptive import AllocationDesign, plan_allocation
from analysis.planning import crossed_design_effect, precision, workload
from annotation.models import Assignment, Edit, Judgment, Study, StudyUnit

# Raters assumed for the precision figures when the design sets no cap per rater.
DEFAULT_RATER_POOL = 40
# Seconds a task takes before any judgment of its kind was measured (a Mask-Rich single task
# has up to five yes/no questions; a side-by-side two three-way choices over two images).
DEFAULT_SECONDS = {"single": 8.0, "pairwise": 12.0}
# Judgments of a kind needed before their median replaces the default.
MIN_MEASURED = 20
# How many recent judgments the median is taken over.
MEDIAN_WINDOW = 5000


def _median_seconds(judgments: Any, kind: str) -> tuple[float, int] | None:
    times = list(
        judgments.filter(assignment__unit__kind=kind, simulated=False)
        .order_by("-pk")
        .values_list("time_on_task_ms", flat=True)[:MEDIAN_WINDOW]
    )
    if len(times) < MIN_MEASURED:
        return None
    return statistics.median(times) / 1000, len(times)


def task_seconds(*, study: Study | None = None) -> dict[str, dict[str, Any]]:
    """Median seconds per task kind: the study's own people's judgments once there are
    enough, else those of every study, else :data:`DEFAULT_SECONDS`."""
    result: dict[str, dict[str, Any]] = {}
    scopes = []
    if study is not None:
        scopes.append(("this study", Judgment.objects.filter(assignment__study=study)))
    scopes.append(("all studies", Judgment.objects.all()))
    for kind, default in DEFAULT_SECONDS.items():
        found = {"seconds": default, "source": "default", "n": 0}
        for label, judgments in scopes:
            measured = _median_seconds(judgments, kind)
            if measured is not None:
                found = {"seconds": measured[0], "source": f"measured ({label})", "n": measured[1]}
                break
        result[kind] = found
    return result


def design_estimate(
    *,
    items: int,
    models: list[str],
    prompt_types: list[str],
    task_single: bool,
    task_pairwise: bool,
    raters_per_unit: int,
    gold_rate: float,
    max_tasks_per_rater: int | None,
    hourly_pay: float | None = None,
    seconds: dict[str, dict[str, Any]] | None = None,
    target_half_width: float | None = None,
    k_min: int = 1,
    assumed_accuracies: list[float] | None = None,
    pairwise_half_width: float | None = None,
    assumed_win_rates: list[float] | None = None,
) -> dict[str, Any]:
    """What a design costs and buys: the workload and, per cell, the precision.

    Every item appears once per cell (a model × prompt type, or a pair of models) with K
    judgments, so the cell's judgments cluster by item and by rater: the design effect is the
    report's two-way interval's (``analysis.planning.crossed_design_effect``), for the
    participants the design needs (40 without a cap per rater).
    """
    seconds = seconds if seconds is not None else task_seconds()
    pay = settings.ESTIMATE_HOURLY_PAY if hourly_pay is None else hourly_pay
    prompts = list(prompt_types) if task_single else []
    pairs = list(itertools.combinations(sorted(models), 2)) if task_pairwise else []
    plan = workload(
        units_single=items * len(models) * len(prompts),
        units_pairwise=items * len(pairs),
        raters_per_unit=raters_per_unit,
        gold_rate=gold_rate,
        seconds_single=seconds["single"]["seconds"],
        seconds_pairwise=seconds["pairwise"]["seconds"],
        max_tasks_per_rater=max_tasks_per_rater,
        hourly_pay=pay,
    )
    n_cell = items * raters_per_unit
    pool = plan.participants or DEFAULT_RATER_POOL
    deff = crossed_design_effect(items, raters_per_unit, rater_pool=pool) if n_cell else 1.0
    cell = asdict(precision(n_cell, design_effect=deff)) if n_cell else None
    single_cells = len(models) * len(prompts)
    cells = _planned_cells(
        single_cells if target_half_width is not None else 0, target_half_width,
        assumed_accuracies, len(pairs) if pairwise_half_width is not None else 0,
        pairwise_half_width, assumed_win_rates,
    )  # fmt: skip
    adaptive = (
        _adaptive_plan(cells, items, k_min, raters_per_unit, pool)
        if cells["rates"] and items >= 2
        else None
    )
    return {
        **asdict(plan),
        "adaptive": adaptive,
        "hourly_pay": pay,
        "currency": settings.ESTIMATE_CURRENCY,
        "seconds": seconds,
        "rater_pool": pool,
        "single_cells": [
            {"model": m, "prompt_type": p, **(cell or {})} for m in sorted(models) for p in prompts
        ],
        "pair_cells": [{"model_a": a, "model_b": b, **(cell or {})} for a, b in pairs],
    }


#: Assumed rates when the wizard is given none: spread evenly over these ranges.
DEFAULT_ASSUMED_RANGE = (0.2, 0.8)  # accuracies of the single-image cells
DEFAULT_WIN_RATE_RANGE = (0.55, 0.8)  # win rates of the side-by-side comparisons
#: Simulated studies behind the wizard's adaptive estimate (about a second).
PLANNER_STUDIES = 30


def _assumed(n: int, given: list[float] | None, spread: tuple[float, float]) -> list[float]:
    if given:
        return [given[i % len(given)] for i in range(n)]
    return [float(r) for r in np.linspace(*spread, n)] if n > 1 else [float(np.mean(spread))] * n


def _planned_cells(
    singles: int,
    single_target: float | None,
    accuracies: list[float] | None,
    pairs: int,
    pair_target: float | None,
    win_rates: list[float] | None,
) -> dict[str, Any]:
    """The cells with a half-width target to simulate: each single-image cell with an assumed
    accuracy, each comparison with an assumed win rate, and each with its own target."""
    rates = _assumed(singles, accuracies, DEFAULT_ASSUMED_RANGE)
    rates += _assumed(pairs, win_rates, DEFAULT_WIN_RATE_RANGE)
    targets = [single_target or 0.0] * singles + [pair_target or 0.0] * pairs
    sources = []
    if singles:
        sources.append(
            "the accuracies entered" if accuracies else "accuracies spread from 0.2 to 0.8"
        )
    if pairs:
        sources.append(
            "the win rates entered" if win_rates else "win rates spread from 0.55 to 0.8"
        )
    return {
        "rates": rates, "targets": targets, "singles": singles, "pairs": pairs,
        "source": " and ".join(sources), "single_target": single_target,
        "pair_target": pair_target,
    }  # fmt: skip


def _adaptive_plan(
    cells: dict[str, Any], items: int, k_min: int, k_max: int, pool: int
) -> dict[str, Any] | None:
    """Judgments needed by fixed K and by the adaptive rule at the half-width targets
    (``analysis.adaptive.plan_allocation``); None where the design cannot be simulated."""
    design = AllocationDesign(
        rates=tuple(cells["rates"]),
        items=items,
        target=max(cells["targets"]),
        targets=tuple(cells["targets"]),
        k_min=min(k_min, k_max),
        k_max=k_max,
        raters=max(pool, k_max),
    )
    try:
        design.validate()
    except ValueError:
        return None
    plan = plan_allocation(design, studies=PLANNER_STUDIES, seed=0)
    return {**asdict(plan), **cells, "k_max": k_max}


def study_estimate(*, study: Study, hourly_pay: float | None = None) -> dict[str, Any]:
    """:func:`design_estimate` of an existing study, timed by its own judgments when it has
    enough (gold models left out)."""
    models = list(
        study.edit_models.exclude(name__startswith="Gold:").values_list("name", flat=True)
    )
    return design_estimate(
        items=study.items.count(),
        models=models,
        prompt_types=list(study.prompt_types),
        task_single=study.task_single,
        task_pairwise=study.task_pairwise,
        raters_per_unit=study.raters_per_unit,
        gold_rate=study.gold_rate,
        max_tasks_per_rater=study.max_tasks_per_rater,
        hourly_pay=hourly_pay,
        seconds=task_seconds(study=study),
    )


def study_coverage(*, study: Study) -> list[dict[str, Any]]:
    """Per prompt type and model (or pair of models): units, and units with K judgments."""
    units = (
        StudyUnit.objects.filter(study=study, is_gold=False)
        .annotate(n=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED)))
        .values("kind", "prompt_type", "edit_a__model__name", "edit_b__model__name", "n")
    )
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for unit in units:
        names = [unit["edit_a__model__name"], unit["edit_b__model__name"]]
        model = " vs ".join(sorted(n for n in names if n))
        key = (unit["kind"], unit["prompt_type"], model)
        cell = cells.setdefault(
            key,
            {"kind": key[0], "prompt_type": key[1], "model": model, "units": 0, "complete": 0},
        )
        cell["units"] += 1
        cell["complete"] += unit["n"] >= study.raters_per_unit
    rows = [cells[key] for key in sorted(cells)]
    for row in rows:
        row["share"] = row["complete"] / row["units"] if row["units"] else 0.0
    return rows


def rater_detail(*, study: Study, rater_id: int) -> dict[str, Any]:
    """One rater's work in a study, for staff: every answer (with the models), gold misses,
    time per task and the exclusion reason. ``Assignment.DoesNotExist`` when they have none."""
    assignments = list(
        Assignment.objects.filter(study=study, rater_id=rater_id)
        .select_related("rater", "unit__edit_a__item", "unit__edit_a__model", "unit__edit_b")
        .select_related("unit__edit_b__model")
        .prefetch_related("judgments")
        .order_by("pk")
    )
    if not assignments:
        raise Assignment.DoesNotExist
    rows = []
    for a in assignments:
        judgments = list(a.judgments.all())
        replaced = {j.supersedes_id for j in judgments}
        current = [j for j in judgments if j.pk not in replaced]
        rows.append(_answer_row(a, current[-1] if current else None))
    times = [r["seconds"] for r in rows if r["seconds"] is not None]
    return {
        "rater": assignments[0].rater,
        "rows": rows,
        "gold_misses": [r for r in rows if r["gold"] and r["passed"] is False],
        "median_seconds": statistics.median(times) if times else None,
        "total_seconds": sum(times),
    }


def _answer_row(assignment: Assignment, judgment: Judgment | None) -> dict[str, Any]:
    unit = assignment.unit
    passed = None
    if unit.is_gold and judgment is not None:
        expected = unit.gold_answer or {}
        suffix = "_choice" if unit.kind == StudyUnit.Kind.PAIRWISE else ""
        passed = all(judgment.answers.get(f"{q}{suffix}") == v for q, v in expected.items())
    return {
        "assignment": assignment,
        "unit": unit,
        "item": unit.edit_a.item,
        "models": [unit.edit_a.model.name] + ([unit.edit_b.model.name] if unit.edit_b else []),
        "answers": _readable(unit, judgment.answers) if judgment else None,
        "correct": judgment.correct if judgment else None,
        "seconds": judgment.time_on_task_ms / 1000 if judgment else None,
        "gold": unit.is_gold,
        "passed": passed,
    }


def _readable(unit: StudyUnit, answers: dict[str, Any]) -> dict[str, Any]:
    """A judgment's answers for staff: a side-by-side choice named by its model (``a``/``b``
    are the unit's edits), the raw left/right clicks left out."""
    if unit.kind != StudyUnit.Kind.PAIRWISE or unit.edit_b is None:
        return dict(answers)
    names = {"a": unit.edit_a.model.name, "b": unit.edit_b.model.name, "none": "no preference"}
    return {
        key.removesuffix("_choice"): names.get(str(value), value)
        for key, value in answers.items()
        if key.endswith("_choice")
    }


def study_gallery(*, study: Study, item_id: int) -> dict[str, Any]:
    """Every model's edit of one of the study's items, per prompt type (staff only: the
    model names are shown). ``Edit.DoesNotExist`` when the item is not the study's."""
    item = study.items.filter(pk=item_id).first()
    if item is None:
        raise Edit.DoesNotExist
    edits = Edit.objects.filter(item=item, model__in=study.edit_models.all(), seed=0)
    by_key = {(e.model.name, e.prompt_type): e for e in edits.select_related("model")}
    models = sorted(study.edit_models.values_list("name", flat=True))
    prompt_types = sorted({p for _, p in by_key})
    return {
        "item": item,
        "models": models,
        "rows": [
            {
                "prompt_type": p,
                "prompt": item.prompt(p),
                "edits": [by_key.get((m, p)) for m in models],
            }
            for p in prompt_types
        ],
    }
