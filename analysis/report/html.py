"""The report as one self-contained HTML page.

:func:`render_html` formats a computed :class:`analysis.report.model.Report` as one page:
embedded CSS, inline SVG charts (:mod:`analysis.report.charts`), no script, nothing loaded
from elsewhere. Every string that comes from the data (study and model names, categories,
notes) is escaped. A group without data prints as "no data"; an undefined number (a p-value
when every answer was a tie) prints as "—".
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.report.charts import NO_DATA_LABEL, accuracy_chart, preference_chart
from analysis.report.model import ALL, BREAKDOWNS, KEPT, Report, Table, prompt_label
from analysis.tables import observed_levels

__all__ = ["render_html"]

#: Breakdowns drawn as charts; the others are tables only.
_CHARTED = ("prompt", "object_type", "attribute_type")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0 auto;
max-width:1200px;padding:1.5rem;line-height:1.45}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin-top:1.6rem}table{border-collapse:collapse;font-size:.82rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:.8rem 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#555}.muted{color:#666}details{margin:.4rem 0}
nav ul{columns:2;font-size:.9rem}.scroll{overflow-x:auto}
"""
_DASH = "—"


def _fmt(value: Any, digits: int = 3) -> str:
    """Display text of one value; missing and non-finite values become a dash."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}" if math.isfinite(value) else _DASH
    return str(value)


def _share(value: Any, n: Any) -> str:
    return NO_DATA_LABEL if int(n) == 0 else _fmt(value)


def _ci(low: Any, high: Any) -> str:
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        return _DASH
    return f"[{float(low):.3f}, {float(high):.3f}]"


def _p(value: Any) -> str:
    p = float(value)
    if not math.isfinite(p):
        return _DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


_NUMERIC = re.compile(r"[<-]?[0-9.]+|\[-?[0-9.]+, -?[0-9.]+\]")


def _looks_numeric(cell: str) -> bool:
    """Whether a cell is a number or an interval (right-aligned)."""
    return _NUMERIC.fullmatch(cell) is not None


def _or(value: Any, default: str) -> str:
    """``value`` as text, or ``default`` when it is missing (None or NaN)."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return default if missing else str(value)


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """An HTML table; every cell is escaped here, numbers right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            attr = ' class="num"' if _looks_numeric(cell) else ""
            cells.append(f"<td{attr}>{html.escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(header)}">{NO_DATA_LABEL}</td></tr>')
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _kept(table: Table) -> pd.DataFrame:
    frame = table.frame
    if "judgments" not in frame.columns:
        return frame
    return frame.loc[frame["judgments"] == KEPT].reset_index(drop=True)


def _scope(table: Table, scope: str) -> pd.DataFrame:
    frame = table.frame
    return frame.loc[frame["judgments"] == scope].reset_index(drop=True)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _accuracy_html(
    judgments: pd.DataFrame, majority: pd.DataFrame | None, *, column: str, level: str
) -> str:
    by = ["model", "prompt_type"] + ([] if column == "prompt_type" else [column])
    header = [
        "Model",
        "Prompt type",
        *([] if column == "prompt_type" else [column.replace("_", " ").capitalize()]),
        "Judgments",
        "Items",
        "Accuracy",
        f"Wilson {level}",
        f"Bootstrap {level}",
    ]
    merged = judgments
    if majority is not None:
        header += ["Edits", "Majority accuracy", f"Majority bootstrap {level}", "Ties"]
        merged = judgments.merge(majority, on=by, how="left", suffixes=("", "_majority"))
    header.append("Note")
    rows = []
    for r in merged.to_dict(orient="records"):
        cells = [str(r["model"]), prompt_label(str(r["prompt_type"]))]
        if column != "prompt_type":
            cells.append(str(r[column]))
        cells += [
            _fmt(r["n_judgments"]),
            _fmt(r["n_items"]),
            _share(r["accuracy"], r["n_judgments"]),
            _ci(r["wilson_low"], r["wilson_high"]),
            _ci(r["bootstrap_low"], r["bootstrap_high"]),
        ]
        if majority is not None:
            cells += [
                _fmt(r["n_edits"]),
                _share(r["accuracy_majority"], r["n_edits"]),
                _ci(r["bootstrap_low_majority"], r["bootstrap_high_majority"]),
                _fmt(r["n_ties"]),
            ]
        cells.append(str(r["note"]) if r["note"] else "")
        rows.append(cells)
    return _html_table(header, rows)


def _single_html(report: Report) -> str:
    """Charts and tables of single-image accuracy, judgments and majority votes side by side."""
    level = f"{report.confidence:.0%}"
    out = []
    for key, column in BREAKDOWNS.items():
        judgments = _kept(report.tables[f"single_by_{key}"])
        votes = _kept(report.tables[f"majority_by_{key}"])
        what = column.replace("_", " ")
        out.append(f"<h3>Accuracy by {html.escape(what)}</h3>")
        if key in _CHARTED:
            levels = (
                report.prompt_types
                if column == "prompt_type"
                else observed_levels(column, judgments)
            )
            svg = accuracy_chart(
                judgments,
                by=column,
                levels=levels,
                models=report.models,
                prompt_types=report.prompt_types,
                chart_id=f"chart-single-{key}",
            )
            out.append(
                _figure(
                    svg,
                    f"Accuracy of the judgments by {what}, per model, after exclusions. "
                    f"Error bars: {level} item-clustered bootstrap intervals.",
                )
            )
        table_html = _accuracy_html(judgments, votes, column=column, level=level)
        opened = " open" if key == "prompt" else ""
        out.append(
            f"<details{opened}><summary>Table: {html.escape(what)}</summary>{table_html}</details>"
        )
    return "".join(out)


def _pairwise_rows_html(frame: pd.DataFrame, level: str) -> str:
    header = [
        "Question",
        "Prompt type",
        "Model A",
        "Model B",
        "A wins",
        "No preference",
        "B wins",
        "Items",
        "Win rate A",
        f"Wilson {level}",
        f"Bootstrap {level}",
        "Win rate A (ties split)",
        "p",
        "p (Holm)",
        "Significant",
        "Note",
    ]
    rows = [
        [
            str(r["question"]),
            prompt_label(str(r["prompt_type"])),
            str(r["model_a"]),
            str(r["model_b"]),
            _fmt(r["wins_a"]),
            _fmt(r["ties"]),
            _fmt(r["wins_b"]),
            _fmt(r["n_items"]),
            _share(r["win_rate_a"], r["win_rate_a_n"]),
            _ci(r["win_rate_a_low"], r["win_rate_a_high"]),
            _ci(r["bootstrap_low"], r["bootstrap_high"]),
            _share(r["win_rate_a_ties_split"], r["win_rate_a_ties_split_n"]),
            _p(r["p_value"]),
            _p(r["p_holm"]),
            _fmt(r["reject_holm"]),
            str(r["note"]),
        ]
        for r in frame.to_dict(orient="records")
    ]
    return _html_table(header, rows)


def _pairwise_html(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    comparisons = _kept(report.tables["pairwise"])
    out = [
        _figure(
            preference_chart(comparisons, chart_id="chart-pairwise"),
            "Share of side-by-side judgments preferring the first model, neither, or the second "
            "model, per model pair and question (after exclusions).",
        ),
        _pairwise_rows_html(comparisons, level),
    ]
    if "bradley_terry" in report.tables:
        bt = _kept(report.tables["bradley_terry"])
        out.append("<h3>Bradley–Terry ranking</h3>")
        out.append(
            _html_table(
                [
                    "Question",
                    "Prompt type",
                    "Rank",
                    "Model",
                    "Log-strength",
                    f"Bootstrap {level}",
                    "Decided judgments",
                    "Note",
                ],
                (
                    [
                        str(r["question"]),
                        prompt_label(str(r["prompt_type"])),
                        _fmt(r["rank"]),
                        str(r["model"]),
                        _fmt(r["strength"]),
                        _ci(r["strength_low"], r["strength_high"]),
                        _fmt(r["n_judgments"]),
                        str(r["note"]),
                    ]
                    for r in bt.to_dict(orient="records")
                ),
            )
        )
    bias = _kept(report.tables["position_bias"])
    out.append("<h3>Position bias</h3>")
    out.append(
        _html_table(
            [
                "Question",
                "Left wins",
                "Right wins",
                "No preference",
                "Share left",
                f"Wilson {level}",
                "p",
                "Note",
            ],
            (
                [
                    _or(r["question"], "both pooled"),
                    _fmt(r["left_wins"]),
                    _fmt(r["right_wins"]),
                    _fmt(r["ties"]),
                    _share(r["share_left"], r["share_left_n"]),
                    _ci(r["share_left_low"], r["share_left_high"]),
                    _p(r["p_value"]),
                    str(r["note"]),
                ]
                for r in bias.to_dict(orient="records")
            ),
        )
    )
    return "".join(out)


def _agreement_html(frame: pd.DataFrame) -> str:
    return _html_table(
        [
            "Judgments",
            "Task",
            "Question",
            "Units",
            "Ratings",
            "Krippendorff's alpha",
            "Fleiss' kappa",
            "Raw agreement",
            "Note",
        ],
        (
            [
                str(r["judgments"]),
                str(r["task"]),
                str(r["question"]),
                _fmt(r["n_units"]),
                _fmt(r["n_ratings"]),
                _fmt(r["krippendorff_alpha"]),
                _fmt(r["fleiss_kappa"]),
                _fmt(r["raw_agreement"]),
                str(r["note"]),
            ]
            for r in frame.to_dict(orient="records")
        ),
    )


def _auto_judge_html(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    by_prompt = report.tables["auto_judge_by_prompt"].frame
    vs = _kept(report.tables["auto_judge_vs_humans"])
    return "".join(
        [
            "<h3>Accuracy by prompt type</h3>",
            _accuracy_html(by_prompt, None, column="prompt_type", level=level),
            "<h3>Agreement with the human majority</h3>",
            _html_table(
                [
                    "Model",
                    "Prompt type",
                    "Edits",
                    "Agree",
                    "Agreement",
                    f"Wilson {level}",
                    "Cohen's kappa",
                    f"Kappa {level}",
                    "Human ties",
                    "Judge only",
                    "Note",
                ],
                (
                    [
                        _or(r["model"], "all"),
                        prompt_label(_or(r["prompt_type"], "all")),
                        _fmt(r["n_edits"]),
                        _fmt(r["n_agree"]),
                        _share(r["agreement"], r["n_edits"]),
                        _ci(r["agreement_low"], r["agreement_high"]),
                        _fmt(r["kappa"]),
                        _ci(r["kappa_low"], r["kappa_high"]),
                        _fmt(r["n_human_ties"]),
                        _fmt(r["n_judge_only"]),
                        str(r["note"]),
                    ]
                    for r in vs.to_dict(orient="records")
                ),
            ),
        ]
    )


def _frame_html(frame: pd.DataFrame) -> str:
    """A generic table: every column, every value through :func:`_fmt`."""
    return _html_table(
        [str(c).replace("_", " ") for c in frame.columns],
        ([_fmt(v) for v in row] for row in frame.itertuples(index=False)),
    )


def _excluded_html(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    out = [
        "<p>Judgments removed by each quality-control rule, and the headline numbers computed "
        "on every judgment, the excluded ones included. The JSON and CSV exports hold every "
        "table both ways (column <code>judgments</code>: kept or all).</p>",
        _frame_html(report.tables["exclusions"].frame),
        "<h3>Counts before and after exclusions</h3>",
        _frame_html(report.tables["counts"].frame),
    ]
    if "single_by_prompt" in report.tables:
        out.append("<h3>Single-image accuracy without exclusions</h3>")
        out.append(
            _accuracy_html(
                _scope(report.tables["single_by_prompt"], ALL),
                _scope(report.tables["majority_by_prompt"], ALL),
                column="prompt_type",
                level=level,
            )
        )
    if "pairwise" in report.tables:
        out.append("<h3>Side-by-side comparisons without exclusions</h3>")
        out.append(_pairwise_rows_html(_scope(report.tables["pairwise"], ALL), level))
    return "".join(out)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page.

    Charts are inline SVG (see :mod:`analysis.report.charts`), styles are embedded, and the page
    loads nothing from elsewhere. Every string from the data (study and model names,
    categories, notes) is escaped. Groups without data read "no data"; undefined numbers
    read "—".

    Parameters
    ----------
    report : Report

    Returns
    -------
    str
        The HTML document.
    """
    title = f"EditBench Studio report: {report.study}"
    sections: list[tuple[str, str, str]] = [
        (
            "methods",
            "Methods",
            "".join(
                f"<p>{html.escape(paragraph)}</p>"
                for paragraph in report.methods_text.split("\n\n")
            ),
        ),
    ]
    if "single_by_prompt" in report.tables:
        sections.append(("single", "Single-image accuracy", _single_html(report)))
    if "pairwise" in report.tables:
        sections.append(("pairwise", "Side-by-side comparisons", _pairwise_html(report)))
    if "agreement" in report.tables:
        agreement = _agreement_html(report.tables["agreement"].frame)
        sections.append(("agreement", "Inter-rater agreement", agreement))
    if "auto_judge_vs_humans" in report.tables:
        sections.append(("auto-judge", "Automatic judge", _auto_judge_html(report)))
    sections.append(("excluded", "Excluded judgments", _excluded_html(report)))
    if "rater_quality" in report.tables:
        raters = report.tables["rater_quality"]
        sections.append(
            (
                "raters",
                "Raters",
                f"<p>{html.escape(raters.description)}</p><details><summary>Table: "
                f"{len(raters.frame)} raters</summary>{_frame_html(raters.frame)}</details>",
            )
        )
    dates = " to ".join(
        d.isoformat() for d in (report.settings.launched_at, report.settings.closed_at) if d
    )
    seed = f", seed {report.seed}" if report.seed is not None else ""
    nav = "".join(
        f'<li><a href="#{anchor}">{html.escape(heading)}</a></li>'
        for anchor, heading, _ in sections
    )
    body = "".join(
        f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{content}</section>'
        for anchor, heading, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1>"
        f'<p class="muted">Models: {html.escape(", ".join(report.models) or "none")}'
        f"{' · ' + html.escape(dates) if dates else ''}</p></header>\n"
        f"<nav><ul>{nav}</ul></nav>\n{body}\n"
        f'<footer class="muted"><p>Generated by EditBench Studio analysis; '
        f"{report.n_resamples} bootstrap resamples{seed}.</p></footer>\n</body>\n</html>\n"
    )
