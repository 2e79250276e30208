"""The studies the report tests build on: fixed judgments whose counts are known by hand."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

import pandas as pd

from analysis.report import ReportSettings, StudyData
from analysis.tables import CATEGORY_LEVELS, apply_exclusions

# A model name that is also HTML, to check escaping everywhere.
TRICKY = "<b>m&1</b>"
MODELS = ("A", "B", TRICKY)
PROMPTS = ("mask_simple", "mask_rich")
# (object_type, attribute_type, scene, style, source); no item has the attribute "size" or the
# object type "text", so those categories have no data.
ITEMS = {
    "i1": ("common", "color", "indoor", "realistic", "generated"),
    "i2": ("rare", "shape", "outdoor", "painting", "natural"),
    "i3": ("common", "material", "outdoor", "realistic", "natural"),
    "i4": ("rare", "count", "indoor", "painting", "generated"),
}
# Raw rater ids that must never reach an export; the last one is excluded by the gold rule.
RATERS = ("alice@example.org", "prolific-5f3a9", "worker-1234")
BAD_RATER = "careless@example.org"
RULE = "min_gold_accuracy"
N_RESAMPLES = 50
SEED = 7
SALT = "test-salt"


def _categories(item: str) -> dict[str, str]:
    return dict(
        zip(("object_type", "attribute_type", "scene", "style", "source"), ITEMS[item], strict=True)
    )


def single_rows(models: tuple[str, ...] = MODELS) -> list[dict[str, Any]]:
    """Three raters per edit, plus an excluded rater on items i1 and i2.

    The verdict pattern is fixed by hand: rater k calls edit (item i, model m, prompt p)
    correct unless ``(3 * i + p + k) % (m + 2) == 0``, so model A's edits get 1 or 2 correct
    verdicts of 3, model B's always 2, and the third model's 2 or 3.
    """
    rows = []
    for (i, item), (m, model), (p, prompt) in itertools.product(
        enumerate(ITEMS), enumerate(models), enumerate(PROMPTS)
    ):
        raters = RATERS + ((BAD_RATER,) if item in ("i1", "i2") else ())
        for k, rater in enumerate(raters):
            bad = rater == BAD_RATER
            rows.append(
                {
                    "unit": f"{item}/{model}/{prompt}",
                    "item": item,
                    "model": model,
                    "prompt_type": prompt,
                    **_categories(item),
                    "rater": rater,
                    "correct": bad or (3 * i + p + k) % (m + 2) != 0,
                    "excluded": bad,
                    "exclusion_rule": RULE if bad else None,
                    "time_on_task_ms": 3000 + 100 * k,
                }
            )
            rows[-1].update(_answers(prompt, correct=rows[-1]["correct"], k=k))
    return rows


def _answers(prompt: str, *, correct: bool, k: int) -> dict[str, str]:
    """Each check's answer: all "yes" for a correct verdict; otherwise the attribute check
    (rater 0, 2) or the binding / object check (others) says "no"."""
    if prompt == "mask_simple":
        names = ("answer_object", "answer_attribute", "answer_binding")
        failed = "answer_attribute" if k % 2 == 0 else "answer_binding"
    else:
        names = ("answer_object", "answer_attr_color")
        failed = "answer_attr_color" if k % 2 == 0 else "answer_object"
    return {name: "yes" if correct or name != failed else "no" for name in names}


def pairwise_rows(models: tuple[str, ...] = MODELS) -> list[dict[str, Any]]:
    """Both questions of every model pair on every item by three raters (+ one excluded)."""
    rows = []
    choices = ("a", "a", "b", "none", "a", "b", "a")
    counter = itertools.count()
    for item, (a, b) in itertools.product(ITEMS, itertools.combinations(sorted(models), 2)):
        for k, rater in enumerate((*RATERS, BAD_RATER)):
            for question in ("alignment", "realism"):
                bad = rater == BAD_RATER
                rows.append(
                    {
                        "unit": f"{item}/{a}/{b}",
                        "item": item,
                        "prompt_type": "mask_rich",
                        "model_a": a,
                        "model_b": b,
                        "left": "ab"[k % 2],
                        "rater": rater,
                        "question": question,
                        "choice": "b" if bad else choices[next(counter) % 7],
                        "excluded": bad,
                        "exclusion_rule": RULE if bad else None,
                    }
                )
    return rows


def judge_rows(models: tuple[str, ...] = MODELS) -> list[dict[str, Any]]:
    """One automatic verdict per edit: correct unless the edit's position is a multiple of 3."""
    edits = {(r["item"], r["model"], r["prompt_type"]): r for r in single_rows(models)}
    return [
        {
            **row,
            "unit": f"auto/{row['unit']}",
            "rater": "auto-judge",
            "correct": n % 3 != 0,
            "excluded": False,
            "exclusion_rule": None,
        }
        for n, row in enumerate(edits.values())
    ]


def settings(**overrides: Any) -> ReportSettings:
    values: dict[str, Any] = {
        "task_kinds": ("single", "pairwise"),
        "prompt_types": PROMPTS,
        "raters_per_unit": 3,
        "gold_rate": 0.1,
        "exclusion_rules": {RULE: 0.7, "min_median_seconds": 2},
        "models": MODELS,
        "launched_at": dt.date(2024, 5, 1),
        "closed_at": dt.date(2024, 5, 9),
    }
    values.update(overrides)
    return ReportSettings(**values)


def full_study() -> StudyData:
    return StudyData(
        name="Pilot <i>1</i> & co",
        settings=settings(),
        single=pd.DataFrame(single_rows()),
        pairwise=pd.DataFrame(pairwise_rows()),
        rater_quality=pd.DataFrame(
            {
                "rater": [*RATERS, BAD_RATER],
                "gold_accuracy": [0.9, 0.8, 1.0, 0.4],
                "excluded": [False, False, False, True],
            }
        ),
        auto_judge=pd.DataFrame(judge_rows()),
    )


def kept_single() -> pd.DataFrame:
    kept, _ = apply_exclusions(pd.DataFrame(single_rows()))
    return kept


def levels() -> dict[str, Any]:
    return {**CATEGORY_LEVELS, "model": MODELS, "prompt_type": PROMPTS}


def rows_of(document: dict[str, Any], table: str, **match: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = document["tables"][table]["rows"]
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def chart(page: str, chart_id: str) -> str:
    """The inline ``<svg>`` whose element ids carry ``chart_id``."""
    for svg in re.findall(r"<svg\b.*?</svg>", page, re.S):
        if f'id="{chart_id}-' in svg:
            return str(svg)
    raise AssertionError(f"no chart {chart_id} on the page")


def pairwise_only_study() -> StudyData:
    return StudyData(
        name="pairwise only",
        settings=settings(task_kinds=(), models=("A", "B")),
        pairwise=pd.DataFrame(pairwise_rows(("A", "B"))),
    )
