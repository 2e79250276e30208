"""Intervals and tests for means of judgments in a crossed design (items × raters).

On the platform every item is judged by several raters and every rater judges many items, so
judgments are correlated twice over: through the item's difficulty and through the rater's
leniency. An interval that treats judgments as independent (Wilson) or resamples items only
is too narrow when raters differ (``bench/coverage_simulation.py``, ``bench/RESULTS.md``).

The method here is the two-way cluster-robust variance of a mean (Cameron, Gelbach & Miller,
2011): with residuals ``e = y - mean(y)`` and, for a clustering ``G``,
``V_G = G / (G - 1) * sum_g (sum_{n in g} e_n)^2 / N^2``, the variance of the mean is
``V = V_item + V_rater - V_item∩rater`` (the larger one-way variance where that sum is not
positive). This is what statsmodels computes for an
intercept-only OLS with ``cov_type="cluster"`` and two group columns (the tests check it).
The interval is a Wilson score interval on the *effective* sample size
``n_eff = N / deff``, with the design effect ``deff = V / (p (1 - p) / N)`` floored at 1
(never narrower than the independent-judgment interval), and the normal quantile replaced by
Student's t with Satterthwaite's degrees of freedom for the sum of the three cluster
variances (at least ``min(G_item, G_rater) - 1``), which carries the uncertainty of a
variance estimated from few clusters (a team of six raters).

The test of ``mean == 0.5`` inverts the same interval: it rejects at level ``alpha`` exactly
when the ``1 - alpha`` interval excludes 0.5, so a table's "significant" column and its
interval never disagree.

Where the variance cannot be estimated the interval falls back to a stated method, never to
zero width:

* every value 0 or every value 1 (``0 of n``, ``n of n``): ``V = 0``; Wilson on
  ``N / deff`` with the design effect the caller supplies (the report passes the one
  estimated over the whole table), :data:`FALLBACK_DEGENERATE`;
* one rater (or one item): the other clustering only, one-way, :data:`ONE_RATER` /
  :data:`ONE_ITEM`; one item and one rater: Wilson, :data:`ONE_CELL`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import t as student_t

from analysis.intervals import Estimate, no_data

__all__ = [
    "FALLBACK_DEGENERATE",
    "METHOD",
    "ONE_CELL",
    "ONE_ITEM",
    "ONE_RATER",
    "CrossedParts",
    "crossed_estimate",
    "crossed_frame",
    "crossed_groups",
    "crossed_interval",
    "crossed_parts",
    "crossed_test",
    "expected_half_width",
    "groups_frame",
    "table_design_effect",
]

#: ``Estimate.method`` of the two-way interval.
METHOD = "two-way-cluster-wilson"
#: Notes when the design effect could not be estimated from the group itself.
FALLBACK_DEGENERATE = (
    "every judgment agrees (0 of n or n of n): no variance to estimate; Wilson on the "
    "effective sample size under the table's design effect"
)
ONE_RATER = "one rater: rater variation cannot be estimated; items clustered only"
ONE_ITEM = "one item: item variation cannot be estimated; raters clustered only"
ONE_CELL = "one item and one rater: Wilson score interval on the judgments"

Codes = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CrossedParts:
    """Per-group pieces of the two-way variance of a mean; arrays of one entry per group.

    Attributes
    ----------
    n : array of float
        Observations.
    total : array of float
        Sum of the values.
    n_items, n_raters : array of float
        Distinct items and raters (the clusters).
    v_item, v_rater, v_cell : array of float
        ``V_G`` of the item, rater and item × rater clusterings (0 where ``G < 2``).
    n_cells : array of float
        Distinct (item, rater) pairs.
    """

    n: Floats
    total: Floats
    n_items: Floats
    n_raters: Floats
    v_item: Floats
    v_rater: Floats
    v_cell: Floats
    n_cells: Floats

    @property
    def estimate(self) -> Floats:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean: Floats = self.total / self.n
        return mean


def _one_way(group: Codes, cluster: Codes, e: Floats, n: Floats, n_groups: int) -> list[Floats]:
    """``(V_G, G)`` per group for the clustering given by ``cluster`` codes."""
    width = int(cluster.max()) + 1
    if n_groups * width <= max(8 * len(e), 1 << 22):
        # A dense (group, cluster) grid is small: count into it directly.
        sums = np.bincount(group * width + cluster, weights=e, minlength=n_groups * width)
        present = np.bincount(group * width + cluster, minlength=n_groups * width) > 0
        squares = (sums**2).reshape(n_groups, width).sum(axis=1)
        clusters = present.reshape(n_groups, width).sum(axis=1).astype(float)
    else:
        key, _ = pd.factorize(group * width + cluster)
        sums = np.bincount(key, weights=e)
        owner = np.zeros(len(sums), dtype=np.int64)
        owner[key] = group
        squares = np.bincount(owner, weights=sums**2, minlength=n_groups)
        clusters = np.bincount(owner, minlength=n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(clusters > 1, clusters / (clusters - 1) * squares / n**2, 0.0)
    return [v, clusters]


def _cell_codes(item: Codes, rater: Codes) -> Codes:
    """Dense codes ``0 .. C-1`` of the (item, rater) pairs, C the pairs present.

    Dense codes keep ``groups × C`` small enough for :func:`_one_way`'s counting grid on large
    tables, where hashing the sparse products ``item × raters + rater`` of every row for every
    table was the report's largest single cost (bench/RESULTS.md).
    """
    raw = item * (int(rater.max()) + 1) + rater
    width = int(raw.max()) + 1
    if width > max(8 * len(raw), 1 << 22):
        hashed: Codes = pd.factorize(raw)[0].astype(np.int64)
        return hashed
    present = np.zeros(width, dtype=bool)
    present[raw] = True
    dense: Codes = (np.cumsum(present) - 1)[raw]
    return dense


def crossed_groups(
    values: npt.ArrayLike, items: npt.ArrayLike, raters: npt.ArrayLike, groups: npt.ArrayLike
) -> CrossedParts:
    """:class:`CrossedParts` of every group at once (groups numbered ``0 .. max``).

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One value per judgment (1 correct / 0 not, or a win indicator, or a half for a tie).
    items, raters : array_like of int, shape (n,)
        Non-negative integer codes of each judgment's item and rater.
    groups : array_like of int, shape (n,)
        Non-negative group number of each judgment.
    """
    y = np.asarray(values, dtype=float)
    item = np.asarray(items, dtype=np.int64)
    rater = np.asarray(raters, dtype=np.int64)
    group = np.asarray(groups, dtype=np.int64)
    if not (y.shape == item.shape == rater.shape == group.shape):
        raise ValueError("values, items, raters and groups must have the same length")
    if np.isnan(y).any():
        raise ValueError("values contain NaN")
    n_groups = int(group.max()) + 1 if len(group) else 0
    n = np.bincount(group, minlength=n_groups).astype(float)
    total: Floats = np.bincount(group, weights=y, minlength=n_groups).astype(float)
    if not len(y):
        zeros = np.zeros(0)
        return CrossedParts(zeros, zeros, zeros, zeros, zeros, zeros, zeros, zeros)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = y - (total / n)[group]
    v_item, n_items = _one_way(group, item, e, n, n_groups)
    v_rater, n_raters = _one_way(group, rater, e, n, n_groups)
    v_cell, n_cells = _one_way(group, _cell_codes(item, rater), e, n, n_groups)
    return CrossedParts(n, total, n_items, n_raters, v_item, v_rater, v_cell, n_cells)


def crossed_parts(
    values: npt.ArrayLike, items: npt.ArrayLike, raters: npt.ArrayLike
) -> CrossedParts:
    """:class:`CrossedParts` of one mean; items and raters may be any hashable labels."""
    y = np.asarray(values, dtype=float).ravel()
    item_codes, _ = pd.factorize(np.asarray(items, dtype=object).ravel())
    rater_codes, _ = pd.factorize(np.asarray(raters, dtype=object).ravel())
    if not (y.shape == item_codes.shape == rater_codes.shape):
        raise ValueError("values, items and raters must have the same length")
    return crossed_groups(y, item_codes, rater_codes, np.zeros(len(y), dtype=np.int64))


def _variance_and_df(parts: CrossedParts) -> tuple[Floats, Floats, list[str]]:
    """The two-way variance, its degrees of freedom, and a note per group."""
    two_way = parts.v_item + parts.v_rater - parts.v_cell
    # A two-way sum that is not positive cannot be a variance (one component was estimated
    # below zero); the larger one-way variance stands in for it then, and only then (Cameron,
    # Gelbach & Miller's fix). Taking that maximum always was 1-3 points too conservative:
    # crossed tests rejecting a true null 3.8-4.3% instead of 5% (bench/RESULTS.md).
    variance = np.where(two_way > 0, two_way, np.maximum(parts.v_item, parts.v_rater))
    # Degrees of freedom: Satterthwaite's for a sum of the three cluster variances, never
    # fewer than min(G_item, G_rater) - 1. With a team of 6 raters the rater term alone has 5;
    # when the item term dominates the sum has more, and the interval is not needlessly wide
    # (bench/RESULTS.md: 98% coverage with min - 1 alone, 96% with this).
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = (
            parts.v_item**2 / (parts.n_items - 1)
            + parts.v_rater**2 / (parts.n_raters - 1)
            + parts.v_cell**2 / (parts.n_cells - 1)
        )
        satterthwaite = np.where(spread > 0, variance**2 / spread, 0.0)
    df = np.maximum(np.minimum(parts.n_items, parts.n_raters) - 1.0, satterthwaite)
    notes = [""] * len(variance)
    for g in range(len(variance)):
        one_item, one_rater = parts.n_items[g] < 2, parts.n_raters[g] < 2
        if one_item and one_rater:
            variance[g], df[g], notes[g] = math.nan, math.inf, ONE_CELL
        elif one_rater:
            variance[g], df[g], notes[g] = parts.v_item[g], parts.n_items[g] - 1, ONE_RATER
        elif one_item:
            variance[g], df[g], notes[g] = parts.v_rater[g], parts.n_raters[g] - 1, ONE_ITEM
    return variance, df, notes


def _wilson_bounds(p: Floats, n_eff: Floats, crit: Floats) -> tuple[Floats, Floats]:
    """Wilson score bounds (statsmodels' formula) for fractional ``n_eff``."""
    c2 = crit**2
    denom = 1 + c2 / n_eff
    center = (p + c2 / (2 * n_eff)) / denom
    dist = crit * np.sqrt(p * (1 - p) / n_eff + c2 / (4 * n_eff**2)) / denom
    low = np.where(p <= 0, 0.0, np.clip(center - dist, 0.0, 1.0))
    high = np.where(p >= 1, 1.0, np.clip(center + dist, 0.0, 1.0))
    return low, high


def groups_frame(
    parts: CrossedParts, *, confidence: float = 0.95, fallback_design_effect: float = 1.0
) -> pd.DataFrame:
    """Intervals and tests of every group of ``parts`` as a frame, one row per group.

    Columns: ``n``, ``n_items``, ``n_raters``, ``estimate``, ``se`` (two-way standard error),
    ``design_effect``, ``n_effective``, ``df``, ``low``, ``high``, ``p_value`` (of
    ``mean == 0.5``), ``method`` and ``note``. A group without observations has NaN numbers
    and the note "no data".
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    if not fallback_design_effect >= 1.0:
        raise ValueError(f"fallback_design_effect must be at least 1, got {fallback_design_effect}")
    p = parts.estimate
    variance, df, notes = _variance_and_df(parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        binomial = p * (1 - p) / parts.n
        deff = np.maximum(variance / binomial, 1.0)
    degenerate = (binomial <= 0) & (parts.n > 0)
    deff = np.where(degenerate, fallback_design_effect, deff)
    deff = np.where(np.isnan(deff) & (parts.n > 0), 1.0, deff)  # one cell: Wilson
    for g in np.flatnonzero(degenerate):
        notes[g] = FALLBACK_DEGENERATE if not notes[g] else f"{notes[g]}; {FALLBACK_DEGENERATE}"
    df = np.where(df >= 1, df, math.inf)
    crit = student_t.isf((1 - confidence) / 2, df)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = parts.n / deff
        low, high = _wilson_bounds(p, n_eff, crit)
        stat = np.abs(p - 0.5) / np.sqrt(0.25 / n_eff)
    p_value = 2 * student_t.sf(stat, df)
    empty = parts.n == 0
    frame = pd.DataFrame(
        {
            "n": parts.n.astype(np.int64),
            "n_items": parts.n_items.astype(np.int64),
            "n_raters": parts.n_raters.astype(np.int64),
            "estimate": p,
            "se": np.sqrt(np.where(degenerate | empty, np.nan, variance)),
            "design_effect": np.where(empty, np.nan, deff),
            "n_effective": np.where(empty, np.nan, n_eff),
            "df": df,
            "low": np.where(empty, np.nan, low),
            "high": np.where(empty, np.nan, high),
            "p_value": np.where(empty, np.nan, p_value),
            "method": METHOD,
            "note": ["no data" if e else note for e, note in zip(empty, notes, strict=True)],
        }
    )
    return frame


def _single(
    values: npt.ArrayLike,
    items: npt.ArrayLike,
    raters: npt.ArrayLike,
    *,
    confidence: float,
    fallback_design_effect: float,
) -> dict[str, Any]:
    parts = crossed_parts(values, items, raters)
    if not len(parts.n):
        return {}
    frame = groups_frame(
        parts, confidence=confidence, fallback_design_effect=fallback_design_effect
    )
    row: dict[str, Any] = frame.iloc[0].to_dict()
    return row


def crossed_interval(
    values: npt.ArrayLike,
    items: npt.ArrayLike,
    raters: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    fallback_design_effect: float = 1.0,
) -> Estimate:
    """Two-way (items and raters) cluster-robust Wilson interval of a mean of judgments.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        One value per judgment, in [0, 1] (e.g. 1 correct, 0 not).
    items, raters : array_like, shape (n,)
        The item and the rater of each judgment.
    confidence : float
        Nominal two-sided coverage.
    fallback_design_effect : float
        Design effect (>= 1) used where the group's own cannot be estimated (0 of n, n of n).

    Returns
    -------
    Estimate
        ``method == METHOD``; ``n_clusters`` the items; ``note`` names any fallback. Never
        zero width while ``n > 0``.
    """
    row = _single(
        values, items, raters, confidence=confidence, fallback_design_effect=fallback_design_effect
    )
    if not row:
        return no_data(METHOD, confidence=confidence, n_clusters=0)
    return Estimate(
        float(row["estimate"]),
        float(row["low"]),
        float(row["high"]),
        METHOD,
        int(row["n"]),
        confidence,
        int(row["n_items"]),
        str(row["note"]),
    )


def crossed_test(
    values: npt.ArrayLike,
    items: npt.ArrayLike,
    raters: npt.ArrayLike,
    *,
    fallback_design_effect: float = 1.0,
) -> float:
    """Two-sided p-value of ``mean == 0.5`` that matches :func:`crossed_interval`.

    ``|p - 0.5| / sqrt(0.25 / n_eff)`` against Student's t with the interval's degrees of
    freedom: the ``1 - alpha`` interval excludes 0.5 exactly when this is below ``alpha``.
    NaN without data.
    """
    row = _single(
        values, items, raters, confidence=0.95, fallback_design_effect=fallback_design_effect
    )
    return float(row["p_value"]) if row else math.nan


def _components(mu: float, item_sd: float, rater_sd: float) -> tuple[float, float, float]:
    """(rate, item variance, rater variance) on the probability scale, by quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    grid = expit(mu + item_sd * nodes[:, None] + rater_sd * nodes[None, :])
    rate = float(weights @ grid @ weights)
    per_item = grid @ weights
    per_rater = weights @ grid
    return (
        rate,
        float(weights @ (per_item - rate) ** 2),
        float(weights @ (per_rater - rate) ** 2),
    )


def expected_half_width(
    n_items: int,
    raters_per_item: int,
    rate: float,
    *,
    rater_pool: int = 40,
    item_sd: float = 1.2,
    rater_sd: float = 0.6,
    confidence: float = 0.95,
) -> float:
    """Expected half-width of the crossed interval for ``n_items`` × ``K`` judgments at ``rate``.

    The judgments follow the model of ``bench/coverage_simulation.py``: correct with
    probability ``expit(mu + u_item + b_rater)``, ``u ~ N(0, item_sd²)``,
    ``b ~ N(0, rater_sd²)``, ``mu`` solved so that the population rate is ``rate``; each item
    judged by ``raters_per_item`` of ``rater_pool`` raters. The variance of the mean is
    ``V_item / n_items + V_rater / rater_pool + V_rest / (n_items * K)`` (the components on
    the probability scale by Gauss-Hermite quadrature), and the half-width is
    ``t * sqrt(V)`` with the interval's degrees of freedom. For study sizing; the defaults
    are the simulation's crowd designs.
    """
    if n_items < 1 or raters_per_item < 1 or rater_pool < raters_per_item:
        raise ValueError("need n_items >= 1 and 1 <= raters_per_item <= rater_pool")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must lie strictly between 0 and 1, got {rate}")
    mu = brentq(lambda m: _components(m, item_sd, rater_sd)[0] - rate, -30.0, 30.0)
    _, v_item, v_rater = _components(mu, item_sd, rater_sd)
    v_rest = rate * (1 - rate) - v_item - v_rater
    n = n_items * raters_per_item
    raters = min(rater_pool, n)
    variance = v_item / n_items + v_rater / raters + v_rest / n
    variance = max(variance, rate * (1 - rate) / n)
    df = max(min(n_items, raters) - 1, 1)
    return float(student_t.isf((1 - confidence) / 2, df) * math.sqrt(variance))


def crossed_estimate(crossed: dict[str, float | str] | None, confidence: float) -> Estimate:
    """The :class:`Estimate` of one :func:`groups_frame` row (as a dict); "no data" for None."""
    if crossed is None:
        return no_data(METHOD, confidence=confidence, n_clusters=0)
    return Estimate(
        float(crossed["estimate"]),
        float(crossed["low"]),
        float(crossed["high"]),
        METHOD,
        int(crossed["n"]),
        confidence,
        int(crossed["n_items"]),
        str(crossed["note"]),
    )


def table_design_effect(frame: pd.DataFrame) -> float:
    """The design effect to fall back on for a table: the median of its groups' estimable
    design effects (``groups_frame`` rows without a fallback note), at least 1; 1 when none
    is estimable."""
    usable = frame.loc[(frame["note"] == "") & frame["design_effect"].notna(), "design_effect"]
    return max(1.0, float(usable.median())) if len(usable) else 1.0


def crossed_frame(
    values: npt.ArrayLike,
    items: npt.ArrayLike,
    raters: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`groups_frame` of every group, degenerate groups falling back on the design
    effect of the others (:func:`table_design_effect`): what the report's tables use."""
    parts = crossed_groups(values, items, raters, groups)
    first = groups_frame(parts, confidence=confidence)
    fallback = table_design_effect(first)
    if fallback == 1.0:
        return first
    return groups_frame(parts, confidence=confidence, fallback_design_effect=fallback)
