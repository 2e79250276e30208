"""Tests for analysis.pairwise: win rates, Holm, Bradley-Terry and position bias."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from analysis.pairwise import (
    bradley_terry,
    comparisons_frame,
    pairwise_comparisons,
    position_bias,
)


def vote(
    item: str,
    a: str,
    b: str,
    choice: str,
    *,
    rater: str = "r1",
    left: str = "a",
    question: str = "alignment",
) -> dict[str, Any]:
    """One side-by-side judgment; the unit is the (item, pair)."""
    return {
        "unit": f"{item}/{a}/{b}",
        "item": item,
        "prompt_type": "mask_rich",
        "model_a": a,
        "model_b": b,
        "left": left,
        "rater": rater,
        "question": question,
        "choice": choice,
    }


def votes(a: str, b: str, choices: str, *, question: str = "alignment") -> list[dict[str, Any]]:
    """One judgment per item, choices given as a string such as ``"aab-"`` (``-`` = none)."""
    names = {"a": "a", "b": "b", "-": "none"}
    return [vote(f"i{k}", a, b, names[c], question=question) for k, c in enumerate(choices)]


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_a_comparison_counts_wins_losses_and_ties() -> None:
    frame = pd.DataFrame(votes("A", "B", "aaaaaaabbb--"))
    (result,) = pairwise_comparisons(frame, rng=rng())
    assert (result.wins_a, result.wins_b, result.ties, result.n_items) == (7, 3, 2, 12)
    assert result.win_rate_a.estimate == pytest.approx(0.7)
    assert result.win_rate_a_bootstrap.estimate == pytest.approx(0.7)
    assert result.win_rate_a_ties_split.estimate == pytest.approx(8 / 12)
    assert result.win_rate_a_bootstrap.n == 10
    assert result.win_rate_a_ties_split.n == 12


def test_the_binomial_test_excludes_ties_and_matches_scipy_for_7_of_10() -> None:
    frame = pd.DataFrame(votes("A", "B", "aaaaaaabbb--"))
    (result,) = pairwise_comparisons(frame, rng=rng())
    # .venv/bin/python -c "from scipy.stats import binomtest; print(binomtest(7, 10).pvalue)"
    #   -> 0.34375
    assert result.p_value_binomial == pytest.approx(0.34375, abs=1e-12)
    # The reported p-value is the crossed one, consistent with the crossed interval.
    inside = result.win_rate_a_crossed.low <= 0.5 <= result.win_rate_a_crossed.high
    assert (result.p_value >= 0.05) == inside


def test_holm_correction_runs_over_every_comparison_passed_in() -> None:
    frame = pd.DataFrame(
        [
            *votes("A", "B", "aaaaaaabbb"),  # 7 of 10
            *votes("A", "C", "aaaaaaaaab", question="realism"),  # 9 of 10
        ]
    )
    results = {(r.model_b, r.question): r for r in pairwise_comparisons(frame, rng=rng())}
    # .venv/bin/python -c "from scipy.stats import binomtest; print(binomtest(9, 10).pvalue)"
    #   -> 0.021484375
    # .venv/bin/python -c "from statsmodels.stats.multitest import multipletests as m;
    #   print(m([0.34375, 0.021484375], alpha=0.05, method='holm'))"
    #   -> reject [False, True], corrected [0.34375, 0.04296875]
    ab, ac = results[("B", "alignment")], results[("C", "realism")]
    assert ac.p_value_binomial == pytest.approx(0.021484375, abs=1e-12)
    # Holm runs over the reported (crossed) p-values; statsmodels' multipletests is the
    # reference implementation.
    reject, corrected, _, _ = multipletests([ab.p_value, ac.p_value], alpha=0.05, method="holm")
    assert ab.p_holm == pytest.approx(corrected[0], abs=1e-12)
    assert ac.p_holm == pytest.approx(corrected[1], abs=1e-12)
    assert (ab.reject_holm, ac.reject_holm) == tuple(reject)


def test_a_pair_with_only_ties_has_no_win_rate_and_no_test() -> None:
    frame = pd.DataFrame([*votes("A", "B", "----"), *votes("A", "C", "aaaaaaaaab")])
    results = {r.model_b: r for r in pairwise_comparisons(frame, rng=rng())}
    tied = results["B"]
    assert (tied.wins_a, tied.wins_b, tied.ties) == (0, 0, 4)
    assert not tied.win_rate_a.has_data and not tied.win_rate_a_bootstrap.has_data
    assert tied.win_rate_a_ties_split.estimate == 0.5
    assert math.isnan(tied.p_value) and math.isnan(tied.p_holm) and not tied.reject_holm
    # The all-tie pair is left out of Holm's family, so the other p-value is uncorrected.
    assert results["C"].p_holm == pytest.approx(results["C"].p_value)


def test_comparisons_frame_flattens_the_nested_estimates() -> None:
    frame = pd.DataFrame(votes("A", "B", "aaab"))
    table = comparisons_frame(pairwise_comparisons(frame, rng=rng()))
    assert {"win_rate_a_low", "win_rate_a_bootstrap_high", "p_holm"} <= set(table.columns)
    assert len(table) == 1


def test_position_bias_counts_wins_of_the_left_image() -> None:
    rows = [
        *[vote(f"i{k}", "A", "B", "a", left="a") for k in range(5)],  # left won
        *[vote(f"j{k}", "A", "B", "b", left="b") for k in range(3)],  # left won
        *[vote(f"k{k}", "A", "B", "a", left="b") for k in range(2)],  # right won
        vote("t", "A", "B", "none"),
    ]
    result = position_bias(pd.DataFrame(rows))
    assert (result.left_wins, result.right_wins, result.ties) == (8, 2, 1)
    # .venv/bin/python -c "from scipy.stats import binomtest; print(binomtest(8, 10).pvalue)"
    #   -> 0.109375
    assert result.p_value_binomial == pytest.approx(0.109375, abs=1e-12)
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(8, 10, method='wilson'))"  -> (0.49016247153664183, 0.9433178485456247)
    assert result.share_left.low == pytest.approx(0.49016247153664183, abs=1e-12)
    assert result.share_left.high == pytest.approx(0.9433178485456247, abs=1e-12)


def test_position_bias_without_decided_judgments_says_no_data() -> None:
    result = position_bias(pd.DataFrame(votes("A", "B", "--")))
    assert not result.share_left.has_data
    assert math.isnan(result.p_value)


def _four_model_tournament() -> pd.DataFrame:
    """Judgments with true log-strengths 1, 0.3, 0, -1.3 over 40 items x 6 pairs."""
    gen = np.random.default_rng(11)
    truth = {"A": 1.0, "B": 0.3, "C": 0.0, "D": -1.3}
    rows = []
    for k in range(40):
        for a, b in [("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"), ("B", "D"), ("C", "D")]:
            p_a = 1.0 / (1.0 + math.exp(-(truth[a] - truth[b])))
            u = gen.random()
            choice = "none" if u > 0.9 else ("a" if gen.random() < p_a else "b")
            rows.append(vote(f"i{k}", a, b, choice))
    return pd.DataFrame(rows)


def test_bradley_terry_matches_a_statsmodels_logit_on_the_pair_design() -> None:
    frame = _four_model_tournament()
    result = bradley_terry(frame, rng=rng(), n_resamples=50)
    ours = dict(zip(result.models, (s.estimate for s in result.strengths), strict=True))

    decided = frame.loc[frame["choice"] != "none"]
    models = ["A", "B", "C", "D"]
    design = np.zeros((len(decided), len(models)))
    rows = np.arange(len(decided))
    design[rows, decided["model_a"].map(models.index).to_numpy()] = 1.0
    design[rows, decided["model_b"].map(models.index).to_numpy()] = -1.0
    y = (decided["choice"] == "a").to_numpy(dtype=float)
    # Model A is the reference (its column dropped, strength 0); no intercept.
    params = sm.Logit(y, design[:, 1:]).fit(disp=0, tol=1e-12).params
    reference = np.concatenate([[0.0], params])
    reference -= reference.mean()
    for model, value in zip(models, reference, strict=True):
        assert ours[model] == pytest.approx(value, abs=1e-6)


def test_bradley_terry_ranks_strongest_first_with_strengths_summing_to_zero() -> None:
    result = bradley_terry(_four_model_tournament(), rng=rng(), n_resamples=200)
    assert result.models == ("A", "B", "C", "D")
    values = [s.estimate for s in result.strengths]
    assert sum(values) == pytest.approx(0.0, abs=1e-9)
    assert all(s.low <= s.estimate <= s.high for s in result.strengths)
    assert result.n_ties > 0 and result.n_items == 40 and result.n_failed_resamples == 0


def test_bradley_terry_with_a_fixed_rng_is_reproducible() -> None:
    frame = _four_model_tournament()
    first = bradley_terry(frame, rng=np.random.default_rng(3), n_resamples=100)
    second = bradley_terry(frame, rng=np.random.default_rng(3), n_resamples=100)
    assert first == second


def test_bradley_terry_of_two_models_is_the_logit_of_the_win_rate() -> None:
    result = bradley_terry(pd.DataFrame(votes("A", "B", "aaaaaaabbb--")), rng=rng(), n_resamples=50)
    strengths = dict(zip(result.models, (s.estimate for s in result.strengths), strict=True))
    assert strengths["A"] - strengths["B"] == pytest.approx(math.log(0.7 / 0.3), abs=1e-8)


def test_bradley_terry_says_when_one_model_wins_everything() -> None:
    frame = pd.DataFrame([*votes("A", "B", "aaaa"), *votes("B", "C", "abab")])
    result = bradley_terry(frame, rng=rng(), n_resamples=50)
    assert all(math.isnan(s.estimate) for s in result.strengths)
    assert "does not exist" in result.note


def test_bradley_terry_refuses_rows_of_several_prompt_types() -> None:
    rows = votes("A", "B", "ab")
    rows[1] = {**rows[1], "prompt_type": "full_image", "unit": "other"}
    with pytest.raises(ValueError, match="prompt type"):
        bradley_terry(pd.DataFrame(rows), rng=rng())
