"""Preparing a report's inputs: validated frames, resolved models and prompt types.

Internal to :mod:`analysis.report`: :func:`analysis.report.build.build_report` validates each
judgment table once here and splits it into the kept and the whole judgments
(:class:`Split`); the table builders of :mod:`analysis.report.rows` then skip validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from analysis.categories import PROMPT_TYPES
from analysis.report.model import ALL, KEPT, ReportSettings
from analysis.tables import (
    CATEGORY_LEVELS,
    PAIRWISE_COLUMNS,
    SINGLE_COLUMNS,
    UNSPECIFIED_RULE,
    apply_exclusions,
    edit_counts,
    validate_pairwise,
    validate_single,
)

__all__ = [
    "EDIT_KEY",
    "Split",
    "distinct",
    "generator_and_seed",
    "judge_frame",
    "pairwise_frame",
    "per_scope",
    "resolve_models",
    "resolve_prompt_types",
    "single_frame",
]

#: The columns that name one edit.
EDIT_KEY = ["item", "model", "prompt_type"]


@dataclass(frozen=True)
class Split:
    """A validated judgment table, kept and whole, with removal counts per rule.

    ``kept`` has the exclusions applied; ``whole`` is every judgment with none marked
    excluded (the tables refuse excluded rows). ``removed`` and ``removed_raters`` count the
    judgments and distinct raters each rule removed, every configured rule included.
    """

    kept: pd.DataFrame
    whole: pd.DataFrame
    removed: dict[str, int]
    removed_raters: dict[str, int]

    @property
    def n_removed(self) -> int:
        return sum(self.removed.values())

    @classmethod
    def of(cls, frame: pd.DataFrame, rules: Sequence[str]) -> Split:
        kept, removed = apply_exclusions(frame, rules=rules)
        gone = frame.loc[frame["excluded"]]
        per_rule = gone.groupby(gone["exclusion_rule"].fillna(UNSPECIFIED_RULE))["rater"]
        raters = {str(rule): int(n) for rule, n in per_rule.nunique().items()}
        # The tables refuse excluded rows, so "all judgments" is the frame with none marked.
        whole = frame.assign(excluded=False, exclusion_rule=None)
        return cls(kept, whole, removed, {rule: raters.get(rule, 0) for rule in removed})

    def frame(self, scope: str) -> pd.DataFrame:
        """The judgments of ``scope`` (:data:`KEPT` or :data:`ALL`)."""
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
        """:func:`analysis.tables.edit_counts` of the judgments of ``scope``, computed once."""
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


def single_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    """The single-image judgments, compacted and validated; an empty table for None."""
    if df is None or (df.empty and not len(df.columns)):
        df = _empty(SINGLE_COLUMNS).astype({"correct": bool})
    return validate_single(_compact(df, _SINGLE_LABELS))


def pairwise_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    """The side-by-side judgments, compacted and validated; an empty table for None."""
    if df is None or (df.empty and not len(df.columns)):
        df = _empty(PAIRWISE_COLUMNS)
    return validate_pairwise(_compact(df, _PAIRWISE_LABELS))


def judge_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The automatic judge's verdicts, validated, its own exclusions applied."""
    judge, _ = apply_exclusions(single_frame(df))
    doubled = judge.duplicated(EDIT_KEY)
    if doubled.any():
        first = judge.loc[doubled, EDIT_KEY].iloc[0].tolist()
        raise ValueError(f"the automatic judge has two verdicts on the edit {first}")
    return judge


def resolve_models(
    settings: ReportSettings,
    single: pd.DataFrame,
    pairwise: pd.DataFrame,
    auto: pd.DataFrame | None,
) -> tuple[str, ...]:
    """The report's models: ``settings.models``, or those in the data, sorted.

    Raises ValueError when the data names a model that ``settings.models`` leaves out.
    """
    observed = distinct(single["model"], pairwise["model_a"], pairwise["model_b"])
    if auto is not None:
        observed |= distinct(auto["model"])
    if not settings.models:
        return tuple(sorted(map(str, observed)))
    unknown = sorted(map(str, observed - set(settings.models)))
    if unknown:
        raise ValueError(f"the judgments name model(s) {unknown} missing from settings.models")
    return settings.models


def resolve_prompt_types(
    settings: ReportSettings, frames: Sequence[pd.DataFrame]
) -> tuple[str, ...]:
    """The report's prompt types: ``settings.prompt_types``, or those in ``frames``.

    Raises ValueError when a frame holds a prompt type the settings leave out.
    """
    observed = distinct(*(frame["prompt_type"] for frame in frames))
    if not settings.prompt_types:
        return tuple(p for p in PROMPT_TYPES if p in observed)
    unknown = sorted(observed - set(settings.prompt_types))
    if unknown:
        raise ValueError(
            f"the single-image judgments have prompt type(s) {unknown} "
            "missing from settings.prompt_types"
        )
    return settings.prompt_types


def distinct(*columns: pd.Series) -> set[Any]:
    """The distinct values of the columns (iterating a million-row column is slow)."""
    return set().union(*(column.unique() for column in columns))


def generator_and_seed(rng: np.random.Generator | int) -> tuple[np.random.Generator, int | None]:
    """The generator to draw from, and the seed when ``rng`` is one (recorded in the report)."""
    if isinstance(rng, np.random.Generator):
        return rng, None
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), int(rng)
    raise TypeError(f"rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")


def per_scope(
    split: Split, compute: Callable[..., pd.DataFrame], *, edits: bool = False, **kwargs: Any
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
