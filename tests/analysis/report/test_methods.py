"""Tests for analysis.report.methods: the methods paragraph states the design and counts."""

from __future__ import annotations

from analysis.report import Report
from tests.analysis.report.studies import N_RESAMPLES, RULE


def test_the_methods_paragraph_states_k_and_the_counts(page: str, report: Report) -> None:
    methods = page[page.index('<section id="methods">') : page.index('<section id="single">')]
    assert "K = 3 raters" in methods
    assert "72 single-image judgments by 3 raters on 4 items" in methods
    assert "84 before exclusions" in methods
    assert "Holm" in methods and "Wilson" in methods and "bootstrap" in methods
    assert f"{N_RESAMPLES} resamples" in methods
    assert "10% of the units shown were gold units" in methods
    assert f"{RULE}: 12" in report.methods_text.replace(" (single)", "")
