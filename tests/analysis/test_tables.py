"""Tests for analysis.tables: the input contract, exclusions and per-category tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.crossed import FALLBACK_DEGENERATE, ONE_ITEM
from analysis.grouping import CROSSED_COLUMNS, DEGENERATE_BOOTSTRAP
from analysis.tables import (
    CATEGORY_LEVELS,
    UNSPECIFIED_RULE,
    accuracy_from_edit_counts,
    accuracy_table,
    apply_exclusions,
    edit_counts,
    majority_table,
    majority_votes,
    validate_pairwise,
    validate_single,
)

_ITEM_CATEGORIES = {
    "object_type": "common",
    "attribute_type": "color",
    "scene": "indoor",
    "style": "realistic",
    "source": "generated",
}


def judgment(item: str, model: str, rater: str, correct: bool, **overrides: Any) -> dict[str, Any]:
    """One single-image judgment row; the unit is the edit (item, model, prompt type)."""
    row: dict[str, Any] = {
        "item": item,
        "model": model,
        "prompt_type": "mask_simple",
        "rater": rater,
        "correct": correct,
        **_ITEM_CATEGORIES,
    }
    row.update(overrides)
    row.setdefault("unit", f"{row['item']}/{row['model']}/{row['prompt_type']}")
    return row


def judgments_of(
    item: str, model: str, verdicts: list[bool], **overrides: Any
) -> list[dict[str, Any]]:
    """Judgments of one edit by raters r0, r1, ..."""
    return [judgment(item, model, f"r{i}", v, **overrides) for i, v in enumerate(verdicts)]


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --------------------------------------------------------------------------- validation


def test_validation_names_the_missing_column() -> None:
    frame = pd.DataFrame([judgment("i1", "A", "r1", True)]).drop(columns="scene")
    with pytest.raises(ValueError, match="scene"):
        validate_single(frame)


def test_validation_names_an_unknown_prompt_type() -> None:
    frame = pd.DataFrame([judgment("i1", "A", "r1", True, prompt_type="mask_fancy")])
    with pytest.raises(ValueError, match=r"prompt_type.*mask_fancy"):
        validate_single(frame)


def test_validation_rejects_a_verdict_that_is_not_boolean() -> None:
    frame = pd.DataFrame([judgment("i1", "A", "r1", "yes")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="correct"):
        validate_single(frame)


def test_validation_rejects_missing_values_in_a_required_column() -> None:
    rows = [judgment("i1", "A", "r1", True), judgment("i2", "A", "r1", True)]
    rows[1]["rater"] = None
    frame = pd.DataFrame(rows)
    with pytest.raises(ValueError, match="rater"):
        validate_single(frame)


def test_validation_rejects_an_item_with_two_object_types() -> None:
    frame = pd.DataFrame(
        [
            judgment("i1", "A", "r1", True),
            judgment("i1", "B", "r1", True, object_type="rare"),
        ]
    )
    with pytest.raises(ValueError, match="object_type"):
        validate_single(frame)


def test_validation_rejects_a_rater_judging_a_unit_twice() -> None:
    frame = pd.DataFrame([judgment("i1", "A", "r1", True), judgment("i1", "A", "r1", False)])
    with pytest.raises(ValueError, match="more than once"):
        validate_single(frame)


def test_pairwise_validation_rejects_a_pair_out_of_order() -> None:
    frame = pd.DataFrame(
        [
            {
                "unit": 1,
                "item": "i1",
                "prompt_type": "mask_rich",
                "model_a": "B",
                "model_b": "A",
                "left": "a",
                "rater": "r1",
                "question": "alignment",
                "choice": "a",
            }
        ]
    )
    with pytest.raises(ValueError, match="model_a < model_b"):
        validate_pairwise(frame)


def test_pairwise_validation_names_an_unknown_choice() -> None:
    frame = pd.DataFrame(
        [
            {
                "unit": 1,
                "item": "i1",
                "prompt_type": "mask_rich",
                "model_a": "A",
                "model_b": "B",
                "left": "a",
                "rater": "r1",
                "question": "alignment",
                "choice": "left",
            }
        ]
    )
    with pytest.raises(ValueError, match="choice"):
        validate_pairwise(frame)


# --------------------------------------------------------------------------- exclusions


def test_apply_exclusions_removes_flagged_rows_and_counts_them_per_rule() -> None:
    rows = judgments_of("i1", "A", [True, False, True, True])
    for row, (flag, rule) in zip(
        rows, [(True, "gold"), (True, "gold"), (True, None), (False, None)], strict=True
    ):
        row.update(excluded=flag, exclusion_rule=rule)
    kept, removed = apply_exclusions(pd.DataFrame(rows), rules=["gold", "too_fast"])
    assert kept["rater"].tolist() == ["r3"]
    assert removed == {"gold": 2, "too_fast": 0, UNSPECIFIED_RULE: 1}


def test_apply_exclusions_reads_the_rule_column_when_there_is_no_flag() -> None:
    rows = judgments_of("i1", "A", [True, False])
    rows[0]["exclusion_rule"] = "attention"
    rows[1]["exclusion_rule"] = None
    kept, removed = apply_exclusions(pd.DataFrame(rows))
    assert kept["rater"].tolist() == ["r1"]
    assert removed == {"attention": 1}


def test_tables_refuse_rows_that_are_still_excluded() -> None:
    rows = judgments_of("i1", "A", [True])
    rows[0]["excluded"] = True
    with pytest.raises(ValueError, match="apply_exclusions"):
        accuracy_table(pd.DataFrame(rows), rng=rng())


# --------------------------------------------------------------------------- accuracy


def _zero_of_four_and_four_of_four() -> pd.DataFrame:
    rows = [
        *judgments_of("i1", "A", [False, False]),
        *judgments_of("i2", "A", [False, False]),
        *judgments_of("i1", "B", [True, True]),
        *judgments_of("i2", "B", [True, True]),
    ]
    return pd.DataFrame(rows)


def test_accuracy_table_gives_exact_edge_bounds_for_0_of_4_and_4_of_4() -> None:
    table = accuracy_table(_zero_of_four_and_four_of_four(), ["model"], rng=rng()).set_index(
        "model"
    )
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(0, 4, method='wilson'), p(4, 4, method='wilson'))"
    #   -> (0.0, 0.4898908364545974) (0.5101091635454025, 1.0)
    a, b = table.loc["A"], table.loc["B"]
    assert (a["n_judgments"], a["n_items"], a["correct"], a["accuracy"]) == (4, 2, 0, 0.0)
    assert a["wilson_low"] == 0.0
    assert a["wilson_high"] == pytest.approx(0.4898908364545974, abs=1e-12)
    assert b["wilson_low"] == pytest.approx(0.5101091635454025, abs=1e-12)
    assert b["wilson_high"] == 1.0
    # Every resample of all-wrong (all-right) judgments is all wrong (right): the bootstrap
    # falls back to the Wilson interval and says so; no interval has zero width.
    assert (a["bootstrap_low"], a["bootstrap_high"]) == (a["wilson_low"], a["wilson_high"])
    assert (b["bootstrap_low"], b["bootstrap_high"]) == (b["wilson_low"], b["wilson_high"])
    for row in (a, b):
        assert DEGENERATE_BOOTSTRAP in row["note"] and FALLBACK_DEGENERATE in row["note"]
        assert row["crossed_high"] - row["crossed_low"] > 0.4


def test_accuracy_table_for_7_of_20_matches_wilson_and_counts_items() -> None:
    verdicts = [True] * 7 + [False] * 13
    rows = [judgment(f"i{k // 4}", "A", f"r{k % 4}", v) for k, v in enumerate(verdicts)]
    table = accuracy_table(pd.DataFrame(rows), rng=rng())
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(7, 20, method='wilson'))"  -> (0.18119182410108203, 0.5671457233147638)
    row = table.iloc[0]
    assert (row["n_judgments"], row["n_items"], row["correct"]) == (20, 5, 7)
    assert row["wilson_low"] == pytest.approx(0.18119182410108203, abs=1e-12)
    assert row["wilson_high"] == pytest.approx(0.5671457233147638, abs=1e-12)
    assert row["bootstrap_low"] <= 0.35 <= row["bootstrap_high"]


def test_accuracy_table_reports_a_category_without_data_as_a_no_data_row() -> None:
    frame = pd.DataFrame(judgments_of("i1", "A", [True, False]))
    table = accuracy_table(frame, ["object_type"], rng=rng(), levels=CATEGORY_LEVELS)
    assert table["object_type"].tolist() == ["common", "rare", "text"]
    text = table.set_index("object_type").loc["text"]
    assert (text["n_judgments"], text["n_items"], text["correct"]) == (0, 0, 0)
    assert math.isnan(text["accuracy"]) and math.isnan(text["bootstrap_low"])
    assert text["note"] == "no data"


def test_accuracy_table_without_levels_shows_only_observed_groups() -> None:
    frame = pd.DataFrame(judgments_of("i1", "A", [True, False]))
    table = accuracy_table(frame, ["object_type"], rng=rng())
    assert table["object_type"].tolist() == ["common"]


def test_accuracy_table_on_a_single_item_notes_the_degenerate_bootstrap() -> None:
    table = accuracy_table(pd.DataFrame(judgments_of("i1", "A", [True, False])), rng=rng())
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(1, 2, method='wilson'))"  -> (0.09453120573423074, 0.9054687942657693)
    assert table.loc[0, "bootstrap_low"] == pytest.approx(0.09453120573423074, abs=1e-12)
    assert table.loc[0, "bootstrap_high"] == pytest.approx(0.9054687942657693, abs=1e-12)
    assert table.loc[0, "note"].startswith("single cluster")
    assert DEGENERATE_BOOTSTRAP in table.loc[0, "note"] and ONE_ITEM in table.loc[0, "note"]


def test_accuracy_table_rejects_a_value_missing_from_the_given_levels() -> None:
    frame = pd.DataFrame(judgments_of("i1", "A", [True]))
    with pytest.raises(ValueError, match="object_type"):
        accuracy_table(frame, ["object_type"], rng=rng(), levels={"object_type": ["rare"]})


def test_accuracy_table_rejects_grouping_by_the_verdict() -> None:
    with pytest.raises(ValueError, match="correct"):
        accuracy_table(pd.DataFrame(judgments_of("i1", "A", [True])), ["correct"], rng=rng())


# --------------------------------------------------------------------------- majority


def test_majority_vote_counts_a_tie_as_not_correct_and_reports_it() -> None:
    frame = pd.DataFrame(
        [
            *judgments_of("i1", "A", [True, False]),  # tie -> not correct
            *judgments_of("i2", "A", [True, True, False]),  # 2 of 3 -> correct
            *judgments_of("i3", "A", [False, False, True]),  # 1 of 3 -> not correct
            *judgments_of("i4", "A", [True]),  # one rater decides alone
        ]
    )
    votes = majority_votes(frame).set_index("item")
    assert votes["tie"].tolist() == [True, False, False, False]
    assert votes["correct"].tolist() == [False, True, False, True]
    table = majority_table(frame, ["model"], rng=rng())
    row = table.iloc[0]
    assert (row["n_edits"], row["n_judgments"], row["n_ties"], row["correct"]) == (4, 9, 1, 2)
    assert row["accuracy"] == 0.5


def test_majority_table_lists_prompt_types_without_data() -> None:
    frame = pd.DataFrame(judgments_of("i1", "A", [True, True]))
    table = majority_table(frame, ["model", "prompt_type"], rng=rng(), levels=CATEGORY_LEVELS)
    assert table["prompt_type"].tolist() == ["mask_simple", "mask_rich", "full_image"]
    assert table["n_edits"].tolist() == [1, 0, 0]
    assert table["note"].tolist()[1:] == ["no data", "no data"]


def test_majority_table_refuses_to_group_by_rater() -> None:
    with pytest.raises(ValueError, match="rater"):
        majority_table(pd.DataFrame(judgments_of("i1", "A", [True])), ["rater"], rng=rng())


def test_an_empty_table_gives_one_no_data_row_instead_of_raising() -> None:
    empty = pd.DataFrame([judgment("i1", "A", "r1", True)]).iloc[0:0]
    table = accuracy_table(empty, rng=rng())
    assert table["n_judgments"].tolist() == [0]
    assert table["note"].tolist() == ["no data"]


def _shuffled_study() -> pd.DataFrame:
    gen = np.random.default_rng(8)
    rows = []
    for i in range(12):
        categories = {**_ITEM_CATEGORIES, "scene": ("indoor", "outdoor")[i % 2]}
        for model in ("A", "B"):
            for k in range(int(gen.integers(1, 5))):
                rows.append(
                    judgment(f"i{i}", model, f"r{k}", bool(gen.random() < 0.6), **categories)
                )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3).reset_index(drop=True)


def test_tables_from_edit_counts_equal_the_tables_of_the_judgments() -> None:
    frame = _shuffled_study()
    edits = edit_counts(validate_single(frame))
    for majority, direct in ((False, accuracy_table), (True, majority_table)):
        want = direct(
            frame,
            ["model", "scene"],
            rng=np.random.default_rng(1),
            n_resamples=300,
            levels=CATEGORY_LEVELS,
        )
        got = accuracy_from_edit_counts(
            edits,
            ["model", "scene"],
            majority=majority,
            rng=np.random.default_rng(1),
            n_resamples=300,
            levels=CATEGORY_LEVELS,
        )
        # The judgment table adds the crossed interval, which needs the raters.
        crossed = [c for c in want.columns if c not in got.columns]
        assert majority or crossed == list(CROSSED_COLUMNS[:-1])
        columns = [c for c in got.columns if c != "note"]
        pd.testing.assert_frame_equal(got[columns], want[columns])


def test_accuracy_table_by_rater_groups_the_raw_judgments() -> None:
    frame = _shuffled_study()
    table = accuracy_table(frame, ["rater"], rng=np.random.default_rng(0), n_resamples=50)
    counts = frame.groupby("rater")["correct"].agg(["size", "sum"])
    assert table["rater"].tolist() == counts.index.tolist()
    assert table["n_judgments"].tolist() == counts["size"].tolist()
    assert table["correct"].tolist() == counts["sum"].tolist()
