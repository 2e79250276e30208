"""The methods section of a report: what was collected, counted and computed, in prose.

:func:`methods_text` writes three paragraphs (design, data, statistics) from the settings and
the computed tables, so that every number it states is one the tables hold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from analysis.report.model import (
    ALL,
    KEPT,
    PAIRWISE,
    SINGLE,
    ReportSettings,
    Table,
    jsonable,
    prompt_label,
)

__all__ = ["methods_text"]


def _count(tables: Mapping[str, Table], task: str, scope: str) -> dict[str, int] | None:
    counts = tables["counts"].frame
    if counts.empty:
        return None
    rows = counts.loc[(counts["task"] == task) & (counts["judgments"] == scope)]
    if rows.empty:
        return None
    return {k: int(v) for k, v in rows.iloc[0].items() if str(k).startswith("n_")}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def methods_text(
    name: str,
    settings: ReportSettings,
    *,
    kinds: Sequence[str],
    models: Sequence[str],
    prompt_types: Sequence[str],
    tables: Mapping[str, Table],
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> str:
    """The methods section as plain text, paragraphs separated by a blank line.

    ``tables`` are the report's tables by name; ``counts`` and ``exclusions`` must be among
    them (the counts in the prose are read from them).
    """
    design = _design(name, settings, kinds=kinds, models=models, prompt_types=prompt_types)
    data = _data(settings, tables)
    statistics = _statistics(
        kinds, tables, n_resamples=n_resamples, confidence=confidence, alpha=alpha
    )
    return "\n\n".join(" ".join(p) for p in (design, data, statistics) if p)


def _design(
    name: str,
    settings: ReportSettings,
    *,
    kinds: Sequence[str],
    models: Sequence[str],
    prompt_types: Sequence[str],
) -> list[str]:
    """Sentences on what the study collected, when, and from how many raters per unit."""
    task_words = {SINGLE: "single-image judgments", PAIRWISE: "side-by-side comparisons"}
    design = [
        f"Study “{name}” collected "
        + (" and ".join(task_words[k] for k in kinds) or "no judgments")
        + f" of {_plural(len(models), 'model')} ({', '.join(models) or 'none'})"
        + (
            f" on the prompt types {', '.join(map(prompt_label, prompt_types))}."
            if SINGLE in kinds and prompt_types
            else "."
        ),
    ]
    if settings.launched_at or settings.closed_at:
        start = settings.launched_at.isoformat() if settings.launched_at else "?"
        end = settings.closed_at.isoformat() if settings.closed_at else "?"
        design.append(f"It ran from {start} to {end}.")
    design.append(
        f"Each unit was assigned to K = {settings.raters_per_unit} raters; "
        f"{settings.gold_rate:.0%} of the units shown were gold units with known answers, "
        "used to check raters and not counted here."
    )
    return design


def _data(settings: ReportSettings, tables: Mapping[str, Table]) -> list[str]:
    """Sentences on the judgments counted before and after exclusions, and each rule."""
    data: list[str] = []
    for kind, noun in ((SINGLE, "single-image judgments"), (PAIRWISE, "side-by-side answers")):
        kept, whole = _count(tables, kind, KEPT), _count(tables, kind, ALL)
        if kept is None or whole is None:
            continue
        data.append(
            f"After exclusions the analysis counts {kept['n_judgments']} {noun} "
            f"by {_plural(kept['n_raters'], 'rater')} on {_plural(kept['n_items'], 'item')} "
            f"({whole['n_judgments']} before exclusions, by "
            f"{_plural(whole['n_raters'], 'rater')} on {_plural(whole['n_items'], 'item')})."
        )
    exclusions = tables["exclusions"].frame
    if settings.exclusion_rules or len(exclusions):
        rules = (
            "; ".join(
                f"{rule} = {json.dumps(jsonable(value), sort_keys=True)}"
                for rule, value in sorted(settings.exclusion_rules.items())
            )
            or "none configured"
        )
        removed = (
            "; ".join(
                f"{row.rule} ({row.task}): {row.n_judgments_removed}"
                for row in exclusions.itertuples(index=False)
            )
            or "none"
        )
        data.append(
            f"Exclusion rules: {rules}. Judgments removed per rule: {removed}; every table "
            "is also given without exclusions."
        )
    return data


def _statistics(
    kinds: Sequence[str],
    tables: Mapping[str, Table],
    *,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> list[str]:
    """Sentences on the intervals, tests and agreement measures of the tables present."""
    level = f"{confidence:.0%}"
    statistics: list[str] = []
    if SINGLE in kinds:
        statistics.append(
            "Accuracy is the share of judgments whose overall verdict is correct, with "
            f"{level} Wilson score intervals (every judgment independent) and {level} "
            f"item-clustered percentile bootstrap intervals ({n_resamples} resamples of whole "
            "benchmark items); error bars in the charts are the bootstrap intervals. "
            "Majority accuracy scores each edit once: correct when more than half of its "
            "raters said so, a tie counting as not correct."
        )
    if PAIRWISE in kinds:
        text = (
            "Side-by-side win rates leave out no-preference answers; their p-values come from "
            "exact two-sided binomial tests against 0.5, corrected with Holm's method over all "
            f"comparisons (family-wise alpha = {alpha}). Position bias is the share of decided "
            "judgments won by the image shown on the left."
        )
        if "bradley_terry" in tables:
            text += (
                " Bradley–Terry log-strengths (maximum likelihood, summing to zero) rank the "
                "models, with item-clustered bootstrap intervals."
            )
        statistics.append(text)
    statistics.append(
        "Agreement per question type: Krippendorff's alpha (nominal), Fleiss' kappa and raw "
        "pairwise agreement."
    )
    if "auto_judge_vs_humans" in tables:
        statistics.append(
            "The automatic judge's verdicts are aggregated like the human judgments and "
            "compared with the human majority per edit (share agreeing with a Wilson "
            "interval; Cohen's kappa with a Wald interval)."
        )
    return statistics
