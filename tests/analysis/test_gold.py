"""Tests for analysis.gold: the gold rule's bound, cut-off count and false-exclusion rate."""

from __future__ import annotations

import pytest

from analysis.gold import false_exclusion_rate, gold_cutoff, upper_bound


def test_the_upper_bound_is_the_one_sided_clopper_pearson_bound_of_statsmodels() -> None:
    # The one-sided 95% upper bound is the upper end of the two-sided 90% interval:
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(4, 10, alpha=0.1, method='beta')[1], p(5, 10, alpha=0.1, method='beta')[1],
    #   p(0, 3, alpha=0.1, method='beta')[1])"
    #   -> 0.6964627874359577 0.7775588989918706 0.6315968501359613
    assert upper_bound(4, 10) == pytest.approx(0.6964627874359577, abs=1e-12)
    assert upper_bound(5, 10) == pytest.approx(0.7775588989918706, abs=1e-12)
    assert upper_bound(0, 3) == pytest.approx(0.6315968501359613, abs=1e-12)
    assert upper_bound(10, 10) == 1.0


def test_the_cutoff_is_the_largest_count_whose_bound_is_below_the_threshold() -> None:
    assert gold_cutoff(10, 0.7) == 4  # 4 of 10: 0.696 < 0.7; 5 of 10: 0.778
    assert gold_cutoff(3, 0.7) == 0
    assert gold_cutoff(3, 0.5) == -1  # even 0 of 3 leaves 0.63 possible: no exclusion


def test_the_false_exclusion_rate_is_the_binomial_tail_below_the_cutoff() -> None:
    # .venv/bin/python -c "from scipy.stats import binom; print(binom.cdf(4, 10, 0.95),
    #   binom.cdf(4, 10, 0.5))"  -> 2.7545826171875143e-06 0.376953125
    assert false_exclusion_rate(0.95, 10, 0.7) == pytest.approx(2.7545826171875143e-06, rel=1e-12)
    assert false_exclusion_rate(0.5, 10, 0.7) == pytest.approx(0.376953125, rel=1e-12)
    assert false_exclusion_rate(0.95, 3, 0.5) == 0.0


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="right"):
        upper_bound(4, 3)
    with pytest.raises(ValueError, match="n must"):
        gold_cutoff(0, 0.7)
