"""Items an importer could not place (category ``unknown``) get their own report rows."""

from __future__ import annotations

import dataclasses
import json

from analysis.categories import ATTRIBUTE_TYPES, UNKNOWN
from analysis.report import ALL, build_report, report_to_json
from analysis.report.html import render_html
from tests.analysis.report.studies import N_RESAMPLES, SEED, full_study, rows_of


def test_an_unknown_attribute_type_is_a_row_of_its_own_after_the_known_ones() -> None:
    study = full_study()
    single = study.single.copy()
    # Item i1 ("color") comes from a release whose value the table could not place.
    single.loc[single["item"] == "i1", "attribute_type"] = UNKNOWN
    report = build_report(
        dataclasses.replace(study, single=single), n_resamples=N_RESAMPLES, rng=SEED, salt="s"
    )
    document = json.loads(report_to_json(report))
    rows = rows_of(document, "single_by_attribute_type", judgments=ALL)
    seen = list(dict.fromkeys(r["attribute_type"] for r in rows))
    assert seen == [*ATTRIBUTE_TYPES, UNKNOWN]
    unknown = [r for r in rows if r["attribute_type"] == UNKNOWN]
    per_model = single[single["item"] == "i1"].groupby("model").size()
    counted: dict[str, int] = {}
    for row in unknown:  # one row per model and prompt type
        counted[row["model"]] = counted.get(row["model"], 0) + row["n_judgments"]
    assert counted == per_model.to_dict()
    # The HTML report charts it too, after the known levels.
    page = render_html(report)
    assert page.index(">unknown<") > page.index(">count<")


def test_a_study_without_unknowns_has_no_unknown_rows() -> None:
    report = build_report(full_study(), n_resamples=N_RESAMPLES, rng=SEED, salt="s")
    document = json.loads(report_to_json(report))
    rows = rows_of(document, "single_by_attribute_type", judgments=ALL)
    assert [r for r in rows if r["attribute_type"] == UNKNOWN] == []
