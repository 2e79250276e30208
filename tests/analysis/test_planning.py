"""Planning figures against statsmodels' power functions and seeded simulations."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint

from analysis.planning import (
    design_effect,
    detectable_difference,
    interval_half_width,
    precision,
    workload,
)


@pytest.mark.parametrize("n", [12, 60, 180, 1000])
@pytest.mark.parametrize("deff", [1.0, 1.8])
def test_the_half_width_is_statsmodels_normal_interval_on_the_effective_n(
    n: int, deff: float
) -> None:
    n_eff = n / deff
    low, high = proportion_confint(n_eff / 2, n_eff, alpha=0.05, method="normal")
    assert interval_half_width(n, design_effect=deff) == pytest.approx((high - low) / 2, rel=1e-9)


def test_the_half_width_matches_the_textbook_figure() -> None:
    # 1.959964 * sqrt(0.25 / 100): the familiar ±9.8 points of a poll of 100.
    assert interval_half_width(100) == pytest.approx(0.0979982, abs=1e-7)
    assert interval_half_width(100, p=0.9) == pytest.approx(1.959964 * 0.03, abs=1e-6)


@pytest.mark.parametrize("n", [20, 90, 360, 2000])
@pytest.mark.parametrize("deff", [1.0, 2.5])
def test_the_detectable_difference_is_statsmodels_one_sample_power_solution(
    n: int, deff: float
) -> None:
    # NormalIndPower with ratio=0 is the one-sample z test; its effect size is the difference
    # in units of the null's standard deviation, 0.5 for a win rate of 0.5.
    effect = NormalIndPower().solve_power(
        effect_size=None, nobs1=n / deff, alpha=0.05, power=0.8, ratio=0
    )
    assert detectable_difference(n, design_effect=deff) == pytest.approx(
        float(effect) * 0.5, rel=1e-4
    )


def test_a_simulated_study_of_that_size_detects_the_difference_four_times_in_five() -> None:
    rng = np.random.default_rng(20261201)
    n, reps = 400, 20000
    d = detectable_difference(n)
    wins = rng.binomial(n, 0.5 + d, size=reps)
    z = (wins / n - 0.5) / np.sqrt(0.25 / n)
    power = float(np.mean(np.abs(z) > 1.959964))
    # Monte Carlo standard error sqrt(0.8 * 0.2 / 20000) = 0.0028; binomial discreteness
    # moves the exact power by about as much.
    assert power == pytest.approx(0.8, abs=0.012)


def test_the_design_effect_matches_a_simulated_beta_binomial_variance() -> None:
    # Items with success probabilities Beta(a, b) have intra-item correlation 1 / (a + b + 1);
    # the mean of m judgments per item over many items then has variance deff * p(1-p) / n.
    rng = np.random.default_rng(7)
    a = b = 2.0
    icc = 1 / (a + b + 1)
    items, m, reps = 60, 3, 4000
    p_item = rng.beta(a, b, size=(reps, items))
    means = rng.binomial(m, p_item).sum(axis=1) / (items * m)
    expected = design_effect(m, icc) * 0.25 / (items * m)
    assert float(np.var(means)) == pytest.approx(expected, rel=0.06)


def test_precision_bundles_both_figures_with_their_method() -> None:
    result = precision(150, design_effect=1.4)
    assert result.n == 150
    assert result.half_width == interval_half_width(150, design_effect=1.4)
    assert result.detectable == detectable_difference(150, design_effect=1.4)
    assert "design effect" in result.method


def test_the_workload_counts_gold_tasks_minutes_participants_and_cost() -> None:
    plan = workload(
        units_single=120,
        units_pairwise=30,
        raters_per_unit=3,
        gold_rate=0.1,
        seconds_single=6.0,
        seconds_pairwise=12.0,
        max_tasks_per_rater=40,
        hourly_pay=12.0,
    )
    assert plan.units == 150
    assert plan.judgments == 450
    assert plan.tasks == 500  # 450 / 0.9
    seconds = (120 * 6 + 30 * 12) * 3 / 0.9
    assert plan.rater_minutes == pytest.approx(seconds / 60)
    assert plan.participants == 13  # ceil(500 / 40)
    assert plan.cost == pytest.approx(seconds / 3600 * 12)


def test_a_high_cap_still_needs_k_participants() -> None:
    plan = workload(
        units_single=2,
        units_pairwise=0,
        raters_per_unit=5,
        gold_rate=0.0,
        seconds_single=5,
        seconds_pairwise=5,
        max_tasks_per_rater=1000,
        hourly_pay=0,
    )
    assert plan.participants == 5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: interval_half_width(0), "n must be at least 1"),
        (lambda: interval_half_width(10, design_effect=0.5), "design_effect"),
        (lambda: detectable_difference(10, power=1.0), "power"),
        (lambda: design_effect(0, 0.1), "cluster_size"),
        (lambda: design_effect(3, 1.5), "icc"),
    ],
)
def test_bad_arguments_are_refused_by_name(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_the_crossed_design_effect_is_the_reports_interval_over_the_independent_one() -> None:
    from scipy.stats import norm

    from analysis.crossed import expected_half_width
    from analysis.planning import crossed_design_effect

    for items, k in ((60, 3), (240, 3), (12, 5)):
        independent = norm.ppf(0.975) * (0.25 / (items * k)) ** 0.5
        expected = (expected_half_width(items, k, 0.5, rater_pool=40) / independent) ** 2
        assert crossed_design_effect(items, k, rater_pool=40) == max(1.0, expected)
    # Judgments of one item and of one rater are correlated: more of them per item, and
    # fewer raters in the pool, cost more effective sample size.
    assert crossed_design_effect(60, 5) > crossed_design_effect(60, 2) > 1.0
    assert crossed_design_effect(60, 3, rater_pool=6) > crossed_design_effect(60, 3, rater_pool=40)
