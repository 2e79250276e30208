"""The report's charts (matplotlib, rendered as inline SVG).

The chart functions return a string holding one ``<svg>`` element that can be pasted into an
HTML5 page as is: no XML declaration, no DOCTYPE (it names an external DTD), no metadata
block, no namespace declarations (HTML5 parses inline SVG without them), and element ids
prefixed with the chart's id so that several charts can share a page without clashing ids.
Text stays text (``svg.fonttype = "none"``), so the page can be searched and tested.

A group without data is drawn as "no data", never as an empty or NaN bar.

matplotlib is driven through :class:`matplotlib.figure.Figure` only (no pyplot, so no GUI
backend and no global figure registry); :func:`matplotlib.rc_context` does change process-wide
settings while a chart renders, so do not render charts from several threads at once.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.typing import RcKeyType

from analysis.report.model import prompt_label

__all__ = [
    "NO_DATA_LABEL",
    "accuracy_chart",
    "legend_columns",
    "pdf_bytes",
    "preference_chart",
    "svg_markup",
    "win_rate_chart",
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


def pdf_bytes(fig: Figure) -> bytes:
    """The figure as a PDF document (for the report's download links)."""
    buffer = io.BytesIO()
    with mpl.rc_context(_RC):
        fig.savefig(buffer, format="pdf", metadata={"Creator": None, "Producer": None})
    return buffer.getvalue()


def legend_columns(labels: Sequence[str], width_inches: float, *, font_size: float = 9) -> int:
    """How many legend columns fit across ``width_inches`` without clipping a label.

    An entry is its handle and padding (about 0.45 in) plus its text, estimated generously
    at 0.62 em per character; the legend gets as many columns as the widest entry allows.
    """
    if not labels:
        return 1
    longest = max(len(label) for label in labels)
    entry = 0.45 + 0.62 * font_size / 72 * longest
    return max(1, min(len(labels), int((width_inches - 0.2) // entry)))


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
    """Grouped bars: x = levels of ``column``, one bar per model, two-way clustered error
    bars (never zero width: a 0-of-n bar still shows its interval)."""
    width = 0.8 / max(len(models), 1)
    # (model, level) -> (accuracy, low, high); a missing group reads as all NaN.
    values = {
        (model, level): (accuracy, low, high)
        for model, level, accuracy, low, high in rows[
            ["model", column, "accuracy", "crossed_low", "crossed_high"]
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
    pdf: list[bytes] | None = None,
) -> str:
    """Bar chart of accuracy per model with two-way (items and raters) clustered error bars.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`analysis.tables.accuracy_table` (or ``majority_table``) grouped by
        ``model``, ``prompt_type`` and, unless ``by == "prompt_type"``, ``by``; columns
        ``accuracy``, ``crossed_low`` and ``crossed_high`` are read.
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
    pdf : list of bytes, optional
        When given, the chart's PDF is appended to it (the HTML's download link).

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
    fig_width = min(width * len(panels), 14.0)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(fig_width, 3.3), layout="constrained")
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
            # As many columns as fit: a legend wider than the figure is clipped.
            fig.legend(
                handles=handles,
                loc="outside upper center",
                ncol=legend_columns([str(m) for m in models], fig_width),
                frameon=False,
            )
        return _finish(fig, chart_id=chart_id, pdf=pdf)


def preference_chart(
    comparisons: pd.DataFrame, *, chart_id: str, pdf: list[bytes] | None = None
) -> str:
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
        labels = ["first model preferred", "no preference", "second model preferred"]
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncol=legend_columns(labels, 7.5),
            frameon=False,
        )
        return _finish(fig, chart_id=chart_id, pdf=pdf)


def _finish(fig: Figure, *, chart_id: str, pdf: list[bytes] | None) -> str:
    """The figure's inline SVG; its PDF appended to ``pdf`` when a list is passed."""
    svg = svg_markup(fig, chart_id=chart_id)
    if pdf is not None:
        # The layout is settled by the SVG render: keep it instead of solving it again.
        fig.set_layout_engine("none")
        pdf.append(pdf_bytes(fig))
    return svg


def _whisker(
    ax: Axes, rate: float, low: float, high: float, y: float, *, marker: str, colour: str
) -> None:
    """One estimate with its interval as a marker and horizontal whiskers."""
    ax.errorbar(
        rate,
        y,
        xerr=[[rate - low], [high - rate]],
        fmt=marker,
        color=colour,
        capsize=3,
        markersize=4,
    )


def win_rate_chart(
    comparisons: pd.DataFrame,
    adjusted: pd.DataFrame | None,
    *,
    chart_id: str,
    pdf: list[bytes] | None = None,
) -> str:
    """Dot-and-whisker chart of each comparison's win rate with its interval.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        Rows of the ``pairwise`` table (one scope): ``question``, ``prompt_type``,
        ``model_a``, ``model_b``, ``win_rate_a``, ``crossed_low``, ``crossed_high``.
    adjusted : pandas.DataFrame or None
        Rows of the ``position_adjusted`` table (same scope), drawn as a second marker.
    chart_id : str
        Unique chart id within the page.

    Returns
    -------
    str
        Inline SVG markup; a comparison without a win rate is labelled "no data".
    """
    n = len(comparisons)
    key = ["question", "prompt_type", "model_a", "model_b"]
    shifted = {}
    if adjusted is not None and len(adjusted):
        for row in adjusted.to_dict(orient="records"):
            shifted[tuple(str(row[k]) for k in key)] = row
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(7.5, 1.1 + 0.45 * max(n, 1)), layout="constrained")
        ax = fig.subplots()
        labels = []
        for y, row in enumerate(comparisons.to_dict(orient="records")):
            labels.append(
                f"{_plain(row['model_a'])} vs {_plain(row['model_b'])}\n"
                f"{row['question']}, {prompt_label(str(row['prompt_type']))}"
            )
            rate, low, high = (float(row[c]) for c in ("win_rate_a", "crossed_low", "crossed_high"))
            if not math.isfinite(rate):
                ax.text(0.5, y, NO_DATA_LABEL, ha="center", va="center", color="#666666")
                continue
            _whisker(ax, rate, low, high, y - 0.12, marker="o", colour=_PALETTE[0])
            other = shifted.get(tuple(str(row[k]) for k in key))
            if other is not None and math.isfinite(float(other["adjusted_win_rate_a"])):
                _whisker(
                    ax,
                    float(other["adjusted_win_rate_a"]),
                    float(other["adjusted_low"]),
                    float(other["adjusted_high"]),
                    y + 0.12,
                    marker="s",
                    colour=_PALETTE[1],
                )
        if n == 0:
            ax.text(0.5, 0.0, NO_DATA_LABEL, ha="center", va="center", color="#666666")
        ax.axvline(0.5, color="#999999", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(n), labels)
        ax.set_ylim(max(n, 1) - 0.5, -0.5)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("win rate of the first model (ties left out)")
        handles = [
            Line2D([], [], marker="o", color=_PALETTE[0], label="win rate, two-way interval"),
            Line2D([], [], marker="s", color=_PALETTE[1], label="adjusted for position"),
        ]
        labels_legend = [str(h.get_label()) for h in handles]
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncol=legend_columns(labels_legend, 7.5),
            frameon=False,
        )
        return _finish(fig, chart_id=chart_id, pdf=pdf)
