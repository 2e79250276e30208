"""Building a report: every table of a study, computed once.

:func:`build_report` turns a :class:`~analysis.report.model.StudyData` into a
:class:`~analysis.report.model.Report`: it validates the judgments once
(:mod:`analysis.report.prepare`), computes each table's rows (:mod:`analysis.report.rows`),
names and describes the tables here, and writes the methods section
(:mod:`analysis.report.methods`). Formatting is left to :mod:`analysis.report.export` and
:mod:`analysis.report.html`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.position import position_adjusted
from analysis.questions import ANSWER_PREFIX, answers_long, question_table
from analysis.report.export import pseudonyms
from analysis.report.methods import methods_text
from analysis.report.model import (
    ALL,
    BREAKDOWNS,
    EXAMPLE_COLUMNS,
    GOLD_ANSWERS_PARAMETER,
    KEPT,
    PAIRWISE,
    SINGLE,
    Report,
    ReportSettings,
    StudyData,
    Table,
)
from analysis.report.prepare import (
    Split,
    distinct,
    generator_and_seed,
    judge_frame,
    pairwise_frame,
    per_scope,
    resolve_models,
    resolve_prompt_types,
    single_frame,
)
from analysis.report.rows import (
    accuracy_tables,
    bradley_terry_rows,
    count_rows,
    exclusion_rows,
    judge_vs_humans,
    pairwise_agreement,
    pairwise_rows,
    position_bias_rows,
    single_agreement,
)
from analysis.tables import CATEGORY_LEVELS, observed_levels

__all__ = ["build_report"]


def build_report(
    data: StudyData,
    *,
    rng: np.random.Generator | int,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    alpha: float = 0.05,
    salt: str | None = None,
) -> Report:
    """Compute every table of the report.

    Parameters
    ----------
    data : StudyData
        Settings and judgment tables.
    rng : numpy.random.Generator or int
        Drives every bootstrap, in table order; an integer is a seed and is recorded in the
        report, so the report can be reproduced.
    n_resamples : int
        Bootstrap resamples per interval (and per Bradley-Terry fit).
    confidence : float
        Nominal coverage of every interval.
    alpha : float
        Family-wise error rate of Holm's correction over all side-by-side comparisons.
    salt : str, optional
        Key of :func:`~analysis.report.export.pseudonym`; required when
        ``data.rater_quality`` is given.

    Returns
    -------
    Report
        Tables (each present only when it applies): ``counts``, ``exclusions``;
        ``single_by_<b>`` and ``majority_by_<b>`` for each ``b`` of :data:`BREAKDOWNS`;
        ``pairwise``, ``bradley_terry`` (more than two models), ``position_bias``;
        ``agreement``; ``auto_judge_by_<b>`` and ``auto_judge_vs_humans``;
        ``rater_quality``.

    Raises
    ------
    ValueError
        On an invalid judgment table, models or prompt types the settings do not list, an
        automatic judge with two verdicts on one edit, or a rater table without a salt.
    """
    generator, seed = generator_and_seed(rng)
    if data.rater_quality is not None and not salt:
        raise ValueError("a salt is needed to pseudonymise the rater quality table")
    inputs = _inputs(data)
    boot: dict[str, Any] = {
        "rng": generator,
        "n_resamples": n_resamples,
        "confidence": confidence,
    }
    tables = _tables(data, inputs, alpha=alpha, salt=salt, **boot)
    by_name = {table.name: table for table in tables}
    text = methods_text(
        data.name,
        data.settings,
        kinds=inputs.kinds,
        models=inputs.models,
        prompt_types=inputs.prompt_types,
        tables=by_name,
        n_resamples=n_resamples,
        confidence=confidence,
        alpha=alpha,
    )
    return Report(
        study=data.name,
        settings=data.settings,
        task_kinds=inputs.kinds,
        models=inputs.models,
        prompt_types=inputs.prompt_types,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        alpha=alpha,
        methods_text=text,
        tables=by_name,
        examples=_examples(data.examples),
    )


def _examples(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """The example grid, checked: its columns and PNG bytes."""
    if frame is None or frame.empty:
        return None
    missing = [c for c in EXAMPLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"the example grid lacks column(s): {', '.join(missing)}")
    if not all(isinstance(v, bytes) and v.startswith(b"\x89PNG") for v in frame["png"]):
        raise ValueError("the example grid's 'png' column must hold PNG bytes")
    return frame[list(EXAMPLE_COLUMNS)].reset_index(drop=True)


@dataclass(frozen=True)
class _Inputs:
    """A report's validated judgments and what the report covers."""

    kinds: tuple[str, ...]  # the task kinds reported, in TASK_KINDS order
    models: tuple[str, ...]
    prompt_types: tuple[str, ...]
    splits: Mapping[str, Split]  # task kind -> its judgments, kept and whole
    auto: pd.DataFrame | None  # the automatic judge's verdicts, validated
    levels: Mapping[str, Sequence[str]]  # every level of each category, for empty rows


def _inputs(data: StudyData) -> _Inputs:
    """Validate the judgment tables once and resolve the models and prompt types."""
    settings = data.settings
    single = single_frame(data.single)
    pairwise = pairwise_frame(data.pairwise)
    auto = None if data.auto_judge is None else judge_frame(data.auto_judge)
    kinds = tuple(
        kind
        for kind, frame in ((SINGLE, single), (PAIRWISE, pairwise))
        if kind in settings.task_kinds or len(frame)
    )
    models = resolve_models(settings, single, pairwise, auto)
    prompt_types = resolve_prompt_types(settings, [single] + ([] if auto is None else [auto]))
    # min_gold_answers says when the gold rule decides; it excludes no one itself.
    rules = tuple(r for r in settings.exclusion_rules if r != GOLD_ANSWERS_PARAMETER)
    splits = {SINGLE: Split.of(single, rules), PAIRWISE: Split.of(pairwise, rules)}
    levels: dict[str, Sequence[str]] = {
        **{column: observed_levels(column, single, auto) for column in CATEGORY_LEVELS},
        "model": models,
        "prompt_type": prompt_types,
    }
    return _Inputs(kinds, models, prompt_types, splits, auto, levels)


def _tables(
    data: StudyData,
    inputs: _Inputs,
    *,
    alpha: float,
    salt: str | None,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> list[Table]:
    """Every table that applies, in report order (the bootstrap draws in this order)."""
    boot: dict[str, Any] = {"rng": rng, "n_resamples": n_resamples, "confidence": confidence}
    kinds, splits = inputs.kinds, inputs.splits
    tables = _count_tables(kinds, splits, data.settings)
    if SINGLE in kinds:
        tables += _single_tables(splits[SINGLE], levels=inputs.levels, **boot)
    if PAIRWISE in kinds:
        tables += _pairwise_tables(splits[PAIRWISE], alpha=alpha, **boot)
    if kinds:
        tables.append(_agreement_table(kinds, splits))
    if inputs.auto is not None:
        tables += _auto_judge_tables(
            inputs.auto,
            splits[SINGLE],
            models=inputs.models,
            prompt_types=inputs.prompt_types,
            levels=inputs.levels,
            **boot,
        )
    if data.rater_quality is not None:
        tables.append(_rater_quality_table(data.rater_quality, salt))
    return tables


def _count_tables(
    kinds: Sequence[str], splits: Mapping[str, Split], settings: ReportSettings
) -> list[Table]:
    counts = [row for kind in kinds for row in count_rows(kind, splits[kind])]
    exclusions = [row for kind in kinds for row in exclusion_rows(kind, splits[kind], settings)]
    return [
        Table(
            "counts",
            "Judgments, raters and items",
            "One row per task × judgments (kept: after exclusions; all: before).",
            pd.DataFrame(counts),
        ),
        Table(
            "exclusions",
            "Exclusions",
            "One row per task × quality-control rule: judgments and raters it removed.",
            pd.DataFrame(
                exclusions,
                columns=[
                    "task",
                    "rule",
                    "setting",
                    "n_judgments_removed",
                    "n_raters",
                    "n_judgments_total",
                    "share_removed",
                ],
            ),
            {"share_removed": "n_judgments_removed / n_judgments_total"},
        ),
    ]


#: Breakdowns of the per-question tables (besides model, prompt type and question).
QUESTION_BREAKDOWNS = ("prompt", "object_type", "attribute_type")


def _question_tables(split: Split, *, confidence: float) -> list[Table]:
    """``questions_by_<b>``: share of "yes" per question, when the judgments carry answers."""
    if not any(str(c).startswith(ANSWER_PREFIX) for c in split.whole.columns):
        return []
    level = f"{confidence:.0%}"
    longs = {scope: answers_long(split.frame(scope)) for scope in (KEPT, ALL)}
    tables = []
    for key in QUESTION_BREAKDOWNS:
        column = BREAKDOWNS[key]
        by = ["model", "prompt_type"] + ([] if column == "prompt_type" else [column])
        parts = [
            question_table(longs[scope], by, confidence=confidence).assign(judgments=scope)
            for scope in (KEPT, ALL)
        ]
        frame = pd.concat(parts, ignore_index=True)
        frame = frame[["judgments", *[c for c in frame.columns if c != "judgments"]]]
        what = column.replace("_", " ")
        tables.append(
            Table(
                f"questions_by_{key}",
                f"Single-image checks by question{'' if key == 'prompt' else ' and ' + what}",
                "One row per "
                + " × ".join(c.replace("_", " ") for c in by)
                + " × question asked (Mask-Simple: object, attribute or count, binding; "
                "Mask-Rich: object, count, attr_<attribute>; Full-Image: match).",
                frame,
                {
                    "share_yes": "yes / n_answers",
                    "wilson_low": f"{level} Wilson score interval, answers independent",
                    "crossed_low": f"{level} two-way (items and raters) cluster-robust interval",
                },
            )
        )
    return tables


def _single_tables(
    split: Split,
    *,
    levels: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> list[Table]:
    boot: dict[str, Any] = {"rng": rng, "n_resamples": n_resamples, "confidence": confidence}
    return [
        *accuracy_tables(
            "single",
            "Single-image accuracy (judgments)",
            split,
            levels=levels,
            majority=False,
            **boot,
        ),
        *accuracy_tables(
            "majority",
            "Single-image accuracy (majority vote per edit)",
            split,
            levels=levels,
            majority=True,
            **boot,
        ),
        *_question_tables(split, confidence=confidence),
    ]


def _pairwise_tables(
    split: Split,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> list[Table]:
    level = f"{confidence:.0%}"
    boot: dict[str, Any] = {"rng": rng, "n_resamples": n_resamples, "confidence": confidence}
    tables = [_pairwise_table(split, alpha=alpha, **boot)]
    if len(distinct(split.whole["model_a"], split.whole["model_b"])) > 2:
        tables.append(
            Table(
                "bradley_terry",
                "Bradley–Terry strengths",
                "One row per question × prompt type × model, strongest first.",
                per_scope(split, bradley_terry_rows, **boot),
                {
                    "strength": "log-strength (Bradley-Terry MLE, MM algorithm, sum to zero); "
                    "n = n_judgments (decided)",
                    "strength_low": f"{level} item-clustered percentile bootstrap",
                    "strength_high": f"{level} item-clustered percentile bootstrap",
                },
            )
        )
    tables.append(
        Table(
            "position_bias",
            "Position bias",
            "One row per question (empty question: both pooled, one count per judgment, "
            "i.e. unit × rater): share of decided judgments won by the left image; flagged "
            "when the two-way clustered test rejects 0.5.",
            per_scope(split, position_bias_rows, confidence=confidence, alpha=alpha),
            {
                "share_left": f"left_wins / share_left_n, {level} Wilson interval "
                "(judgments independent)",
                "crossed_low": f"{level} two-way (items and raters) cluster-robust interval",
                "crossed_high": f"{level} two-way (items and raters) cluster-robust interval",
                "p_value": "two-sided test of share_left = 0.5 from the two-way clustered variance",
                "p_value_binomial": "exact binomial test, judgments independent (reference)",
                "flagged": f"p_value < {alpha}",
            },
        )
    )
    tables.append(
        Table(
            "position_adjusted",
            "Side-by-side win rates adjusted for position",
            "One row per question × prompt type × model pair: Bradley–Terry logit with a "
            "left-side term, decided judgments; beside the unadjusted win rates of the "
            "pairwise table.",
            per_scope(split, position_adjusted, confidence=confidence),
            {
                "adjusted_win_rate_a": "expit(s_a - s_b), the side effect removed; "
                "n = n_judgments (decided)",
                "adjusted_low": f"{level} Student-t interval on the logit scale, two-way "
                "(items and raters) cluster-robust standard errors (statsmodels GLM)",
                "adjusted_high": f"{level} as adjusted_low",
                "left_share_equal_models": "expit(gamma): how often the left image would win "
                "between two equal models",
            },
        )
    )
    return tables


def _agreement_table(kinds: Sequence[str], splits: Mapping[str, Split]) -> Table:
    parts = []
    if SINGLE in kinds:
        parts.append(per_scope(splits[SINGLE], single_agreement))
    if PAIRWISE in kinds:
        parts.append(per_scope(splits[PAIRWISE], pairwise_agreement))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values("judgments", key=lambda s: s != KEPT, kind="stable")
    columns = [
        "judgments",
        "task",
        "question",
        "n_units",
        "n_ratings",
        "n_units_compared",
        "krippendorff_alpha",
        "fleiss_kappa",
        "gwet_ac1",
        "raw_agreement",
        "note",
    ]
    return Table(
        "agreement",
        "Inter-rater agreement",
        "One row per task × question type.",
        frame[columns].reset_index(drop=True),
        {
            "krippendorff_alpha": "Krippendorff's alpha, nominal; n = n_units_compared",
            "fleiss_kappa": "Fleiss' kappa; n = n_units_compared",
            "gwet_ac1": "Gwet's AC1 (robust to a dominant answer); n = n_units_compared",
            "raw_agreement": "share of agreeing rater pairs, pooled; n = n_units_compared",
            "n_units_compared": "units with the most common rating count, the same units "
            "for every statistic",
        },
    )


def _pairwise_table(
    split: Split,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> Table:
    level = f"{confidence:.0%}"
    return Table(
        "pairwise",
        "Side-by-side comparisons",
        "One row per question × prompt type × model pair; rates from model_a's side.",
        per_scope(
            split,
            pairwise_rows,
            rng=rng,
            n_resamples=n_resamples,
            confidence=confidence,
            alpha=alpha,
        ),
        {
            "win_rate_a": f"wins_a / (wins_a + wins_b), ties left out, {level} Wilson interval "
            "(judgments independent, reference); n = win_rate_a_n (decided judgments)",
            "crossed_low": f"{level} two-way (items and raters) cluster-robust interval of "
            "win_rate_a (Wilson on the effective n, Student t): the primary interval",
            "crossed_high": f"{level} two-way cluster-robust interval of win_rate_a",
            "bootstrap_low": f"{level} item-clustered percentile bootstrap of win_rate_a, "
            f"{n_resamples} resamples",
            "bootstrap_high": f"{level} item-clustered percentile bootstrap of win_rate_a, "
            f"{n_resamples} resamples",
            "win_rate_a_ties_split": "(wins_a + ties / 2) / n_judgments, "
            f"{level} item-clustered percentile bootstrap",
            "p_value": "two-sided test of win_rate_a = 0.5 from the two-way clustered variance "
            "(rejects at 5% exactly when the crossed interval excludes 0.5)",
            "p_value_binomial": "exact binomial test of wins_a of wins_a + wins_b against 0.5, "
            "judgments independent (reference; not used for significance)",
            "p_holm": f"Holm's step-down correction over all rows of the same judgments scope, "
            f"alpha = {alpha}",
        },
    )


def _auto_judge_tables(
    auto_frame: pd.DataFrame,
    humans: Split,
    *,
    models: Sequence[str],
    prompt_types: Sequence[str],
    levels: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> list[Table]:
    tables = accuracy_tables(
        "auto_judge",
        "Automatic judge accuracy",
        auto_frame,
        levels=levels,
        rng=rng,
        n_resamples=n_resamples,
        confidence=confidence,
        majority=False,
    )
    level = f"{confidence:.0%}"
    tables.append(
        Table(
            "auto_judge_vs_humans",
            "Automatic judge against the human majority",
            "One row per model × prompt type (empty model and prompt type: all edits pooled); an "
            "edit counts when the judge and at least one human judged it.",
            per_scope(
                humans,
                judge_vs_humans,
                edits=True,
                judge=auto_frame,
                models=models,
                prompt_types=prompt_types,
                confidence=confidence,
            ),
            {
                "agreement": f"n_agree / n_edits, {level} Wilson interval; a human tie counts as "
                "not correct",
                "kappa": f"Cohen's kappa (statsmodels), {level} Wald interval from its asymptotic "
                "standard error; n = n_edits",
            },
        )
    )
    return tables


def _rater_quality_table(df: pd.DataFrame, salt: str | None) -> Table:
    if "rater" not in df.columns:
        raise ValueError("the rater quality table needs a 'rater' column")
    if not salt:
        raise ValueError("a salt is needed to pseudonymise the rater quality table")
    frame = df.copy()
    frame["rater"] = pseudonyms(frame["rater"], salt)
    frame = frame.sort_values("rater", kind="stable").reset_index(drop=True)
    return Table(
        "rater_quality",
        "Raters",
        "One row per rater, pseudonymised (r- + keyed hash of the rater id).",
        frame,
    )
