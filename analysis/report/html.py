"""The report as one self-contained HTML page.

:func:`render_html` formats a computed :class:`analysis.report.model.Report` as one page:
embedded CSS, inline SVG charts (:mod:`analysis.report.charts`), no script, nothing loaded
from elsewhere. Every string that comes from the data (study and model names, categories,
notes) is escaped. A group without data prints as "no data"; an undefined number (a p-value
when every answer was a tie) prints as "—".
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.report.charts import (
    NO_DATA_LABEL,
    accuracy_chart,
    preference_chart,
    win_rate_chart,
)
from analysis.report.export import table_to_latex
from analysis.report.model import (
    ALL,
    BREAKDOWNS,
    KEPT,
    Report,
    Table,
    prompt_label,
    simulated_banner,
)
from analysis.tables import CATEGORY_LEVELS

__all__ = ["render_html"]

#: Breakdowns drawn as charts: every category axis.
_CHARTED = tuple(BREAKDOWNS)

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
.banner{position:sticky;top:0;z-index:9;background:#fff3cd;border:2px solid #b58100;
padding:.5rem .8rem;font-weight:600}.downloads{font-size:.8rem}.downloads a{margin-right:.6rem}
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


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _standalone_svg(svg: str) -> bytes:
    """The inline SVG as a file of its own (namespace declared again)."""
    return svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1).encode()


def _figure(svg: str, caption: str, *, name: str = "", pdf: bytes = b"") -> str:
    links = ""
    if name:
        links = (
            '<div class="downloads">Download: '
            f'<a download="{name}.svg" href="{_data_uri("image/svg+xml", _standalone_svg(svg))}">'
            "SVG</a>"
            + (
                f'<a download="{name}.pdf" href="{_data_uri("application/pdf", pdf)}">PDF</a>'
                if pdf
                else ""
            )
            + "</div>"
        )
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption>{links}</figure>"


def _table_downloads(table: Table) -> str:
    """Links to the whole table (both scopes, every column) as CSV and as LaTeX."""
    csv = table.frame.to_csv(index=False).encode()
    latex = table_to_latex(table).encode()
    return (
        f'<div class="downloads">Table “{html.escape(table.name)}”: '
        f'<a download="{table.name}.csv" href="{_data_uri("text/csv", csv)}">CSV</a>'
        f'<a download="{table.name}.tex" href="{_data_uri("application/x-tex", latex)}">'
        "LaTeX</a></div>"
    )


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
        "Raters",
        "Accuracy",
        f"Two-way {level} (items and raters)",
        "Design effect",
        f"Wilson {level} (judgments independent)",
        f"Item bootstrap {level}",
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
            _fmt(r.get("n_raters")),
            _share(r["accuracy"], r["n_judgments"]),
            _ci(r.get("crossed_low", math.nan), r.get("crossed_high", math.nan)),
            _fmt(r.get("design_effect"), 2),
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
        table = report.tables[f"single_by_{key}"]
        judgments = _kept(table)
        votes = _kept(report.tables[f"majority_by_{key}"])
        what = column.replace("_", " ")
        out.append(f"<h3>Accuracy by {html.escape(what)}</h3>")
        if key in _CHARTED:
            levels = report.prompt_types if column == "prompt_type" else CATEGORY_LEVELS[column]
            pdf: list[bytes] = []
            svg = accuracy_chart(
                judgments,
                by=column,
                levels=levels,
                models=report.models,
                prompt_types=report.prompt_types,
                chart_id=f"chart-single-{key}",
                pdf=pdf,
            )
            out.append(
                _figure(
                    svg,
                    f"Accuracy of the judgments by {what}, per model, after exclusions. "
                    f"Error bars: {level} two-way (items and raters) clustered intervals.",
                    name=f"single_by_{key}",
                    pdf=pdf[0],
                )
            )
        table_html = _accuracy_html(judgments, votes, column=column, level=level)
        opened = " open" if key == "prompt" else ""
        out.append(
            f"<details{opened}><summary>Table: {html.escape(what)}</summary>{table_html}"
            f"{_table_downloads(table)}{_table_downloads(report.tables[f'majority_by_{key}'])}"
            "</details>"
        )
    out.append(_questions_html(report))
    return "".join(out)


def _questions_html(report: Report) -> str:
    """The per-question tables (object / attribute / binding ...), when present."""
    level = f"{report.confidence:.0%}"
    out = []
    for name, table in report.tables.items():
        if not name.startswith("questions_by_"):
            continue
        frame = _kept(table)
        by = [c for c in frame.columns if c in ("object_type", "attribute_type")]
        header = [
            "Model",
            "Prompt type",
            *[c.replace("_", " ").capitalize() for c in by],
            "Question",
            "Answers",
            "Items",
            "Share yes",
            f"Two-way {level}",
            f"Wilson {level}",
            "Note",
        ]
        rows = [
            [
                str(r["model"]),
                prompt_label(str(r["prompt_type"])),
                *[str(r[c]) for c in by],
                str(r["question"]),
                _fmt(r["n_answers"]),
                _fmt(r["n_items"]),
                _share(r["share_yes"], r["n_answers"]),
                _ci(r["crossed_low"], r["crossed_high"]),
                _ci(r["wilson_low"], r["wilson_high"]),
                str(r["note"]),
            ]
            for r in frame.to_dict(orient="records")
        ]
        out.append(
            f"<details><summary>{html.escape(table.title)}</summary>"
            f"<p>{html.escape(table.description)}</p>{_html_table(header, rows)}"
            f"{_table_downloads(table)}</details>"
        )
    if out:
        out.insert(0, "<h3>Each check separately</h3>")
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
        f"Two-way {level} (items and raters)",
        f"Wilson {level} (judgments independent)",
        f"Item bootstrap {level}",
        "Win rate A (ties split)",
        "p (two-way)",
        "p (Holm)",
        "Significant (Holm, two-way)",
        "p (binomial, judgments independent)",
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
            _ci(r["crossed_low"], r["crossed_high"]),
            _ci(r["win_rate_a_low"], r["win_rate_a_high"]),
            _ci(r["bootstrap_low"], r["bootstrap_high"]),
            _share(r["win_rate_a_ties_split"], r["win_rate_a_ties_split_n"]),
            _p(r["p_value"]),
            _p(r["p_holm"]),
            _fmt(r["reject_holm"]),
            _p(r["p_value_binomial"]),
            str(r["note"]),
        ]
        for r in frame.to_dict(orient="records")
    ]
    return _html_table(header, rows)


def _pairwise_html(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    comparisons = _kept(report.tables["pairwise"])
    adjusted = (
        _kept(report.tables["position_adjusted"]) if "position_adjusted" in report.tables else None
    )
    shares_pdf: list[bytes] = []
    rates_pdf: list[bytes] = []
    shares = preference_chart(comparisons, chart_id="chart-pairwise", pdf=shares_pdf)
    rates = win_rate_chart(comparisons, adjusted, chart_id="chart-win-rates", pdf=rates_pdf)
    out = [
        _figure(
            rates,
            f"Win rate of the first model per pair and question (ties left out) with {level} "
            "two-way (items and raters) clustered intervals, and the win rate adjusted for "
            "position (Bradley–Terry logit with a left-side term), after exclusions.",
            name="pairwise_win_rates",
            pdf=rates_pdf[0],
        ),
        _figure(
            shares,
            "Share of side-by-side judgments preferring the first model, neither, or the second "
            "model, per model pair and question (after exclusions).",
            name="pairwise_shares",
            pdf=shares_pdf[0],
        ),
        _pairwise_rows_html(comparisons, level),
        _table_downloads(report.tables["pairwise"]),
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
    out.append(_position_html(report, level))
    return "".join(out)


def _position_html(report: Report, level: str) -> str:
    bias = _kept(report.tables["position_bias"])
    flagged = bias.loc[bias["flagged"].astype(bool)]
    out = ["<h3>Position bias</h3>"]
    if len(flagged):
        out.append(
            '<p class="banner">Position bias is significant (two-way clustered test): '
            "see the win rates adjusted for it below.</p>"
        )
    out.append(
        _html_table(
            [
                "Question",
                "Counted",
                "Left wins",
                "Right wins",
                "No preference",
                "Share left",
                f"Two-way {level}",
                f"Wilson {level}",
                "p (two-way)",
                "Flagged",
                "Note",
            ],
            (
                [
                    _or(r["question"], "both pooled"),
                    str(r["counted"]),
                    _fmt(r["left_wins"]),
                    _fmt(r["right_wins"]),
                    _fmt(r["ties"]),
                    _share(r["share_left"], r["share_left_n"]),
                    _ci(r["crossed_low"], r["crossed_high"]),
                    _ci(r["share_left_low"], r["share_left_high"]),
                    _p(r["p_value"]),
                    _fmt(r["flagged"]),
                    str(r["note"]),
                ]
                for r in bias.to_dict(orient="records")
            ),
        )
    )
    out.append(_table_downloads(report.tables["position_bias"]))
    if "position_adjusted" in report.tables:
        table = report.tables["position_adjusted"]
        out.append("<h3>Win rates adjusted for position</h3>")
        out.append(f"<p>{html.escape(table.description)}</p>")
        out.append(
            _html_table(
                [
                    "Question",
                    "Prompt type",
                    "Model A",
                    "Model B",
                    "Decided judgments",
                    "Adjusted win rate A",
                    f"{level} interval",
                    "Left wins between equal models",
                    f"{level} interval",
                    "Note",
                ],
                (
                    [
                        str(r["question"]),
                        prompt_label(str(r["prompt_type"])),
                        str(r["model_a"]),
                        str(r["model_b"]),
                        _fmt(r["n_judgments"]),
                        _fmt(r["adjusted_win_rate_a"]),
                        _ci(r["adjusted_low"], r["adjusted_high"]),
                        _fmt(r["left_share_equal_models"]),
                        _ci(r["left_low"], r["left_high"]),
                        str(r["note"]),
                    ]
                    for r in _kept(table).to_dict(orient="records")
                ),
            )
        )
        out.append(_table_downloads(table))
    return "".join(out)


def _agreement_html(frame: pd.DataFrame) -> str:
    return _html_table(
        [
            "Judgments",
            "Task",
            "Question",
            "Units",
            "Ratings",
            "Units compared",
            "Krippendorff's alpha",
            "Fleiss' kappa",
            "Gwet's AC1",
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
                _fmt(r["n_units_compared"]),
                _fmt(r["krippendorff_alpha"]),
                _fmt(r["fleiss_kappa"]),
                _fmt(r["gwet_ac1"]),
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
    text = simulated_banner(report.settings)
    banner = (
        f'<div class="banner" id="simulated-banner" role="alert">{html.escape(text)}</div>'
        if text
        else ""
    )
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
        f"{banner}<header><h1>{html.escape(title)}</h1>"
        f'<p class="muted">Models: {html.escape(", ".join(report.models) or "none")}'
        f"{' · ' + html.escape(dates) if dates else ''}</p></header>\n"
        f"<nav><ul>{nav}</ul></nav>\n{body}\n"
        f'<footer class="muted"><p>Generated by EditBench Studio analysis; '
        f"{report.n_resamples} bootstrap resamples{seed}.</p></footer>\n</body>\n</html>\n"
    )
