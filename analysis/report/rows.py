"""The rows of the report's tables: counts, accuracy, side-by-side, agreement, judge.

Internal to :mod:`analysis.report`: each function computes one table's rows from frames that
:mod:`analysis.report.prepare` validated, by calling :mod:`analysis.tables`,
:mod:`analysis.pairwise` and :mod:`analysis.agreement`; the only statistic of its own is the
automatic judge's agreement with the human majority (Cohen's kappa).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.inter_rater import cohens_kappa

from analysis.agreement import agreement_table
from analysis.intervals import NO_DATA, Estimate, wilson
from analysis.pairwise import (
    PairwiseComparison,
    bradley_terry_validated,
    pairwise_comparisons_validated,
    position_bias_validated,
)
from analysis.report.methods import gold_n
from analysis.report.model import (
    ALL,
    BREAKDOWNS,
    KEPT,
    PAIRWISE,
    SINGLE,
    ReportSettings,
    Table,
    jsonable,
)
from analysis.report.prepare import EDIT_KEY, Split, distinct, per_scope
from analysis.tables import (
    CHOICES,
    QUESTIONS,
    accuracy_from_edit_counts,
    edit_counts,
    with_crossed,
)

__all__ = [
    "accuracy_tables",
    "bradley_terry_rows",
    "count_rows",
    "exclusion_rows",
    "judge_vs_humans",
    "pairwise_agreement",
    "pairwise_rows",
    "position_bias_rows",
    "single_agreement",
]


def _estimate_columns(prefix: str, estimate: Estimate) -> dict[str, Any]:
    return {
        prefix: estimate.estimate,
        f"{prefix}_low": estimate.low,
        f"{prefix}_high": estimate.high,
        f"{prefix}_method": estimate.method,
        f"{prefix}_n": estimate.n,
    }


def _join_notes(notes: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(note for note in notes if note))


def count_rows(task: str, split: Split) -> list[dict[str, Any]]:
    """Rows of the ``counts`` table for one task: judgments, raters, items, units, models."""
    rows = []
    for scope in (KEPT, ALL):
        frame = split.frame(scope)
        models = (
            distinct(frame["model"])
            if "model" in frame.columns
            else distinct(frame["model_a"], frame["model_b"])
        )
        rows.append(
            {
                "judgments": scope,
                "task": task,
                # A side-by-side judgment (one rater, one pair) answers both questions: it
                # is one judgment and two answers.
                "n_judgments": len(frame)
                if "model" in frame.columns
                else len(frame[["unit", "rater"]].drop_duplicates()),
                "n_answers": len(frame),
                "n_raters": int(frame["rater"].nunique()),
                "n_items": int(frame["item"].nunique()),
                "n_units": int(frame["unit"].nunique()),
                "n_models": len(models),
            }
        )
    return rows


def exclusion_rows(task: str, split: Split, settings: ReportSettings) -> list[dict[str, Any]]:
    """Rows of the ``exclusions`` table for one task: one per rule, with its setting."""
    total = len(split.whole)
    rows = []
    for rule, n in split.removed.items():
        setting = settings.exclusion_rules.get(rule)
        if rule == "min_gold_accuracy" and setting is not None:
            setting = {"min_gold_accuracy": setting, "decided_on_gold_answers": gold_n(settings)}
        rows.append(
            {
                "task": task,
                "rule": rule,
                "setting": None
                if setting is None
                else json.dumps(jsonable(setting), sort_keys=True),
                "n_judgments_removed": n,
                "n_raters": split.removed_raters.get(rule, 0),
                "n_judgments_total": total,
                "share_removed": n / total if total else math.nan,
            }
        )
    return rows


def _accuracy_methods(
    n_column: str, unit: str, *, n_resamples: int, confidence: float
) -> dict[str, str]:
    level = f"{confidence:.0%}"
    crossed = (
        f"{level} two-way cluster-robust interval (items and raters clustered; Wilson on "
        "n_judgments / design_effect, Student t with Satterthwaite df, at least "
        "min(n_items, n_raters) - 1)"
    )
    return {
        "crossed_low": crossed,
        "crossed_high": crossed,
        "design_effect": "two-way cluster-robust variance / binomial variance, at least 1",
        "accuracy": f"share of correct {unit}; n = {n_column}",
        "wilson_low": f"{level} Wilson score interval, each of the {n_column} independent",
        "wilson_high": f"{level} Wilson score interval, each of the {n_column} independent",
        "bootstrap_low": f"{level} item-clustered percentile bootstrap, {n_resamples} "
        "resamples of the n_items items (raters not resampled)",
        "bootstrap_high": f"{level} item-clustered percentile bootstrap, {n_resamples} "
        "resamples of the n_items items (raters not resampled)",
    }


def accuracy_tables(
    prefix: str,
    label: str,
    split: Split | pd.DataFrame,
    *,
    levels: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    majority: bool,
) -> list[Table]:
    """One table per breakdown; per scope when ``split`` is a :class:`Split`."""
    unit = "majority votes (one per edit)" if majority else "judgments"
    n_column = "n_edits" if majority else "n_judgments"
    methods = _accuracy_methods(n_column, unit, n_resamples=n_resamples, confidence=confidence)
    judge_edits = None if isinstance(split, Split) else edit_counts(split)
    tables = []
    for key, column in BREAKDOWNS.items():
        by = ["model", "prompt_type"] + ([] if column == "prompt_type" else [column])
        kwargs: dict[str, Any] = {
            "by": by,
            "majority": majority,
            "rng": rng,
            "n_resamples": n_resamples,
            "confidence": confidence,
            "levels": levels,
        }
        if judge_edits is not None:
            frame = accuracy_from_edit_counts(judge_edits, **kwargs)
            if not majority:
                frame = with_crossed(frame, split, by, confidence=confidence)
        elif majority:
            frame = per_scope(split, accuracy_from_edit_counts, edits=True, **kwargs)
        else:
            frame = _crossed_per_scope(split, by, kwargs)
        what = column.replace("_", " ")
        tables.append(
            Table(
                name=f"{prefix}_by_{key}",
                title=f"{label} by {what}",
                description=f"One row per {' × '.join(c.replace('_', ' ') for c in by)}.",
                frame=frame,
                methods=methods,
            )
        )
    return tables


def _crossed_per_scope(split: Split, by: list[str], kwargs: dict[str, Any]) -> pd.DataFrame:
    """:func:`per_scope` of the judgment accuracy table with the crossed intervals merged on
    (they need the judgments' raters, which the edit counts do not keep)."""
    confidence = kwargs["confidence"]
    parts: list[pd.DataFrame] = []
    for scope in (KEPT, ALL):
        if scope == ALL and not split.n_removed:
            parts.append(parts[0].assign(judgments=ALL))
            continue
        table = accuracy_from_edit_counts(split.edits(scope), **kwargs)
        table = with_crossed(table, split.frame(scope), by, confidence=confidence)
        parts.append(table.assign(judgments=scope))
    stacked = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return stacked[["judgments", *[c for c in stacked.columns if c != "judgments"]]]


def _comparison_rows(comparisons: list[PairwiseComparison]) -> pd.DataFrame:
    rows = []
    for c in comparisons:
        row: dict[str, Any] = {
            "question": c.question,
            "prompt_type": c.prompt_type,
            "model_a": c.model_a,
            "model_b": c.model_b,
            "n_judgments": c.wins_a + c.wins_b + c.ties,
            "wins_a": c.wins_a,
            "ties": c.ties,
            "wins_b": c.wins_b,
            "n_items": c.n_items,
        }
        row.update(_estimate_columns("win_rate_a", c.win_rate_a))
        boot = c.win_rate_a_bootstrap
        row.update(bootstrap_low=boot.low, bootstrap_high=boot.high, bootstrap_method=boot.method)
        row.update(_estimate_columns("win_rate_a_ties_split", c.win_rate_a_ties_split))
        crossed = c.win_rate_a_crossed
        row.update(crossed_low=crossed.low, crossed_high=crossed.high)
        row.update(crossed_method=crossed.method)
        row.update(
            p_value=c.p_value,
            p_value_binomial=c.p_value_binomial,
            p_holm=c.p_holm,
            reject_holm=c.reject_holm,
            note=_join_notes(
                e.note for e in (c.win_rate_a, boot, c.win_rate_a_ties_split, crossed)
            ),
        )
        rows.append(row)
    columns = [
        "question",
        "prompt_type",
        "model_a",
        "model_b",
        "n_judgments",
        "wins_a",
        "ties",
        "wins_b",
        "n_items",
        *_estimate_columns("win_rate_a", wilson(0, 0)),
        "bootstrap_low",
        "bootstrap_high",
        "bootstrap_method",
        *_estimate_columns("win_rate_a_ties_split", wilson(0, 0)),
        "crossed_low",
        "crossed_high",
        "crossed_method",
        "p_value",
        "p_value_binomial",
        "p_holm",
        "reject_holm",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def pairwise_rows(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> pd.DataFrame:
    """Rows of the ``pairwise`` table: one per question × prompt type × model pair."""
    return _comparison_rows(
        pairwise_comparisons_validated(
            frame,
            rng=rng,
            n_resamples=n_resamples,
            confidence=confidence,
            alpha=alpha,
        )
    )


def bradley_terry_rows(
    frame: pd.DataFrame, *, rng: np.random.Generator, n_resamples: int, confidence: float
) -> pd.DataFrame:
    """Rows of the ``bradley_terry`` table: per question × prompt type, strongest first.

    A question and prompt type with fewer than two models has no rows.
    """
    rows = []
    for (question, prompt_type), group in frame.groupby(["question", "prompt_type"], sort=True):
        if len(distinct(group["model_a"], group["model_b"])) < 2:
            continue
        result = bradley_terry_validated(
            group,
            rng=rng,
            question=str(question),
            n_resamples=n_resamples,
            confidence=confidence,
            method="mm",
        )
        for rank, (model, strength) in enumerate(
            zip(result.models, result.strengths, strict=True), start=1
        ):
            rows.append(
                {
                    "question": question,
                    "prompt_type": prompt_type,
                    "rank": rank,
                    "model": model,
                    "strength": strength.estimate,
                    "strength_low": strength.low,
                    "strength_high": strength.high,
                    "method": strength.method,
                    "n_judgments": result.n_judgments,
                    "n_ties": result.n_ties,
                    "n_items": result.n_items,
                    "n_resamples": result.n_resamples,
                    "n_failed_resamples": result.n_failed_resamples,
                    "note": _join_notes([result.note, strength.note]),
                }
            )
    columns = [
        "question",
        "prompt_type",
        "rank",
        "model",
        "strength",
        "strength_low",
        "strength_high",
        "method",
        "n_judgments",
        "n_ties",
        "n_items",
        "n_resamples",
        "n_failed_resamples",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def position_bias_rows(frame: pd.DataFrame, *, confidence: float, alpha: float) -> pd.DataFrame:
    """Rows of the ``position_bias`` table: one per question, then both pooled (None), the
    pooled row counting each judgment (unit × rater) once."""
    rows = []
    for question in (*QUESTIONS, None):
        bias = position_bias_validated(frame, question=question, confidence=confidence, alpha=alpha)
        row: dict[str, Any] = {
            "question": question,
            "counted": "answers to this question" if question else "judgments (unit × rater)",
            "left_wins": bias.left_wins,
            "right_wins": bias.right_wins,
            "ties": bias.ties,
        }
        row.update(_estimate_columns("share_left", bias.share_left))
        crossed = bias.share_left_crossed
        row.update(crossed_low=crossed.low, crossed_high=crossed.high)
        row.update(
            p_value=bias.p_value,
            p_value_binomial=bias.p_value_binomial,
            flagged=bias.flagged,
            note=_join_notes([bias.share_left.note, crossed.note]),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def single_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    """Agreement on the single-image verdicts (correct or not), as one row."""
    table = agreement_table(frame, by=(), answer="correct", categories=[False, True])
    return table.assign(task=SINGLE, question="verdict")


def pairwise_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    """Agreement on the side-by-side choices, one row per question."""
    parts = [
        agreement_table(
            frame.loc[frame["question"] == question], by=(), answer="choice", categories=CHOICES
        ).assign(task=PAIRWISE, question=question)
        for question in QUESTIONS
    ]
    return pd.concat(parts, ignore_index=True)


def _cohen_kappa(
    judge: np.ndarray[Any, np.dtype[np.bool_]],
    human: np.ndarray[Any, np.dtype[np.bool_]],
    *,
    confidence: float,
) -> tuple[float, float, float, str]:
    """Cohen's kappa of two boolean raters with a Wald interval: (kappa, low, high, note)."""
    n = len(judge)
    if n == 0:
        return math.nan, math.nan, math.nan, NO_DATA
    table = np.array(
        [
            [np.sum(judge & human), np.sum(judge & ~human)],
            [np.sum(~judge & human), np.sum(~judge & ~human)],
        ],
        dtype=float,
    )
    chance = float((table.sum(axis=1) @ table.sum(axis=0)) / n**2)
    if chance >= 1.0 - 1e-12:
        # Both gave one and the same verdict throughout: kappa is 0/0.
        return math.nan, math.nan, math.nan, "one verdict only: chance agreement is 1, kappa is 0/0"
    # statsmodels also computes a z-test whose null standard error can be 0 on small tables;
    # that test is not reported, so its 0/0 warning is silenced.
    with np.errstate(divide="ignore", invalid="ignore"):
        result = cohens_kappa(table, return_results=True)
    kappa, se = float(result.kappa), float(result.std_kappa)
    z = float(norm.ppf((1.0 + confidence) / 2.0))
    return kappa, kappa - z * se, kappa + z * se, ""


def judge_vs_humans(
    humans: pd.DataFrame,
    *,
    judge: pd.DataFrame,
    models: Sequence[str],
    prompt_types: Sequence[str],
    confidence: float,
) -> pd.DataFrame:
    """Rows of ``auto_judge_vs_humans``: all edits pooled, then per model × prompt type.

    ``humans`` is one scope's :func:`analysis.tables.edit_counts` of the human judgments,
    ``judge`` the automatic judge's verdicts (one per edit).
    """
    # ``humans`` is the scope's edit counts; the majority vote is that of majority_votes().
    votes = humans[EDIT_KEY].assign(
        correct=2 * humans["n_correct"] > humans["n_judgments"],
        tie=2 * humans["n_correct"] == humans["n_judgments"],
    )
    merged = judge[[*EDIT_KEY, "correct"]].merge(
        votes, on=EDIT_KEY, how="left", suffixes=("_judge", "_human"), indicator=True
    )
    matched = merged["_merge"] == "both"
    groups: list[tuple[str | None, str | None]] = [(None, None)]
    groups += [(m, p) for m in models for p in prompt_types]
    rows = []
    for model, prompt_type in groups:
        in_group = pd.Series(True, index=merged.index)
        if model is not None:
            in_group &= (merged["model"] == model) & (merged["prompt_type"] == prompt_type)
        both = merged.loc[in_group & matched]
        judge_says = both["correct_judge"].to_numpy(dtype=bool)
        humans_say = both["correct_human"].to_numpy(dtype=bool)
        agree = int((judge_says == humans_say).sum())
        share = wilson(agree, len(both), confidence=confidence)
        kappa, low, high, kappa_note = _cohen_kappa(judge_says, humans_say, confidence=confidence)
        rows.append(
            {
                "model": model,
                "prompt_type": prompt_type,
                "n_edits": len(both),
                "n_human_ties": int(both["tie"].astype(bool).sum()),
                "n_agree": agree,
                "agreement": share.estimate,
                "agreement_low": share.low,
                "agreement_high": share.high,
                "agreement_method": share.method,
                "kappa": kappa,
                "kappa_low": low,
                "kappa_high": high,
                "kappa_method": "cohen-kappa/wald",
                "n_judge_only": int((in_group & ~matched).sum()),
                "note": _join_notes([share.note, kappa_note]),
            }
        )
    return pd.DataFrame(rows)
