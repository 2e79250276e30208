"""The HTML report page and its charts (matplotlib, rendered as inline SVG).

:func:`render_html` formats a computed :class:`analysis.report.Report` as one self-contained
page: embedded CSS, inline SVG charts, no script, nothing loaded from elsewhere. Every string
that comes from the data (study and model names, categories, notes) is escaped.

The chart functions return a string holding one ``<svg>`` element that can be pasted into an
HTML5 page as is: no XML declaration, no DOCTYPE (it names an external DTD), no metadata
block, no namespace declarations (HTML5 parses inline SVG without them), and element ids
prefixed with the chart's id so that several charts can share a page without clashing ids.
Text stays text (``svg.fonttype = "none"``), so the page can be searched and tested.

A group without data is drawn and printed as "no data", never as an empty or NaN bar; an
undefined number (a p-value when every answer was a tie) prints as "—".

matplotlib is driven through :class:`matplotlib.figure.Figure` only (no pyplot, so no GUI
backend and no global figure registry); :func:`matplotlib.rc_context` does change process-wide
settings while a chart renders, so do not render charts from several threads at once.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.typing import RcKeyType

from analysis.report import ALL, BREAKDOWNS, KEPT, Report, Table, prompt_label
from analysis.tables import CATEGORY_LEVELS

__all__ = [
    "NO_DATA_LABEL",
    "accuracy_chart",
    "preference_chart",
    "render_html",
    "svg_markup",
]

#: Label drawn where a group has no data.
NO_DATA_LABEL = "no data"

# Colour-blind-safe palette (Okabe-Ito), cycled when there are more models than colours.
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_PREFERENCE_COLOURS = ("#0072B2", "#BBBBBB", "#E69F00")
_PREFERENCE_TEXT = ("white", "black", "black")
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "text.usetex": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
#: Breakdowns drawn as charts; the others are tables only.
_CHARTED = ("prompt", "object_type", "attribute_type")
_ID_ATTRIBUTE = re.compile(r'\bid="([^"]+)"')
_CHART_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _plain(text: object) -> str:
    """Text for a matplotlib label: a ``$`` would start mathtext, so it is escaped."""
    return str(text).replace("$", r"\$")


def svg_markup(fig: Figure, *, chart_id: str) -> str:
    """Render a figure to an ``<svg>`` element fit for inline use in HTML5.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to render.
    chart_id : str
        Unique id of the chart within the page (letters, digits, ``-`` and ``_``, starting
        with a letter); it salts matplotlib's hashed ids and prefixes every element id.

    Returns
    -------
    str
        The ``<svg ...>...</svg>`` markup.

    Raises
    ------
    ValueError
        For a ``chart_id`` that is not a plain identifier.
    """
    if not _CHART_ID.match(chart_id):
        raise ValueError(f"chart_id must be a plain identifier, got {chart_id!r}")
    buffer = io.StringIO()
    # hashsalt makes the output deterministic; metadata=None entries drop the <metadata> block
    # (it carries the creator's URL and the date).
    with mpl.rc_context({**_RC, "svg.hashsalt": chart_id}):
        fig.savefig(
            buffer,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    svg = svg.replace("xlink:href=", "href=")
    ids = set(_ID_ATTRIBUTE.findall(svg))
    svg = _ID_ATTRIBUTE.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', svg)
    # References to ids take the forms url(#id) and href="#id".
    svg = re.sub(
        r'(url\(#|href="#)([^)"]+)',
        lambda m: m.group(1) + (f"{chart_id}-{m.group(2)}" if m.group(2) in ids else m.group(2)),
        svg,
    )
    return svg.strip()


def _colour(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


def _bar_panel(
    ax: Axes,
    rows: pd.DataFrame,
    *,
    column: str,
    levels: Sequence[str],
    models: Sequence[str],
) -> None:
    """Grouped bars: x = levels of ``column``, one bar per model, bootstrap error bars."""
    width = 0.8 / max(len(models), 1)
    # (model, level) -> (accuracy, low, high); a missing group reads as all NaN.
    values = {
        (model, level): (accuracy, low, high)
        for model, level, accuracy, low, high in rows[
            ["model", column, "accuracy", "bootstrap_low", "bootstrap_high"]
        ].itertuples(index=False)
    }
    nan = (math.nan, math.nan, math.nan)
    for m, model in enumerate(models):
        x = np.arange(len(levels)) + (m - (len(models) - 1) / 2) * width
        estimate, low, high = (
            np.array([values.get((model, level), nan) for level in levels], dtype=float)
            .reshape(-1, 3)
            .T
        )
        shown = ~np.isnan(estimate)
        for position in x[~shown]:
            ax.text(
                position,
                0.02,
                NO_DATA_LABEL,
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=7,
                color="#666666",
            )
        if shown.any():
            error = np.clip([estimate[shown] - low[shown], high[shown] - estimate[shown]], 0, None)
            ax.bar(
                x[shown],
                estimate[shown],
                width=width * 0.92,
                color=_colour(m),
                yerr=error,
                capsize=2,
                error_kw={"elinewidth": 0.8, "capthick": 0.8},
            )
    ax.set_xticks(range(len(levels)), [_plain(level) for level in levels])
    ax.set_xlim(-0.5, len(levels) - 0.5)
    ax.set_ylim(0.0, 1.05)
    ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)


def accuracy_chart(
    table: pd.DataFrame,
    *,
    by: str,
    levels: Sequence[str],
    models: Sequence[str],
    prompt_types: Sequence[str],
    chart_id: str,
    ylabel: str = "accuracy",
) -> str:
    """Bar chart of accuracy per model with item-clustered bootstrap error bars.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`analysis.tables.accuracy_table` (or ``majority_table``) grouped by
        ``model``, ``prompt_type`` and, unless ``by == "prompt_type"``, ``by``; columns
        ``accuracy``, ``bootstrap_low`` and ``bootstrap_high`` are read.
    by : str
        The breakdown on the x axis. For ``"prompt_type"`` one panel is drawn; for a
        category, one panel per prompt type.
    levels : sequence of str
        The x-axis levels, in order; a level without a row (or with NaN accuracy) is labelled
        "no data".
    models : sequence of str
        Models, one bar each, in legend order.
    prompt_types : sequence of str
        Prompt types, one panel each (ignored when ``by == "prompt_type"``).
    chart_id : str
        Unique chart id within the page (see :func:`svg_markup`).
    ylabel : str
        Label of the y axis.

    Returns
    -------
    str
        Inline SVG markup.
    """
    if by == "prompt_type":
        panels: list[str | None] = [None]
        tick_levels = list(levels)
    else:
        panels = list(prompt_types) or [None]
        tick_levels = list(levels)
    width = max(3.2, 0.35 * len(tick_levels) * max(len(models), 1) + 1.0)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(min(width * len(panels), 14.0), 3.3), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, prompt_type in zip(axes, panels, strict=True):
            rows = table if prompt_type is None else table.loc[table["prompt_type"] == prompt_type]
            _bar_panel(ax, rows, column=by, levels=tick_levels, models=models)
            if by == "prompt_type":
                ax.set_xticks(
                    range(len(tick_levels)), [prompt_label(level) for level in tick_levels]
                )
            if prompt_type is not None:
                ax.set_title(prompt_label(prompt_type))
        axes[0].set_ylabel(ylabel)
        handles = [Patch(color=_colour(m), label=_plain(model)) for m, model in enumerate(models)]
        if handles:
            fig.legend(
                handles=handles,
                loc="outside upper center",
                ncol=min(len(handles), 4),
                frameon=False,
            )
        return svg_markup(fig, chart_id=chart_id)


def preference_chart(comparisons: pd.DataFrame, *, chart_id: str) -> str:
    """Horizontal stacked bars of side-by-side answers per model pair and question.

    Each bar splits all judgments of one comparison into "first model preferred",
    "no preference" and "second model preferred" (shares of the judgments, ties included).

    Parameters
    ----------
    comparisons : pandas.DataFrame
        One row per comparison with ``question``, ``prompt_type``, ``model_a``,
        ``model_b``, ``wins_a``, ``ties`` and ``wins_b``, in display order (top first).
    chart_id : str
        Unique chart id within the page (see :func:`svg_markup`).

    Returns
    -------
    str
        Inline SVG markup; a comparison without judgments is labelled "no data".
    """
    n = len(comparisons)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(7.5, 0.9 + 0.45 * max(n, 1)), layout="constrained")
        ax = fig.subplots()
        labels = []
        for y, row in enumerate(comparisons.itertuples(index=False)):
            labels.append(
                f"{_plain(row.model_a)} vs {_plain(row.model_b)}\n"
                f"{row.question}, {prompt_label(str(row.prompt_type))}"
            )
            counts = np.array([row.wins_a, row.ties, row.wins_b], dtype=float)
            total = counts.sum()
            if total == 0:
                ax.text(0.5, y, NO_DATA_LABEL, ha="center", va="center", color="#666666")
                continue
            left = 0.0
            for share, colour, ink in zip(
                counts / total, _PREFERENCE_COLOURS, _PREFERENCE_TEXT, strict=True
            ):
                ax.barh(y, share, left=left, color=colour, height=0.7)
                if share >= 0.08:
                    ax.text(
                        left + share / 2,
                        y,
                        f"{share:.0%}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color=ink,
                    )
                left += share
        if n == 0:
            ax.text(0.5, 0.0, NO_DATA_LABEL, ha="center", va="center", color="#666666")
        ax.set_yticks(range(n), labels)
        ax.set_ylim(max(n, 1) - 0.5, -0.5)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("share of judgments")
        handles = [
            Patch(color=colour, label=label)
            for colour, label in zip(
                _PREFERENCE_COLOURS,
                ("first model preferred", "no preference", "second model preferred"),
                strict=True,
            )
        ]
        fig.legend(handles=handles, loc="outside upper center", ncol=3, frameon=False)
        return svg_markup(fig, chart_id=chart_id)


# --------------------------------------------------------------------------- the page

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
            levels = report.prompt_types if column == "prompt_type" else CATEGORY_LEVELS[column]
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

    Charts are inline SVG (see :mod:`analysis.plots`), styles are embedded, and the page
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
