"""The engine of the accuracy and majority tables: per-item cells, groups, summaries.

:func:`item_cells` sums a table's rows per (group, item); :func:`table_from_cells` turns those
cells into one row per group (or per combination of levels) with counts, accuracy, a Wilson
interval and an item-clustered bootstrap interval. Groups are found from integer codes, not
with :meth:`pandas.DataFrame.groupby`, where that applies: the tables group a few thousand
rows dozens of times. :mod:`analysis.tables` validates the input and calls these.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.categories import CATEGORY_LEVELS, UNKNOWN
from analysis.crossed import crossed_frame
from analysis.intervals import cluster_sums_bootstrap, wilson

__all__ = [
    "CROSSED_COLUMNS",
    "crossed_columns",
    "item_cells",
    "label_codes",
    "table_from_cells",
]

#: The columns :func:`crossed_columns` adds to a table (besides the grouping columns).
CROSSED_COLUMNS = (
    "n_raters",
    "design_effect",
    "crossed_low",
    "crossed_high",
    "crossed_method",
    "crossed_note",
)


def _group_ids(
    df: pd.DataFrame, columns: Sequence[str]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """Group number of each row (groups numbered in sorted key order) and each group's first
    row, from integer codes; None where that does not apply (missing or unsortable values,
    too many combinations), and the caller falls back to :meth:`pandas.DataFrame.groupby`.

    The tables group a few thousand per-item rows dozens of times; pandas' groupby costs
    tens of milliseconds a call there, integer codes well under one.
    """
    combined = np.zeros(len(df), dtype=np.int64)
    span = 1
    for column in columns:
        values = df[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            # Category order is the order groupby(sort=True) gives categoricals.
            codes = values.cat.codes.to_numpy(dtype=np.int64)
            n = len(values.cat.categories)
        else:
            try:
                factorized, uniques = pd.factorize(values, sort=True)
            except TypeError:
                return None
            codes, n = factorized.astype(np.int64), len(uniques)
        span *= max(n, 1)
        if (codes < 0).any() or span > 2**62:
            return None
        combined = combined * n + codes
    _, first, ids = np.unique(combined, return_index=True, return_inverse=True)
    return ids.ravel(), first


def _groups(
    df: pd.DataFrame, by: list[str], levels: Mapping[str, Sequence[Any]] | None
) -> Iterator[tuple[tuple[Any, ...], npt.NDArray[np.intp]]]:
    """Yield ``(key, row positions)`` per group: observed groups, or the full level product.

    Positions keep the frame's row order within a group.
    """
    if not by:
        yield (), np.arange(len(df))
        return
    found = _group_ids(df, by)
    observed_groups: dict[tuple[Any, ...], npt.NDArray[np.intp]] = {}
    if found is None:
        positions = pd.Series(np.arange(len(df)), index=df.index)
        for key, rows in positions.groupby([df[column] for column in by], sort=True):
            observed_groups[tuple(key)] = rows.to_numpy()
    else:
        ids, first = found
        order = np.argsort(ids, kind="stable")
        bounds = np.searchsorted(ids[order], np.arange(len(first) + 1))
        keys = df[by].iloc[first].itertuples(index=False, name=None)
        for g, key in enumerate(keys):
            observed_groups[tuple(key)] = order[bounds[g] : bounds[g + 1]]
    if levels is None:
        yield from observed_groups.items()
        return
    axes: list[list[Any]] = []
    for column in by:
        observed = list(pd.unique(df[column]))
        if column in levels:
            unknown = sorted(map(str, set(observed) - set(levels[column])))
            if unknown:
                raise ValueError(f"column {column!r} has value(s) {unknown} missing from levels")
            axes.append(list(levels[column]))
        else:
            axes.append(sorted(observed))
    empty = np.arange(0)
    for key in itertools.product(*axes):
        yield key, observed_groups.get(key, empty)


def _summary(
    sums: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.float64],
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> dict[str, Any]:
    """Counts, accuracy, Wilson and item-clustered bootstrap bounds of a group.

    ``sums`` and ``sizes`` hold, per item of the group, the correct observations and all
    observations: the accuracy and both intervals depend on the rows only through them.
    """
    correct = round(float(sums.sum()))
    w = wilson(correct, round(float(sizes.sum())), confidence=confidence)
    b = cluster_sums_bootstrap(sums, sizes, rng=rng, confidence=confidence, n_resamples=n_resamples)
    note = w.note or b.note
    if b.has_data and b.low == b.high:
        # Every resample gave the same value (0 of n, n of n, one item): never print a
        # zero-width interval; fall back on Wilson over the observations and say so.
        b = w
        note = _join(note, DEGENERATE_BOOTSTRAP)
    return {
        "n_items": int((sizes > 0).sum()),
        "correct": correct,
        "accuracy": w.estimate,
        "wilson_low": w.low,
        "wilson_high": w.high,
        "bootstrap_low": b.low,
        "bootstrap_high": b.high,
        "note": note,
    }


#: Note of a group whose bootstrap interval had zero width and was replaced by Wilson's.
DEGENERATE_BOOTSTRAP = "bootstrap degenerate (every resample equal): Wilson interval shown"


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def label_codes(column: pd.Series) -> npt.NDArray[np.int64]:
    """Non-negative integer codes of a label column: a categorical's own codes (no hashing;
    unused categories leave gaps, which the counting tolerates), else factorized."""
    codes: npt.NDArray[np.int64]
    if isinstance(column.dtype, pd.CategoricalDtype) and not column.isna().any():
        codes = column.cat.codes.to_numpy(dtype=np.int64)
    else:
        codes = pd.factorize(column)[0].astype(np.int64)
    return codes


def crossed_columns(
    df: pd.DataFrame, by: list[str], value: str, *, confidence: float, counts: bool = False
) -> pd.DataFrame:
    """Two-way (item and rater) clustered intervals of the mean of ``value`` per group.

    One row per observed group of ``by`` with the ``by`` columns and
    :data:`CROSSED_COLUMNS` (see :func:`analysis.crossed.crossed_frame`); ``df`` needs
    ``item`` and ``rater`` columns. Merge it onto a table by the ``by`` columns. With
    ``counts``, also ``n``, ``total`` (sum of the values), ``n_items`` and ``estimate``.
    """
    columns = [*by, *(("n", "total", "n_items", "estimate") if counts else ()), *CROSSED_COLUMNS]
    if df.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    if by:
        found = _group_ids(df, by)
        if found is None:
            ids = df.groupby(by, sort=True, observed=True).ngroup().to_numpy()
            first = np.unique(ids, return_index=True)[1]
        else:
            ids, first = found
        keys = df[by].iloc[first].reset_index(drop=True).astype(object)
    else:
        ids, keys = np.zeros(len(df), dtype=np.int64), pd.DataFrame(index=[0])
    items, raters = label_codes(df["item"]), label_codes(df["rater"])
    values = df[value].to_numpy(dtype=float)
    result = crossed_frame(values, items, raters, ids, confidence=confidence)
    out = keys.assign(
        n_raters=result["n_raters"].to_numpy(),
        design_effect=result["design_effect"].to_numpy(),
        crossed_low=result["low"].to_numpy(),
        crossed_high=result["high"].to_numpy(),
        crossed_method=result["method"].to_numpy(),
        crossed_note=result["note"].to_numpy(),
    )
    if counts:
        out = out.assign(
            n=result["n"].to_numpy(),
            total=(result["estimate"] * result["n"]).round().to_numpy(),
            n_items=result["n_items"].to_numpy(),
            estimate=result["estimate"].to_numpy(),
        )
    return out[columns]


def item_cells(
    df: pd.DataFrame, by: list[str], sums: Mapping[str, tuple[str, str]]
) -> pd.DataFrame:
    """One row per group of ``by`` and item, with the named aggregations ``sums``."""
    key = by if "item" in by else [*by, "item"]
    if df.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in [*key, *sums]})
    found = _group_ids(df, key)
    if found is None:
        cells = df.groupby(key, sort=True, observed=True).agg(**sums)
        return cells.reset_index()
    # The rows of each (group, item) in sorted key order, as groupby(sort=True) gives them, so
    # the items of a group meet the bootstrap in the same order for string and categorical
    # labels (the report's frames).
    ids, first = found
    out = df[key].iloc[first].reset_index(drop=True)
    for name, (column, how) in sums.items():
        if how == "size":
            out[name] = np.bincount(ids, minlength=len(first))
        else:
            weights = df[column].to_numpy(dtype=float)
            out[name] = np.bincount(ids, weights=weights, minlength=len(first))
    return out


def table_from_cells(
    cells: pd.DataFrame,
    by: list[str],
    *,
    majority: bool,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    levels: Mapping[str, Sequence[Any]] | None,
) -> pd.DataFrame:
    """Rows of :func:`analysis.tables.accuracy_table` / ``majority_table`` from cells.

    ``cells`` has the ``by`` columns, ``item``, ``n`` (observations) and ``correct``
    (correct observations), and for majority tables ``n_judgments`` and ``n_ties``.
    """
    rows = []
    n_all = cells["n"].to_numpy(dtype=float)
    correct_all = cells["correct"].to_numpy(dtype=float)
    if majority:
        judgments_all = cells["n_judgments"].to_numpy(dtype=float)
        ties_all = cells["n_ties"].to_numpy(dtype=float)
    for key, positions in _groups(cells, by, levels):
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        sizes = n_all[positions]
        if majority:
            row["n_edits"] = round(float(sizes.sum()))
            row["n_judgments"] = round(float(judgments_all[positions].sum()))
            row["n_ties"] = round(float(ties_all[positions].sum()))
        else:
            row["n_judgments"] = round(float(sizes.sum()))
        row.update(
            _summary(
                correct_all[positions],
                sizes,
                rng=rng,
                n_resamples=n_resamples,
                confidence=confidence,
            )
        )
        rows.append(row)
    head = ["n_edits", "n_judgments", "n_ties"] if majority else ["n_judgments"]
    columns = [
        *by,
        *head,
        "n_items",
        "correct",
        "accuracy",
        "wilson_low",
        "wilson_high",
        "bootstrap_low",
        "bootstrap_high",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def observed_levels(column: str, *frames: pd.DataFrame | None) -> tuple[str, ...]:
    """:data:`CATEGORY_LEVELS` of ``column``, and ``UNKNOWN`` last where a frame holds it.

    Report tables list every known level (empty ones too) but ``unknown`` (items an importer
    could not place) only when there are such items.
    """
    known = CATEGORY_LEVELS[column]
    seen = any(
        frame is not None and column in frame and (frame[column] == UNKNOWN).any()
        for frame in frames
    )
    # Prompt types are never unknown: only the items' own categories can be.
    return (*known, UNKNOWN) if seen and column != "prompt_type" else known
