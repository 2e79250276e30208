"""Tests for analysis.report.build: every table equals a direct call or a hand count."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.pairwise import pairwise_comparisons
from analysis.report import (
    ALL,
    KEPT,
    Report,
    StudyData,
    build_report,
    report_to_csv,
    report_to_json,
)
from analysis.report.html import render_html
from analysis.tables import accuracy_table, apply_exclusions, majority_table
from tests.analysis.report.studies import (
    MODELS,
    N_RESAMPLES,
    PROMPTS,
    RULE,
    SEED,
    chart,
    full_study,
    judge_rows,
    kept_single,
    levels,
    pairwise_only_study,
    pairwise_rows,
    rows_of,
    settings,
    single_rows,
)


def test_the_first_table_equals_a_direct_accuracy_table_call_bootstrap_included(
    document: dict[str, Any],
) -> None:
    # The report draws its bootstraps in table order, so the first table sees the seed's
    # first draws and must match a direct call exactly.
    direct = accuracy_table(
        kept_single(),
        ["model", "prompt_type"],
        rng=np.random.default_rng(SEED),
        n_resamples=N_RESAMPLES,
        levels=levels(),
    )
    reported = rows_of(document, "single_by_prompt", judgments=KEPT)
    assert len(reported) == len(direct) == len(MODELS) * len(PROMPTS)
    for got, want in zip(reported, direct.to_dict(orient="records"), strict=True):
        for column in ("model", "prompt_type", "n_judgments", "n_items", "correct"):
            assert got[column] == want[column]
        for column in ("accuracy", "wilson_low", "wilson_high", "bootstrap_low", "bootstrap_high"):
            assert got[column] == pytest.approx(want[column])


def test_the_accuracy_of_model_a_on_mask_simple_is_the_hand_count(
    document: dict[str, Any],
) -> None:
    (row,) = rows_of(
        document, "single_by_prompt", judgments=KEPT, model="A", prompt_type="mask_simple"
    )
    # m = 0, p = 0: 3 * i + k runs over 0..11 and is even (incorrect) for 6 of the 12.
    assert (row["n_judgments"], row["correct"]) == (12, 6)
    assert row["accuracy"] == pytest.approx(6 / 12)


def test_majority_accuracy_equals_a_direct_majority_table_call(
    document: dict[str, Any],
) -> None:
    direct = majority_table(
        kept_single(),
        ["model", "prompt_type", "object_type"],
        rng=np.random.default_rng(0),
        n_resamples=N_RESAMPLES,
        levels=levels(),
    )
    reported = rows_of(document, "majority_by_object_type", judgments=KEPT)
    assert len(reported) == len(direct)
    for got, want in zip(reported, direct.to_dict(orient="records"), strict=True):
        assert (got["model"], got["object_type"], got["n_edits"]) == (
            want["model"],
            want["object_type"],
            want["n_edits"],
        )
        if want["n_edits"]:
            assert got["accuracy"] == pytest.approx(want["accuracy"])
            assert got["wilson_low"] == pytest.approx(want["wilson_low"])


def test_pairwise_counts_and_holm_p_values_equal_a_direct_call(
    document: dict[str, Any],
) -> None:
    kept, _ = apply_exclusions(pd.DataFrame(pairwise_rows()))
    direct = pairwise_comparisons(kept, rng=np.random.default_rng(0), n_resamples=N_RESAMPLES)
    reported = rows_of(document, "pairwise", judgments=KEPT)
    assert len(reported) == len(direct) == 6  # 3 pairs x 2 questions
    for got, want in zip(reported, direct, strict=True):
        assert (got["question"], got["model_a"], got["model_b"]) == (
            want.question,
            want.model_a,
            want.model_b,
        )
        assert (got["wins_a"], got["ties"], got["wins_b"]) == (want.wins_a, want.ties, want.wins_b)
        assert got["p_holm"] == pytest.approx(want.p_holm)
        assert got["win_rate_a_method"] == "wilson"


def test_rows_without_exclusions_count_the_excluded_judgments_too(
    document: dict[str, Any],
) -> None:
    (kept,) = rows_of(document, "counts", judgments=KEPT, task="single")
    (whole,) = rows_of(document, "counts", judgments=ALL, task="single")
    # The excluded rater judged 2 items x 3 models x 2 prompts = 12 edits.
    assert (kept["n_judgments"], whole["n_judgments"]) == (72, 84)
    assert (kept["n_raters"], whole["n_raters"]) == (3, 4)
    (a_all,) = rows_of(
        document, "single_by_prompt", judgments=ALL, model="A", prompt_type="mask_simple"
    )
    assert a_all["n_judgments"] == 14


def test_the_exclusions_table_counts_each_rule_even_one_that_removed_nothing(
    document: dict[str, Any],
) -> None:
    single = {r["rule"]: r for r in rows_of(document, "exclusions", task="single")}
    assert single[RULE]["n_judgments_removed"] == 12
    assert single[RULE]["n_raters"] == 1
    assert single["min_median_seconds"]["n_judgments_removed"] == 0
    (pair,) = rows_of(document, "exclusions", task="pairwise", rule=RULE)
    assert pair["n_judgments_removed"] == 4 * 3 * 2  # items x pairs x questions


def test_the_judge_agreement_with_the_human_majority_is_the_hand_count(
    document: dict[str, Any],
) -> None:
    majority = kept_single().groupby(["item", "model", "prompt_type"])["correct"].mean() > 0.5
    judge = pd.DataFrame(judge_rows()).set_index(["item", "model", "prompt_type"])["correct"]
    judge = judge.reindex(majority.index)
    agree = int((judge == majority).sum())
    both = float(((judge) & (majority)).mean())
    neither = float(((~judge) & (~majority)).mean())
    observed = both + neither
    chance = judge.mean() * majority.mean() + (1 - judge.mean()) * (1 - majority.mean())
    (row,) = rows_of(document, "auto_judge_vs_humans", judgments=KEPT, model=None)
    assert (row["n_edits"], row["n_agree"]) == (24, agree)
    assert row["agreement"] == pytest.approx(agree / 24)
    assert row["kappa"] == pytest.approx((observed - chance) / (1 - chance))


def test_a_rater_quality_table_without_a_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        build_report(full_study(), rng=0, n_resamples=10)


def test_a_study_with_only_single_image_judgments_makes_a_report(tmp_path: Path) -> None:
    data = StudyData(
        name="single only",
        settings=settings(task_kinds=(), models=("A",)),
        single=pd.DataFrame(single_rows(("A",))),
        pairwise=pd.DataFrame(),
    )
    report = build_report(data, rng=1, n_resamples=20)
    assert report.task_kinds == ("single",)
    assert "pairwise" not in report.tables and "single_by_prompt" in report.tables
    page = render_html(report)
    assert "chart-single-prompt" in page and "chart-pairwise" not in page
    assert not re.search(r"\bnan\b", page, re.I)
    assert report_to_csv(report, tmp_path)


def test_a_study_with_only_side_by_side_judgments_makes_a_report(
    pairwise_only: Report, tmp_path: Path
) -> None:
    assert pairwise_only.task_kinds == ("pairwise",)
    assert "single_by_prompt" not in pairwise_only.tables
    # Bradley-Terry needs more than two models.
    assert "bradley_terry" not in pairwise_only.tables
    page = render_html(pairwise_only)
    assert "chart-pairwise" in page and "chart-single" not in page
    assert not re.search(r"\bnan\b", page, re.I)
    assert report_to_csv(pairwise_only, tmp_path)
    assert json.loads(report_to_json(pairwise_only))["tables"]["pairwise"]["rows"]


def test_the_same_seed_gives_the_same_json(pairwise_only: Report) -> None:
    again = build_report(pairwise_only_study(), rng=3, n_resamples=20)
    assert report_to_json(again) == report_to_json(pairwise_only)


def test_a_task_kind_without_judgments_is_reported_as_no_data() -> None:
    data = StudyData(
        name="nothing yet",
        settings=settings(task_kinds=("pairwise",), models=("A", "B")),
    )
    report = build_report(data, rng=1, n_resamples=10)
    assert report.tables["pairwise"].frame.empty
    bias = report.tables["position_bias"].frame
    assert (bias["share_left_n"] == 0).all()
    page = render_html(report)
    assert "no data" in chart(page, "chart-pairwise")
    assert not re.search(r"\bnan\b", page, re.I)


def test_a_model_missing_from_the_settings_is_refused() -> None:
    data = StudyData(
        name="s", settings=settings(models=("A", "B")), single=pd.DataFrame(single_rows())
    )
    with pytest.raises(ValueError, match=r"settings\.models"):
        build_report(data, rng=0, n_resamples=10)


def test_an_automatic_judge_with_two_verdicts_on_one_edit_is_refused() -> None:
    rows = judge_rows()
    data = StudyData(
        name="s",
        settings=settings(),
        single=pd.DataFrame(single_rows()),
        auto_judge=pd.DataFrame([*rows, {**rows[0], "unit": "again"}]),
    )
    with pytest.raises(ValueError, match="two verdicts"):
        build_report(data, rng=0, n_resamples=10)
