"""Inter-rater agreement on nominal answers.

Input is a long table with one row per rating: ``unit``, ``rater`` and an answer column
(``answer`` by default; pass ``answer="correct"`` for single-image judgments or
``answer="choice"`` for side-by-side ones). A rater rates a unit at most once.

Four statistics are offered:

* Krippendorff's alpha, nominal level, from the ``krippendorff`` package. Units with a single
  rating cannot be paired and are left out (the package does this itself).
* Fleiss' kappa from :func:`statsmodels.stats.inter_rater.fleiss_kappa`, which needs the same
  number of ratings on every unit: units whose rating count differs from the most common
  count (of at least two) are left out, and the note says how many.
* Raw pairwise agreement: over all units with two or more ratings, the share of rater pairs
  of the same unit who gave the same answer (pairs pooled, so a unit with more raters weighs
  more).
* Gwet's AC1 (Gwet, 2008) for several raters: ``(p_a - p_e) / (1 - p_e)`` with ``p_a`` the
  mean over units of the share of agreeing rater pairs and chance agreement
  ``p_e = sum_k pi_k (1 - pi_k) / (Q - 1)``, ``pi_k`` the mean share of category k per unit
  and ``Q`` the number of categories. Unlike kappa and alpha, its chance term shrinks when one
  answer dominates, so it does not collapse when agreement is high but one answer is rare
  (the "prevalence paradox": kappa near 0 beside 95% raw agreement).

:func:`agreement_table` computes all four on the same units: those with the most common
number of ratings (Fleiss' kappa needs equal counts), so the statistics can be compared.

Degenerate cases return NaN with a note instead of raising:

* no unit has two ratings: alpha is undefined (the package raises ``ValueError``), Fleiss'
  kappa is NaN (statsmodels divides by zero), raw agreement has no pairs;
* every answer identical: expected disagreement is zero, so alpha and kappa are 0/0 (the
  package and statsmodels return NaN with a warning; the package raises when the value
  domain has one value). Raw agreement is then 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np
import numpy.typing as npt
import pandas as pd
from statsmodels.stats.inter_rater import fleiss_kappa as _statsmodels_fleiss_kappa

__all__ = [
    "ALL_IDENTICAL",
    "NO_PAIRS",
    "Agreement",
    "agreement_table",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "raw_agreement",
]

#: Note when no unit has two or more ratings.
NO_PAIRS = "no unit has two or more ratings: agreement is undefined"
#: Note when every rating gives the same answer.
ALL_IDENTICAL = "all answers identical: chance agreement is 1, so the statistic is 0/0"


@dataclass(frozen=True)
class Agreement:
    """One agreement statistic.

    Attributes
    ----------
    statistic : str
        ``"krippendorff_alpha_nominal"``, ``"fleiss_kappa"`` or ``"raw_pairwise"``.
    value : float
        The statistic; NaN when undefined (see ``note``).
    n_units : int
        Units that entered the statistic.
    n_ratings : int
        Ratings on those units.
    note : str
        Empty, or why the value is NaN or rests on fewer units than given.
    """

    statistic: str
    value: float
    n_units: int
    n_ratings: int
    note: str = ""


def _counts(
    df: pd.DataFrame, answer: str, categories: Sequence[Any] | None
) -> npt.NDArray[np.float64]:
    """Units x categories matrix of rating counts, after validating the long table."""
    missing = [c for c in ("unit", "rater", answer) if c not in df.columns]
    if missing:
        raise ValueError(f"missing required column(s): {', '.join(missing)}")
    for column in ("unit", "rater", answer):
        if df[column].isna().any():
            raise ValueError(f"column {column!r} has missing values")
    duplicated = df.duplicated(["unit", "rater"])
    if duplicated.any():
        first = df.loc[duplicated, ["unit", "rater"]].iloc[0].tolist()
        raise ValueError(f"a rater rated a unit more than once (unit, rater) = {first}")
    observed = list(pd.unique(df[answer]))
    if categories is None:
        categories = sorted(observed, key=str)
    unknown = sorted(map(str, set(observed) - set(categories)))
    if unknown:
        raise ValueError(f"column {answer!r} has value(s) {unknown} not in categories")
    # A units x categories table of counts by integer codes (what pandas.crosstab gives,
    # without its per-group Python aggregation): rows in sorted unit order.
    unit_codes, units = pd.factorize(df["unit"], sort=True)
    lookup = {value: code for code, value in enumerate(categories)}
    answer_codes = pd.Series(df[answer].to_numpy(), dtype=object).map(lookup)
    n_categories = len(categories)
    flat = unit_codes.astype(np.int64) * n_categories + answer_codes.to_numpy(dtype=np.int64)
    counts: npt.NDArray[np.float64] = (
        np.bincount(flat, minlength=len(units) * n_categories)
        .reshape(len(units), n_categories)
        .astype(float)
    )
    return counts


def _pairable(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    kept: npt.NDArray[np.float64] = counts[counts.sum(axis=1) >= 2]
    return kept


def _undefined(statistic: str, counts: npt.NDArray[np.float64]) -> Agreement | None:
    """The NaN result for the degenerate cases, or None when the statistic is defined."""
    if len(counts) == 0:
        return Agreement(statistic, np.nan, 0, 0, NO_PAIRS)
    if (counts.sum(axis=0) > 0).sum() < 2:
        return Agreement(statistic, np.nan, len(counts), int(counts.sum()), ALL_IDENTICAL)
    return None


def krippendorff_alpha(
    df: pd.DataFrame, *, answer: str = "answer", categories: Sequence[Any] | None = None
) -> Agreement:
    """Krippendorff's alpha for nominal answers.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table with ``unit``, ``rater`` and the answer column.
    answer : str
        Name of the answer column.
    categories : sequence, optional
        All possible answers; by default the observed ones. Answers outside it raise.

    Returns
    -------
    Agreement
        ``statistic == "krippendorff_alpha_nominal"``; NaN with a note when undefined.
    """
    return _krippendorff_alpha(_pairable(_counts(df, answer, categories)))


def _krippendorff_alpha(counts: npt.NDArray[np.float64]) -> Agreement:
    statistic = "krippendorff_alpha_nominal"
    undefined = _undefined(statistic, counts)
    if undefined is not None:
        return undefined
    value = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    return Agreement(statistic, float(value), len(counts), int(counts.sum()))


def fleiss_kappa(
    df: pd.DataFrame, *, answer: str = "answer", categories: Sequence[Any] | None = None
) -> Agreement:
    """Fleiss' kappa on the units that share the most common number of ratings.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table with ``unit``, ``rater`` and the answer column.
    answer : str
        Name of the answer column.
    categories : sequence, optional
        All possible answers; by default the observed ones.

    Returns
    -------
    Agreement
        ``statistic == "fleiss_kappa"``. Only units with the most common rating count (of at
        least two; the larger count on a tie) enter; the note counts the units left out.
    """
    return _fleiss_kappa(_pairable(_counts(df, answer, categories)))


def _fleiss_kappa(counts: npt.NDArray[np.float64]) -> Agreement:
    statistic = "fleiss_kappa"
    note = ""
    if len(counts):
        per_unit = counts.sum(axis=1).astype(int)
        sizes, frequency = np.unique(per_unit, return_counts=True)
        modal = int(sizes[frequency == frequency.max()].max())
        left_out = int((per_unit != modal).sum())
        counts = counts[per_unit == modal]
        if left_out:
            note = (
                f"{left_out} unit(s) without exactly {modal} ratings left out "
                "(Fleiss' kappa needs equal counts)"
            )
    undefined = _undefined(statistic, counts)
    if undefined is not None:
        return undefined
    value = _statsmodels_fleiss_kappa(counts, method="fleiss")
    return Agreement(statistic, float(value), len(counts), int(counts.sum()), note)


def gwet_ac1(
    df: pd.DataFrame, *, answer: str = "answer", categories: Sequence[Any] | None = None
) -> Agreement:
    """Gwet's AC1 for nominal answers and any number of raters per unit.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table with ``unit``, ``rater`` and the answer column.
    answer : str
        Name of the answer column.
    categories : sequence, optional
        All possible answers (``Q`` is their number); by default the observed ones.

    Returns
    -------
    Agreement
        ``statistic == "gwet_ac1"``; units with one rating are left out. NaN (note
        :data:`NO_PAIRS`) without a unit of two ratings, or with fewer than two categories.
    """
    return _gwet_ac1(_pairable(_counts(df, answer, categories)))


def _gwet_ac1(counts: npt.NDArray[np.float64]) -> Agreement:
    statistic = "gwet_ac1"
    if len(counts) == 0:
        return Agreement(statistic, np.nan, 0, 0, NO_PAIRS)
    q = counts.shape[1]
    if q < 2:
        return Agreement(statistic, np.nan, len(counts), int(counts.sum()), ALL_IDENTICAL)
    per_unit = counts.sum(axis=1)
    observed = float(((counts * (counts - 1)).sum(axis=1) / (per_unit * (per_unit - 1))).mean())
    shares = (counts / per_unit[:, None]).mean(axis=0)
    chance = float((shares * (1 - shares)).sum() / (q - 1))
    value = (observed - chance) / (1 - chance)
    return Agreement(statistic, float(value), len(counts), int(counts.sum()))


def _modal_units(counts: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], str]:
    """The units with the most common rating count (the larger on a tie), and a note on the
    units left out."""
    if not len(counts):
        return counts, ""
    per_unit = counts.sum(axis=1).astype(int)
    sizes, frequency = np.unique(per_unit, return_counts=True)
    modal = int(sizes[frequency == frequency.max()].max())
    left_out = int((per_unit != modal).sum())
    note = (
        f"{left_out} unit(s) without exactly {modal} ratings left out of every statistic "
        "(Fleiss' kappa needs equal counts; all four use the same units)"
        if left_out
        else ""
    )
    kept: npt.NDArray[np.float64] = counts[per_unit == modal]
    return kept, note


def raw_agreement(
    df: pd.DataFrame, *, answer: str = "answer", categories: Sequence[Any] | None = None
) -> Agreement:
    """Share of agreeing rater pairs, pooled over all pairs of all units.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table with ``unit``, ``rater`` and the answer column.
    answer : str
        Name of the answer column.
    categories : sequence, optional
        All possible answers; by default the observed ones.

    Returns
    -------
    Agreement
        ``statistic == "raw_pairwise"``; 1.0 when all answers are identical, NaN (note
        :data:`NO_PAIRS`) when no unit has two ratings.
    """
    return _raw_agreement(_pairable(_counts(df, answer, categories)))


def _raw_agreement(counts: npt.NDArray[np.float64]) -> Agreement:
    if len(counts) == 0:
        return Agreement("raw_pairwise", np.nan, 0, 0, NO_PAIRS)
    per_unit = counts.sum(axis=1)
    agreeing = (counts * (counts - 1)).sum() / 2
    pairs = (per_unit * (per_unit - 1)).sum() / 2
    return Agreement("raw_pairwise", float(agreeing / pairs), len(counts), int(per_unit.sum()))


def agreement_table(
    df: pd.DataFrame,
    by: Sequence[str] = ("question",),
    *,
    answer: str = "answer",
    categories: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """All four statistics per group (e.g. per question type), on the same units.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table with ``unit``, ``rater``, the answer column and the ``by`` columns.
    by : sequence of str
        Grouping columns; empty for one overall row.
    answer : str
        Name of the answer column.
    categories : sequence, optional
        All possible answers, shared by all groups.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``n_units``, ``n_ratings`` (all rows of the
        group), ``n_units_compared`` (the units every statistic is computed on: those with
        the most common rating count of at least two), ``krippendorff_alpha``,
        ``fleiss_kappa``, ``gwet_ac1``, ``raw_agreement``, and a ``note`` joining the
        statistics' notes.
    """
    by = list(by)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"cannot group by missing column(s): {', '.join(missing)}")
    groups = df.groupby(by, sort=True) if by else [((), df)]
    rows = []
    for key, group in groups:
        counts, note = _modal_units(_pairable(_counts(group, answer, categories)))
        results = [
            _krippendorff_alpha(counts),
            _fleiss_kappa(counts),
            _gwet_ac1(counts),
            _raw_agreement(counts),
        ]
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row.update(
            n_units=int(group["unit"].nunique()),
            n_ratings=len(group),
            n_units_compared=len(counts),
            krippendorff_alpha=results[0].value,
            fleiss_kappa=results[1].value,
            gwet_ac1=results[2].value,
            raw_agreement=results[3].value,
            note="; ".join(dict.fromkeys(n for n in [note, *(r.note for r in results)] if n)),
        )
        rows.append(row)
    columns = [
        *by,
        "n_units",
        "n_ratings",
        "n_units_compared",
        "krippendorff_alpha",
        "fleiss_kappa",
        "gwet_ac1",
        "raw_agreement",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)
