"""The side-by-side section of the HTML report: win rates, position bias and its adjustment."""

from __future__ import annotations

import html

import pandas as pd

from analysis.report.charts import preference_chart, win_rate_chart
from analysis.report.html_base import (
    ci,
    figure,
    fmt,
    html_table,
    kept,
    or_default,
    p_text,
    share,
    table_downloads,
)
from analysis.report.model import Report, prompt_label

__all__ = ["pairwise_html", "pairwise_rows_html"]


def pairwise_rows_html(frame: pd.DataFrame, level: str) -> str:
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
            fmt(r["wins_a"]),
            fmt(r["ties"]),
            fmt(r["wins_b"]),
            fmt(r["n_items"]),
            share(r["win_rate_a"], r["win_rate_a_n"]),
            ci(r["crossed_low"], r["crossed_high"]),
            ci(r["win_rate_a_low"], r["win_rate_a_high"]),
            ci(r["bootstrap_low"], r["bootstrap_high"]),
            share(r["win_rate_a_ties_split"], r["win_rate_a_ties_split_n"]),
            p_text(r["p_value"]),
            p_text(r["p_holm"]),
            fmt(r["reject_holm"]),
            p_text(r["p_value_binomial"]),
            str(r["note"]),
        ]
        for r in frame.to_dict(orient="records")
    ]
    return html_table(header, rows)


def pairwise_html(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    comparisons = kept(report.tables["pairwise"])
    adjusted = (
        kept(report.tables["position_adjusted"]) if "position_adjusted" in report.tables else None
    )
    shares_pdf: list[bytes] = []
    rates_pdf: list[bytes] = []
    shares = preference_chart(comparisons, chart_id="chart-pairwise", pdf=shares_pdf)
    rates = win_rate_chart(comparisons, adjusted, chart_id="chart-win-rates", pdf=rates_pdf)
    out = [
        figure(
            rates,
            f"Win rate of the first model per pair and question (ties left out) with {level} "
            "two-way (items and raters) clustered intervals, and the win rate adjusted for "
            "position (Bradley–Terry logit with a left-side term), after exclusions.",
            name="pairwise_win_rates",
            pdf=rates_pdf[0],
        ),
        figure(
            shares,
            "Share of side-by-side judgments preferring the first model, neither, or the second "
            "model, per model pair and question (after exclusions).",
            name="pairwise_shares",
            pdf=shares_pdf[0],
        ),
        pairwise_rows_html(comparisons, level),
        table_downloads(report.tables["pairwise"]),
    ]
    if "bradley_terry" in report.tables:
        bt = kept(report.tables["bradley_terry"])
        out.append("<h3>Bradley–Terry ranking</h3>")
        out.append(
            html_table(
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
                        fmt(r["rank"]),
                        str(r["model"]),
                        fmt(r["strength"]),
                        ci(r["strength_low"], r["strength_high"]),
                        fmt(r["n_judgments"]),
                        str(r["note"]),
                    ]
                    for r in bt.to_dict(orient="records")
                ),
            )
        )
    out.append(_position_html(report, level))
    return "".join(out)


def _position_html(report: Report, level: str) -> str:
    bias = kept(report.tables["position_bias"])
    flagged = bias.loc[bias["flagged"].astype(bool)]
    out = ["<h3>Position bias</h3>"]
    if len(flagged):
        out.append(
            '<p class="banner">Position bias is significant (two-way clustered test): '
            "see the win rates adjusted for it below.</p>"
        )
    out.append(
        html_table(
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
                    or_default(r["question"], "both pooled"),
                    str(r["counted"]),
                    fmt(r["left_wins"]),
                    fmt(r["right_wins"]),
                    fmt(r["ties"]),
                    share(r["share_left"], r["share_left_n"]),
                    ci(r["crossed_low"], r["crossed_high"]),
                    ci(r["share_left_low"], r["share_left_high"]),
                    p_text(r["p_value"]),
                    fmt(r["flagged"]),
                    str(r["note"]),
                ]
                for r in bias.to_dict(orient="records")
            ),
        )
    )
    out.append(table_downloads(report.tables["position_bias"]))
    if "position_adjusted" in report.tables:
        table = report.tables["position_adjusted"]
        out.append("<h3>Win rates adjusted for position</h3>")
        out.append(f"<p>{html.escape(table.description)}</p>")
        out.append(
            html_table(
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
                        fmt(r["n_judgments"]),
                        fmt(r["adjusted_win_rate_a"]),
                        ci(r["adjusted_low"], r["adjusted_high"]),
                        fmt(r["left_share_equal_models"]),
                        ci(r["left_low"], r["left_high"]),
                        str(r["note"]),
                    ]
                    for r in kept(table).to_dict(orient="records")
                ),
            )
        )
        out.append(table_downloads(table))
    return "".join(out)
