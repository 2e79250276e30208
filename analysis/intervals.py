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

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

__all__ = [
    "DEGENERATE_SINGLE_CLUSTER",
    "NO_DATA",
    "Estimate",
    "cluster_sums_bootstrap",
    "clustered_bootstrap",
    "draw_clusters",
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


@functools.lru_cache(maxsize=16)
def _normal_quantile(confidence: float) -> float:
    """The two-sided critical value ``z`` with ``P(|Z| <= z) = confidence``."""
    return float(norm.isf((1.0 - confidence) / 2.0))


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
    # The formula and order of operations of statsmodels' proportion_confint(method="wilson"),
    # so the bounds are the same numbers; computed here because statsmodels looks up the
    # normal quantile afresh on every call, and a report asks for a thousand intervals.
    crit = _normal_quantile(confidence)
    crit2 = crit**2
    q = successes / n
    denom = 1 + crit2 / n
    center = (q + crit2 / (2 * n)) / denom
    dist = crit * math.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n**2)) / denom
    low, high = center - dist, center + dist
    # Rounding can give -1e-17 / 1 + 1e-16 at the edges; a proportion's bound cannot.
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

    Implementation: the observations are reduced to per-cluster sums and sizes and the
    resamples are drawn all at once, as an ``(n_resamples, n_clusters)`` matrix of cluster
    indices (see :func:`cluster_sums_bootstrap`); each resample's mean is the ratio of the
    gathered sums to the gathered sizes. This is the same estimator as concatenating the
    drawn clusters' rows, without touching the rows.

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
    return cluster_sums_bootstrap(
        sums, sizes, rng=rng, confidence=confidence, n_resamples=n_resamples
    )


def draw_clusters(
    rng: np.random.Generator, k: int, n_resamples: int
) -> npt.NDArray[np.integer[Any]]:
    """``(n_resamples, k)`` cluster indices drawn uniformly with replacement.

    The narrowest integer type that holds ``k - 1`` is used: drawing and gathering 16-bit
    indices is several times faster than 64-bit ones, and the bootstrap of a report draws
    hundreds of millions of them.
    """
    dtype: type[np.integer[Any]] = np.int16 if k <= np.iinfo(np.int16).max else np.int64
    drawn: npt.NDArray[np.integer[Any]] = rng.integers(0, k, size=(n_resamples, k), dtype=dtype)
    return drawn


def _resampled_ratios(
    sums: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.float64],
    drawn: npt.NDArray[np.integer[Any]],
) -> npt.NDArray[np.float64]:
    """``sum(sums[drawn]) / sum(sizes[drawn])`` per row of ``drawn``.

    Counts (whole or half numbers, as in accuracy and win-rate tables) are packed into one
    64-bit integer per cluster, ``2 * sum`` in the high and ``size`` in the low 32 bits, so
    one gather and one sum give both totals exactly; other values take two gathers.
    """
    k = drawn.shape[1]
    doubled = 2.0 * sums
    packable = (
        bool((doubled >= 0).all())
        and bool((doubled == np.round(doubled)).all())
        and bool((sizes == np.round(sizes)).all())
        and k * float(doubled.max()) < 2.0**30
        and k * float(sizes.max()) < 2.0**32
    )
    if not packable:
        ratios: npt.NDArray[np.float64] = np.take(sums, drawn).sum(axis=1) / np.take(
            sizes, drawn
        ).sum(axis=1)
        return ratios
    packed = (doubled.astype(np.int64) << 32) | sizes.astype(np.int64)
    totals = np.take(packed, drawn).sum(axis=1)
    packed_ratios: npt.NDArray[np.float64] = (totals >> 32) / (2.0 * (totals & 0xFFFFFFFF))
    return packed_ratios


def cluster_sums_bootstrap(
    sums: npt.ArrayLike,
    sizes: npt.ArrayLike,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = 2000,
) -> Estimate:
    """:func:`clustered_bootstrap` of a mean from per-cluster totals.

    The mean of the observations depends on each cluster only through the sum of its values
    and its number of observations, so a caller that has already aggregated per cluster
    (e.g. a table with one row per item) gets the same interval without the raw rows.

    Parameters
    ----------
    sums : array_like of float, shape (k,)
        Sum of the values of each cluster.
    sizes : array_like of float, shape (k,)
        Number of observations of each cluster; clusters of size 0 are dropped.
    rng : numpy.random.Generator
        Source of randomness.
    confidence : float
        Nominal two-sided coverage.
    n_resamples : int
        Number of bootstrap resamples.

    Returns
    -------
    Estimate
        As :func:`clustered_bootstrap`: ``method == "cluster-bootstrap-percentile"``, ``n``
        the total size and ``n_clusters`` the clusters of non-zero size.

    Raises
    ------
    ValueError
        On mismatched lengths, NaN or negative sizes, or a bad ``n_resamples``.
    """
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    method = "cluster-bootstrap-percentile"
    s = np.asarray(sums, dtype=float).ravel()
    m = np.asarray(sizes, dtype=float).ravel()
    if s.shape != m.shape:
        raise ValueError(f"sums and sizes must have the same length, got {s.size} and {m.size}")
    if np.isnan(s).any() or np.isnan(m).any() or (m < 0).any():
        raise ValueError("sums must not be NaN and sizes must be non-negative numbers")
    present = m > 0
    s, m = s[present], m[present]
    k = len(s)
    n = round(float(m.sum()))
    if k == 0:
        return no_data(method, confidence=confidence, n_clusters=0)
    estimate = float(s.sum() / m.sum())
    if k == 1:
        return Estimate(
            estimate,
            estimate,
            estimate,
            method,
            n,
            confidence,
            1,
            DEGENERATE_SINGLE_CLUSTER,
        )
    # Each resample draws k cluster indices uniformly with replacement (the same
    # distribution as multinomial counts of k draws over k equally likely clusters) and
    # divides the drawn clusters' total by their total size.
    drawn = draw_clusters(rng, k, n_resamples)
    resampled = _resampled_ratios(s, m, drawn)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return Estimate(estimate, float(low), float(high), method, n, confidence, k)
