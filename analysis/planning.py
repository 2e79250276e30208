"""Planning a study before it runs: workload, cost and the precision its size buys.

Pure functions, no Django. The precision figures use the normal approximation on an
*effective* number of judgments, ``n / design_effect``: judgments of one item are
correlated (the report's intervals resample items), so ``K`` judgments of an item are worth
fewer than ``K`` independent ones. :func:`design_effect` gives the usual ``1 + (m - 1) ρ``
for clusters of ``m`` judgments with intra-item correlation ``ρ``; a caller whose interval
method changes (a crossed item × rater design, say) passes its own design effect and the
rest of the plan follows unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from analysis.crossed import expected_half_width

__all__ = [
    "Precision",
    "Workload",
    "crossed_design_effect",
    "design_effect",
    "detectable_difference",
    "interval_half_width",
    "precision",
    "workload",
]


def _check_probability(name: str, value: float, *, open_interval: bool = True) -> None:
    ok = 0 < value < 1 if open_interval else 0 <= value < 1
    if not ok:
        bounds = "strictly between 0 and 1" if open_interval else "at least 0 and below 1"
        raise ValueError(f"{name} must be {bounds}, not {value!r}")


def design_effect(cluster_size: float, icc: float) -> float:
    """Kish's design effect ``1 + (m - 1) * icc`` of clusters of ``m`` correlated judgments.

    Parameters
    ----------
    cluster_size : float
        Judgments per cluster (per item: ``K`` raters per unit times the units of the item
        in the cell), at least 1.
    icc : float
        Intra-cluster correlation, from 0 (independent judgments) to 1.

    Returns
    -------
    float
        The factor by which clustering inflates the variance of a mean, at least 1.
    """
    if cluster_size < 1:
        raise ValueError(f"cluster_size must be at least 1, not {cluster_size!r}")
    if not 0 <= icc <= 1:
        raise ValueError(f"icc must be from 0 to 1, not {icc!r}")
    return 1 + (cluster_size - 1) * icc


def interval_half_width(
    n: int, *, p: float = 0.5, confidence: float = 0.95, design_effect: float = 1.0
) -> float:
    """Expected half-width of a normal-approximation interval for a proportion.

    ``z * sqrt(p (1 - p) * design_effect / n)``; ``p = 0.5`` gives the widest interval, the
    safe figure before any data exist.

    Parameters
    ----------
    n : int
        Judgments behind the proportion (at least 1).
    p : float
        The proportion expected, strictly between 0 and 1.
    confidence : float
        Two-sided confidence level, strictly between 0 and 1.
    design_effect : float
        Variance inflation from clustering (see :func:`design_effect`), at least 1.

    Returns
    -------
    float
        The half-width, on the proportion's scale (0.05 = ±5 points).
    """
    _check_probability("p", p)
    _check_probability("confidence", confidence)
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n!r}")
    if design_effect < 1:
        raise ValueError(f"design_effect must be at least 1, not {design_effect!r}")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    return z * math.sqrt(p * (1 - p) * design_effect / n)


def detectable_difference(
    n: int, *, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> float:
    """Smallest departure of a win rate from 0.5 that a two-sided test detects with ``power``.

    The one-sample test of a proportion against 0.5 (normal approximation, standard error
    under the null): the effect ``d`` solves ``(z_{1-α/2} + z_power) * 0.5 / sqrt(n_eff) = d``
    with ``n_eff = n / design_effect``, ignoring the negligible far-tail rejections.

    Parameters
    ----------
    n : int
        Decisive comparisons of the pair (at least 1).
    alpha : float
        Two-sided significance level.
    power : float
        The wanted probability of rejecting when the win rate is ``0.5 ± d``.
    design_effect : float
        Variance inflation from clustering (see :func:`design_effect`), at least 1.

    Returns
    -------
    float
        ``d``: a win rate of ``0.5 + d`` (or ``0.5 - d``) is detected with that power.
    """
    _check_probability("alpha", alpha)
    _check_probability("power", power)
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n!r}")
    if design_effect < 1:
        raise ValueError(f"design_effect must be at least 1, not {design_effect!r}")
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    return z * 0.5 * math.sqrt(design_effect / n)


@dataclass(frozen=True)
class Precision:
    """What ``n`` judgments of one cell buy (see :func:`precision`)."""

    n: int  # judgments of the cell (a model × prompt type, or a pair of models)
    half_width: float  # expected 95% half-width of its proportion, at p = 0.5
    detectable: float  # smallest win-rate departure from 0.5 detected with the power given
    design_effect: float  # the variance inflation both figures used
    method: str  # how they were computed, for the page and the methods text


def crossed_design_effect(
    n_items: int, raters_per_item: int, *, rater_pool: int = 40, confidence: float = 0.95
) -> float:
    """The design effect of the report's two-way (items × raters) interval for ``n_items`` ×
    ``raters_per_item`` judgments by a pool of ``rater_pool`` raters, at a rate of 0.5 (the
    widest): the squared ratio of :func:`analysis.crossed.expected_half_width` to the
    independent-judgments half-width, at least 1. The estimate's figures use it, so they
    follow the interval the report will print."""
    n = n_items * raters_per_item
    pool = max(raters_per_item, rater_pool)
    crossed = expected_half_width(
        n_items, raters_per_item, 0.5, rater_pool=pool, confidence=confidence
    )
    independent = interval_half_width(n, p=0.5, confidence=confidence)
    return max(1.0, (crossed / independent) ** 2)


def precision(
    n: int,
    *,
    design_effect: float = 1.0,
    confidence: float = 0.95,
    power: float = 0.8,
) -> Precision:
    """Half-width and detectable difference of one cell of ``n`` judgments."""
    return Precision(
        n=n,
        half_width=interval_half_width(n, confidence=confidence, design_effect=design_effect),
        detectable=detectable_difference(
            n, alpha=1 - confidence, power=power, design_effect=design_effect
        ),
        design_effect=design_effect,
        method="normal approximation on n / design effect",
    )


@dataclass(frozen=True)
class Workload:
    """The rating work a study needs (see :func:`workload`)."""

    units: int  # regular (non-gold) units
    judgments: int  # regular judgments at K raters per unit
    tasks: int  # tasks raters do, gold included (gold is served at the gold rate)
    rater_minutes: float  # expected minutes of rating, all raters together
    participants: int | None  # raters needed at the cap per rater (None: no cap)
    cost: float  # rater_minutes at the hourly pay


def workload(
    *,
    units_single: int,
    units_pairwise: int,
    raters_per_unit: int,
    gold_rate: float,
    seconds_single: float,
    seconds_pairwise: float,
    max_tasks_per_rater: int | None,
    hourly_pay: float,
) -> Workload:
    """Judgments, tasks, minutes, participants and cost of a study design.

    Gold tasks come on top of the regular ones: at gold rate ``g`` a rater's tasks are a
    share ``g`` gold, so ``tasks = judgments / (1 - g)``; they take the time of a task of
    their kind, weighted here by the regular mix.
    """
    _check_probability("gold_rate", gold_rate, open_interval=False)
    if raters_per_unit < 1:
        raise ValueError(f"raters_per_unit must be at least 1, not {raters_per_unit!r}")
    if min(units_single, units_pairwise) < 0 or min(seconds_single, seconds_pairwise) < 0:
        raise ValueError("unit counts and seconds per task cannot be negative")
    if hourly_pay < 0:
        raise ValueError(f"hourly_pay cannot be negative, not {hourly_pay!r}")
    judgments = (units_single + units_pairwise) * raters_per_unit
    inflate = 1 / (1 - gold_rate)
    tasks = math.ceil(judgments * inflate)
    seconds = (units_single * seconds_single + units_pairwise * seconds_pairwise) * (
        raters_per_unit * inflate
    )
    participants = None
    if max_tasks_per_rater is not None:
        if max_tasks_per_rater < 1:
            raise ValueError("max_tasks_per_rater must be at least 1")
        # A rater judges a unit once, so K raters at least, however high the cap.
        participants = max(raters_per_unit, math.ceil(tasks / max_tasks_per_rater))
    return Workload(
        units=units_single + units_pairwise,
        judgments=judgments,
        tasks=tasks,
        rater_minutes=seconds / 60,
        participants=participants,
        cost=seconds / 3600 * hourly_pay,
    )
