"""Per-question breakdowns of single-image judgments (EditBench's object / attribute / binding).

A single-image judgment's verdict is correct when every check was answered "yes"; the
checks themselves say *what* failed. The judgment tables carry each answer as a column
``answer_<question id>`` (``"yes"``, ``"no"``, or missing where the unit did not ask it):

* Mask-Simple: ``object``, ``attribute`` (or ``count``), ``binding``;
* Mask-Rich: ``object``, ``count`` for several objects, ``attr_<attribute>`` per attribute
  the prompt names;
* Full-Image: ``match``.

:func:`question_table` gives the share of "yes" per question and group with the Wilson
interval (answers independent) and the two-way (items and raters) clustered interval of
:mod:`analysis.crossed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.grouping import CROSSED_COLUMNS, crossed_columns
from analysis.intervals import wilson

__all__ = ["ANSWER_PREFIX", "QUESTION_COLUMNS", "TIME_COLUMN", "answers_long", "question_table"]

#: Prefix of the per-question answer columns of a judgment table.
ANSWER_PREFIX = "answer_"
#: The time on task of a judgment, in milliseconds.
TIME_COLUMN = "time_on_task_ms"
QUESTION_COLUMNS = (
    "n_answers",
    "n_items",
    "yes",
    "share_yes",
    "wilson_low",
    "wilson_high",
    *CROSSED_COLUMNS[:-1],
    "note",
)


def answers_long(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (judgment, question asked): the judgment's columns, ``question`` and
    ``yes`` (bool). Empty when the table has no answer columns."""
    answer_columns = [c for c in frame.columns if str(c).startswith(ANSWER_PREFIX)]
    keep = [c for c in frame.columns if c not in answer_columns]
    if not answer_columns or frame.empty:
        return pd.DataFrame(columns=[*keep, "question", "yes"])
    parts = []
    for column in answer_columns:
        asked = frame[column].notna()
        if not asked.any():
            continue
        part = frame.loc[asked, keep].copy()
        part["question"] = column[len(ANSWER_PREFIX) :]
        part["yes"] = (frame.loc[asked, column].astype(str) == "yes").to_numpy()
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[*keep, "question", "yes"])
    return pd.concat(parts, ignore_index=True)


def question_table(
    long: pd.DataFrame, by: Sequence[str] = ("model", "prompt_type"), *, confidence: float
) -> pd.DataFrame:
    """Share of "yes" per question and group of ``by``.

    Parameters
    ----------
    long : pandas.DataFrame
        :func:`answers_long` of single-image judgments with exclusions applied (computed
        once by a caller that builds several tables).
    by : sequence of str
        Grouping columns besides ``question``.
    confidence : float
        Nominal coverage of both intervals.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``question`` and :data:`QUESTION_COLUMNS`; observed groups only,
        sorted (a question a prompt type does not ask has no row).
    """
    keys = [*by, "question"]
    if long.empty:
        return pd.DataFrame(columns=[*keys, *QUESTION_COLUMNS])
    values = long.assign(correct=long["yes"].astype(float))
    out = crossed_columns(values, keys, "correct", confidence=confidence, counts=True)
    intervals = [
        wilson(round(float(y)), int(n), confidence=confidence)
        for y, n in zip(out["total"], out["n"], strict=True)
    ]
    out = out.rename(columns={"n": "n_answers", "estimate": "share_yes"})
    out["yes"] = out.pop("total").astype(np.int64)
    out["n_answers"] = out["n_answers"].astype(np.int64)
    out["n_items"] = out["n_items"].astype(np.int64)
    out["wilson_low"] = [w.low for w in intervals]
    out["wilson_high"] = [w.high for w in intervals]
    out["note"] = out.pop("crossed_note").fillna("")
    return out[[*keys, *QUESTION_COLUMNS]]
