"""The gold-answer exclusion rule and its error rates.

A rater is checked once, on their first ``n`` gold answers (the study's
``min_gold_answers``), and excluded only when the one-sided ``1 - alpha`` Clopper–Pearson
upper bound of their gold accuracy is below the study's ``min_gold_accuracy``: the evidence
must say the rater is worse than the threshold, not merely that they were unlucky. Checking
after every submission with no such margin and excluding for good (the old rule) drops a 95%
accurate rater about 15% of the time; this rule's false-exclusion rate is
:func:`false_exclusion_rate` (about 1e-5 for a 95%-accurate rater at ``n = 10`` and a
threshold of 0.7).

The rule reduces to a count: exclude when at most :func:`gold_cutoff` of the first ``n``
gold answers are right, so the platform compares two integers per check.
"""

from __future__ import annotations

import functools

from scipy.stats import beta, binom

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_GOLD_ANSWERS",
    "false_exclusion_rate",
    "gold_cutoff",
    "upper_bound",
]

#: Gold answers a rater's decision is made on when the study does not set ``min_gold_answers``.
DEFAULT_GOLD_ANSWERS = 10
#: One-sided error level of the upper bound.
DEFAULT_ALPHA = 0.05


def upper_bound(right: int, n: int, *, alpha: float = DEFAULT_ALPHA) -> float:
    """One-sided ``1 - alpha`` Clopper–Pearson upper bound of an accuracy from ``right`` of
    ``n`` (1 when every answer was right)."""
    if not 0 <= right <= n or n < 1:
        raise ValueError(f"need 0 <= right <= n and n >= 1, got right={right}, n={n}")
    if right == n:
        return 1.0
    return float(beta.ppf(1.0 - alpha, right + 1, n - right))


@functools.lru_cache(maxsize=256)
def gold_cutoff(n: int, threshold: float, *, alpha: float = DEFAULT_ALPHA) -> int:
    """The largest count of right answers (of ``n``) whose upper bound is below
    ``threshold``: a rater with at most this many is excluded; -1 when no count is."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    cutoff = -1
    for right in range(n + 1):
        if upper_bound(right, n, alpha=alpha) < threshold:
            cutoff = right
    return cutoff


def false_exclusion_rate(
    accuracy: float, n: int, threshold: float, *, alpha: float = DEFAULT_ALPHA
) -> float:
    """Probability that a rater of true gold ``accuracy`` is excluded by the rule."""
    cutoff = gold_cutoff(n, threshold, alpha=alpha)
    return float(binom.cdf(cutoff, n, accuracy)) if cutoff >= 0 else 0.0
