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

import pandas as pd

from analysis.report.charts import NO_DATA_LABEL, accuracy_chart
from analysis.report.html_base import (
    ci,
    figure,
    fmt,
    html_table,
    kept,
    or_default,
    scope_rows,
    share,
    table_downloads,
)
from analysis.report.html_pairwise import pairwise_html, pairwise_rows_html
from analysis.report.model import (
    ALL,
    BREAKDOWNS,
    INPUT_IMAGE,
    Report,
    prompt_label,
    simulated_banner,
)
from analysis.tables import observed_levels

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
img.example{width:128px;height:auto;image-rendering:pixelated}
"""


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
            fmt(r["n_judgments"]),
            fmt(r["n_items"]),
            fmt(r.get("n_raters")),
            share(r["accuracy"], r["n_judgments"]),
            ci(r.get("crossed_low", math.nan), r.get("crossed_high", math.nan)),
            fmt(r.get("design_effect"), 2),
            ci(r["wilson_low"], r["wilson_high"]),
            ci(r["bootstrap_low"], r["bootstrap_high"]),
        ]
        if majority is not None:
            cells += [
                fmt(r["n_edits"]),
                share(r["accuracy_majority"], r["n_edits"]),
                ci(r["bootstrap_low_majority"], r["bootstrap_high_majority"]),
                fmt(r["n_ties"]),
            ]
        cells.append(str(r["note"]) if r["note"] else "")
        rows.append(cells)
    return html_table(header, rows)


def _single_html(report: Report) -> str:
    """Charts and tables of single-image accuracy, judgments and majority votes side by side."""
    level = f"{report.confidence:.0%}"
    out = []
    for key, column in BREAKDOWNS.items():
        table = report.tables[f"single_by_{key}"]
        judgments = kept(table)
        votes = kept(report.tables[f"majority_by_{key}"])
        what = column.replace("_", " ")
        out.append(f"<h3>Accuracy by {html.escape(what)}</h3>")
        if key in _CHARTED:
            levels = (
                report.prompt_types
                if column == "prompt_type"
                else observed_levels(column, judgments)
            )
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
                figure(
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
            f"{table_downloads(table)}{table_downloads(report.tables[f'majority_by_{key}'])}"
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
        frame = kept(table)
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
                fmt(r["n_answers"]),
                fmt(r["n_items"]),
                share(r["share_yes"], r["n_answers"]),
                ci(r["crossed_low"], r["crossed_high"]),
                ci(r["wilson_low"], r["wilson_high"]),
                str(r["note"]),
            ]
            for r in frame.to_dict(orient="records")
        ]
        out.append(
            f"<details><summary>{html.escape(table.title)}</summary>"
            f"<p>{html.escape(table.description)}</p>{html_table(header, rows)}"
            f"{table_downloads(table)}</details>"
        )
    if out:
        out.insert(0, "<h3>Each check separately</h3>")
    return "".join(out)


def _agreement_html(frame: pd.DataFrame) -> str:
    return html_table(
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
                fmt(r["n_units"]),
                fmt(r["n_ratings"]),
                fmt(r["n_units_compared"]),
                fmt(r["krippendorff_alpha"]),
                fmt(r["fleiss_kappa"]),
                fmt(r["gwet_ac1"]),
                fmt(r["raw_agreement"]),
                str(r["note"]),
            ]
            for r in frame.to_dict(orient="records")
        ),
    )


def _auto_judge_html(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    by_prompt = report.tables["auto_judge_by_prompt"].frame
    vs = kept(report.tables["auto_judge_vs_humans"])
    return "".join(
        [
            "<h3>Accuracy by prompt type</h3>",
            _accuracy_html(by_prompt, None, column="prompt_type", level=level),
            "<h3>Agreement with the human majority</h3>",
            html_table(
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
                        or_default(r["model"], "all"),
                        prompt_label(or_default(r["prompt_type"], "all")),
                        fmt(r["n_edits"]),
                        fmt(r["n_agree"]),
                        share(r["agreement"], r["n_edits"]),
                        ci(r["agreement_low"], r["agreement_high"]),
                        fmt(r["kappa"]),
                        ci(r["kappa_low"], r["kappa_high"]),
                        fmt(r["n_human_ties"]),
                        fmt(r["n_judge_only"]),
                        str(r["note"]),
                    ]
                    for r in vs.to_dict(orient="records")
                ),
            ),
        ]
    )


def _frame_html(frame: pd.DataFrame) -> str:
    """A generic table: every column, every value through :func:`_fmt`."""
    return html_table(
        [str(c).replace("_", " ") for c in frame.columns],
        ([fmt(v) for v in row] for row in frame.itertuples(index=False)),
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
                scope_rows(report.tables["single_by_prompt"], ALL),
                scope_rows(report.tables["majority_by_prompt"], ALL),
                column="prompt_type",
                level=level,
            )
        )
    if "pairwise" in report.tables:
        out.append("<h3>Side-by-side comparisons without exclusions</h3>")
        out.append(pairwise_rows_html(scope_rows(report.tables["pairwise"], ALL), level))
    return "".join(out)


def _examples_html(report: Report) -> str:
    """A grid: one row per example item and prompt type, the input then every model's edit."""
    frame = report.examples
    assert frame is not None
    models = [m for m in dict.fromkeys(frame["model"]) if m != INPUT_IMAGE]
    header = ["Item", "Prompt", "Input", *models]
    rows = []
    for (item, prompt_type), group in frame.groupby(["item", "prompt_type"], sort=True):
        images = dict(zip(group["model"], group["png"], strict=True))
        prompt = str(group["prompt"].iloc[0])
        cells = [
            f"<td>{html.escape(str(item))}</td>",
            f"<td>{html.escape(prompt_label(str(prompt_type)))}: {html.escape(prompt)}</td>",
        ]
        for model in (INPUT_IMAGE, *models):
            png = images.get(model)
            if png is None:
                cells.append(f"<td>{NO_DATA_LABEL}</td>")
                continue
            uri = f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"
            alt = html.escape(f"{model}, item {item}")
            cells.append(f'<td><img class="example" src="{uri}" alt="{alt}"></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return (
        "<p>A few items with every model's edit, for the staff reading this report (model "
        "names are shown; raters never see them).</p>"
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


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
        sections.append(("pairwise", "Side-by-side comparisons", pairwise_html(report)))
    if "agreement" in report.tables:
        agreement = _agreement_html(report.tables["agreement"].frame)
        sections.append(("agreement", "Inter-rater agreement", agreement))
    if "auto_judge_vs_humans" in report.tables:
        sections.append(("auto-judge", "Automatic judge", _auto_judge_html(report)))
    sections.append(("excluded", "Excluded judgments", _excluded_html(report)))
    if report.examples is not None:
        sections.append(("examples", "Example edits (staff only)", _examples_html(report)))
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
