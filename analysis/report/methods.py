"""The methods section of a report: what was collected, counted and computed, in prose.

:func:`methods_text` writes three paragraphs (design, data, statistics) from the settings and
the computed tables, so that every number it states is one the tables hold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from analysis.gold import DEFAULT_GOLD_ANSWERS, false_exclusion_rate, gold_cutoff
from analysis.report.model import (
    ALL,
    GOLD_ANSWERS_PARAMETER,
    KEPT,
    PAIRWISE,
    SINGLE,
    ReportSettings,
    Table,
    jsonable,
    prompt_label,
    simulated_banner,
)

__all__ = ["gold_n", "methods_text"]


def gold_n(settings: ReportSettings) -> int:
    """The number of gold answers the study's gold rule decides on."""
    value = settings.exclusion_rules.get(GOLD_ANSWERS_PARAMETER, DEFAULT_GOLD_ANSWERS)
    return max(1, int(value))


def _gold_sentence(settings: ReportSettings) -> str:
    """The gold rule and its false-exclusion rate, when the study has one."""
    threshold = settings.exclusion_rules.get("min_gold_accuracy")
    if threshold is None:
        return ""
    n, threshold = gold_n(settings), float(threshold)
    cutoff = gold_cutoff(n, threshold)
    if cutoff < 0:
        return (
            f"The gold rule (min_gold_accuracy = {threshold}) is decided on a rater's first "
            f"{n} gold answers, too few for any count to put the one-sided 95% upper bound "
            "of the accuracy below the threshold, so it excludes no one."
        )
    return (
        f"The gold rule is decided once, on a rater's first {n} gold answers: the rater is "
        f"excluded when the one-sided 95% Clopper–Pearson upper bound of their gold accuracy "
        f"is below {threshold}, i.e. with at most {cutoff} of {n} right. A rater who is "
        f"95% accurate on gold is excluded with probability "
        f"{false_exclusion_rate(0.95, n, threshold):.1e}; one guessing at 50% with "
        f"probability {false_exclusion_rate(0.5, n, threshold):.2f}."
    )


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
    gold = (
        f"{settings.gold_rate:.0%} of the units shown were gold units with known answers, "
        "used to check raters and not counted here."
    )
    if settings.adaptive is None:
        design.append(f"Each unit was assigned to K = {settings.raters_per_unit} raters; {gold}")
    else:
        design += [*_adaptive_sentences(settings.adaptive), gold[0].upper() + gold[1:]]
    return design


def _adaptive_sentences(adaptive: Mapping[str, Any]) -> list[str]:
    """The adaptive design and what happened, from the allocation's final state."""
    targets = []
    if adaptive.get("target_half_width") is not None:
        by = " × object type" if adaptive.get("target_by_category") else ""
        targets.append(
            f"a 95% half-width of at most {adaptive['target_half_width']:g} for each model × "
            f"prompt type{by} accuracy"
        )
    if adaptive.get("pairwise_target") == "half-width":
        targets.append(
            f"a 95% half-width of at most {adaptive['pairwise_half_width']:g} for each "
            "side-by-side win rate"
        )
    elif adaptive.get("pairwise_target") == "decide":
        targets.append(
            "a decision for each side-by-side comparison (looked at once per complete round: "
            "the two-way interval of every unit's first r judgments excluding a win rate of "
            f"0.5, at alpha = {adaptive['decide_alpha']:g} split over the rounds from K_min "
            "to K_max, so the decision is valid at whichever round it stopped)"
        )
    budget = adaptive.get("budget")
    sentences = [
        "Judgments were allocated adaptively to precision targets ("
        + "; ".join(targets)
        + f"): every unit first got K_min = {adaptive['k_min']} judgment(s), then a cell "
        "(the units behind one reported number) got one more judgment per unit at a time, "
        f"up to K_max = {adaptive['k_max']}, while its two-way interval was wider than its "
        "target" + (f", within a budget of {budget} judgments." if budget else "."),
    ]
    statuses = adaptive.get("statuses") or {}
    if statuses:
        told = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        cells = sum(statuses.values())
        sentences.append(
            f"Of the {_plural(cells, 'cell')}: {told}"
            + ("; the budget was reached." if adaptive.get("budget_reached") else ".")
        )
    sentences.append(
        "The intervals reported below are the fixed-sample two-way intervals of the final "
        "data; stopping on an interval's width kept their coverage at 95.4% in simulated "
        "crossed studies (bench/adaptive.py)."
        + (
            " The decisions' intervals hold simultaneously over the rounds (a tied "
            "comparison was decided in 1.2% of simulated studies at alpha = 0.05)."
            if adaptive.get("pairwise_target") == "decide"
            else ""
        )
    )
    return sentences


def _data(settings: ReportSettings, tables: Mapping[str, Table]) -> list[str]:
    """Sentences on the judgments counted before and after exclusions, and each rule."""
    data: list[str] = []
    for kind, noun in ((SINGLE, "single-image judgments"), (PAIRWISE, "side-by-side judgments")):
        kept, whole = _count(tables, kind, KEPT), _count(tables, kind, ALL)
        if kept is None or whole is None:
            continue
        answers = (
            f" ({kept['n_answers']} question answers)"
            if kind == PAIRWISE and "n_answers" in kept
            else ""
        )
        data.append(
            f"After exclusions the analysis counts {kept['n_judgments']} {noun}{answers} "
            f"by {_plural(kept['n_raters'], 'rater')} on {_plural(kept['n_items'], 'item')} "
            f"({whole['n_judgments']} before exclusions, by "
            f"{_plural(whole['n_raters'], 'rater')} on {_plural(whole['n_items'], 'item')})."
        )
    banner = simulated_banner(settings)
    if banner:
        data.append(banner)
    exclusions = tables["exclusions"].frame
    rules_set = {
        rule: value
        for rule, value in settings.exclusion_rules.items()
        if rule != GOLD_ANSWERS_PARAMETER
    }
    if rules_set or len(exclusions):
        rules = (
            "; ".join(
                f"{rule} = {json.dumps(jsonable(value), sort_keys=True)}"
                for rule, value in sorted(rules_set.items())
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
    gold = _gold_sentence(settings)
    if gold:
        data.append(gold)
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
    crossed = (
        f"{level} two-way cluster-robust intervals that treat both items and raters as "
        "sources of variation (each rater judges many items and each item is judged by "
        "several raters): the variance of the mean is the item-clustered plus the "
        "rater-clustered minus the item × rater variance (Cameron, Gelbach and Miller), and "
        "the interval is a Wilson interval on the effective sample size under the estimated "
        "design effect (the larger one-way variance where the two-way sum is not positive), "
        "with a Student t critical value on Satterthwaite's degrees of freedom "
        "(at least min(items, raters) − 1); in simulated crossed studies "
        "(bench/coverage_simulation.py) these covered 94.5–96.6% where Wilson "
        "covered 76–95%. Where every judgment agrees (0 of n, n of n) the design effect of the "
        "table's other groups is used, and the table says so"
    )
    statistics: list[str] = []
    if SINGLE in kinds:
        text = (
            "Accuracy is the share of judgments whose overall verdict is correct, with "
            f"{crossed}. Error bars in the charts are these intervals. {level} Wilson "
            "intervals (every judgment independent) are given as a reference, and "
            f"item-clustered percentile bootstrap intervals ({n_resamples} resamples of "
            "whole items; raters not resampled) beside them. Majority accuracy scores each "
            "edit once: correct when more than half of its raters said so, a tie counting as "
            "not correct."
        )
        if any(name.startswith("questions_by_") for name in tables):
            text += (
                " Each check (Mask-Simple object, attribute, binding; Mask-Rich object and "
                "each attribute; Full-Image match) is also reported as its share of “yes” "
                "answers with the same intervals."
            )
        statistics.append(text)
    if PAIRWISE in kinds:
        statistics.append(_pairwise_sentences(tables, alpha=alpha))
    if "agreement" in tables:
        statistics.append(_agreement_sentences(tables["agreement"]))
    judge = tables.get("auto_judge_vs_humans")
    if judge is not None and len(judge.frame) and judge.frame["n_edits"].sum() > 0:
        statistics.append(
            "The automatic judge's verdicts are aggregated like the human judgments and "
            "compared with the human majority per edit (share agreeing with a Wilson "
            "interval; Cohen's kappa with a Wald interval)."
        )
    return statistics


def _pairwise_sentences(tables: Mapping[str, Table], *, alpha: float) -> str:
    text = (
        "Side-by-side win rates leave out no-preference answers and carry the same two-way "
        "clustered intervals; each comparison's p-value comes from the same clustered "
        "variance (it is below 0.05 exactly when the 95% interval excludes 0.5), corrected "
        f"with Holm's method over all comparisons (family-wise alpha = {alpha}); exact "
        "binomial p-values over judgments are listed as a reference only. Counts are of "
        "judgments (one rater's answer to one question of one pair)."
    )
    bias = tables.get("position_bias")
    if bias is not None and len(bias.frame):
        kept = bias.frame.loc[bias.frame["judgments"] == KEPT]
        flagged = kept.loc[kept["flagged"].astype(bool)]
        if len(flagged):
            parts = ", ".join(
                f"{row.question or 'both pooled'}: left wins {row.share_left:.3f}"
                for row in flagged.itertuples(index=False)
            )
            text += (
                f" Position bias is significant ({parts}); the table of win rates adjusted "
                "for it (a Bradley–Terry logit with a left-side term and two-way "
                "cluster-robust errors) is given beside the unadjusted ones."
            )
        else:
            text += (
                " Position bias (share of decided judgments won by the left image, pooled "
                "rows counting each judgment once) was not significant; win rates adjusted "
                "for position by a Bradley–Terry logit with a left-side term are given too."
            )
    if "bradley_terry" in tables:
        text += (
            " Bradley–Terry log-strengths (maximum likelihood, summing to zero) rank the "
            "models, with item-clustered bootstrap intervals."
        )
    return text


def _agreement_sentences(agreement: Table) -> str:
    text = (
        "Agreement per question type: Krippendorff's alpha (nominal), Fleiss' kappa, Gwet's "
        "AC1 and raw pairwise agreement, all on the same units (those with the most common "
        "number of ratings). When one answer dominates, kappa and alpha can be near zero "
        "beside high raw agreement because chance agreement is then high as well (the "
        "prevalence paradox); AC1's chance term is not inflated that way."
    )
    frame = agreement.frame
    rows = frame.loc[
        (frame["judgments"] == KEPT)
        & (frame["raw_agreement"] >= 0.8)
        & (frame["fleiss_kappa"] < 0.4)
    ]
    for row in rows.itertuples(index=False):
        text += (
            f" Here {row.task} {row.question}: raw agreement {row.raw_agreement:.2f} beside "
            f"kappa {row.fleiss_kappa:.2f} and AC1 {row.gwet_ac1:.2f}."
        )
    return text
