"""Precision targets: raising the judgments a cell's units are to get while it is open.

A study with a target (``Study.target_half_width`` for single-image accuracy per model ×
prompt type, optionally × object type; ``Study.pairwise_target`` for each side-by-side
comparison) launches with ``k_min`` judgments wanted per unit (``StudyUnit.wanted``). Each
pass of :func:`adaptive_refresh` computes every cell's two-way 95% interval (the report's,
``analysis.crossed``) from the judgments so far and, for every cell whose current round is
handed out and that is still open (``analysis.adaptive``), raises its units' ``wanted`` by
one, never above K (``raters_per_unit``, the ceiling K_max) nor past the judgment budget.
Under the budget the cells with the largest expected half-width reduction per judgment go
first. A "decide" comparison stops once the item-clustered confidence sequence
(``analysis.sequential``) at ``decide_alpha`` excludes one half.

The pass runs behind the study's row lock (one at a time per study; leases go on meanwhile)
when a rater finds no open unit, and from the beat (``tasks.adaptive_refresh_studies``).
What it found is kept in ``Study.adaptive_state`` for the dashboard and the report.
Judgments of excluded raters do not count; simulated ones do (the allocation reacts to a
simulated run as to a real one).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from analysis.adaptive import cell_status
from analysis.crossed import crossed_parts, groups_frame
from analysis.sequential import METHOD as CS_METHOD
from analysis.sequential import clustered_confidence_sequence
from annotation.models import Judgment, Study, StudyUnit, study_is_adaptive

DECIDED = "decided"
PAIR_QUESTIONS = ("alignment", "realism")


@dataclass
class _Cell:
    label: str
    kind: str
    target: float | None  # half-width target; None for a "decide" comparison
    units: list[int] = field(default_factory=list)
    handed_out: bool = True  # every unit has its current round leased or submitted
    at_ceiling: bool = True  # every unit wants K already
    # One series per question (single-image cells have one): (value, item, rater, order).
    series: dict[str, list[tuple[float, int, int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _cells(study: Study) -> tuple[dict[tuple[Any, ...], _Cell], dict[int, tuple[Any, ...]]]:
    """The study's cells and each unit's cell key (gold units belong to none)."""
    units = StudyUnit.objects.filter(study=study, is_gold=False).values_list(
        "pk",
        "kind",
        "prompt_type",
        "edit_a__model__name",
        "edit_b__model__name",
        "edit_a__item__object_type",
        "slots_taken",
        "wanted",
    )
    cells: dict[tuple[Any, ...], _Cell] = {}
    key_of: dict[int, tuple[Any, ...]] = {}
    k_max = study.raters_per_unit
    target: float | None
    for pk, kind, prompt_type, model_a, model_b, object_type, taken, wanted in units:
        if kind == StudyUnit.Kind.SINGLE:
            if study.target_half_width is None:
                continue
            by_type = study.target_by_category
            key: tuple[Any, ...] = (kind, model_a, prompt_type, object_type if by_type else "")
            label = f"{model_a} · {prompt_type}" + (f" · {object_type}" if by_type else "")
            target = study.target_half_width
        else:
            if study.pairwise_target == Study.PairwiseTarget.NONE:
                continue
            key = (kind, model_a, model_b, prompt_type)
            label = f"{model_a} vs {model_b} · {prompt_type}"
            decide = study.pairwise_target == Study.PairwiseTarget.DECIDE
            target = None if decide else study.pairwise_half_width
        cell = cells.setdefault(key, _Cell(label, kind, target))
        cell.units.append(pk)
        cell.handed_out &= taken >= wanted
        cell.at_ceiling &= wanted >= k_max
        key_of[pk] = key
    return cells, key_of


def _collect(study: Study, cells: dict[tuple[Any, ...], _Cell], key_of: dict[int, Any]) -> None:
    """Each cell's counted judgments: values per question, with item, rater and the item's
    place in the unit order fixed at launch (``StudyUnit.shuffle``)."""
    rows = Judgment.objects.filter(
        assignment__study=study,
        assignment__unit__is_gold=False,
        assignment__rater__excluded=False,
        superseded_by__isnull=True,
    ).values_list(
        "assignment__unit_id",
        "assignment__unit__edit_a__item_id",
        "assignment__rater_id",
        "assignment__unit__shuffle",
        "correct",
        "answers",
    )
    for unit, item, rater, order, correct, answers in rows:
        key = key_of.get(unit)
        if key is None:
            continue
        cell = cells[key]
        if cell.kind == StudyUnit.Kind.SINGLE:
            cell.series["accuracy"].append((float(bool(correct)), item, rater, order))
            continue
        for question in PAIR_QUESTIONS:
            choice = answers.get(f"{question}_choice", "none")
            if choice in ("a", "b"):  # a tie carries no win rate
                cell.series[question].append((float(choice == "a"), item, rater, order))


def _judge(cell: _Cell, study: Study) -> list[dict[str, Any]]:
    """One entry per question: n, estimate, two-way interval, and for a "decide" comparison
    the confidence sequence and whether it excludes one half."""
    questions = ["accuracy"] if cell.kind == StudyUnit.Kind.SINGLE else list(PAIR_QUESTIONS)
    out = []
    for question in questions:
        rows = cell.series.get(question, [])
        entry: dict[str, Any] = {"question": question, "n": len(rows)}
        if rows:
            values, items, raters, order = (np.array(c) for c in zip(*rows, strict=True))
            row = groups_frame(crossed_parts(values, items, raters)).iloc[0]
            entry.update(estimate=float(row["estimate"]), low=float(row["low"]))
            entry.update(high=float(row["high"]))
            entry["half_width"] = (entry["high"] - entry["low"]) / 2
            if cell.target is None:
                ranked = np.argsort(order, kind="stable")
                seq = clustered_confidence_sequence(
                    values[ranked], items[ranked], alpha=study.decide_alpha
                )
                entry["cs_low"], entry["cs_high"] = seq.final
                entry["decided"] = seq.excludes(0.5)
        else:
            entry.update(estimate=None, low=None, high=None, half_width=None, decided=False)
        out.append(entry)
    return out


def _met(cell: _Cell, judged: list[dict[str, Any]]) -> bool:
    if cell.target is None:
        return all(e.get("decided", False) for e in judged)
    return all(e["half_width"] is not None and e["half_width"] <= cell.target for e in judged)


def _gain(judged: list[dict[str, Any]]) -> float:
    """Expected half-width reduction per judgment of the cell's widest question."""
    gains = [np.inf if not e["n"] else (e["half_width"] or 0.0) / (2 * e["n"]) for e in judged]
    return float(max(gains))


def adaptive_refresh(*, study: Study) -> dict[str, Any]:
    """One allocation pass (see module); returns the new ``adaptive_state`` ({} without
    targets). Raises the wanted judgments of open cells whose round is handed out."""
    if not study_is_adaptive(study):
        return {}
    with transaction.atomic():
        # NO KEY UPDATE: passes run one at a time per study, while leases (whose insert
        # takes KEY SHARE on the study through its foreign key) go on.
        locked = Study.objects.select_for_update(no_key=True).get(pk=study.pk)
        cells, key_of = _cells(locked)
        _collect(locked, cells, key_of)
        wanted_total = int(
            StudyUnit.objects.filter(study=locked, is_gold=False).aggregate(
                total=Coalesce(Sum("wanted"), 0)
            )["total"]
        )
        budget = locked.judgment_budget
        judged = {key: _judge(cell, locked) for key, cell in cells.items()}
        met = {key: _met(cell, judged[key]) for key, cell in cells.items()}
        ready = [
            key
            for key, cell in cells.items()
            if not met[key] and not cell.at_ceiling and cell.handed_out
        ]
        ready.sort(key=lambda key: -_gain(judged[key]))
        raised: list[int] = []
        budget_spent = False
        for key in ready:
            cost = len(cells[key].units)
            if budget is not None and wanted_total + cost > budget:
                budget_spent = True
                continue
            wanted_total += cost
            raised += cells[key].units
        if raised:
            # Units locked in key order, as every other multi-unit change does (no deadlock).
            ordered = StudyUnit.objects.select_for_update(no_key=True).filter(pk__in=raised)
            list(ordered.order_by("pk").values_list("pk", flat=True))
            StudyUnit.objects.filter(pk__in=raised, wanted__lt=locked.raters_per_unit).update(
                wanted=F("wanted") + 1
            )
        state = _state(locked, cells, judged, met, wanted_total, budget_spent)
        state["raised_units"] = len(raised)
        Study.objects.filter(pk=locked.pk).update(adaptive_state=state)
    study.adaptive_state = state
    return state


def _state(
    study: Study,
    cells: dict[tuple[Any, ...], _Cell],
    judged: dict[tuple[Any, ...], list[dict[str, Any]]],
    met: dict[tuple[Any, ...], bool],
    wanted_total: int,
    budget_spent: bool,
) -> dict[str, Any]:
    rows = []
    for key, cell in sorted(cells.items(), key=lambda kv: kv[1].label):
        widest = max((e["half_width"] or np.inf) for e in judged[key])
        if met[key]:
            status = DECIDED if cell.target is None else "target met"
        else:
            status = cell_status(
                widest, cell.target if cell.target is not None else -1.0,
                full=cell.at_ceiling, budget_spent=budget_spent and cell.handed_out,
            )  # fmt: skip
        rows.append(
            {
                "cell": cell.label,
                "kind": cell.kind,
                "target": cell.target,
                "target_kind": "decide" if cell.target is None else "half-width",
                "units": len(cell.units),
                "status": status,
                "questions": judged[key],
            }
        )
    return {
        "refreshed_at": timezone.now().isoformat(),
        "k_min": study.k_min,
        "k_max": study.raters_per_unit,
        "budget": study.judgment_budget,
        "wanted_total": wanted_total,
        "budget_reached": budget_spent,
        "interval_method": "two-way cluster-robust (fixed-sample)",
        "sequence_method": CS_METHOD,
        "cells": rows,
    }


def adaptive_refresh_live() -> int:
    """An allocation pass for every live study with targets (the beat's); returns how many."""
    studies = [
        study
        for study in Study.objects.filter(status=Study.Status.LIVE)
        if study_is_adaptive(study)
    ]
    for study in studies:
        adaptive_refresh(study=study)
    return len(studies)
