"""Tests for analysis.agreement: Krippendorff's alpha, Fleiss' kappa, raw agreement."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.agreement import (
    ALL_IDENTICAL,
    NO_PAIRS,
    agreement_table,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    raw_agreement,
)


def long_table(answers_by_unit: dict[Any, list[Any]]) -> pd.DataFrame:
    """Long (unit, rater, answer) rows; None marks a rater who did not rate the unit."""
    rows = [
        {"unit": unit, "rater": f"r{i}", "answer": answer}
        for unit, answers in answers_by_unit.items()
        for i, answer in enumerate(answers)
        if answer is not None
    ]
    return pd.DataFrame(rows)


def from_counts(counts: list[list[int]]) -> pd.DataFrame:
    """Long rows from a units x categories count table (raters numbered within each unit)."""
    return long_table(
        {
            unit: [category for category, n in enumerate(row) for _ in range(n)]
            for unit, row in enumerate(counts)
        }
    )


def test_krippendorff_alpha_reproduces_krippendorffs_published_nominal_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four
    # observers, twelve units, missing values; the text gives nominal alpha = 0.743.
    n = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    frame = long_table({u: [obs[u] for obs in observers] for u in range(12)})
    result = krippendorff_alpha(frame)
    assert result.value == pytest.approx(0.743, abs=5e-4)
    # Unit 12 has a single value and cannot be paired.
    assert (result.n_units, result.n_ratings) == (11, 40)


def test_fleiss_kappa_reproduces_the_fleiss_1971_worked_example() -> None:
    # Fleiss (1971) as tabulated on Wikipedia's "Fleiss' kappa" page: 10 subjects,
    # 14 raters, 5 categories, kappa = 0.210.
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    result = fleiss_kappa(from_counts(counts))
    assert result.value == pytest.approx(0.210, abs=5e-4)
    assert (result.n_units, result.n_ratings, result.note) == (10, 140, "")


def test_raw_agreement_pools_rater_pairs_over_units() -> None:
    # Unit 1: yes, yes, no -> 1 agreeing pair of 3. Unit 2: yes, yes -> 1 of 1. Unit 3 has a
    # single rating and no pair. Pooled: 2 of 4.
    frame = long_table({1: [True, True, False], 2: [True, True], 3: [False]})
    result = raw_agreement(frame)
    assert result.value == pytest.approx(0.5)
    assert (result.n_units, result.n_ratings) == (2, 5)


def test_a_single_rater_per_unit_gives_nan_and_a_note_for_every_statistic() -> None:
    frame = long_table({1: [True], 2: [False], 3: [True]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = [f(frame) for f in (krippendorff_alpha, fleiss_kappa, raw_agreement)]
    for result in results:
        assert math.isnan(result.value)
        assert result.note == NO_PAIRS
        assert result.n_units == 0


def test_identical_answers_leave_alpha_and_kappa_undefined_but_raw_agreement_one() -> None:
    frame = long_table({1: ["a", "a", "a"], 2: ["a", "a", "a"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alpha = krippendorff_alpha(frame, categories=["a", "b", "none"])
        kappa = fleiss_kappa(frame)
        raw = raw_agreement(frame)
    assert math.isnan(alpha.value) and alpha.note == ALL_IDENTICAL
    assert math.isnan(kappa.value) and kappa.note == ALL_IDENTICAL
    assert raw.value == 1.0 and raw.note == ""


def test_fleiss_kappa_leaves_out_units_with_an_unusual_number_of_ratings() -> None:
    balanced = {u: ["a", "a", "b"] if u % 2 else ["b", "b", "b"] for u in range(6)}
    extra = {"late": ["a", "b"]}
    with_extra = fleiss_kappa(long_table({**balanced, **extra}))
    without = fleiss_kappa(long_table(balanced))
    assert with_extra.value == pytest.approx(without.value)
    assert with_extra.n_units == 6
    assert "1 unit(s) without exactly 3 ratings left out" in with_extra.note


def test_perfect_agreement_across_categories_scores_one_everywhere() -> None:
    frame = long_table({1: ["a", "a"], 2: ["b", "b"], 3: ["none", "none"]})
    assert krippendorff_alpha(frame).value == pytest.approx(1.0)
    assert fleiss_kappa(frame).value == pytest.approx(1.0)
    assert raw_agreement(frame).value == 1.0


def test_agreement_rejects_a_rater_rating_a_unit_twice() -> None:
    frame = pd.DataFrame(
        [{"unit": 1, "rater": "r1", "answer": "a"}, {"unit": 1, "rater": "r1", "answer": "b"}]
    )
    with pytest.raises(ValueError, match="more than once"):
        raw_agreement(frame)


def test_agreement_rejects_an_answer_outside_the_given_categories() -> None:
    frame = long_table({1: ["a", "maybe"]})
    with pytest.raises(ValueError, match="maybe"):
        krippendorff_alpha(frame, categories=["a", "b", "none"])


def test_agreement_names_a_missing_answer_column() -> None:
    with pytest.raises(ValueError, match="choice"):
        fleiss_kappa(long_table({1: ["a", "a"]}), answer="choice")


def test_agreement_table_reports_each_question_type_with_its_notes() -> None:
    alignment = long_table({1: ["a", "a", "b"], 2: ["b", "b", "b"], 3: ["a", "a", "a"]})
    realism = long_table({4: ["none", "none", "none"], 5: ["none", "none", "none"]})
    frame = pd.concat([alignment.assign(question="alignment"), realism.assign(question="realism")])
    table = agreement_table(frame, ["question"]).set_index("question")
    assert table.loc["alignment", "n_units"] == 3
    assert table.loc["alignment", "raw_agreement"] == pytest.approx(7 / 9)
    assert np.isfinite(table.loc["alignment", "krippendorff_alpha"])
    assert math.isnan(table.loc["realism", "fleiss_kappa"])
    assert table.loc["realism", "note"] == ALL_IDENTICAL


def test_gwet_ac1_of_two_raters_matches_the_hand_computed_prevalence_example() -> None:
    # Two raters, 10 units, both say "yes" on 8, split on 2 (one each way): 80% agreement.
    # By hand (Gwet 2008, two raters): p_a = 8/10 = 0.8; pi_yes = (9/10 + 9/10) / 2 = 0.9,
    # p_e = (0.9 * 0.1 + 0.1 * 0.9) / (2 - 1) = 0.18; AC1 = (0.8 - 0.18) / 0.82 = 0.7560975...
    # Cohen's / Fleiss' kappa of the same table is negative: the prevalence paradox.
    frame = long_table({u: ["yes", "yes"] for u in range(8)} | {8: ["yes", "no"], 9: ["no", "yes"]})
    assert gwet_ac1(frame).value == pytest.approx(0.62 / 0.82, abs=1e-12)
    assert fleiss_kappa(frame).value < 0 < raw_agreement(frame).value


def test_gwet_ac1_matches_the_multi_rater_formula_computed_independently() -> None:
    # Three raters on 5 units, categories a/b/c; the formula of Gwet (2008, eq. 18) written out
    # per unit: p_a = mean_i sum_k r_ik (r_ik - 1) / (r_i (r_i - 1)), pi_k = mean_i r_ik / r_i,
    # p_e = sum_k pi_k (1 - pi_k) / (Q - 1).
    answers = {1: ["a", "a", "a"], 2: ["a", "b", "a"], 3: ["c", "c", "b"], 4: ["a", "a", "b"]}
    answers[5] = ["b", "b", "b"]
    counts = np.array([[3, 0, 0], [2, 1, 0], [0, 1, 2], [2, 1, 0], [0, 3, 0]], dtype=float)
    p_a = float(np.mean((counts * (counts - 1)).sum(axis=1) / 6))
    pi = (counts / 3).mean(axis=0)
    p_e = float((pi * (1 - pi)).sum() / 2)
    result = gwet_ac1(long_table(answers), categories=["a", "b", "c"])
    assert result.value == pytest.approx((p_a - p_e) / (1 - p_e), abs=1e-12)
    assert (result.n_units, result.n_ratings) == (5, 15)


def test_gwet_ac1_is_undefined_without_pairs_and_one_when_everyone_agrees() -> None:
    assert gwet_ac1(long_table({1: ["a"], 2: ["b"]})).note == NO_PAIRS
    # All ties (every answer "none") on a 3-category question: p_a = 1, so AC1 = 1.
    same = long_table({1: ["none"] * 3, 2: ["none"] * 3})
    assert gwet_ac1(same, categories=["a", "b", "none"]).value == pytest.approx(1.0)


def test_agreement_table_computes_every_statistic_on_the_same_units() -> None:
    # Unit 3 has 2 ratings, the others 3: all four statistics leave it out alike.
    frame = long_table(
        {1: ["a", "a", "b"], 2: ["b", "b", "b"], 3: ["a", "b", None], 4: list("aaa")}
    )
    row = agreement_table(frame, by=()).iloc[0]
    same_units = frame.loc[frame["unit"] != 3]
    assert row["n_units_compared"] == 3
    assert row["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(same_units).value)
    assert row["gwet_ac1"] == pytest.approx(gwet_ac1(same_units).value)
    assert row["raw_agreement"] == pytest.approx(raw_agreement(same_units).value)
    assert "left out of every statistic" in row["note"]
