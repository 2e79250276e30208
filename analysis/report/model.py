"""The report's data model: what a report is built from and what it holds.

:class:`ReportSettings` and :class:`StudyData` are the input of
:func:`analysis.report.build.build_report`; :class:`Table` and :class:`Report` its output,
which :mod:`analysis.report.export` and :mod:`analysis.report.html` only format. The
constants name the values that tables and writers share (the ``judgments`` scopes, the task
kinds, the breakdowns).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.categories import PROMPT_TYPES

__all__ = [
    "ALL",
    "AUTO_JUDGE_RATER",
    "BREAKDOWNS",
    "EXAMPLE_COLUMNS",
    "GOLD_ANSWERS_PARAMETER",
    "INPUT_IMAGE",
    "KEPT",
    "PAIRWISE",
    "PROMPT_LABELS",
    "SINGLE",
    "TASK_KINDS",
    "Report",
    "ReportSettings",
    "StudyData",
    "Table",
    "jsonable",
    "prompt_label",
    "simulated_banner",
]

SINGLE = "single"
PAIRWISE = "pairwise"
TASK_KINDS = (SINGLE, PAIRWISE)
#: ``judgments`` value of rows computed with exclusions applied.
KEPT = "kept"
#: ``judgments`` value of rows computed on every judgment.
ALL = "all"
#: The ``rater`` value of automatic-judge verdicts.
AUTO_JUDGE_RATER = "auto-judge"
#: Table-name suffix -> the category broken down (besides model and prompt type).
BREAKDOWNS: Mapping[str, str] = {
    "prompt": "prompt_type",
    "object_type": "object_type",
    "attribute_type": "attribute_type",
    "scene": "scene",
    "style": "style",
    "source": "source",
}
#: Display names of the prompt types, as in the EditBench paper.
PROMPT_LABELS: Mapping[str, str] = dict(
    zip(PROMPT_TYPES, ("Mask-Simple", "Mask-Rich", "Full-Image"), strict=True)
)


@dataclass(frozen=True)
class ReportSettings:
    """What the study was set up to do, as the methods paragraph describes it.

    Attributes
    ----------
    task_kinds : tuple of str
        ``"single"`` and/or ``"pairwise"``; empty: the kinds with judgments. A kind listed
        here but without judgments is reported as "no data".
    prompt_types : tuple of str
        Prompt types of the single-image task, in report order; empty: those in the data.
    raters_per_unit : int
        K, the raters each unit was assigned to.
    gold_rate : float
        Share of the units shown to raters that were gold units (known answers, used to check
        raters). The judgment tables hold non-gold units only.
    exclusion_rules : mapping of str to object
        Quality-control rule name -> its setting (e.g. ``{"min_gold_accuracy": 0.7}``). The
        names are those of the ``exclusion_rule`` column; a rule that removed nothing is
        still reported, with a count of 0.
    models : tuple of str
        Model display names, in report order, exactly as the judgment tables spell them;
        empty: the models in the data, sorted. A listed model without judgments is
        reported as "no data"; a model in the data but not listed is an error.
    launched_at, closed_at : datetime.date or None
        When the study ran (a :class:`datetime.datetime` is fine too).
    simulated_raters : int
        Simulated raters whose judgments are included (0: none). Every page of the HTML and
        the JSON then say so in a banner.
    adaptive : mapping or None
        The adaptive design when the study allocated by precision targets (None: fixed K):
        ``k_min``, ``k_max``, ``target_half_width``, ``target_by_category``,
        ``pairwise_target`` (none / half-width / decide), ``pairwise_half_width``,
        ``decide_alpha``, ``budget``, ``budget_reached`` and ``statuses`` (cells per final
        status, e.g. ``{"target met": 10, "K_max reached": 2}``). The methods text describes
        what happened from it.
    """

    task_kinds: tuple[str, ...] = ()
    prompt_types: tuple[str, ...] = ()
    raters_per_unit: int = 3
    gold_rate: float = 0.0
    exclusion_rules: Mapping[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    launched_at: dt.date | None = None
    closed_at: dt.date | None = None
    simulated_raters: int = 0
    adaptive: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.task_kinds) - set(TASK_KINDS))
        if unknown:
            raise ValueError(f"task_kinds has unknown kind(s) {unknown}; allowed: {TASK_KINDS}")
        unknown = sorted(set(self.prompt_types) - set(PROMPT_TYPES))
        if unknown:
            raise ValueError(f"prompt_types has unknown value(s) {unknown}")
        if self.raters_per_unit < 1:
            raise ValueError(f"raters_per_unit must be at least 1, got {self.raters_per_unit}")
        if not 0.0 <= self.gold_rate < 1.0:
            raise ValueError(f"gold_rate must lie in [0, 1), got {self.gold_rate}")
        if self.simulated_raters < 0:
            raise ValueError(f"simulated_raters must be >= 0, got {self.simulated_raters}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models has duplicates: {list(self.models)}")


@dataclass(frozen=True)
class StudyData:
    """Everything a report is built from.

    Attributes
    ----------
    name : str
        The study's name (shown escaped in HTML).
    settings : ReportSettings
        The study's set-up.
    single : pandas.DataFrame or None
        Single-image judgments of human raters (contract in :mod:`analysis.tables`), the
        excluded ones included and marked; None or empty when there are none.
    pairwise : pandas.DataFrame or None
        Side-by-side judgments, likewise.
    rater_quality : pandas.DataFrame or None
        Optional per-rater quality table: a ``rater`` column (raw ids; the report shows
        pseudonyms) and any other columns (e.g. ``gold_accuracy``, ``median_seconds``,
        ``excluded``). It must not hold other identifying columns: they are exported as is.
    auto_judge : pandas.DataFrame or None
        Optional automatic-judge verdicts in the single-image format (``rater`` =
        :data:`AUTO_JUDGE_RATER`), at most one verdict per edit (item, model, prompt type).
    examples : pandas.DataFrame or None
        Optional example grid for staff (:data:`EXAMPLE_COLUMNS`): a few items, the input
        and every model's edit of each as PNG bytes (``model`` :data:`INPUT_IMAGE` for the
        input), with the prompt shown. Names models: for staff-facing reports only.
    """

    name: str
    settings: ReportSettings
    single: pd.DataFrame | None = None
    pairwise: pd.DataFrame | None = None
    rater_quality: pd.DataFrame | None = None
    auto_judge: pd.DataFrame | None = None
    examples: pd.DataFrame | None = None


@dataclass(frozen=True)
class Table:
    """One table of the report.

    Attributes
    ----------
    name : str
        File-name stem, e.g. ``"single_by_prompt"``.
    title : str
        Heading.
    description : str
        What one row is.
    frame : pandas.DataFrame
        The rows.
    methods : mapping of str to str
        Number column -> how it was computed and which column holds its ``n``.
    """

    name: str
    title: str
    description: str
    frame: pd.DataFrame
    methods: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """A computed study report; see :func:`build_report`.

    Attributes
    ----------
    study : str
        The study's name.
    settings : ReportSettings
        The study's set-up as given.
    task_kinds, models, prompt_types : tuple of str
        What the report covers, resolved from the settings and the data.
    n_resamples : int
        Bootstrap resamples per interval.
    seed : int or None
        The seed of the bootstrap's generator, when an integer was passed.
    confidence : float
        Nominal coverage of every interval.
    alpha : float
        Family-wise error rate of Holm's correction.
    methods_text : str
        The methods section as plain text, paragraphs separated by a blank line.
    tables : mapping of str to Table
        The tables, by name, in report order.
    examples : pandas.DataFrame or None
        The example grid of :class:`StudyData`, passed through.
    """

    study: str
    settings: ReportSettings
    task_kinds: tuple[str, ...]
    models: tuple[str, ...]
    prompt_types: tuple[str, ...]
    n_resamples: int
    seed: int | None
    confidence: float
    alpha: float
    methods_text: str
    tables: Mapping[str, Table]
    examples: pd.DataFrame | None = None


#: Columns of an example grid: one row per image.
EXAMPLE_COLUMNS = ("item", "prompt_type", "prompt", "model", "png")
#: ``model`` value of the input image in an example grid.
INPUT_IMAGE = "input"

#: The parameter of the gold rule (how many gold answers it decides on), not a rule itself.
GOLD_ANSWERS_PARAMETER = "min_gold_answers"


def simulated_banner(settings: ReportSettings) -> str:
    """The banner text when simulated raters are included; empty otherwise."""
    n = settings.simulated_raters
    if not n:
        return ""
    return (
        f"Includes simulated raters: the judgments of {n} simulated rater"
        f"{'' if n == 1 else 's'} are counted in every table and chart of this report. "
        "They are not human judgments."
    )


def prompt_label(prompt_type: str) -> str:
    """Display name of a prompt type (the raw value for an unknown one)."""
    return PROMPT_LABELS.get(prompt_type, prompt_type)


def jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and missing become None, numpy scalars Python ones.

    Mappings and sequences are converted recursively (mapping keys become strings), dates
    become ISO text and any other object its ``str``. Every JSON text of the report (the
    document, the raw JSON Lines, rule settings in tables and prose) goes through it.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    return str(value)
