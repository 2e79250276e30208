"""Tests for analysis.report (and the page of analysis.plots): build, JSON, CSV, HTML, privacy."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import math
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
    StudySettings,
    build_report,
    pseudonym,
    raw_judgments,
    report_to_csv,
    report_to_html,
    report_to_json,
    write_raw_judgments_csv,
    write_raw_judgments_jsonl,
)
from analysis.tables import CATEGORY_LEVELS, accuracy_table, apply_exclusions, majority_table

# A model name that is also HTML, to check escaping everywhere.
TRICKY = "<b>m&1</b>"
MODELS = ("A", "B", TRICKY)
PROMPTS = ("mask_simple", "mask_rich")
# (object_type, attribute_type, scene, style, source); no item has the attribute "size" or the
# object type "text", so those categories have no data.
ITEMS = {
    "i1": ("common", "color", "indoor", "realistic", "generated"),
    "i2": ("rare", "shape", "outdoor", "painting", "natural"),
    "i3": ("common", "material", "outdoor", "realistic", "natural"),
    "i4": ("rare", "count", "indoor", "painting", "generated"),
}
# Raw rater ids that must never reach an export; the last one is excluded by the gold rule.
RATERS = ("alice@example.org", "prolific-5f3a9", "worker-1234")
BAD_RATER = "careless@example.org"
RULE = "min_gold_accuracy"
N_RESAMPLES = 50
SEED = 7
SALT = "test-salt"


def _categories(item: str) -> dict[str, str]:
    return dict(
        zip(("object_type", "attribute_type", "scene", "style", "source"), ITEMS[item], strict=True)
    )


def single_rows(models: tuple[str, ...] = MODELS) -> list[dict[str, Any]]:
    """Three raters per edit, plus an excluded rater on items i1 and i2.

    The verdict pattern is fixed by hand: rater k calls edit (item i, model m, prompt p)
    correct unless ``(3 * i + p + k) % (m + 2) == 0``, so model A's edits get 1 or 2 correct
    verdicts of 3, model B's always 2, and the third model's 2 or 3.
    """
    rows = []
    for (i, item), (m, model), (p, prompt) in itertools.product(
        enumerate(ITEMS), enumerate(models), enumerate(PROMPTS)
    ):
        raters = RATERS + ((BAD_RATER,) if item in ("i1", "i2") else ())
        for k, rater in enumerate(raters):
            bad = rater == BAD_RATER
            rows.append(
                {
                    "unit": f"{item}/{model}/{prompt}",
                    "item": item,
                    "model": model,
                    "prompt_type": prompt,
                    **_categories(item),
                    "rater": rater,
                    "correct": bad or (3 * i + p + k) % (m + 2) != 0,
                    "excluded": bad,
                    "exclusion_rule": RULE if bad else None,
                }
            )
    return rows


def pairwise_rows(models: tuple[str, ...] = MODELS) -> list[dict[str, Any]]:
    """Both questions of every model pair on every item by three raters (+ one excluded)."""
    rows = []
    choices = ("a", "a", "b", "none", "a", "b", "a")
    counter = itertools.count()
    for item, (a, b) in itertools.product(ITEMS, itertools.combinations(sorted(models), 2)):
        for k, rater in enumerate((*RATERS, BAD_RATER)):
            for question in ("alignment", "realism"):
                bad = rater == BAD_RATER
                rows.append(
                    {
                        "unit": f"{item}/{a}/{b}",
                        "item": item,
                        "prompt_type": "mask_rich",
                        "model_a": a,
                        "model_b": b,
                        "left": "ab"[k % 2],
                        "rater": rater,
                        "question": question,
                        "choice": "b" if bad else choices[next(counter) % 7],
                        "excluded": bad,
                        "exclusion_rule": RULE if bad else None,
                    }
                )
    return rows


def judge_rows(models: tuple[str, ...] = MODELS) -> list[dict[str, Any]]:
    """One automatic verdict per edit: correct unless the edit's position is a multiple of 3."""
    edits = {(r["item"], r["model"], r["prompt_type"]): r for r in single_rows(models)}
    return [
        {
            **row,
            "unit": f"auto/{row['unit']}",
            "rater": "auto-judge",
            "correct": n % 3 != 0,
            "excluded": False,
            "exclusion_rule": None,
        }
        for n, row in enumerate(edits.values())
    ]


def settings(**overrides: Any) -> StudySettings:
    values: dict[str, Any] = {
        "task_kinds": ("single", "pairwise"),
        "prompt_types": PROMPTS,
        "raters_per_unit": 3,
        "gold_rate": 0.1,
        "exclusion_rules": {RULE: 0.7, "min_median_seconds": 2},
        "models": MODELS,
        "launched_at": dt.date(2024, 5, 1),
        "closed_at": dt.date(2024, 5, 9),
    }
    values.update(overrides)
    return StudySettings(**values)


def full_study() -> StudyData:
    return StudyData(
        name="Pilot <i>1</i> & co",
        settings=settings(),
        single=pd.DataFrame(single_rows()),
        pairwise=pd.DataFrame(pairwise_rows()),
        rater_quality=pd.DataFrame(
            {
                "rater": [*RATERS, BAD_RATER],
                "gold_accuracy": [0.9, 0.8, 1.0, 0.4],
                "excluded": [False, False, False, True],
            }
        ),
        auto_judge=pd.DataFrame(judge_rows()),
    )


def kept_single() -> pd.DataFrame:
    kept, _ = apply_exclusions(pd.DataFrame(single_rows()))
    return kept


def levels() -> dict[str, Any]:
    return {**CATEGORY_LEVELS, "model": MODELS, "prompt_type": PROMPTS}


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(full_study(), rng=SEED, n_resamples=N_RESAMPLES, salt=SALT)


@pytest.fixture(scope="module")
def document(report: Report) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise AssertionError(f"JSON holds the non-standard constant {constant}")

    parsed: dict[str, Any] = json.loads(report_to_json(report), parse_constant=refuse)
    return parsed


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return report_to_html(report)


def rows_of(document: dict[str, Any], table: str, **match: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = document["tables"][table]["rows"]
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


# --------------------------------------------------------------------------- JSON


def test_the_json_holds_every_table_with_methods_columns_and_rows(
    document: dict[str, Any],
) -> None:
    expected = {
        "counts",
        "exclusions",
        "pairwise",
        "bradley_terry",
        "position_bias",
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


# --------------------------------------------------------------------------- CSV


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


# --------------------------------------------------------------------------- HTML


def chart(page: str, chart_id: str) -> str:
    """The inline ``<svg>`` whose element ids carry ``chart_id``."""
    for svg in re.findall(r"<svg\b.*?</svg>", page, re.S):
        if f'id="{chart_id}-' in svg:
            return str(svg)
    raise AssertionError(f"no chart {chart_id} on the page")


def test_the_page_has_a_chart_for_each_required_breakdown(page: str) -> None:
    for key in ("prompt", "object_type", "attribute_type"):
        svg = chart(page, f"chart-single-{key}")
        assert svg.count("<path") > 5
    assert "first model preferred" in chart(page, "chart-pairwise")


def test_the_charts_label_a_category_without_data(page: str) -> None:
    assert "no data" in chart(page, "chart-single-attribute_type")
    assert "no data" in chart(page, "chart-single-object_type")


def test_the_methods_paragraph_states_k_and_the_counts(page: str, report: Report) -> None:
    methods = page[page.index('<section id="methods">') : page.index('<section id="single">')]
    assert "K = 3 raters" in methods
    assert "72 single-image judgments by 3 raters on 4 items" in methods
    assert "84 before exclusions" in methods
    assert "Holm" in methods and "Wilson" in methods and "bootstrap" in methods
    assert f"{N_RESAMPLES} resamples" in methods
    assert "10% of the units shown were gold units" in methods
    assert f"{RULE}: 12" in report.methods_text.replace(" (single)", "")


def test_a_category_without_data_reads_no_data(page: str) -> None:
    row = re.search(r"<tr><td>A</td><td>Mask-Simple</td><td>size</td>.*?</tr>", page)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
    # Model, prompt type, attribute, judgments, items, accuracy, Wilson, bootstrap, edits,
    # majority accuracy, majority bootstrap, ties, note.
    assert cells[3:6] == ["0", "0", "no data"]
    assert cells[9] == "no data"
    assert cells[-1] == "no data"


def test_the_page_never_prints_nan(page: str) -> None:
    assert not re.search(r"\bnan\b", page, re.I)


def test_the_page_loads_nothing_from_elsewhere(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "<!DOCTYPE svg" not in page


def test_model_and_study_names_are_escaped(page: str) -> None:
    assert TRICKY not in page
    assert "&lt;b&gt;m&amp;1&lt;/b&gt;" in page
    assert "<i>1</i>" not in page
    assert "Pilot &lt;i&gt;1&lt;/i&gt; &amp; co" in page


def test_chart_element_ids_are_unique_on_the_page(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_no_export_shows_a_raw_rater_id(page: str, report: Report, tmp_path: Path) -> None:
    texts = [page, report_to_json(report)]
    texts += [p.read_text(encoding="utf-8") for p in report_to_csv(report, tmp_path)]
    for text in texts:
        assert not any(rater in text for rater in (*RATERS, BAD_RATER))
    assert pseudonym(BAD_RATER, salt=SALT) in page


# --------------------------------------------------------------------------- privacy


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


def test_a_rater_quality_table_without_a_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        build_report(full_study(), rng=0, n_resamples=10)


# --------------------------------------------------------------------------- other studies


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
    page = report_to_html(report)
    assert "chart-single-prompt" in page and "chart-pairwise" not in page
    assert not re.search(r"\bnan\b", page, re.I)
    assert report_to_csv(report, tmp_path)


def pairwise_only_study() -> StudyData:
    return StudyData(
        name="pairwise only",
        settings=settings(task_kinds=(), models=("A", "B")),
        pairwise=pd.DataFrame(pairwise_rows(("A", "B"))),
    )


@pytest.fixture(scope="module")
def pairwise_only() -> Report:
    return build_report(pairwise_only_study(), rng=3, n_resamples=20)


def test_a_study_with_only_side_by_side_judgments_makes_a_report(
    pairwise_only: Report, tmp_path: Path
) -> None:
    assert pairwise_only.task_kinds == ("pairwise",)
    assert "single_by_prompt" not in pairwise_only.tables
    # Bradley-Terry needs more than two models.
    assert "bradley_terry" not in pairwise_only.tables
    page = report_to_html(pairwise_only)
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
    page = report_to_html(report)
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


def test_settings_refuse_an_unknown_task_kind() -> None:
    with pytest.raises(ValueError, match="task_kinds"):
        settings(task_kinds=("ranking",))


def test_nan_free_json_even_when_every_number_is_missing() -> None:
    data = StudyData(name="empty", settings=settings(task_kinds=("single",), models=("A",)))
    text = report_to_json(build_report(data, rng=0, n_resamples=10))
    assert "NaN" not in text
    rows = json.loads(text)["tables"]["single_by_prompt"]["rows"]
    assert rows and all(r["accuracy"] is None for r in rows)
    assert all(math.isfinite(r["n_judgments"]) for r in rows)
