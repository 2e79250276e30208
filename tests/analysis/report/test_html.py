"""Tests for analysis.report.html: the self-contained page and its charts."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from analysis.report import Report, build_report, report_to_json
from analysis.report.html import render_html
from tests.analysis.report.studies import N_RESAMPLES, SALT, SEED, TRICKY, chart, full_study


def test_the_page_has_a_chart_for_every_category_axis_and_for_the_win_rates(page: str) -> None:
    for key in ("prompt", "object_type", "attribute_type", "scene", "style", "source"):
        svg = chart(page, f"chart-single-{key}")
        assert svg.count("<path") > 5
    assert "first model preferred" in chart(page, "chart-pairwise")
    assert "adjusted for position" in chart(page, "chart-win-rates")


def test_every_chart_downloads_as_svg_and_pdf_and_every_table_as_csv_and_latex(
    page: str, report: Report
) -> None:
    for name in ("single_by_prompt", "single_by_source", "pairwise_win_rates"):
        assert f'download="{name}.svg" href="data:image/svg+xml;base64,' in page
        assert f'download="{name}.pdf" href="data:application/pdf;base64,' in page
    for name in ("single_by_scene", "majority_by_style", "pairwise", "position_adjusted"):
        assert f'download="{name}.csv" href="data:text/csv;base64,' in page
        assert f'download="{name}.tex" href="data:application/x-tex;base64,' in page
    latex = re.search(r'download="pairwise.tex" href="data:application/x-tex;base64,([^"]+)"', page)
    assert latex is not None
    text = base64.b64decode(latex.group(1)).decode()
    # One line per row plus the header, each ending in "\\"; "&" in a model name escaped.
    assert text.count(" \\\\\n") == len(report.tables["pairwise"].frame) + 1
    assert "m\\&1" in text


def test_no_banner_without_simulated_raters(page: str, document: dict[str, Any]) -> None:
    assert 'id="simulated-banner"' not in page
    assert document["analysis"]["simulated_raters_included"] is False


def test_a_report_with_simulated_raters_says_so_in_a_banner_and_the_json() -> None:
    study = full_study()
    data = replace(study, settings=replace(study.settings, simulated_raters=40))
    report = build_report(data, rng=SEED, n_resamples=N_RESAMPLES, salt=SALT)
    page = render_html(report)
    assert page.count('id="simulated-banner"') == 1
    assert "40 simulated raters" in page
    document = json.loads(report_to_json(report))
    assert document["analysis"]["simulated_raters_included"] is True
    assert "40 simulated raters" in document["analysis"]["banner"]
    assert "40 simulated raters" in report.methods_text


def test_the_charts_label_a_category_without_data(page: str) -> None:
    assert "no data" in chart(page, "chart-single-attribute_type")
    assert "no data" in chart(page, "chart-single-object_type")


def test_a_category_without_data_reads_no_data(page: str) -> None:
    row = re.search(r"<tr><td>A</td><td>Mask-Simple</td><td>size</td>.*?</tr>", page)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
    # Model, prompt type, attribute, judgments, items, raters, accuracy, two-way, design
    # effect, Wilson, bootstrap, edits, majority accuracy, majority bootstrap, ties, note.
    assert cells[3:7] == ["0", "0", "0", "no data"]
    assert cells[7] == "—"
    assert cells[12] == "no data"
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


def _png(colour: tuple[int, int, int]) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


def test_the_example_grid_shows_every_model_s_edit_as_inline_png() -> None:
    examples = pd.DataFrame(
        [
            {
                "item": "i1",
                "prompt_type": "mask_rich",
                "prompt": "a red ball",
                "model": m,
                "png": _png((40 * k, 0, 0)),
            }
            for k, m in enumerate(("input", "A", "B"))
        ]
    )
    report = build_report(
        replace(full_study(), examples=examples), rng=SEED, n_resamples=N_RESAMPLES, salt=SALT
    )
    page = render_html(report)
    assert page.count('<img class="example" src="data:image/png;base64,') == 3
    assert 'alt="B, item i1"' in page and "a red ball" in page
    # Images are inline: nothing is loaded from elsewhere.
    assert all(src.startswith("data:image/png") for src in re.findall(r'src="([^"]*)"', page))


def test_an_example_grid_without_png_bytes_is_refused() -> None:
    examples = pd.DataFrame(
        [{"item": "i1", "prompt_type": "mask_rich", "prompt": "x", "model": "A", "png": b"GIF"}]
    )
    with pytest.raises(ValueError, match="PNG"):
        build_report(replace(full_study(), examples=examples), rng=SEED, n_resamples=5, salt=SALT)
