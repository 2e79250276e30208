"""Tests for analysis.position: win rates adjusted for the side shown, against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import t as student_t

from analysis.position import METHOD, position_adjusted
from analysis.tables import validate_pairwise
from tests.analysis.test_pairwise import vote


def _study(seed: int = 0) -> pd.DataFrame:
    """Three models, 20 items, 6 raters, a left-side advantage; every rater judges a pair of
    an item once (sides alternating)."""
    gen = np.random.default_rng(seed)
    strength = {"A": 0.6, "B": 0.0, "C": -0.4}
    rows = []
    for i in range(20):
        for a, b in (("A", "B"), ("A", "C"), ("B", "C")):
            for r in range(6):
                left = "ab"[(i + r) % 2]
                logit = strength[a] - strength[b] + (0.5 if left == "a" else -0.5)
                choice = "a" if gen.random() < expit(logit) else "b"
                if gen.random() < 0.1:
                    choice = "none"
                rows.append(vote(f"i{i}", a, b, choice, rater=f"r{r}", left=left))
    return validate_pairwise(pd.DataFrame(rows))


def test_adjusted_win_rates_match_a_statsmodels_glm_with_two_way_clustered_errors() -> None:
    frame = _study()
    table = position_adjusted(frame).set_index(["model_a", "model_b"])
    decided = frame.loc[frame["choice"] != "none"]
    # Reference: statsmodels' GLM (binomial) on the same design: +1 for model_a's column,
    # -1 for model_b's, C the reference (dropped), then the side (+1 when a is on the left).
    x = np.zeros((len(decided), 3))
    for j, model in enumerate(("A", "B")):
        x[:, j] = (decided["model_a"] == model).astype(float) - (decided["model_b"] == model)
    x[:, 2] = np.where(decided["left"] == "a", 1.0, -1.0)
    y = (decided["choice"] == "a").to_numpy(dtype=float)
    groups = np.column_stack([pd.factorize(decided["item"])[0], pd.factorize(decided["rater"])[0]])
    fit = sm.GLM(y, x, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    crit = float(student_t.isf(0.025, 6 - 1))  # min(20 items, 6 raters) - 1
    for (a, b), contrast in {("A", "B"): [1, -1, 0], ("A", "C"): [1, 0, 0]}.items():
        c = np.array(contrast, dtype=float)
        estimate = float(c @ fit.params)
        se = math.sqrt(float(c @ fit.cov_params() @ c))
        row = table.loc[(a, b)]
        assert row["adjusted_win_rate_a"] == pytest.approx(expit(estimate), abs=1e-9)
        assert row["adjusted_low"] == pytest.approx(expit(estimate - crit * se), abs=1e-9)
        assert row["adjusted_high"] == pytest.approx(expit(estimate + crit * se), abs=1e-9)
        assert row["method"] == METHOD and row["note"] == ""
    side = np.array([0.0, 0.0, 1.0])
    gamma, gamma_se = float(side @ fit.params), math.sqrt(float(side @ fit.cov_params() @ side))
    first = table.iloc[0]
    assert first["left_share_equal_models"] == pytest.approx(expit(gamma), abs=1e-9)
    assert first["left_low"] == pytest.approx(expit(gamma - crit * gamma_se), abs=1e-9)
    # The simulated left advantage (0.5 on the logit scale) is found.
    assert first["left_low"] > 0.5


def test_a_model_that_wins_every_judgment_has_no_finite_adjusted_rate() -> None:
    rows = [vote(f"i{k}", "A", "B", "a", rater=f"r{k % 3}", left="ab"[k % 2]) for k in range(8)]
    table = position_adjusted(validate_pairwise(pd.DataFrame(rows)))
    assert math.isnan(table.loc[0, "adjusted_win_rate_a"])
    assert "no finite estimate" in table.loc[0, "note"]


def test_all_ties_are_no_data() -> None:
    rows = [vote(f"i{k}", "A", "B", "none", rater=f"r{k}") for k in range(4)]
    table = position_adjusted(validate_pairwise(pd.DataFrame(rows)))
    assert table.loc[0, "note"] == "no data" and table.loc[0, "n_judgments"] == 0
