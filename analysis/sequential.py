"""Anytime-valid confidence sequences for means of bounded judgments (adaptive studies).

A study that stops a cell once its interval is narrow enough, or a comparison once its
interval excludes one half, looks at its data after every judgment. A fixed-sample interval
read that way loses its coverage (optional stopping); a *confidence sequence* does not: with
probability at least ``1 - alpha`` it covers the mean at every time at once, so it can be
monitored continuously and the study stopped whenever it says so.

The construction here is the predictable plug-in empirical-Bernstein confidence sequence of
Waudby-Smith and Ramdas ("Estimating means of bounded random variables by betting", JRSS B,
2024, Theorem 2) for observations in ``[0, 1]``: with the regularised running mean and
variance

    mu_t = (1/2 + sum_{i<=t} x_i) / (t + 1),
    s2_t = (1/4 + sum_{i<=t} (x_i - mu_i)^2) / (t + 1),

the predictable bets ``lambda_t = min(sqrt(2 log(2/alpha) / (s2_{t-1} t log(1 + t))), c)``,
``v_t = 4 (x_t - m_{t-1})^2`` (``m`` the running mean, 0 before any observation) and
``psi(l) = (-log(1 - l) - l) / 4``, the lower bound at level ``alpha / 2`` is

    sum(lambda_i x_i) / sum(lambda_i)  -  (log(2/alpha) + sum(v_i psi(lambda_i))) / sum(lambda_i)

clipped at 0, and the upper bound is one minus the lower bound of ``1 - x``.
``tests/analysis/test_sequential.py`` checks it against the reference implementation of the
paper's authors.

Judgments on the platform are clustered (``analysis.crossed``): a rater's leniency and an
item's difficulty make judgments of the same item, or by the same rater, alike.
:func:`clustered_confidence_sequence` therefore runs the sequence over *clusters* (each item's
mean judgment, items in the order their judgments completed), the unit the report resamples,
not over single judgments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "METHOD",
    "ConfidenceSequence",
    "clustered_confidence_sequence",
    "confidence_sequence",
]

#: Name of the method in reports and JSON.
METHOD = "predictable-plugin-empirical-bernstein-cs"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ConfidenceSequence:
    """Bounds of a confidence sequence after each observation (index t: t + 1 observations).

    ``low`` and ``high`` are the running intersection (never widening) when the sequence was
    built with ``running_intersection=True``.
    """

    low: Floats
    high: Floats
    alpha: float

    @property
    def final(self) -> tuple[float, float]:
        """Bounds after the last observation; ``(0, 1)`` before any."""
        if not len(self.low):
            return 0.0, 1.0
        return float(self.low[-1]), float(self.high[-1])

    def excludes(self, value: float) -> bool:
        """Whether the current bounds exclude ``value`` (a decided comparison at 0.5)."""
        low, high = self.final
        return value < low or value > high


def confidence_sequence(
    x: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    truncation: float = 0.5,
    running_intersection: bool = True,
) -> ConfidenceSequence:
    """Two-sided predictable plug-in empirical-Bernstein confidence sequence (see module).

    Parameters
    ----------
    x : array_like of float
        Observations in ``[0, 1]``, in the order they arrived.
    alpha : float
        The sequence covers the mean at all times with probability at least ``1 - alpha``.
    truncation : float
        Largest bet ``c`` in ``(0, 1)``; the paper suggests 1/2 or 3/4.
    running_intersection : bool
        Intersect the bounds over time (still valid, never wider than before).

    Raises
    ------
    ValueError
        Observations outside ``[0, 1]`` or NaN, ``alpha`` or ``truncation`` outside ``(0, 1)``.
    """
    values = np.asarray(x, dtype=float).ravel()
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if not 0.0 < truncation < 1.0:
        raise ValueError(f"truncation must lie strictly between 0 and 1, got {truncation!r}")
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise ValueError("observations must lie in [0, 1]")
    if not len(values):
        empty = np.zeros(0)
        return ConfidenceSequence(empty, empty, alpha)
    low = _lower(values, alpha / 2, truncation)
    high = 1.0 - _lower(1.0 - values, alpha / 2, truncation)
    if running_intersection:
        low, high = np.maximum.accumulate(low), np.minimum.accumulate(high)
    return ConfidenceSequence(low, high, alpha)


def _lower(values: Floats, alpha: float, truncation: float) -> Floats:
    """One-sided lower sequence at level ``alpha`` (bounds clipped at 0)."""
    t = np.arange(1, len(values) + 1, dtype=float)
    # The bets: regularised running mean and variance, one observation behind.
    mean_reg = (0.5 + np.cumsum(values)) / (t + 1)
    var = (0.25 + np.cumsum((values - mean_reg) ** 2)) / (t + 1)
    var_before = np.concatenate(([0.25], var[:-1]))
    log_term = math.log(1.0 / alpha)
    with np.errstate(divide="ignore"):
        bets = np.minimum(np.sqrt(2 * log_term / (var_before * t * np.log1p(t))), truncation)
    # The variance increments: the plain running mean one observation behind (0 before any),
    # as in the authors' implementation; any predictable mean keeps the sequence valid.
    mean_before = np.concatenate(([0.0], (np.cumsum(values) / t)[:-1]))
    increments = (values - mean_before) ** 2 * (-np.log1p(-bets) - bets)
    weight = np.cumsum(bets)
    centre = np.cumsum(bets * values) / weight
    lower: Floats = np.maximum(centre - (log_term + np.cumsum(increments)) / weight, 0.0)
    return lower


def clustered_confidence_sequence(
    values: npt.ArrayLike,
    clusters: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    truncation: float = 0.5,
) -> ConfidenceSequence:
    """Confidence sequence for the mean over clusters of the per-cluster mean values.

    Parameters
    ----------
    values : array_like of float
        One value in ``[0, 1]`` per judgment.
    clusters : array_like
        The cluster (the item) of each judgment; clusters enter the sequence in the order of
        their first judgment, each as the mean of its judgments.
    """
    y = np.asarray(values, dtype=float).ravel()
    labels = np.asarray(clusters, dtype=object).ravel()
    if y.shape != labels.shape:
        raise ValueError("values and clusters must have the same length")
    codes, _ = pd.factorize(labels)  # order of first appearance
    if not len(codes):
        return confidence_sequence([], alpha=alpha, truncation=truncation)
    means = np.bincount(codes, weights=y) / np.bincount(codes)
    return confidence_sequence(means, alpha=alpha, truncation=truncation)
