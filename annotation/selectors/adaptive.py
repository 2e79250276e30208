"""Precision targets, read only: each cell's interval and status, and what a pass would raise.

The cells and rules are described in ``services.adaptive``, which writes what this finds
(``StudyUnit.wanted``, ``Study.adaptive_state``); the dashboard and the report read it here
without changing anything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from analysis.adaptive import DECIDED, TARGET_MET, cell_status, decide_alpha_per_look
from analysis.crossed import crossed_groups, groups_frame
from annotation.models import Judgment, Study, StudyUnit, study_is_adaptive

__all__ = [
    "AdaptiveLook",
    "adaptive_look",
    "adaptive_state",
    "adaptive_state_now",
    "look_alpha",
]

PAIR_QUESTIONS = ("alignment", "realism")


#: A cell's next round opens once this share of its units has the current round handed out
#: (leased or submitted): raters still on the last units keep the pool from running dry,
#: at the price of deciding on a round that is nearly, not quite, complete.
ROUND_AHEAD = 0.9

#: How a "decide" comparison is decided (the dashboard's and the report's words).
DECISION_METHOD = (
    "two-way interval of each complete round at decide_alpha / (K_max - K_min + 1) "
    "(simultaneous over the rounds: valid at whichever round it stops)"
)


@dataclass
class _Cell:
    label: str
    kind: str
    target: float | None  # half-width target; None for a "decide" comparison
    units: list[int] = field(default_factory=list)
    handed_out_units: int = 0  # units whose current round is leased or submitted
    at_ceiling: bool = True  # every unit wants K already

    @property
    def handed_out(self) -> bool:
        """The current round is (nearly: :data:`ROUND_AHEAD`) handed out."""
        return self.handed_out_units >= ROUND_AHEAD * len(self.units)

    # One series per question (single-image cells have one): (value, item, rater, round):
    # the judgment's round is its place among its unit's counted judgments (0, 1, …).
    series: dict[str, list[tuple[float, int, int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    counted: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # per unit

    @property
    def complete_rounds(self) -> int:
        """Rounds every unit of the cell has a counted judgment of."""
        return min((self.counted.get(u, 0) for u in self.units), default=0)


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
        cell.handed_out_units += taken >= wanted
        cell.at_ceiling &= wanted >= k_max
        key_of[pk] = key
    return cells, key_of


def _collect(study: Study, cells: dict[tuple[Any, ...], _Cell], key_of: dict[int, Any]) -> None:
    """Each cell's counted judgments: values per question, with item, rater and the
    judgment's round (its place among its unit's counted judgments, in submission order)."""
    rows = Judgment.objects.filter(
        assignment__study=study,
        assignment__unit__is_gold=False,
        assignment__rater__excluded=False,
        superseded_by__isnull=True,
    ).values_list(
        "assignment__unit_id",
        "assignment__unit__edit_a__item_id",
        "assignment__rater_id",
        "correct",
        "answers",
    )
    for unit, item, rater, correct, answers in rows.order_by("pk"):
        key = key_of.get(unit)
        if key is None:
            continue
        cell = cells[key]
        place = cell.counted[unit]
        cell.counted[unit] += 1
        if cell.kind == StudyUnit.Kind.SINGLE:
            cell.series["accuracy"].append((float(bool(correct)), item, rater, place))
            continue
        for question in PAIR_QUESTIONS:
            choice = answers.get(f"{question}_choice", "none")
            if choice in ("a", "b"):  # a tie carries no win rate
                cell.series[question].append((float(choice == "a"), item, rater, place))


def _questions(cell: _Cell) -> list[str]:
    return ["accuracy"] if cell.kind == StudyUnit.Kind.SINGLE else list(PAIR_QUESTIONS)


def _judge_all(
    study: Study, cells: dict[tuple[Any, ...], _Cell]
) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Per cell, one entry per question: n, estimate, two-way 95% interval, and for a
    "decide" comparison its looks (:func:`_decide`). Every series' interval comes from one
    two-way computation (``analysis.crossed.crossed_groups``)."""
    series = [(key, q) for key, cell in cells.items() for q in _questions(cell)]
    columns: list[list[float]] = [[], [], [], [], []]  # group, value, item, rater, round
    for g, (key, question) in enumerate(series):
        for row_values in cells[key].series.get(question, []):
            for column, x in zip(columns, (g, *row_values), strict=True):
                column.append(x)
    group, values, items, raters, rounds = (np.asarray(c) for c in columns)
    frame = None
    if len(values):
        parts = crossed_groups(
            values.astype(float),
            items.astype(np.int64),
            raters.astype(np.int64),
            group.astype(np.int64),
        )
        frame = groups_frame(parts)
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {key: [] for key in cells}
    entries: list[dict[str, Any]] = []  # per series
    for g, (key, question) in enumerate(series):
        n = int(frame["n"].iloc[g]) if frame is not None and g < len(frame) else 0
        entry: dict[str, Any] = {"question": question, "n": n}
        if cells[key].target is None:
            entry.update(decided=False, look_round=None, look_low=None, look_high=None)
        out[key].append(entry)
        entries.append(entry)
        if not n or frame is None:
            entry.update(estimate=None, low=None, high=None, half_width=None)
            continue
        row = frame.iloc[g]
        entry.update(estimate=float(row["estimate"]), low=float(row["low"]))
        entry.update(high=float(row["high"]), half_width=float(row["high"] - row["low"]) / 2)
    decide = [(g, key) for g, (key, _) in enumerate(series) if cells[key].target is None]
    if decide and len(values):
        _decide(study, cells, decide, entries, (group, values, items, raters, rounds))
    return out


def _decide(
    study: Study,
    cells: dict[tuple[Any, ...], _Cell],
    decide: list[tuple[int, tuple[Any, ...]]],
    entries: list[dict[str, Any]],
    data: tuple[np.ndarray[Any, Any], ...],
) -> None:
    """The looks of the "decide" comparisons: at each complete round r (K_min .. K_max) the
    two-way interval of every unit's first r counted judgments, at the level
    :func:`look_alpha`. A question is decided once a look's interval excludes one half.
    Looks are only taken at complete rounds, whenever the passes run, so there are at most
    K_max - K_min + 1 of them and the union bound holds."""
    group, values, items, raters, rounds = data
    looks: list[tuple[int, int]] = []  # (series, round)
    parts_of: list[np.ndarray[Any, Any]] = []
    for g, key in decide:
        last = min(cells[key].complete_rounds, study.raters_per_unit)
        for r in range(study.k_min, last + 1):
            rows = np.flatnonzero((group == g) & (rounds < r))
            if len(rows):
                looks.append((g, r))
                parts_of.append(rows)
    if not looks:
        return
    rows = np.concatenate(parts_of)
    look_of = np.repeat(np.arange(len(looks)), [len(p) for p in parts_of])
    parts = crossed_groups(
        values[rows].astype(float),
        items[rows].astype(np.int64),
        raters[rows].astype(np.int64),
        look_of.astype(np.int64),
    )
    frame = groups_frame(parts, confidence=1.0 - look_alpha(study))
    for (g, r), low, high in zip(looks, frame["low"], frame["high"], strict=True):
        entry = entries[g]
        if entry["decided"]:
            continue  # stays decided at the look that decided it
        entry.update(look_round=r, look_low=float(low), look_high=float(high))
        entry["decided"] = bool(low > 0.5 or high < 0.5)


def look_alpha(study: Study) -> float:
    """The level of each look of a "decide" comparison: ``decide_alpha`` split over the
    rounds at which it can be decided (K_min .. K_max), one look per complete round; the
    split keeps the chance of ever deciding a tied comparison at most ``decide_alpha``
    (union bound), however often the passes run."""
    return decide_alpha_per_look(study.decide_alpha, study.k_min, study.raters_per_unit)


def _met(cell: _Cell, judged: list[dict[str, Any]]) -> bool:
    if cell.target is None:
        return all(e.get("decided", False) for e in judged)
    return all(e["half_width"] is not None and e["half_width"] <= cell.target for e in judged)


def _gain(judged: list[dict[str, Any]]) -> float:
    """Expected half-width reduction per judgment of the cell's widest question."""
    gains = [np.inf if not e["n"] else (e["half_width"] or 0.0) / (2 * e["n"]) for e in judged]
    return float(max(gains))


@dataclass
class AdaptiveLook:
    """One look at a study: its cells, their judged questions, which met their target, the
    cells a pass would raise (best first) and the judgments wanted after it."""

    cells: dict[tuple[Any, ...], _Cell]
    judged: dict[tuple[Any, ...], list[dict[str, Any]]]
    met: dict[tuple[Any, ...], bool]
    raise_units: list[int]
    wanted_total: int
    budget_spent: bool


def adaptive_look(*, study: Study) -> AdaptiveLook:
    cells, key_of = _cells(study)
    _collect(study, cells, key_of)
    wanted_total = int(
        StudyUnit.objects.filter(study=study, is_gold=False).aggregate(
            total=Coalesce(Sum("wanted"), 0)
        )["total"]
    )
    judged = _judge_all(study, cells)
    met = {key: _met(cell, judged[key]) for key, cell in cells.items()}
    ready = [k for k, c in cells.items() if not met[k] and not c.at_ceiling and c.handed_out]
    ready.sort(key=lambda key: -_gain(judged[key]))
    raised: list[int] = []
    budget_spent = False
    for key in ready:
        cost = len(cells[key].units)
        if study.judgment_budget is not None and wanted_total + cost > study.judgment_budget:
            budget_spent = True
            continue
        wanted_total += cost
        raised += cells[key].units
    return AdaptiveLook(cells, judged, met, raised, wanted_total, budget_spent)


def adaptive_state_now(*, study: Study) -> dict[str, Any]:
    """What a pass would find now, without raising anything or storing it (the dashboard's
    view between passes); {} without targets."""
    if not study_is_adaptive(study):
        return {}
    state = adaptive_state(study, adaptive_look(study=study))
    state["raised_units"] = 0
    return state


def adaptive_state(study: Study, look: AdaptiveLook) -> dict[str, Any]:
    rows = []
    judged = look.judged
    for key, cell in sorted(look.cells.items(), key=lambda kv: kv[1].label):
        widest = max((e["half_width"] or np.inf) for e in judged[key])
        if look.met[key]:
            status = DECIDED if cell.target is None else TARGET_MET
        else:
            status = cell_status(
                widest, cell.target if cell.target is not None else -1.0,
                full=cell.at_ceiling, budget_spent=look.budget_spent and cell.handed_out,
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
        "wanted_total": look.wanted_total,
        "budget_reached": look.budget_spent,
        "interval_method": "two-way cluster-robust (fixed-sample)",
        "decision_method": DECISION_METHOD,
        "look_alpha": look_alpha(study),
        "cells": rows,
    }
