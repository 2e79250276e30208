"""Tests for analysis.crossed: the two-way (items and raters) clustered interval and test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from analysis.crossed import (
    FALLBACK_DEGENERATE,
    METHOD,
    ONE_CELL,
    ONE_ITEM,
    ONE_RATER,
    crossed_groups,
    crossed_interval,
    crossed_parts,
    crossed_test,
    expected_half_width,
    groups_frame,
)
from analysis.intervals import NO_DATA

# A hand-made crossed table: 4 items × 3 raters, every rater judging every item.
Y = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0]
ITEMS = ["i1"] * 3 + ["i2"] * 3 + ["i3"] * 3 + ["i4"] * 3
RATERS = ["r1", "r2", "r3"] * 4


def test_the_two_way_variance_is_statsmodels_two_group_cluster_variance() -> None:
    # .venv/bin/python -c "import numpy as np, statsmodels.api as sm;
    #   y = np.array([1,1,0,1,0,0,1,1,1,0,1,0], float);
    #   g = np.column_stack([np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)]);
    #   print(sm.OLS(y, np.ones(12)).fit(cov_type='cluster',
    #   cov_kwds={'groups': g}).cov_params()[0, 0])"  -> 0.031144781144781173
    parts = crossed_parts(Y, ITEMS, RATERS)
    two_way = parts.v_item + parts.v_rater - parts.v_cell
    assert float(two_way[0]) == pytest.approx(0.031144781144781173, abs=1e-15)
    # The same with items only: ... fit(cov_type='cluster', cov_kwds={'groups':
    #   np.repeat(np.arange(4), 3)}) ...  -> 0.025462962962962986
    assert float(parts.v_item[0]) == pytest.approx(0.025462962962962986, abs=1e-15)


def test_the_interval_inverts_the_score_test_on_the_effective_sample_size() -> None:
    row = groups_frame(crossed_parts(Y, ITEMS, RATERS)).iloc[0]
    p, n_eff, df = row["estimate"], row["n_effective"], row["df"]
    assert (row["n"], row["n_items"], row["n_raters"], df) == (12, 4, 3, 2)
    assert n_eff == pytest.approx(12 / row["design_effect"])
    assert row["design_effect"] == pytest.approx(0.031144781144781173 / (7 / 12 * 5 / 12 / 12))
    crit = float(student_t.isf(0.025, 2))
    # Each Wilson bound b solves |p - b| = crit * sqrt(b (1 - b) / n_eff).
    for bound in (row["low"], row["high"]):
        assert abs(p - bound) == pytest.approx(crit * math.sqrt(bound * (1 - bound) / n_eff))
    assert row["method"] == METHOD and row["note"] == ""


def test_the_test_rejects_exactly_when_the_interval_excludes_one_half() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        items = rng.integers(0, 15, 90)
        raters = rng.integers(0, 8, 90)
        values = (rng.random(90) < rng.uniform(0.2, 0.8)).astype(float)
        for confidence in (0.9, 0.95):
            interval = crossed_interval(values, items, raters, confidence=confidence)
            p_value = crossed_test(values, items, raters)
            excluded = not interval.low <= 0.5 <= interval.high
            assert excluded == (p_value < 1 - confidence)


def test_zero_of_n_and_n_of_n_fall_back_to_the_design_effect_given_never_zero_width() -> None:
    zero = crossed_interval([0] * 12, ITEMS, RATERS, fallback_design_effect=2.0)
    full = crossed_interval([1] * 12, ITEMS, RATERS, fallback_design_effect=2.0)
    assert zero.low == 0.0 and zero.high > 0.2 and zero.note == FALLBACK_DEGENERATE
    assert full.high == 1.0 and full.low < 0.8 and full.note == FALLBACK_DEGENERATE
    # Wilson on n / 2 = 6 with the t quantile on 2 df: 0 of 6 -> upper c² / (6 + c²).
    crit = float(student_t.isf(0.025, 2))
    assert zero.high == pytest.approx(crit**2 / (6 + crit**2))


def test_one_rater_clusters_items_only_and_one_cell_is_wilson() -> None:
    one_rater = crossed_interval([1, 0, 1, 1, 0, 1], list("aabbcc"), ["r"] * 6)
    assert one_rater.note == ONE_RATER and one_rater.low < one_rater.estimate < one_rater.high
    one_item = crossed_interval([1, 0, 1, 1], ["i"] * 4, ["r1", "r2", "r3", "r4"])
    assert one_item.note == ONE_ITEM
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(2, 3, method='wilson'))"  -> (0.2076596008020477, 0.9385080552796037)
    cell = crossed_interval([1, 1, 0], ["i"] * 3, ["r"] * 3)
    assert cell.note == ONE_CELL
    assert (cell.low, cell.high) == pytest.approx((0.2076596008020477, 0.9385080552796037))


def test_no_data_is_the_no_data_estimate() -> None:
    empty = crossed_interval([], [], [])
    assert empty.n == 0 and empty.note == NO_DATA and math.isnan(empty.estimate)
    assert math.isnan(crossed_test([], [], []))


def test_a_group_without_judgments_is_a_no_data_row() -> None:
    # Group 1 has no judgments (groups 0 and 2 do).
    parts = crossed_groups([1.0, 0.0, 1.0, 1.0], [0, 1, 0, 1], [0, 1, 1, 0], [0, 0, 2, 2])
    frame = groups_frame(parts)
    assert frame.loc[1, "note"] == NO_DATA and math.isnan(frame.loc[1, "low"])
    assert frame.loc[0, "n"] == 2 and frame.loc[2, "n"] == 2


def test_the_expected_half_width_without_effects_is_the_binomial_one() -> None:
    # No item or rater variation: t(min(items, raters) - 1) * sqrt(p (1 - p) / n).
    # .venv/bin/python -c "from scipy.stats import t; print(t.isf(0.025, 39) *
    #   (0.6 * 0.4 / 180) ** 0.5)"  -> 0.07385822958433413
    width = expected_half_width(60, 3, 0.6, item_sd=0.0, rater_sd=0.0, rater_pool=40)
    assert width == pytest.approx(0.07385822958433413, rel=1e-6)
    # Item and rater effects widen it; more items narrow it.
    crowd = expected_half_width(60, 3, 0.6)
    assert crowd > width
    assert expected_half_width(240, 3, 0.6) < crowd


def test_the_degrees_of_freedom_are_satterthwaite_s_at_least_min_clusters_minus_one() -> None:
    # 30 items with very different accuracies, judged by the same 4 raters: the item term
    # dominates, so the t quantile rests on more than min(30, 4) - 1 = 3 degrees of freedom.
    rng = np.random.default_rng(2)
    items = np.repeat(np.arange(30), 4)
    raters = np.tile(np.arange(4), 30)
    values = (rng.random(120) < np.repeat(rng.uniform(0.05, 0.95, 30), 4)).astype(float)
    parts = crossed_parts(values, items, raters)
    row = groups_frame(parts).iloc[0]
    v = float(parts.v_item[0] + parts.v_rater[0] - parts.v_cell[0])
    assert v > 0
    spread = parts.v_item[0] ** 2 / 29 + parts.v_rater[0] ** 2 / 3 + parts.v_cell[0] ** 2 / 119
    assert row["df"] == pytest.approx(max(3.0, v**2 / spread))
    assert row["df"] > 3


def test_the_one_way_variance_stands_in_only_where_the_two_way_sum_is_not_positive() -> None:
    # .venv/bin/python -c "import numpy as np, pandas as pd, statsmodels.api as sm;
    #   it = np.repeat(np.arange(4), 2); fit = lambda y, g: sm.OLS(np.array(y, float),
    #   np.ones(8)).fit(cov_type='cluster', cov_kwds={'groups': g}).cov_params()[0, 0];
    #   r = pd.factorize(np.array(R))[0]; print(fit(Y, np.column_stack([it, r])),
    #   fit(Y, it), fit(Y, r))"
    # with the two (Y, R) below -> 0.026969401041666646 0.057291666666666644 0.0153808593749...
    #                           -> -0.004882812500000007 0.015624999999999993 0.0051269531249...
    items = ["a", "a", "b", "b", "c", "c", "d", "d"]
    positive = crossed_parts(
        [1, 1, 1, 0, 0, 0, 0, 0], items, ["r1", "r3", "r2", "r3", "r2", "r2", "r3", "r3"]
    )
    # Positive although below the item clustering's 0.0573: the two-way sum is used as is.
    row = groups_frame(positive).iloc[0]
    assert float(row["se"]) ** 2 == pytest.approx(0.026969401041666646, rel=1e-12)
    negative = crossed_parts(
        [0, 1, 1, 0, 1, 1, 0, 1], items, ["r3", "r3", "r3", "r1", "r2", "r3", "r3", "r1"]
    )
    # Not positive (-0.00488): the larger one-way variance, the item clustering's, instead.
    row = groups_frame(negative).iloc[0]
    assert float(row["se"]) ** 2 == pytest.approx(0.015624999999999993, rel=1e-12)
