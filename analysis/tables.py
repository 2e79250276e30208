"""The tidy judgment tables analysis reads, and per-category accuracy tables.

Input contract
--------------
Every analysis function takes a :class:`pandas.DataFrame` with one row per judgment.

**Single-image judgments** (validated by :func:`validate_single`):

============== ==================================================================
column         meaning
============== ==================================================================
unit           study unit id (str or int); one unit = one edit and its questions
item           benchmark item id (str); the cluster for bootstrap intervals
model          model name (str)
prompt_type    ``mask_simple`` | ``mask_rich`` | ``full_image``
object_type    ``common`` | ``rare`` | ``text``
attribute_type ``material`` | ``color`` | ``shape`` | ``size`` | ``count``
scene          ``indoor`` | ``outdoor``
style          ``realistic`` | ``painting``
source         ``generated`` | ``natural``
rater          rater id (str)
correct        bool: the judgment's overall verdict (every check answered "yes")
excluded       optional bool: the judgment is removed by a quality-control rule
exclusion_rule optional str or None: the rule that removed it
============== ==================================================================

**Side-by-side judgments** (validated by :func:`validate_pairwise`):

============== ==================================================================
column         meaning
============== ==================================================================
unit           study unit id (one unit = one pair of edits of one item)
item           benchmark item id (str)
prompt_type    the prompt type both edits answered (side-by-side uses ``mask_rich``)
model_a        first model of the pair; ``model_a < model_b`` (string order)
model_b        second model of the pair
left           ``a`` | ``b``: which model's edit was shown on the left
rater          rater id (str)
question       ``alignment`` | ``realism``
choice         ``a`` | ``b`` | ``none`` (``none`` = no preference, a tie)
excluded       optional bool
exclusion_rule optional str or None
============== ==================================================================

Required columns may not hold missing values. A unit belongs to exactly one item, model (or
pair) and prompt type; an item has one value of each category; a rater judges a unit once
(once per question for side-by-side). Violations raise :class:`ValueError` naming the column
and the bad values. Extra columns are kept and ignored.

Exclusions are applied explicitly with :func:`apply_exclusions`; the table functions refuse
frames that still contain excluded rows, so excluded judgments are never counted silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.categories import CATEGORY_LEVELS, PROMPT_TYPES, UNKNOWN
from analysis.grouping import (
    CROSSED_COLUMNS,
    crossed_columns,
    item_cells,
    observed_levels,
    table_from_cells,
)

__all__ = [
    "CATEGORY_LEVELS",
    "CHOICES",
    "PAIRWISE_COLUMNS",
    "QUESTIONS",
    "SINGLE_COLUMNS",
    "UNSPECIFIED_RULE",
    "accuracy_from_edit_counts",
    "accuracy_table",
    "apply_exclusions",
    "edit_counts",
    "majority_table",
    "majority_votes",
    "observed_levels",
    "validate_pairwise",
    "validate_single",
    "with_crossed",
]

QUESTIONS = ("alignment", "realism")
CHOICES = ("a", "b", "none")
SIDES = ("a", "b")

SINGLE_COLUMNS = (
    "unit",
    "item",
    "model",
    "prompt_type",
    "object_type",
    "attribute_type",
    "scene",
    "style",
    "source",
    "rater",
    "correct",
)
PAIRWISE_COLUMNS = (
    "unit",
    "item",
    "prompt_type",
    "model_a",
    "model_b",
    "left",
    "rater",
    "question",
    "choice",
)
#: Rule name counted for an excluded judgment whose ``exclusion_rule`` is missing.
UNSPECIFIED_RULE = "unspecified"

_ITEM_COLUMNS = ("object_type", "attribute_type", "scene", "style", "source")
_EDIT_KEY = ("item", "model", "prompt_type")
_NOT_GROUPABLE = ("correct", "excluded", "exclusion_rule")


# --------------------------------------------------------------------------- validation


def _require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"missing required column(s): {', '.join(missing)}")
    for column in columns:
        if df[column].isna().any():
            raise ValueError(f"column {column!r} has missing values")


def _require_levels(df: pd.DataFrame, column: str, allowed: Sequence[str]) -> None:
    bad = sorted({str(v) for v in df[column].unique()} - set(allowed))
    if bad:
        raise ValueError(f"column {column!r} has unknown value(s) {bad}; allowed: {list(allowed)}")


def _require_bool(df: pd.DataFrame, column: str) -> None:
    values = df[column]
    if pd.api.types.is_bool_dtype(values):
        return
    if not all(isinstance(v, bool | np.bool_) for v in values):
        raise ValueError(f"column {column!r} must hold booleans (True/False)")


def _require_one_per(df: pd.DataFrame, key: str | list[str], columns: Sequence[str]) -> None:
    """Raise unless each ``key`` group has a single value of every column."""
    if df.empty:
        return
    # Fast check by integer codes: a key group is constant in a column when its rows make a
    # single distinct (group, value) pair. Only a failing frame pays for the labelled count.
    groups = df.groupby(key, sort=False).ngroup().to_numpy(dtype=np.int64)
    n_groups = int(groups.max()) + 1
    constant = True
    for column in columns:
        codes, uniques = pd.factorize(df[column])
        pairs = np.unique(groups * (len(uniques) + 1) + (codes + 1))
        if len(pairs) != n_groups:
            constant = False
            break
    if constant:
        return
    counts = df.groupby(key, sort=False)[list(columns)].nunique()
    for column in columns:
        clashing = counts.index[counts[column] > 1].tolist()
        if clashing:
            raise ValueError(
                f"column {column!r} is not constant within {key!r}; e.g. {clashing[:3]}"
            )


def _with_exclusion_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "excluded" in out.columns:
        if out["excluded"].isna().any():
            raise ValueError("column 'excluded' has missing values")
        _require_bool(out, "excluded")
        out["excluded"] = out["excluded"].astype(bool)
    elif "exclusion_rule" in out.columns:
        out["excluded"] = out["exclusion_rule"].notna()
    else:
        out["excluded"] = False
    if "exclusion_rule" not in out.columns:
        out["exclusion_rule"] = None
    # The distinct rules are few; iterating every row of a large frame is slow.
    rules = out["exclusion_rule"].dropna().unique()
    if not all(isinstance(r, str) for r in rules):
        raise ValueError("column 'exclusion_rule' must hold strings or None")
    return out


def validate_single(df: pd.DataFrame) -> pd.DataFrame:
    """Check a single-image judgment table against the input contract.

    Parameters
    ----------
    df : pandas.DataFrame
        Single-image judgments (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        A copy with ``correct`` and ``excluded`` as bool and an ``exclusion_rule`` column
        (None where absent).

    Raises
    ------
    ValueError
        Naming the missing column, the column with missing values or the bad values.
    """
    _require_columns(df, SINGLE_COLUMNS)
    for column, allowed in CATEGORY_LEVELS.items():
        # An imported item the importer could not place is in category UNKNOWN.
        _require_levels(df, column, (*allowed, UNKNOWN) if column in _ITEM_COLUMNS else allowed)
    _require_bool(df, "correct")
    out = _with_exclusion_columns(df)
    out["correct"] = out["correct"].astype(bool)
    _require_one_per(out, "item", _ITEM_COLUMNS)
    _require_one_per(out, "unit", list(_EDIT_KEY))
    duplicated = out.duplicated(["unit", "rater"])
    if duplicated.any():
        first = out.loc[duplicated, ["unit", "rater"]].iloc[0].tolist()
        raise ValueError(f"a rater judged a unit more than once (unit, rater) = {first}")
    return out


def validate_pairwise(df: pd.DataFrame) -> pd.DataFrame:
    """Check a side-by-side judgment table against the input contract.

    Parameters
    ----------
    df : pandas.DataFrame
        Side-by-side judgments (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        A copy with ``excluded`` as bool and an ``exclusion_rule`` column.

    Raises
    ------
    ValueError
        Naming the missing column, the column with missing values or the bad values,
        including a pair that is not in order (``model_a < model_b``).
    """
    _require_columns(df, PAIRWISE_COLUMNS)
    _require_levels(df, "prompt_type", PROMPT_TYPES)
    _require_levels(df, "left", SIDES)
    _require_levels(df, "question", QUESTIONS)
    _require_levels(df, "choice", CHOICES)
    out = _with_exclusion_columns(df)
    unordered = out["model_a"].astype(str) >= out["model_b"].astype(str)
    if unordered.any():
        pair = out.loc[unordered, ["model_a", "model_b"]].iloc[0].tolist()
        raise ValueError(f"columns 'model_a', 'model_b' must satisfy model_a < model_b; got {pair}")
    _require_one_per(out, "unit", ["item", "prompt_type", "model_a", "model_b"])
    duplicated = out.duplicated(["unit", "rater", "question"])
    if duplicated.any():
        first = out.loc[duplicated, ["unit", "rater", "question"]].iloc[0].tolist()
        raise ValueError(f"a rater answered a unit's question more than once: {first}")
    return out


# --------------------------------------------------------------------------- exclusions


def apply_exclusions(
    df: pd.DataFrame, *, rules: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Remove excluded judgments and count them per rule.

    A row is removed when ``excluded`` is True; when the frame has no ``excluded`` column,
    when ``exclusion_rule`` is not missing. A removed row without a rule is counted under
    :data:`UNSPECIFIED_RULE`. A rule on a kept row (``excluded`` False) is ignored: the flag
    decides.

    Parameters
    ----------
    df : pandas.DataFrame
        Either judgment table; only the exclusion columns are read here.
    rules : sequence of str
        Rule names to report even when they removed nothing (count 0).

    Returns
    -------
    kept : pandas.DataFrame
        The kept rows, with ``excluded`` all False.
    removed : dict of str to int
        Judgments removed per rule, sorted by rule name.
    """
    marked = _with_exclusion_columns(df)
    removed_rows = marked.loc[marked["excluded"]]
    counts = dict.fromkeys(rules, 0)
    per_rule = removed_rows["exclusion_rule"].fillna(UNSPECIFIED_RULE).value_counts()
    for rule, count in per_rule.items():
        counts[str(rule)] = int(count)
    kept = marked.loc[~marked["excluded"]].copy()
    return kept, dict(sorted(counts.items()))


# --------------------------------------------------------------------------- tables


def _check_by(df: pd.DataFrame, by: Sequence[str], allowed: Sequence[str] | None) -> list[str]:
    by = list(by)
    for column in by:
        if column not in df.columns:
            raise ValueError(f"cannot group by {column!r}: no such column")
        if column in _NOT_GROUPABLE or (allowed is not None and column not in allowed):
            raise ValueError(f"cannot group by {column!r}")
    if len(set(by)) != len(by):
        raise ValueError(f"duplicate grouping column in {by}")
    return by


def _refuse_excluded(df: pd.DataFrame) -> None:
    if df["excluded"].any():
        raise ValueError("the table contains excluded judgments; call apply_exclusions() first")


def accuracy_table(
    df: pd.DataFrame,
    by: Sequence[str] = (),
    *,
    rng: np.random.Generator,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    levels: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Share of correct judgments per group, with Wilson and item-clustered intervals.

    Parameters
    ----------
    df : pandas.DataFrame
        Single-image judgments with exclusions already applied.
    by : sequence of str
        Grouping columns, e.g. ``["model", "prompt_type", "object_type"]``; empty for one
        overall row.
    rng : numpy.random.Generator
        Drives the bootstrap; groups draw from it in row order.
    n_resamples : int
        Bootstrap resamples per group.
    confidence : float
        Nominal coverage of both intervals.
    levels : mapping of str to sequence, optional
        Full levels of some grouping columns (e.g. :data:`CATEGORY_LEVELS`). When given, the
        table has one row per combination of levels (observed values for grouping columns
        not in the mapping), in level order, and a combination without judgments is a row
        with ``n_judgments == 0``, NaN accuracy and bounds, and ``note == "no data"``.
        When omitted, only observed groups appear, sorted.

    Returns
    -------
    pandas.DataFrame
        Columns: the ``by`` columns, ``n_judgments``, ``n_items``, ``correct``, ``accuracy``,
        ``wilson_low``, ``wilson_high``, ``bootstrap_low``, ``bootstrap_high``, ``note``.
        The bootstrap resamples items (clusters), see
        :func:`analysis.intervals.clustered_bootstrap`.

    Raises
    ------
    ValueError
        On an invalid table, excluded rows still present, or a bad grouping column.
    """
    frame = validate_single(df)
    _refuse_excluded(frame)
    by = _check_by(frame, by, None)
    cells = item_cells(frame, by, {"n": ("correct", "size"), "correct": ("correct", "sum")})
    table = table_from_cells(
        cells,
        by,
        majority=False,
        rng=rng,
        n_resamples=n_resamples,
        confidence=confidence,
        levels=levels,
    )
    return with_crossed(table, frame, by, confidence=confidence)


def with_crossed(
    table: pd.DataFrame, frame: pd.DataFrame, by: Sequence[str], *, confidence: float
) -> pd.DataFrame:
    """``table`` (one row per group of ``by``) with the two-way clustered interval columns.

    ``frame`` holds the judgments the table counts (columns ``item``, ``rater``,
    ``correct``): :data:`analysis.grouping.CROSSED_COLUMNS` are computed per group and
    merged on; the crossed interval's note is appended to ``note``. Groups without
    judgments get NaN bounds and no method.
    """
    by = list(by)
    crossed = crossed_columns(frame, by, "correct", confidence=confidence)
    if by:
        # Merge on the table's own key types (the crossed keys come back as objects).
        crossed = crossed.astype({c: table[c].dtype for c in by})
        merged = table.merge(crossed, on=by, how="left", validate="one_to_one")
    else:
        merged = pd.concat([table.reset_index(drop=True), crossed], axis=1)
    extra = merged["crossed_note"].fillna("").astype(str)
    base = merged["note"].fillna("").astype(str)
    merged["note"] = [
        "; ".join(dict.fromkeys(part for part in (a, b) if part and part != "no data"))
        or ("no data" if a == "no data" else "")
        for a, b in zip(base, extra, strict=True)
    ]
    merged["n_raters"] = merged["n_raters"].fillna(0).astype(int)
    columns = [c for c in table.columns if c != "note"]
    return merged[[*columns, *CROSSED_COLUMNS[:-1], "note"]]


def majority_votes(df: pd.DataFrame) -> pd.DataFrame:
    """One row per edit (item, model, prompt type) with its majority verdict.

    An edit is correct when strictly more than half of its judgments say correct. A tie
    (as many correct as not, e.g. 1 of 2) counts as **not correct**: the edit did not
    convince a majority of its raters. Ties are counted so a report can state how many.

    Parameters
    ----------
    df : pandas.DataFrame
        Single-image judgments with exclusions already applied.

    Returns
    -------
    pandas.DataFrame
        Columns: ``item``, ``model``, ``prompt_type``, the item category columns,
        ``n_judgments``, ``n_correct``, ``tie`` (bool) and ``correct`` (bool).
    """
    frame = validate_single(df)
    _refuse_excluded(frame)
    return _votes(edit_counts(frame))


def _votes(edits: pd.DataFrame) -> pd.DataFrame:
    votes = edits.copy()
    votes["tie"] = 2 * votes["n_correct"] == votes["n_judgments"]
    votes["correct"] = 2 * votes["n_correct"] > votes["n_judgments"]
    return votes


def edit_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Judgments and correct judgments per edit (item, model, prompt type).

    Every accuracy and majority table depends on the judgments only through these counts
    (and the item categories), so a caller that builds many tables of one frame (the report)
    aggregates once and passes the result to :func:`accuracy_from_edit_counts`.

    Parameters
    ----------
    frame : pandas.DataFrame
        Single-image judgments **already validated** by :func:`validate_single` (not checked
        again here) and without excluded rows.

    Returns
    -------
    pandas.DataFrame
        Columns: ``item``, ``model``, ``prompt_type``, the item category columns,
        ``n_judgments`` and ``n_correct``; one row per edit, sorted by the edit key.
    """
    if frame.empty:
        columns = [*_EDIT_KEY, *_ITEM_COLUMNS]
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
        return empty.assign(n_judgments=pd.Series(dtype=int), n_correct=pd.Series(dtype=int))
    grouped = frame.groupby(list(_EDIT_KEY), sort=True)
    edits = grouped[list(_ITEM_COLUMNS)].first()
    edits["n_judgments"] = grouped.size()
    edits["n_correct"] = grouped["correct"].sum().astype(int)
    return edits.reset_index()


def accuracy_from_edit_counts(
    edits: pd.DataFrame,
    by: Sequence[str] = (),
    *,
    majority: bool,
    rng: np.random.Generator,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    levels: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """:func:`accuracy_table` (``majority=False``) or :func:`majority_table` from edit counts.

    Gives the same table, drawing the same random numbers, as the function it stands for
    called on the judgments that ``edits`` counts.

    Parameters
    ----------
    edits : pandas.DataFrame
        The output of :func:`edit_counts`.
    by : sequence of str
        Grouping columns among ``item``, ``model``, ``prompt_type`` and the item categories.
    majority : bool
        Score each edit once by its majority vote instead of every judgment.
    rng, n_resamples, confidence, levels
        As in :func:`accuracy_table`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`accuracy_table` or :func:`majority_table`.
    """
    by = _check_by(edits, by, [*_EDIT_KEY, *_ITEM_COLUMNS])
    if majority:
        votes = _votes(edits)
        cells = item_cells(
            votes,
            by,
            {
                "n": ("correct", "size"),
                "correct": ("correct", "sum"),
                "n_judgments": ("n_judgments", "sum"),
                "n_ties": ("tie", "sum"),
            },
        )
    else:
        cells = item_cells(
            edits, by, {"n": ("n_judgments", "sum"), "correct": ("n_correct", "sum")}
        )
    return table_from_cells(
        cells,
        by,
        majority=majority,
        rng=rng,
        n_resamples=n_resamples,
        confidence=confidence,
        levels=levels,
    )


def majority_table(
    df: pd.DataFrame,
    by: Sequence[str] = (),
    *,
    rng: np.random.Generator,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    levels: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Share of edits whose majority vote is correct, per group.

    Each edit (item, model, prompt type) is one observation, scored by
    :func:`majority_votes` (a tie counts as not correct). Intervals and ``levels`` work as in
    :func:`accuracy_table`; the bootstrap clusters are items, which matters when a group
    pools several models or prompt types of the same item.

    Parameters
    ----------
    df : pandas.DataFrame
        Single-image judgments with exclusions already applied.
    by : sequence of str
        Grouping columns among ``item``, ``model``, ``prompt_type`` and the item categories.
    rng : numpy.random.Generator
        Drives the bootstrap.
    n_resamples : int
        Bootstrap resamples per group.
    confidence : float
        Nominal coverage.
    levels : mapping of str to sequence, optional
        Full levels of grouping columns; see :func:`accuracy_table`.

    Returns
    -------
    pandas.DataFrame
        Columns: the ``by`` columns, ``n_edits``, ``n_judgments``, ``n_ties``, ``n_items``,
        ``correct``, ``accuracy``, ``wilson_low``, ``wilson_high``, ``bootstrap_low``,
        ``bootstrap_high``, ``note``.
    """
    frame = validate_single(df)
    _refuse_excluded(frame)
    return accuracy_from_edit_counts(
        edit_counts(frame),
        by,
        majority=True,
        rng=rng,
        n_resamples=n_resamples,
        confidence=confidence,
        levels=levels,
    )
