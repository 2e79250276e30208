"""Tests for analysis.report.html: the self-contained page and its charts."""

from __future__ import annotations

import re

from tests.analysis.report.studies import TRICKY, chart


def test_the_page_has_a_chart_for_each_required_breakdown(page: str) -> None:
    for key in ("prompt", "object_type", "attribute_type"):
        svg = chart(page, f"chart-single-{key}")
        assert svg.count("<path") > 5
    assert "first model preferred" in chart(page, "chart-pairwise")


def test_the_charts_label_a_category_without_data(page: str) -> None:
    assert "no data" in chart(page, "chart-single-attribute_type")
    assert "no data" in chart(page, "chart-single-object_type")


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
