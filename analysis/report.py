"""The exported study report: computed once, then written as JSON, CSV and HTML.

:func:`build_report` turns a :class:`StudyData` (the study's settings and the tidy judgment
tables of :mod:`analysis.tables`) into a :class:`Report`: named :class:`Table` objects, each a
DataFrame with a title, a description and the method (and the ``n``) behind every number
column. It calls the functions of :mod:`analysis.tables`, :mod:`analysis.pairwise` and
:mod:`analysis.agreement`; it adds no statistics of its own beyond the automatic judge's
agreement with the human majority. The writers (:func:`report_to_json`,
:func:`report_to_csv`, :func:`report_to_html`) only format.

With and without exclusions
---------------------------
A table whose numbers depend on which judgments are counted starts with a ``judgments``
column: ``"kept"`` (exclusions applied; the headline numbers) or ``"all"`` (every judgment,
the excluded ones included). When no judgment was excluded, the ``"all"`` rows are copies of
the ``"kept"`` rows rather than a second bootstrap, so the two never differ by resampling
noise alone. The ``exclusions`` table counts the judgments and raters each rule removed.

Missing values
--------------
A group without data keeps its row, with ``n == 0``, NaN numbers and the note "no data".
NaN becomes ``null`` in JSON, an empty cell in CSV and "no data" or "—" in HTML.

Rater privacy
-------------
Reports aggregate over raters and never show a rater id. Where rater-level rows are exported
(the rater quality table, :func:`raw_judgments`), ids are replaced by :func:`pseudonym`, a
keyed hash that is stable for one salt and cannot be reversed without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.inter_rater import cohens_kappa

from analysis.agreement import agreement_table
from analysis.categories import PROMPT_TYPES
from analysis.intervals import NO_DATA, Estimate, wilson
from analysis.pairwise import (
    PairwiseComparison,
    _bradley_terry_of,
    _comparisons_of,
    _position_bias_of,
)
from analysis.tables import (
    CATEGORY_LEVELS,
    CHOICES,
    PAIRWISE_COLUMNS,
    QUESTIONS,
    SINGLE_COLUMNS,
    UNSPECIFIED_RULE,
    accuracy_from_edit_counts,
    apply_exclusions,
    edit_counts,
    validate_pairwise,
    validate_single,
)

__all__ = [
    "ALL",
    "AUTO_JUDGE_RATER",
    "BREAKDOWNS",
    "KEPT",
    "PAIRWISE",
    "PROMPT_LABELS",
    "SINGLE",
    "Report",
    "StudyData",
    "StudySettings",
    "Table",
    "build_report",
    "prompt_label",
    "pseudonym",
    "raw_judgments",
    "report_to_csv",
    "report_to_html",
    "report_to_json",
    "write_raw_judgments_csv",
    "write_raw_judgments_jsonl",
]

SINGLE = "single"
PAIRWISE = "pairwise"
TASK_KINDS = (SINGLE, PAIRWISE)
#: ``judgments`` value of rows computed with exclusions applied.
KEPT = "kept"
#: ``judgments`` value of rows computed on every judgment.
ALL = "all"
#: The ``rater`` value of automatic-judge verdicts.
AUTO_JUDGE_RATER = "auto-judge"
#: Table-name suffix -> the category broken down (besides model and prompt type).
BREAKDOWNS: Mapping[str, str] = {
    "prompt": "prompt_type",
    "object_type": "object_type",
    "attribute_type": "attribute_type",
    "scene": "scene",
    "style": "style",
    "source": "source",
}
#: Display names of the prompt types, as in the EditBench paper.
PROMPT_LABELS: Mapping[str, str] = {
    "mask_simple": "Mask-Simple",
    "mask_rich": "Mask-Rich",
    "full_image": "Full-Image",
}
_EDIT_KEY = ["item", "model", "prompt_type"]
_JSON_FORMAT = "editbench-studio-report/1"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class StudySettings:
    """What the study was set up to do, as the methods paragraph describes it.

    Attributes
    ----------
    task_kinds : tuple of str
        ``"single"`` and/or ``"pairwise"``; empty: the kinds with judgments. A kind listed
        here but without judgments is reported as "no data".
    prompt_types : tuple of str
        Prompt types of the single-image task, in report order; empty: those in the data.
    raters_per_unit : int
        K, the raters each unit was assigned to.
    gold_rate : float
        Share of the units shown to raters that were gold units (known answers, used to check
        raters). The judgment tables hold non-gold units only.
    exclusion_rules : mapping of str to object
        Quality-control rule name -> its setting (e.g. ``{"min_gold_accuracy": 0.7}``). The
        names are those of the ``exclusion_rule`` column; a rule that removed nothing is
        still reported, with a count of 0.
    models : tuple of str
        Model display names, in report order, exactly as the judgment tables spell them;
        empty: the models in the data, sorted. A listed model without judgments is
        reported as "no data"; a model in the data but not listed is an error.
    launched_at, closed_at : datetime.date or None
        When the study ran (a :class:`datetime.datetime` is fine too).
    """

    task_kinds: tuple[str, ...] = ()
    prompt_types: tuple[str, ...] = ()
    raters_per_unit: int = 3
    gold_rate: float = 0.0
    exclusion_rules: Mapping[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    launched_at: dt.date | None = None
    closed_at: dt.date | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.task_kinds) - set(TASK_KINDS))
        if unknown:
            raise ValueError(f"task_kinds has unknown kind(s) {unknown}; allowed: {TASK_KINDS}")
        unknown = sorted(set(self.prompt_types) - set(PROMPT_TYPES))
        if unknown:
            raise ValueError(f"prompt_types has unknown value(s) {unknown}")
        if self.raters_per_unit < 1:
            raise ValueError(f"raters_per_unit must be at least 1, got {self.raters_per_unit}")
        if not 0.0 <= self.gold_rate < 1.0:
            raise ValueError(f"gold_rate must lie in [0, 1), got {self.gold_rate}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models has duplicates: {list(self.models)}")


@dataclass(frozen=True)
class StudyData:
    """Everything a report is built from.

    Attributes
    ----------
    name : str
        The study's name (shown escaped in HTML).
    settings : StudySettings
        The study's set-up.
    single : pandas.DataFrame or None
        Single-image judgments of human raters (contract in :mod:`analysis.tables`), the
        excluded ones included and marked; None or empty when there are none.
    pairwise : pandas.DataFrame or None
        Side-by-side judgments, likewise.
    rater_quality : pandas.DataFrame or None
        Optional per-rater quality table: a ``rater`` column (raw ids; the report shows
        pseudonyms) and any other columns (e.g. ``gold_accuracy``, ``median_seconds``,
        ``excluded``). It must not hold other identifying columns: they are exported as is.
    auto_judge : pandas.DataFrame or None
        Optional automatic-judge verdicts in the single-image format (``rater`` =
        :data:`AUTO_JUDGE_RATER`), at most one verdict per edit (item, model, prompt type).
    """

    name: str
    settings: StudySettings
    single: pd.DataFrame | None = None
    pairwise: pd.DataFrame | None = None
    rater_quality: pd.DataFrame | None = None
    auto_judge: pd.DataFrame | None = None


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Table:
    """One table of the report.

    Attributes
    ----------
    name : str
        File-name stem, e.g. ``"single_by_prompt"``.
    title : str
        Heading.
    description : str
        What one row is.
    frame : pandas.DataFrame
        The rows.
    methods : mapping of str to str
        Number column -> how it was computed and which column holds its ``n``.
    """

    name: str
    title: str
    description: str
    frame: pd.DataFrame
    methods: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """A computed study report; see :func:`build_report`.

    Attributes
    ----------
    study : str
        The study's name.
    settings : StudySettings
        The study's set-up as given.
    task_kinds, models, prompt_types : tuple of str
        What the report covers, resolved from the settings and the data.
    n_resamples : int
        Bootstrap resamples per interval.
    seed : int or None
        The seed of the bootstrap's generator, when an integer was passed.
    confidence : float
        Nominal coverage of every interval.
    alpha : float
        Family-wise error rate of Holm's correction.
    methods_text : str
        The methods section as plain text, paragraphs separated by a blank line.
    tables : mapping of str to Table
        The tables, by name, in report order.
    """

    study: str
    settings: StudySettings
    task_kinds: tuple[str, ...]
    models: tuple[str, ...]
    prompt_types: tuple[str, ...]
    n_resamples: int
    seed: int | None
    confidence: float
    alpha: float
    methods_text: str
    tables: Mapping[str, Table]


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class _Split:
    """A validated judgment table, kept and whole, with removal counts per rule."""

    kept: pd.DataFrame
    whole: pd.DataFrame
    removed: dict[str, int]
    removed_raters: dict[str, int]

    @property
    def n_removed(self) -> int:
        return sum(self.removed.values())

    @classmethod
    def of(cls, frame: pd.DataFrame, rules: Sequence[str]) -> _Split:
        kept, removed = apply_exclusions(frame, rules=rules)
        gone = frame.loc[frame["excluded"]]
        per_rule = gone.groupby(gone["exclusion_rule"].fillna(UNSPECIFIED_RULE))["rater"]
        raters = {str(rule): int(n) for rule, n in per_rule.nunique().items()}
        # The tables refuse excluded rows, so "all judgments" is the frame with none marked.
        whole = frame.assign(excluded=False, exclusion_rule=None)
        return cls(kept, whole, removed, {rule: raters.get(rule, 0) for rule in removed})

    def frame(self, scope: str) -> pd.DataFrame:
        return self.kept if scope == KEPT else self.whole

    # The accuracy and majority tables of one scope all read these counts: aggregating the
    # judgments once per scope, not once per table, is most of the report's speed.
    @cached_property
    def kept_edits(self) -> pd.DataFrame:
        return edit_counts(self.kept)

    @cached_property
    def whole_edits(self) -> pd.DataFrame:
        return edit_counts(self.whole)

    def edits(self, scope: str) -> pd.DataFrame:
        return self.kept_edits if scope == KEPT else self.whole_edits


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


def _compact(frame: pd.DataFrame, groups: Sequence[Sequence[str]]) -> pd.DataFrame:
    """The frame with its label columns as categoricals (before validation).

    Every table groups, filters and counts by these columns; on a million judgments hashing
    and comparing strings dominates the report's time (validation included), while
    categoricals work on integer codes. Each group of columns shares its categories, the
    sorted distinct values, so grouping keeps the order of the values and columns of one
    group (``left`` and ``choice``) can be compared. Missing values stay missing and
    unknown values stay as they are, so validation reports them as before; absent columns
    are skipped.
    """
    if frame.empty:
        return frame
    out = frame.copy()
    for group in groups:
        columns = [column for column in group if column in out.columns]
        if not columns:
            continue
        try:
            if len(columns) == 1:
                # One hashing pass: codes and sorted categories at once.
                codes, uniques = pd.factorize(out[columns[0]], sort=True)
                out[columns[0]] = pd.Categorical.from_codes(codes, categories=uniques)
                continue
            values = {v for column in columns for v in out[column].unique() if not pd.isna(v)}
            categories = sorted(values)
        except TypeError:
            continue  # values that do not sort (e.g. 1 and "a"): keep the column as it is
        for column in columns:
            out[column] = pd.Categorical(out[column], categories=categories)
    return out


_SINGLE_LABELS = (
    ("item",),
    ("model",),
    ("rater",),
    *((column,) for column in CATEGORY_LEVELS),
)
_PAIRWISE_LABELS = (
    ("item",),
    ("model_a",),
    ("model_b",),
    ("rater",),
    ("prompt_type",),
    ("question",),
    ("left", "choice"),
)


def _single_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    if df is None or (df.empty and not len(df.columns)):
        df = _empty(SINGLE_COLUMNS).astype({"correct": bool})
    return validate_single(_compact(df, _SINGLE_LABELS))


def _pairwise_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    if df is None or (df.empty and not len(df.columns)):
        df = _empty(PAIRWISE_COLUMNS)
    return validate_pairwise(_compact(df, _PAIRWISE_LABELS))


def _judge_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The automatic judge's verdicts, validated, its own exclusions applied."""
    judge, _ = apply_exclusions(_single_frame(df))
    doubled = judge.duplicated(_EDIT_KEY)
    if doubled.any():
        first = judge.loc[doubled, _EDIT_KEY].iloc[0].tolist()
        raise ValueError(f"the automatic judge has two verdicts on the edit {first}")
    return judge


def _resolve_models(
    settings: StudySettings,
    single: pd.DataFrame,
    pairwise: pd.DataFrame,
    auto: pd.DataFrame | None,
) -> tuple[str, ...]:
    observed = _distinct(single["model"], pairwise["model_a"], pairwise["model_b"])
    if auto is not None:
        observed |= _distinct(auto["model"])
    if not settings.models:
        return tuple(sorted(map(str, observed)))
    unknown = sorted(map(str, observed - set(settings.models)))
    if unknown:
        raise ValueError(f"the judgments name model(s) {unknown} missing from settings.models")
    return settings.models


def _resolve_prompt_types(
    settings: StudySettings, frames: Sequence[pd.DataFrame]
) -> tuple[str, ...]:
    observed = _distinct(*(frame["prompt_type"] for frame in frames))
    if not settings.prompt_types:
        return tuple(p for p in PROMPT_TYPES if p in observed)
    unknown = sorted(observed - set(settings.prompt_types))
    if unknown:
        raise ValueError(
            f"the single-image judgments have prompt type(s) {unknown} "
            "missing from settings.prompt_types"
        )
    return settings.prompt_types


def _distinct(*columns: pd.Series) -> set[Any]:
    """The distinct values of the columns (iterating a million-row column is slow)."""
    return set().union(*(column.unique() for column in columns))


def _generator(rng: np.random.Generator | int) -> tuple[np.random.Generator, int | None]:
    if isinstance(rng, np.random.Generator):
        return rng, None
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), int(rng)
    raise TypeError(f"rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")


def _per_scope(
    split: _Split, compute: Callable[..., pd.DataFrame], *, edits: bool = False, **kwargs: Any
) -> pd.DataFrame:
    """``compute`` on the kept and on all judgments, stacked under a ``judgments`` column.

    With ``edits``, ``compute`` gets the scope's :func:`analysis.tables.edit_counts` instead
    of its judgments.
    """
    source = split.edits if edits else split.frame
    kept = compute(source(KEPT), **kwargs)
    whole = compute(source(ALL), **kwargs) if split.n_removed else kept
    parts = [frame.assign(judgments=scope) for scope, frame in ((KEPT, kept), (ALL, whole))]
    stacked = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return stacked[["judgments", *kept.columns]]


def _estimate_columns(prefix: str, estimate: Estimate) -> dict[str, Any]:
    return {
        prefix: estimate.estimate,
        f"{prefix}_low": estimate.low,
        f"{prefix}_high": estimate.high,
        f"{prefix}_method": estimate.method,
        f"{prefix}_n": estimate.n,
    }


def prompt_label(prompt_type: str) -> str:
    """Display name of a prompt type (the raw value for an unknown one)."""
    return PROMPT_LABELS.get(prompt_type, prompt_type)


def _join_notes(notes: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(note for note in notes if note))


# --------------------------------------------------------------------------- counts


def _count_rows(task: str, split: _Split) -> list[dict[str, Any]]:
    rows = []
    for scope in (KEPT, ALL):
        frame = split.frame(scope)
        models = (
            _distinct(frame["model"])
            if "model" in frame.columns
            else _distinct(frame["model_a"], frame["model_b"])
        )
        rows.append(
            {
                "judgments": scope,
                "task": task,
                "n_judgments": len(frame),
                "n_raters": int(frame["rater"].nunique()),
                "n_items": int(frame["item"].nunique()),
                "n_units": int(frame["unit"].nunique()),
                "n_models": len(models),
            }
        )
    return rows


def _exclusion_rows(task: str, split: _Split, settings: StudySettings) -> list[dict[str, Any]]:
    total = len(split.whole)
    rows = []
    for rule, n in split.removed.items():
        setting = settings.exclusion_rules.get(rule)
        rows.append(
            {
                "task": task,
                "rule": rule,
                "setting": None
                if setting is None
                else json.dumps(_jsonable(setting), sort_keys=True),
                "n_judgments_removed": n,
                "n_raters": split.removed_raters.get(rule, 0),
                "n_judgments_total": total,
                "share_removed": n / total if total else math.nan,
            }
        )
    return rows


# --------------------------------------------------------------------------- single-image


def _accuracy_methods(
    n_column: str, unit: str, *, n_resamples: int, confidence: float
) -> dict[str, str]:
    level = f"{confidence:.0%}"
    return {
        "accuracy": f"share of correct {unit}; n = {n_column}",
        "wilson_low": f"{level} Wilson score interval, each of the {n_column} independent",
        "wilson_high": f"{level} Wilson score interval, each of the {n_column} independent",
        "bootstrap_low": f"{level} item-clustered percentile bootstrap, {n_resamples} "
        "resamples of the n_items items",
        "bootstrap_high": f"{level} item-clustered percentile bootstrap, {n_resamples} "
        "resamples of the n_items items",
    }


def _accuracy_tables(
    prefix: str,
    label: str,
    split: _Split | pd.DataFrame,
    *,
    levels: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    majority: bool,
) -> list[Table]:
    """One table per breakdown; per scope when ``split`` is a :class:`_Split`."""
    unit = "majority votes (one per edit)" if majority else "judgments"
    n_column = "n_edits" if majority else "n_judgments"
    methods = _accuracy_methods(n_column, unit, n_resamples=n_resamples, confidence=confidence)
    judge_edits = None if isinstance(split, _Split) else edit_counts(split)
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
        frame = (
            _per_scope(split, accuracy_from_edit_counts, edits=True, **kwargs)
            if judge_edits is None
            else accuracy_from_edit_counts(judge_edits, **kwargs)
        )
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


# --------------------------------------------------------------------------- side-by-side


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
        row.update(
            p_value=c.p_value,
            p_holm=c.p_holm,
            reject_holm=c.reject_holm,
            note=_join_notes(e.note for e in (c.win_rate_a, boot, c.win_rate_a_ties_split)),
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
        "p_value",
        "p_holm",
        "reject_holm",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def _comparisons(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> pd.DataFrame:
    return _comparison_rows(
        _comparisons_of(
            frame,
            rng=rng,
            n_resamples=n_resamples,
            confidence=confidence,
            alpha=alpha,
        )
    )


def _bradley_terry_rows(
    frame: pd.DataFrame, *, rng: np.random.Generator, n_resamples: int, confidence: float
) -> pd.DataFrame:
    rows = []
    for (question, prompt_type), group in frame.groupby(["question", "prompt_type"], sort=True):
        if len(_distinct(group["model_a"], group["model_b"])) < 2:
            continue
        result = _bradley_terry_of(
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


def _position_bias_rows(frame: pd.DataFrame, *, confidence: float) -> pd.DataFrame:
    rows = []
    for question in (*QUESTIONS, None):
        bias = _position_bias_of(frame, question=question, confidence=confidence)
        row: dict[str, Any] = {
            "question": question,
            "left_wins": bias.left_wins,
            "right_wins": bias.right_wins,
            "ties": bias.ties,
        }
        row.update(_estimate_columns("share_left", bias.share_left))
        row.update(p_value=bias.p_value, note=bias.share_left.note)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- agreement


def _single_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    table = agreement_table(frame, by=(), answer="correct", categories=[False, True])
    return table.assign(task=SINGLE, question="verdict")


def _pairwise_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    parts = [
        agreement_table(
            frame.loc[frame["question"] == question], by=(), answer="choice", categories=CHOICES
        ).assign(task=PAIRWISE, question=question)
        for question in QUESTIONS
    ]
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- automatic judge


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


def _judge_vs_humans(
    humans: pd.DataFrame,
    *,
    judge: pd.DataFrame,
    models: Sequence[str],
    prompt_types: Sequence[str],
    confidence: float,
) -> pd.DataFrame:
    # ``humans`` is the scope's edit counts; the majority vote is that of majority_votes().
    votes = humans[_EDIT_KEY].assign(
        correct=2 * humans["n_correct"] > humans["n_judgments"],
        tie=2 * humans["n_correct"] == humans["n_judgments"],
    )
    merged = judge[[*_EDIT_KEY, "correct"]].merge(
        votes, on=_EDIT_KEY, how="left", suffixes=("_judge", "_human"), indicator=True
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


# --------------------------------------------------------------------------- privacy


def pseudonym(rater: object, *, salt: str) -> str:
    """Pseudonymous rater id: ``"r-"`` + the first 10 hex digits of HMAC-SHA256.

    Parameters
    ----------
    rater : object
        The raw rater id (converted with :class:`str`).
    salt : str
        The HMAC key. Keep it secret and reuse it within one report (or one study) so a rater
        keeps one pseudonym across its tables; another salt gives unlinkable pseudonyms.

    Returns
    -------
    str
        E.g. ``"r-3fa9c01b2e"``.

    Raises
    ------
    ValueError
        For an empty salt: without a key the pseudonym is a lookup away from the raw id.
    """
    if not isinstance(salt, str) or not salt:
        raise ValueError("salt must be a non-empty string")
    digest = hmac.new(salt.encode("utf-8"), str(rater).encode("utf-8"), hashlib.sha256)
    return "r-" + digest.hexdigest()[:10]


def _pseudonyms(raters: pd.Series, salt: str) -> pd.Series:
    mapping = {rater: pseudonym(rater, salt=salt) for rater in pd.unique(raters)}
    if len(set(mapping.values())) != len(mapping):
        # 40 bits make this astronomically rare; two raters must never merge silently.
        raise ValueError("two rater ids share a pseudonym; use another salt")
    return raters.map(mapping)


def raw_judgments(
    df: pd.DataFrame, *, salt: str, extra_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """The judgments for export, with rater ids replaced by pseudonyms.

    Parameters
    ----------
    df : pandas.DataFrame
        Single-image or side-by-side judgments (told apart by a ``model_a`` column),
        excluded ones included.
    salt : str
        Key of :func:`pseudonym`.
    extra_columns : sequence of str
        Further columns to keep. Only the contract's columns, ``excluded`` and
        ``exclusion_rule`` are kept otherwise, so that an unexpected identifying column
        (a platform id, an e-mail) is not exported by accident.

    Returns
    -------
    pandas.DataFrame
        The contract's columns (``rater`` pseudonymised), ``excluded``, ``exclusion_rule``
        and ``extra_columns``, in that order.

    Raises
    ------
    ValueError
        On an invalid table, an empty salt, or ``rater`` among ``extra_columns``.
    """
    columns: tuple[str, ...]
    if "model_a" in df.columns:
        frame, columns = validate_pairwise(df), PAIRWISE_COLUMNS
    elif "model" in df.columns:
        frame, columns = validate_single(df), SINGLE_COLUMNS
    else:
        raise ValueError("cannot tell the judgment kind: no 'model' or 'model_a' column")
    extra = list(extra_columns)
    if "rater" in extra:
        raise ValueError("'rater' cannot be an extra column: it is always pseudonymised")
    missing = [c for c in extra if c not in frame.columns]
    if missing:
        raise ValueError(f"missing extra column(s): {', '.join(missing)}")
    out = frame[[*columns, "excluded", "exclusion_rule", *extra]].copy()
    out["rater"] = _pseudonyms(out["rater"], salt)
    return out.reset_index(drop=True)


def write_raw_judgments_csv(
    df: pd.DataFrame, path: Path, *, salt: str, extra_columns: Sequence[str] = ()
) -> Path:
    """Write :func:`raw_judgments` as CSV (missing values as empty cells); return ``path``."""
    raw_judgments(df, salt=salt, extra_columns=extra_columns).to_csv(
        path, index=False, lineterminator="\n"
    )
    return path


def write_raw_judgments_jsonl(
    df: pd.DataFrame, path: Path, *, salt: str, extra_columns: Sequence[str] = ()
) -> Path:
    """Write :func:`raw_judgments` as JSON Lines (one object per judgment); return ``path``."""
    frame = raw_judgments(df, salt=salt, extra_columns=extra_columns)
    with path.open("w", encoding="utf-8") as out:
        for record in frame.to_dict(orient="records"):
            out.write(json.dumps(_jsonable(record), ensure_ascii=False, allow_nan=False))
            out.write("\n")
    return path


# --------------------------------------------------------------------------- build


def build_report(
    data: StudyData,
    *,
    rng: np.random.Generator | int,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    alpha: float = 0.05,
    salt: str | None = None,
) -> Report:
    """Compute every table of the report.

    Parameters
    ----------
    data : StudyData
        Settings and judgment tables.
    rng : numpy.random.Generator or int
        Drives every bootstrap, in table order; an integer is a seed and is recorded in the
        report, so the report can be reproduced.
    n_resamples : int
        Bootstrap resamples per interval (and per Bradley-Terry fit).
    confidence : float
        Nominal coverage of every interval.
    alpha : float
        Family-wise error rate of Holm's correction over all side-by-side comparisons.
    salt : str, optional
        Key of :func:`pseudonym`; required when ``data.rater_quality`` is given.

    Returns
    -------
    Report
        Tables (each present only when it applies): ``counts``, ``exclusions``;
        ``single_by_<b>`` and ``majority_by_<b>`` for each ``b`` of :data:`BREAKDOWNS`;
        ``pairwise``, ``bradley_terry`` (more than two models), ``position_bias``;
        ``agreement``; ``auto_judge_by_<b>`` and ``auto_judge_vs_humans``;
        ``rater_quality``.

    Raises
    ------
    ValueError
        On an invalid judgment table, models or prompt types the settings do not list, an
        automatic judge with two verdicts on one edit, or a rater table without a salt.
    """
    generator, seed = _generator(rng)
    settings = data.settings
    if data.rater_quality is not None and not salt:
        raise ValueError("a salt is needed to pseudonymise the rater quality table")
    single_frame = _single_frame(data.single)
    pairwise_frame = _pairwise_frame(data.pairwise)
    auto_frame = None if data.auto_judge is None else _judge_frame(data.auto_judge)
    kinds = tuple(
        kind
        for kind, frame in ((SINGLE, single_frame), (PAIRWISE, pairwise_frame))
        if kind in settings.task_kinds or len(frame)
    )
    models = _resolve_models(settings, single_frame, pairwise_frame, auto_frame)
    prompt_types = _resolve_prompt_types(
        settings, [single_frame] + ([] if auto_frame is None else [auto_frame])
    )
    rules = tuple(settings.exclusion_rules)
    splits = {SINGLE: _Split.of(single_frame, rules), PAIRWISE: _Split.of(pairwise_frame, rules)}
    boot: dict[str, Any] = {
        "rng": generator,
        "n_resamples": n_resamples,
        "confidence": confidence,
    }
    levels: dict[str, Sequence[str]] = {
        **CATEGORY_LEVELS,
        "model": models,
        "prompt_type": prompt_types,
    }

    tables = _count_tables(kinds, splits, settings)
    if SINGLE in kinds:
        tables += _single_tables(splits[SINGLE], levels=levels, **boot)
    if PAIRWISE in kinds:
        tables += _pairwise_tables(splits[PAIRWISE], alpha=alpha, **boot)
    if kinds:
        tables.append(_agreement_table(kinds, splits))
    if auto_frame is not None:
        tables += _auto_judge_tables(
            auto_frame,
            splits[SINGLE],
            models=models,
            prompt_types=prompt_types,
            levels=levels,
            **boot,
        )
    if data.rater_quality is not None:
        tables.append(_rater_quality_table(data.rater_quality, salt))

    by_name = {table.name: table for table in tables}
    methods_text = _methods_text(
        data.name,
        settings,
        kinds=kinds,
        models=models,
        prompt_types=prompt_types,
        tables=by_name,
        n_resamples=n_resamples,
        confidence=confidence,
        alpha=alpha,
    )
    return Report(
        study=data.name,
        settings=settings,
        task_kinds=kinds,
        models=models,
        prompt_types=prompt_types,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        alpha=alpha,
        methods_text=methods_text,
        tables=by_name,
    )


def _count_tables(
    kinds: Sequence[str], splits: Mapping[str, _Split], settings: StudySettings
) -> list[Table]:
    counts = [row for kind in kinds for row in _count_rows(kind, splits[kind])]
    exclusions = [row for kind in kinds for row in _exclusion_rows(kind, splits[kind], settings)]
    return [
        Table(
            "counts",
            "Judgments, raters and items",
            "One row per task × judgments (kept: after exclusions; all: before).",
            pd.DataFrame(counts),
        ),
        Table(
            "exclusions",
            "Exclusions",
            "One row per task × quality-control rule: judgments and raters it removed.",
            pd.DataFrame(
                exclusions,
                columns=[
                    "task",
                    "rule",
                    "setting",
                    "n_judgments_removed",
                    "n_raters",
                    "n_judgments_total",
                    "share_removed",
                ],
            ),
            {"share_removed": "n_judgments_removed / n_judgments_total"},
        ),
    ]


def _single_tables(
    split: _Split,
    *,
    levels: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> list[Table]:
    boot: dict[str, Any] = {"rng": rng, "n_resamples": n_resamples, "confidence": confidence}
    return [
        *_accuracy_tables(
            "single",
            "Single-image accuracy (judgments)",
            split,
            levels=levels,
            majority=False,
            **boot,
        ),
        *_accuracy_tables(
            "majority",
            "Single-image accuracy (majority vote per edit)",
            split,
            levels=levels,
            majority=True,
            **boot,
        ),
    ]


def _pairwise_tables(
    split: _Split,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> list[Table]:
    level = f"{confidence:.0%}"
    boot: dict[str, Any] = {"rng": rng, "n_resamples": n_resamples, "confidence": confidence}
    tables = [_pairwise_table(split, alpha=alpha, **boot)]
    if len(_distinct(split.whole["model_a"], split.whole["model_b"])) > 2:
        tables.append(
            Table(
                "bradley_terry",
                "Bradley–Terry strengths",
                "One row per question × prompt type × model, strongest first.",
                _per_scope(split, _bradley_terry_rows, **boot),
                {
                    "strength": "log-strength (Bradley-Terry MLE, MM algorithm, sum to zero); "
                    "n = n_judgments (decided)",
                    "strength_low": f"{level} item-clustered percentile bootstrap",
                    "strength_high": f"{level} item-clustered percentile bootstrap",
                },
            )
        )
    tables.append(
        Table(
            "position_bias",
            "Position bias",
            "One row per question (empty question: both pooled): share of decided judgments "
            "won by the left image.",
            _per_scope(split, _position_bias_rows, confidence=confidence),
            {
                "share_left": f"left_wins / share_left_n, {level} Wilson interval",
                "p_value": "exact two-sided binomial test of share_left = 0.5",
            },
        )
    )
    return tables


def _agreement_table(kinds: Sequence[str], splits: Mapping[str, _Split]) -> Table:
    parts = []
    if SINGLE in kinds:
        parts.append(_per_scope(splits[SINGLE], _single_agreement))
    if PAIRWISE in kinds:
        parts.append(_per_scope(splits[PAIRWISE], _pairwise_agreement))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values("judgments", key=lambda s: s != KEPT, kind="stable")
    columns = [
        "judgments",
        "task",
        "question",
        "n_units",
        "n_ratings",
        "krippendorff_alpha",
        "fleiss_kappa",
        "raw_agreement",
        "note",
    ]
    return Table(
        "agreement",
        "Inter-rater agreement",
        "One row per task × question type.",
        frame[columns].reset_index(drop=True),
        {
            "krippendorff_alpha": "Krippendorff's alpha, nominal; n = n_units",
            "fleiss_kappa": "Fleiss' kappa on units with the modal rating count; n = n_units",
            "raw_agreement": "share of agreeing rater pairs, pooled; n = n_units",
        },
    )


def _pairwise_table(
    split: _Split,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> Table:
    level = f"{confidence:.0%}"
    return Table(
        "pairwise",
        "Side-by-side comparisons",
        "One row per question × prompt type × model pair; rates from model_a's side.",
        _per_scope(
            split,
            _comparisons,
            rng=rng,
            n_resamples=n_resamples,
            confidence=confidence,
            alpha=alpha,
        ),
        {
            "win_rate_a": f"wins_a / (wins_a + wins_b), ties left out, {level} Wilson interval; "
            "n = win_rate_a_n",
            "bootstrap_low": f"{level} item-clustered percentile bootstrap of win_rate_a, "
            f"{n_resamples} resamples",
            "bootstrap_high": f"{level} item-clustered percentile bootstrap of win_rate_a, "
            f"{n_resamples} resamples",
            "win_rate_a_ties_split": "(wins_a + ties / 2) / n_judgments, "
            f"{level} item-clustered percentile bootstrap",
            "p_value": "exact two-sided binomial test of wins_a of wins_a + wins_b against 0.5",
            "p_holm": f"Holm's step-down correction over all rows of the same judgments scope, "
            f"alpha = {alpha}",
        },
    )


def _auto_judge_tables(
    auto_frame: pd.DataFrame,
    humans: _Split,
    *,
    models: Sequence[str],
    prompt_types: Sequence[str],
    levels: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> list[Table]:
    tables = _accuracy_tables(
        "auto_judge",
        "Automatic judge accuracy",
        auto_frame,
        levels=levels,
        rng=rng,
        n_resamples=n_resamples,
        confidence=confidence,
        majority=False,
    )
    level = f"{confidence:.0%}"
    tables.append(
        Table(
            "auto_judge_vs_humans",
            "Automatic judge against the human majority",
            "One row per model × prompt type (empty model and prompt type: all edits pooled); an "
            "edit counts when the judge and at least one human judged it.",
            _per_scope(
                humans,
                _judge_vs_humans,
                edits=True,
                judge=auto_frame,
                models=models,
                prompt_types=prompt_types,
                confidence=confidence,
            ),
            {
                "agreement": f"n_agree / n_edits, {level} Wilson interval; a human tie counts as "
                "not correct",
                "kappa": f"Cohen's kappa (statsmodels), {level} Wald interval from its asymptotic "
                "standard error; n = n_edits",
            },
        )
    )
    return tables


def _rater_quality_table(df: pd.DataFrame, salt: str | None) -> Table:
    if "rater" not in df.columns:
        raise ValueError("the rater quality table needs a 'rater' column")
    if not salt:
        raise ValueError("a salt is needed to pseudonymise the rater quality table")
    frame = df.copy()
    frame["rater"] = _pseudonyms(frame["rater"], salt)
    frame = frame.sort_values("rater", kind="stable").reset_index(drop=True)
    return Table(
        "rater_quality",
        "Raters",
        "One row per rater, pseudonymised (r- + keyed hash of the rater id).",
        frame,
    )


# --------------------------------------------------------------------------- methods text


def _count(tables: Mapping[str, Table], task: str, scope: str) -> dict[str, int] | None:
    counts = tables["counts"].frame
    if counts.empty:
        return None
    rows = counts.loc[(counts["task"] == task) & (counts["judgments"] == scope)]
    if rows.empty:
        return None
    return {k: int(v) for k, v in rows.iloc[0].items() if str(k).startswith("n_")}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _methods_text(
    name: str,
    settings: StudySettings,
    *,
    kinds: Sequence[str],
    models: Sequence[str],
    prompt_types: Sequence[str],
    tables: Mapping[str, Table],
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> str:
    level = f"{confidence:.0%}"
    task_words = {SINGLE: "single-image judgments", PAIRWISE: "side-by-side comparisons"}
    design = [
        f"Study “{name}” collected "
        + (" and ".join(task_words[k] for k in kinds) or "no judgments")
        + f" of {_plural(len(models), 'model')} ({', '.join(models) or 'none'})"
        + (
            f" on the prompt types {', '.join(map(prompt_label, prompt_types))}."
            if SINGLE in kinds and prompt_types
            else "."
        ),
    ]
    if settings.launched_at or settings.closed_at:
        start = settings.launched_at.isoformat() if settings.launched_at else "?"
        end = settings.closed_at.isoformat() if settings.closed_at else "?"
        design.append(f"It ran from {start} to {end}.")
    design.append(
        f"Each unit was assigned to K = {settings.raters_per_unit} raters; "
        f"{settings.gold_rate:.0%} of the units shown were gold units with known answers, "
        "used to check raters and not counted here."
    )
    data: list[str] = []
    for kind, noun in ((SINGLE, "single-image judgments"), (PAIRWISE, "side-by-side answers")):
        kept, whole = _count(tables, kind, KEPT), _count(tables, kind, ALL)
        if kept is None or whole is None:
            continue
        data.append(
            f"After exclusions the analysis counts {kept['n_judgments']} {noun} "
            f"by {_plural(kept['n_raters'], 'rater')} on {_plural(kept['n_items'], 'item')} "
            f"({whole['n_judgments']} before exclusions, by "
            f"{_plural(whole['n_raters'], 'rater')} on {_plural(whole['n_items'], 'item')})."
        )
    exclusions = tables["exclusions"].frame
    if settings.exclusion_rules or len(exclusions):
        rules = (
            "; ".join(
                f"{rule} = {json.dumps(_jsonable(value), sort_keys=True)}"
                for rule, value in sorted(settings.exclusion_rules.items())
            )
            or "none configured"
        )
        removed = (
            "; ".join(
                f"{row.rule} ({row.task}): {row.n_judgments_removed}"
                for row in exclusions.itertuples(index=False)
            )
            or "none"
        )
        data.append(
            f"Exclusion rules: {rules}. Judgments removed per rule: {removed}; every table "
            "is also given without exclusions."
        )
    statistics: list[str] = []
    if SINGLE in kinds:
        statistics.append(
            "Accuracy is the share of judgments whose overall verdict is correct, with "
            f"{level} Wilson score intervals (every judgment independent) and {level} "
            f"item-clustered percentile bootstrap intervals ({n_resamples} resamples of whole "
            "benchmark items); error bars in the charts are the bootstrap intervals. "
            "Majority accuracy scores each edit once: correct when more than half of its "
            "raters said so, a tie counting as not correct."
        )
    if PAIRWISE in kinds:
        text = (
            "Side-by-side win rates leave out no-preference answers; their p-values come from "
            "exact two-sided binomial tests against 0.5, corrected with Holm's method over all "
            f"comparisons (family-wise alpha = {alpha}). Position bias is the share of decided "
            "judgments won by the image shown on the left."
        )
        if "bradley_terry" in tables:
            text += (
                " Bradley–Terry log-strengths (maximum likelihood, summing to zero) rank the "
                "models, with item-clustered bootstrap intervals."
            )
        statistics.append(text)
    statistics.append(
        "Agreement per question type: Krippendorff's alpha (nominal), Fleiss' kappa and raw "
        "pairwise agreement."
    )
    if "auto_judge_vs_humans" in tables:
        statistics.append(
            "The automatic judge's verdicts are aggregated like the human judgments and "
            "compared with the human majority per edit (share agreeing with a Wilson "
            "interval; Cohen's kappa with a Wald interval)."
        )
    return "\n\n".join(" ".join(p) for p in (design, data, statistics) if p)


# --------------------------------------------------------------------------- JSON and CSV


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and missing become None, numpy scalars Python ones."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    return str(value)


def _settings_json(settings: StudySettings) -> dict[str, Any]:
    return {
        "task_kinds": list(settings.task_kinds),
        "prompt_types": list(settings.prompt_types),
        "raters_per_unit": settings.raters_per_unit,
        "gold_rate": settings.gold_rate,
        "exclusion_rules": dict(settings.exclusion_rules),
        "models": list(settings.models),
        "launched_at": settings.launched_at,
        "closed_at": settings.closed_at,
    }


def report_to_json(report: Report) -> str:
    """The whole report as JSON.

    Every table is ``{"title", "description", "methods", "columns", "rows"}`` with one
    object per row; ``methods`` names the method and the ``n`` column of each number. NaN
    becomes ``null``; keys are sorted, so equal reports give equal text.

    Parameters
    ----------
    report : Report

    Returns
    -------
    str
        Indented JSON text.
    """
    document = {
        "format": _JSON_FORMAT,
        "study": {"name": report.study, "settings": _settings_json(report.settings)},
        "analysis": {
            "task_kinds": list(report.task_kinds),
            "models": list(report.models),
            "prompt_types": list(report.prompt_types),
            "n_resamples": report.n_resamples,
            "seed": report.seed,
            "confidence": report.confidence,
            "alpha": report.alpha,
        },
        "methods_text": report.methods_text,
        "tables": {
            name: {
                "title": table.title,
                "description": table.description,
                "methods": dict(table.methods),
                "columns": [str(c) for c in table.frame.columns],
                "rows": table.frame.to_dict(orient="records"),
            }
            for name, table in report.tables.items()
        },
    }
    return json.dumps(
        _jsonable(document), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False
    )


def report_to_csv(report: Report, folder: Path) -> list[Path]:
    """Write one CSV per table (``<name>.csv``) into ``folder``, created if needed.

    Parameters
    ----------
    report : Report
    folder : pathlib.Path

    Returns
    -------
    list of pathlib.Path
        The files written, in report order. Missing values are empty cells.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in report.tables.items():
        path = folder / f"{name}.csv"
        table.frame.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths


def report_to_html(report: Report) -> str:
    """The report as one self-contained HTML page; see :func:`analysis.plots.render_html`.

    Parameters
    ----------
    report : Report

    Returns
    -------
    str
        The HTML document.
    """
    # Imported here: plots imports this module, and matplotlib loads only when HTML is asked for.
    from analysis.plots import render_html

    return render_html(report)
