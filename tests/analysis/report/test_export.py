"""Tests for analysis.report.export: JSON, CSV, raw judgments and pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.report import (
    KEPT,
    Report,
    StudyData,
    build_report,
    pseudonym,
    raw_judgments,
    report_to_csv,
    report_to_json,
    write_raw_judgments_csv,
    write_raw_judgments_jsonl,
)
from tests.analysis.report.studies import (
    BAD_RATER,
    MODELS,
    N_RESAMPLES,
    PROMPTS,
    RATERS,
    SALT,
    SEED,
    pairwise_rows,
    rows_of,
    settings,
    single_rows,
)


def test_the_json_holds_every_table_with_methods_columns_and_rows(
    document: dict[str, Any],
) -> None:
    expected = {
        "counts",
        "exclusions",
        "pairwise",
        "bradley_terry",
        "position_bias",
        "position_adjusted",
        "questions_by_prompt",
        "questions_by_object_type",
        "questions_by_attribute_type",
        "agreement",
        "auto_judge_vs_humans",
        "rater_quality",
    }
    for prefix, key in itertools.product(
        ("single", "majority", "auto_judge"),
        ("prompt", "object_type", "attribute_type", "scene", "style", "source"),
    ):
        expected.add(f"{prefix}_by_{key}")
    assert set(document["tables"]) == expected
    table = document["tables"]["single_by_prompt"]
    assert "Wilson" in table["methods"]["wilson_low"]
    assert "n_judgments" in table["methods"]["accuracy"]
    assert table["columns"][:3] == ["judgments", "model", "prompt_type"]
    assert document["analysis"]["seed"] == SEED
    assert document["analysis"]["n_resamples"] == N_RESAMPLES
    assert document["analysis"]["interval_method"] == "two-way-cluster-wilson"
    assert "two-way" in table["methods"]["crossed_low"]


def test_an_empty_category_is_null_in_json_not_nan(report: Report) -> None:
    text = report_to_json(report)
    assert not re.search(r"\bNaN\b|\bInfinity\b", text)
    document = json.loads(text)
    (row,) = rows_of(
        document,
        "single_by_attribute_type",
        judgments=KEPT,
        model="A",
        prompt_type="mask_simple",
        attribute_type="size",
    )
    assert row["n_judgments"] == 0
    assert row["accuracy"] is None and row["bootstrap_low"] is None
    assert row["note"] == "no data"


def test_one_csv_per_table_with_the_expected_columns_and_rows(
    report: Report, tmp_path: Path
) -> None:
    paths = report_to_csv(report, tmp_path / "csv")
    assert [p.name for p in paths] == [f"{name}.csv" for name in report.tables]
    by_prompt = pd.read_csv(tmp_path / "csv" / "single_by_prompt.csv")
    assert list(by_prompt.columns) == [
        "judgments",
        "model",
        "prompt_type",
        "n_judgments",
        "n_items",
        "correct",
        "accuracy",
        "wilson_low",
        "wilson_high",
        "bootstrap_low",
        "bootstrap_high",
        "n_raters",
        "design_effect",
        "crossed_low",
        "crossed_high",
        "crossed_method",
        "note",
    ]
    assert len(by_prompt) == 2 * len(MODELS) * len(PROMPTS)
    by_attribute = pd.read_csv(tmp_path / "csv" / "single_by_attribute_type.csv")
    assert len(by_attribute) == 2 * len(MODELS) * len(PROMPTS) * 5
    assert set(pd.read_csv(tmp_path / "csv" / "agreement.csv")["question"]) == {
        "verdict",
        "alignment",
        "realism",
    }
    exclusions = pd.read_csv(tmp_path / "csv" / "exclusions.csv")
    assert list(exclusions.columns)[:4] == ["task", "rule", "setting", "n_judgments_removed"]
    assert len(pd.read_csv(tmp_path / "csv" / "pairwise.csv")) == 12


def test_no_export_shows_a_raw_rater_id(page: str, report: Report, tmp_path: Path) -> None:
    texts = [page, report_to_json(report)]
    texts += [p.read_text(encoding="utf-8") for p in report_to_csv(report, tmp_path)]
    for text in texts:
        assert not any(rater in text for rater in (*RATERS, BAD_RATER))
    assert pseudonym(BAD_RATER, salt=SALT) in page


def test_a_pseudonym_is_r_and_ten_hex_digits_of_hmac_sha256() -> None:
    # .venv/bin/python -c "import hmac; print(hmac.new(b'test-salt', b'alice@example.org',
    #   'sha256').hexdigest()[:10])"
    expected = hmac.new(SALT.encode(), RATERS[0].encode(), hashlib.sha256).hexdigest()[:10]
    assert pseudonym(RATERS[0], salt=SALT) == "r-" + expected
    assert re.fullmatch(r"r-[0-9a-f]{10}", pseudonym(RATERS[0], salt=SALT))


def test_pseudonymised_raters_never_contain_the_raw_id() -> None:
    raw = raw_judgments(pd.DataFrame(single_rows()), salt=SALT)
    assert len(raw) == 84
    for value in raw["rater"]:
        assert not any(rater in value for rater in (*RATERS, BAD_RATER))
    assert raw["rater"].nunique() == 4
    assert not raw.astype(str).isin([*RATERS, BAD_RATER]).any().any()


def test_pseudonyms_are_stable_for_a_salt_and_differ_for_another() -> None:
    frame = pd.DataFrame(pairwise_rows())
    first = raw_judgments(frame, salt=SALT)["rater"]
    again = raw_judgments(frame, salt=SALT)["rater"]
    other = raw_judgments(frame, salt="another-salt")["rater"]
    assert first.tolist() == again.tolist()
    assert set(first).isdisjoint(set(other))


def test_an_empty_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        raw_judgments(pd.DataFrame(single_rows()), salt="")


def test_raw_judgments_drop_columns_that_were_not_asked_for() -> None:
    frame = pd.DataFrame(single_rows()).assign(email=lambda d: d["rater"])
    assert "email" not in raw_judgments(frame, salt=SALT).columns
    with pytest.raises(ValueError, match="rater"):
        raw_judgments(frame, salt=SALT, extra_columns=["rater"])


def test_the_raw_writers_write_pseudonymised_csv_and_jsonl(tmp_path: Path) -> None:
    frame = pd.DataFrame(single_rows())
    csv_path = write_raw_judgments_csv(frame, tmp_path / "raw.csv", salt=SALT)
    jsonl_path = write_raw_judgments_jsonl(frame, tmp_path / "raw.jsonl", salt=SALT)
    for path in (csv_path, jsonl_path):
        text = path.read_text(encoding="utf-8")
        assert not any(rater in text for rater in (*RATERS, BAD_RATER))
    records = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    assert len(records) == len(pd.read_csv(csv_path)) == 84
    assert records[0]["exclusion_rule"] is None
    assert records[0]["rater"] == pseudonym(RATERS[0], salt=SALT)


def test_nan_free_json_even_when_every_number_is_missing() -> None:
    data = StudyData(name="empty", settings=settings(task_kinds=("single",), models=("A",)))
    text = report_to_json(build_report(data, rng=0, n_resamples=10))
    assert "NaN" not in text
    rows = json.loads(text)["tables"]["single_by_prompt"]["rows"]
    assert rows and all(r["accuracy"] is None for r in rows)
    assert all(math.isfinite(r["n_judgments"]) for r in rows)


def test_raw_judgments_carry_each_answer_and_the_time_on_task() -> None:
    frame = raw_judgments(pd.DataFrame(single_rows()), salt=SALT)
    answers = ["answer_object", "answer_attribute", "answer_binding", "answer_attr_color"]
    assert set(answers) | {"time_on_task_ms"} <= set(frame.columns)
    simple = frame.loc[frame["prompt_type"] == "mask_simple"]
    assert simple["answer_binding"].isin(["yes", "no"]).all()
    # A check the prompt type does not ask is missing, not "no".
    assert simple["answer_attr_color"].isna().all()
    # An incorrect verdict has at least one "no" among its checks.
    wrong = simple.loc[~simple["correct"], answers[:3]]
    assert (wrong == "no").any(axis=1).all()
    assert (frame["time_on_task_ms"] >= 3000).all()
