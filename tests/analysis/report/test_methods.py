"""Tests for analysis.report.methods: the methods paragraph states the design and counts."""

from __future__ import annotations

from dataclasses import replace

from analysis.report import Report, build_report, report_to_json
from tests.analysis.report.studies import N_RESAMPLES, RULE, full_study, settings


def test_the_methods_paragraph_states_k_and_the_counts(page: str, report: Report) -> None:
    methods = page[page.index('<section id="methods">') : page.index('<section id="single">')]
    assert "K = 3 raters" in methods
    assert "72 single-image judgments by 3 raters on 4 items" in methods
    assert "84 before exclusions" in methods
    assert "Holm" in methods and "Wilson" in methods and "bootstrap" in methods
    assert f"{N_RESAMPLES} resamples" in methods
    assert "10% of the units shown were gold units" in methods
    assert f"{RULE}: 12" in report.methods_text.replace(" (single)", "")


def test_an_adaptive_study_s_methods_say_what_the_allocation_did() -> None:
    adaptive = {
        "k_min": 1,
        "k_max": 5,
        "target_half_width": 0.1,
        "target_by_category": False,
        "pairwise_target": "decide",
        "pairwise_half_width": None,
        "decide_alpha": 0.05,
        "budget": 900,
        "budget_reached": False,
        "statuses": {"target met": 7, "K_max reached": 1, "decided": 2},
    }
    data = replace(full_study(), settings=settings(adaptive=adaptive))
    report = build_report(data, rng=0, n_resamples=20, salt="adaptive")
    text = report.methods_text
    assert "allocated adaptively to precision targets" in text
    assert "a 95% half-width of at most 0.1 for each model × prompt type accuracy" in text
    assert "K_min = 1" in text and "K_max = 5" in text and "budget of 900 judgments" in text
    assert "at alpha = 0.05 split over the rounds from K_min to K_max" in text
    assert "Of the 10 cells: 1 K_max reached, 2 decided, 7 target met." in text
    assert "K = 3 raters" not in text  # no fixed K to state
    assert '"k_max": 5' in report_to_json(report)
