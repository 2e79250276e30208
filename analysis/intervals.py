"""Confidence intervals for proportions and item-clustered means.

Two interval families are offered, and the report shows both because they answer different
questions:

* :func:`wilson` treats every judgment as an independent Bernoulli trial. It is the right
  interval for one trial per item, and too narrow when several raters judge the same item
  (judgments of one item are correlated through the item's difficulty).
* :func:`clustered_bootstrap` resamples whole clusters (benchmark items) with replacement, so
  the between-item variation is carried into the interval.

Every function returns an :class:`Estimate`. When there is no data the estimate and bounds
are NaN, ``n`` is 0 and ``note`` is :data:`NO_DATA`, so that a caller can print "no data"
instead of catching an exception.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "DEGENERATE_SINGLE_CLUSTER",
    "NO_DATA",
    "Estimate",
    "clustered_bootstrap",
    "no_data",
    "wilson",
]

#: ``Estimate.note`` when there were no observations.
NO_DATA = "no data"
#: ``Estimate.note`` when all observations came from one cluster.
DEGENERATE_SINGLE_CLUSTER = (
    "single cluster: between-cluster variation cannot be estimated, low == high == estimate"
)

_STATISTICS = ("mean",)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval.

    Attributes
    ----------
    estimate : float
        The point estimate (NaN when ``n == 0``).
    low, high : float
        Interval bounds (NaN when ``n == 0``).
    method : str
        How the interval was made, e.g. ``"wilson"`` or ``"cluster-bootstrap-percentile"``.
    n : int
        Number of observations the estimate rests on.
    confidence : float
        Nominal coverage of the interval.
    n_clusters : int or None
        Number of clusters (items) for clustered methods, None otherwise.
    note : str
        Empty when nothing unusual happened; otherwise a sentence for the reader
        (:data:`NO_DATA`, :data:`DEGENERATE_SINGLE_CLUSTER`, ...).
    """

    estimate: float
    low: float
    high: float
    method: str
    n: int
    confidence: float = 0.95
    n_clusters: int | None = None
    note: str = ""

    @property
    def has_data(self) -> bool:
        """Whether the estimate rests on at least one observation."""
        return self.n > 0


def no_data(method: str, *, confidence: float = 0.95, n_clusters: int | None = None) -> Estimate:
    """Return the "no data" estimate: NaN everywhere, ``n == 0``, ``note == NO_DATA``.

    Parameters
    ----------
    method : str
        The method that would have been used.
    confidence : float
        Nominal coverage that would have been used.
    n_clusters : int or None
        0 for clustered methods, None otherwise.

    Returns
    -------
    Estimate
    """
    nan = math.nan
    return Estimate(nan, nan, nan, method, 0, confidence, n_clusters, NO_DATA)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def wilson(successes: int, n: int, *, confidence: float = 0.95) -> Estimate:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials. ``n == 0`` gives the "no data" estimate (see :func:`no_data`).
    confidence : float
        Nominal two-sided coverage.

    Returns
    -------
    Estimate
        ``method == "wilson"``. The bounds are clipped to [0, 1], so ``0 of n`` has a lower
        bound of exactly 0 and ``n of n`` an upper bound of exactly 1.

    Raises
    ------
    ValueError
        If the counts are negative, not integers, or ``successes > n``.
    """
    _check_confidence(confidence)
    if int(successes) != successes or int(n) != n:
        raise ValueError(f"successes and n must be integers, got {successes!r} and {n!r}")
    successes, n = int(successes), int(n)
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return no_data("wilson", confidence=confidence)
    low, high = proportion_confint(successes, n, alpha=1.0 - confidence, method="wilson")
    # statsmodels can return -1e-17 / 1 + 1e-16 at the edges; a proportion's bound cannot.
    low = 0.0 if successes == 0 else min(max(float(low), 0.0), 1.0)
    high = 1.0 if successes == n else min(max(float(high), 0.0), 1.0)
    return Estimate(successes / n, low, high, "wilson", n, confidence)


def clustered_bootstrap(
    values: npt.ArrayLike,
    clusters: Sequence[Any] | npt.ArrayLike,
    *,
    rng: np.random.Generator,
    statistic: str = "mean",
    confidence: float = 0.95,
    n_resamples: int = 2000,
) -> Estimate:
    """Percentile bootstrap interval for a mean, resampling whole clusters.

    Each resample draws as many clusters as there are, uniformly with replacement, and keeps
    every observation of every drawn cluster; the statistic is the mean over all kept
    observations (a ratio of the drawn clusters' sums to their sizes, so clusters of unequal
    size are weighted by their size, as in the point estimate). The interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled
    statistics (percentile method; no bias correction or acceleration).

    Parameters
    ----------
    values : array_like of float or bool, shape (n,)
        One value per observation (e.g. 1 for a correct judgment). NaN is rejected.
    clusters : array_like, shape (n,)
        Cluster label of each observation (e.g. the benchmark item id).
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same interval.
    statistic : {"mean"}
        The statistic. Only the mean is implemented.
    confidence : float
        Nominal two-sided coverage.
    n_resamples : int
        Number of bootstrap resamples.

    Returns
    -------
    Estimate
        ``method == "cluster-bootstrap-percentile"``, ``n`` observations and ``n_clusters``.
        With no observations: the "no data" estimate. With one cluster every resample equals
        the data, so the interval is degenerate (``low == high == estimate``) and ``note`` is
        :data:`DEGENERATE_SINGLE_CLUSTER`; do not read it as certainty.

    Raises
    ------
    ValueError
        On mismatched lengths, NaN values, an unknown statistic or a bad ``n_resamples``.
    """
    _check_confidence(confidence)
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    method = "cluster-bootstrap-percentile"
    x = np.asarray(values, dtype=float).ravel()
    labels = np.asarray(clusters, dtype=object).ravel()
    if x.shape != labels.shape:
        raise ValueError(
            f"values and clusters must have the same length, got {x.size} and {labels.size}"
        )
    if np.isnan(x).any():
        raise ValueError("values contain NaN")
    if x.size == 0:
        return no_data(method, confidence=confidence, n_clusters=0)

    codes, uniques = pd.factorize(labels)
    k = len(uniques)
    sums = np.bincount(codes, weights=x, minlength=k)
    sizes = np.bincount(codes, minlength=k).astype(float)
    estimate = float(sums.sum() / sizes.sum())
    if k == 1:
        return Estimate(
            estimate, estimate, estimate, method, int(x.size), confidence, 1,
            DEGENERATE_SINGLE_CLUSTER,
        )
    # counts[b, c] = how many times cluster c was drawn in resample b.
    counts = rng.multinomial(k, np.full(k, 1.0 / k), size=n_resamples).astype(float)
    resampled = (counts @ sums) / (counts @ sizes)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return Estimate(estimate, float(low), float(high), method, int(x.size), confidence, k)
