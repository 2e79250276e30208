"""Tests for analysis.questions: the per-question shares of "yes"."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.questions import answers_long, question_table
from tests.analysis.test_tables import judgment


def _frame() -> pd.DataFrame:
    rows = []
    # Mask-Simple: object always yes; attribute yes 3 of 4; binding 2 of 4.
    for k, (attribute, binding) in enumerate(
        [("yes", "yes"), ("yes", "no"), ("yes", "yes"), ("no", "no")]
    ):
        row = judgment(f"i{k % 2}", "A", f"r{k}", attribute == binding == "yes")
        row.update(answer_object="yes", answer_attribute=attribute, answer_binding=binding)
        rows.append(row)
    # Full-Image: one question, asked once.
    full = judgment("i0", "A", "r0", False, prompt_type="full_image")
    full.update(answer_match="no")
    rows.append(full)
    return pd.DataFrame(rows)


def test_answers_long_has_one_row_per_question_asked() -> None:
    long = answers_long(_frame())
    assert len(long) == 4 * 3 + 1
    assert set(long["question"]) == {"object", "attribute", "binding", "match"}


def test_question_table_counts_yes_per_question_with_wilson_and_crossed_intervals() -> None:
    table = question_table(answers_long(_frame()), confidence=0.95)
    rows = table.set_index(["prompt_type", "question"])
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(3, 4, method='wilson'))"  -> (0.30064184258240184, 0.9544127391902995)
    attribute = rows.loc[("mask_simple", "attribute")]
    assert (attribute["n_answers"], attribute["yes"], attribute["n_items"]) == (4, 3, 2)
    assert attribute["share_yes"] == 0.75
    assert attribute["wilson_low"] == pytest.approx(0.30064184258240184, abs=1e-12)
    assert attribute["wilson_high"] == pytest.approx(0.9544127391902995, abs=1e-12)
    assert attribute["crossed_low"] < attribute["crossed_high"]
    # 4 of 4 "yes" on the object check: never a zero-width interval.
    present = rows.loc[("mask_simple", "object")]
    assert present["share_yes"] == 1.0 and present["crossed_low"] < 1.0
    # One answer: one item and one rater, Wilson on it.
    match = rows.loc[("full_image", "match")]
    assert match["n_answers"] == 1 and match["share_yes"] == 0.0
    assert not math.isnan(match["crossed_high"])


def test_a_table_without_answer_columns_has_no_rows() -> None:
    frame = _frame().drop(columns=[c for c in _frame().columns if c.startswith("answer_")])
    assert question_table(answers_long(frame), confidence=0.95).empty
