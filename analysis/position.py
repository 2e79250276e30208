"""Position bias in side-by-side judgments: measured, tested, and adjusted for.

:func:`position_bias` is the share of decided judgments won by the left image, with the
two-way (items and raters) clustered interval and test of :mod:`analysis.crossed`
(flagged when the test rejects 0.5); pooled over both questions it counts each judgment
(unit × rater) once.

Raters favour the image shown on the left (or right). Sides are balanced per unit, so the
plain win rates are not biased by it on average, but their variance is, and an unbalanced
subset is. :func:`position_adjusted` fits, per question and prompt type, the logistic model

    P(a preferred over b) = expit(s_a - s_b + gamma * side),  side = +1 when a is on the left,

on the decided judgments by maximum likelihood, with the log-strength of the last model (in
name order) fixed at 0, and two-way (items and raters) cluster-robust standard errors, as
statsmodels' ``GLM(..., family=Binomial()).fit(cov_type="cluster")`` with two group columns
gives them (the tests compare the two; computed here on arrays for speed).
Each pair's adjusted win rate is ``expit(s_a - s_b)``, the rate
between the two models with the position effect taken out, with a Student-t interval on the
logit scale (``min(items, raters) - 1`` degrees of freedom); ``gamma`` is reported as the
share a left image would win between two equal models, ``expit(gamma)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from scipy.stats import binomtest
from scipy.stats import t as student_t

from analysis.crossed import crossed_estimate, crossed_frame
from analysis.intervals import Estimate, wilson
from analysis.tables import validate_pairwise

__all__ = [
    "METHOD",
    "POSITION_COLUMNS",
    "PositionBias",
    "position_adjusted",
    "position_bias",
    "position_bias_validated",
]

METHOD = "bradley-terry-logit+left-term/two-way-cluster"
POSITION_COLUMNS = (
    "question",
    "prompt_type",
    "model_a",
    "model_b",
    "n_judgments",
    "adjusted_win_rate_a",
    "adjusted_low",
    "adjusted_high",
    "left_share_equal_models",
    "left_low",
    "left_high",
    "method",
    "note",
)
_NO_FIT = "the model has no finite estimate (a model or a side won every decided judgment)"


@dataclass(frozen=True)
class PositionBias:
    """How often the left-hand image won among decided judgments.

    Attributes
    ----------
    question : str or None
        The question analysed, None when all questions were pooled.
    left_wins, right_wins, ties : int
        Decided judgments won by the left / right image, and no-preference judgments.
        With ``question`` None (both pooled) each judgment (unit × rater) counts once: won
        by the side that won most of its decided answers, a tie when neither did.
    share_left : Estimate
        ``left_wins / (left_wins + right_wins)`` with a Wilson interval (judgments
        independent).
    share_left_crossed : Estimate
        The same share with the two-way (items and raters) clustered interval.
    p_value : float
        Two-sided test of ``share_left == 0.5`` from the two-way clustered variance (NaN
        without decided judgments); matches ``share_left_crossed``.
    p_value_binomial : float
        Exact binomial test of the same, judgments independent (the reference).
    flagged : bool
        ``p_value < alpha``: a position bias to adjust for.
    """

    question: str | None
    left_wins: int
    right_wins: int
    ties: int
    share_left: Estimate
    share_left_crossed: Estimate
    p_value: float
    p_value_binomial: float
    flagged: bool


def _binomial_p(successes: int, n: int) -> float:
    return float(binomtest(successes, n, 0.5).pvalue) if n > 0 else math.nan


def position_bias(
    df: pd.DataFrame, *, question: str | None = None, confidence: float = 0.95
) -> PositionBias:
    """Share of decided judgments won by the image shown on the left.

    Parameters
    ----------
    df : pandas.DataFrame
        Side-by-side judgments with exclusions applied.
    question : str, optional
        Restrict to one question; by default all questions are pooled, each judgment
        (unit × rater) counted once by the side that won most of its decided answers.
    confidence : float
        Nominal coverage of the Wilson interval.

    Returns
    -------
    PositionBias
        Without decided judgments the share is the "no data" estimate and the p-value NaN.
    """
    frame = validate_pairwise(df)
    if frame["excluded"].any():
        raise ValueError("the table contains excluded judgments; call apply_exclusions() first")
    return position_bias_validated(frame, question=question, confidence=confidence)


def position_bias_validated(
    frame: pd.DataFrame, *, question: str | None, confidence: float, alpha: float = 0.05
) -> PositionBias:
    """:func:`position_bias` of a frame already validated, without excluded rows.

    ``frame`` must already be validated by :func:`analysis.tables.validate_pairwise` and hold
    no excluded rows: neither is checked again. A caller that computes many results from one
    table (the report) validates once and calls this; everyone else calls the checking
    function.
    """
    if question is not None:
        judged = frame.loc[frame["question"] == question]
        decided = judged.loc[judged["choice"] != "none"]
        left_won = (decided["choice"] == decided["left"]).to_numpy(dtype=bool)
        per_judgment = decided[["item", "rater"]]
        n_ties = len(judged) - len(decided)
    else:
        # One judgment (unit × rater) once, however many questions it answered.
        answers = frame.assign(
            lead=np.where(frame["choice"] == "none", 0, 1)
            * np.where(frame["choice"] == frame["left"], 1, -1)
        )
        judged = answers.groupby(["unit", "rater"], sort=False, observed=True).agg(
            item=("item", "first"), lead=("lead", "sum")
        )
        judged = judged.reset_index()
        decided = judged.loc[judged["lead"] != 0]
        left_won = (decided["lead"] > 0).to_numpy(dtype=bool)
        per_judgment = decided[["item", "rater"]]
        n_ties = len(judged) - len(decided)
    left_wins = int(left_won.sum())
    n = len(left_won)
    crossed = crossed_frame(
        left_won.astype(float),
        pd.factorize(per_judgment["item"])[0],
        pd.factorize(per_judgment["rater"])[0],
        np.zeros(n, dtype=np.int64),
        confidence=confidence,
    )
    row = crossed.iloc[0].to_dict() if n else None
    p_value = math.nan if row is None else float(row["p_value"])
    return PositionBias(
        question=question,
        left_wins=left_wins,
        right_wins=n - left_wins,
        ties=n_ties,
        share_left=wilson(left_wins, n, confidence=confidence),
        share_left_crossed=crossed_estimate(row, confidence),
        p_value=p_value,
        p_value_binomial=_binomial_p(left_wins, n),
        flagged=bool(p_value < alpha),
    )


def _design(
    decided: pd.DataFrame, models: list[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Design matrix (model contrasts, then side) and response of the decided judgments."""
    # Codes in ``models`` order; categorical columns are recoded without hashing strings.
    a = pd.Categorical(decided["model_a"], categories=models).codes.astype(int)
    b = pd.Categorical(decided["model_b"], categories=models).codes.astype(int)
    m, n = len(models), len(decided)
    x = np.zeros((n, m))
    x[np.arange(n), a] = 1.0
    x[np.arange(n), b] = -1.0
    side = np.where((decided["left"] == "a").to_numpy(dtype=bool), 1.0, -1.0)
    # The last model's strength is the reference (0): drop its column, append the side.
    design = np.column_stack([x[:, : m - 1], side])
    return design, (decided["choice"] == "a").to_numpy(dtype=float)


def _logit(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], *, max_iter: int = 60
) -> npt.NDArray[np.float64] | None:
    """Maximum-likelihood logistic regression by Newton's method (IRLS); None when it does
    not converge to finite values (separation: a model or a side always won)."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = expit(x @ beta)
        hessian = x.T @ (x * (p * (1 - p))[:, None])
        try:
            step = np.linalg.solve(hessian, x.T @ (y - p))
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if np.abs(beta).max() > 15:
            return None
        if np.abs(step).max() < 1e-10:
            return beta
    return None


def _cluster_meat(scores: npt.NDArray[np.float64], codes: npt.NDArray[np.intp]) -> Any:
    """``G / (G - 1) * (N - 1) / (N - k) * sum_g s_g s_g'`` (statsmodels' correction)."""
    n, k = scores.shape
    groups = int(codes.max()) + 1
    sums = np.column_stack(
        [np.bincount(codes, weights=scores[:, j], minlength=groups) for j in range(k)]
    )
    return groups / (groups - 1.0) * (n - 1.0) / (n - k) * (sums.T @ sums)


def _fit(decided: pd.DataFrame, models: list[str]) -> tuple[Any, Any, float, str] | None:
    """Coefficients, their two-way cluster-robust covariance, the t degrees of freedom and a
    note; None without a finite fit.

    The covariance is statsmodels' ``GLM(...).fit(cov_type="cluster")`` with two group
    columns (item, rater), computed here on arrays because statsmodels' version regroups the
    observations several times, which is most of a million-judgment report's time; the tests
    check that the two agree.
    """
    design, y = _design(decided, models)
    beta = _logit(design, y)
    if beta is None:
        return None
    p = expit(design @ beta)
    bread = np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))
    scores = design * (y - p)[:, None]
    items = pd.factorize(decided["item"])[0]
    raters = pd.factorize(decided["rater"])[0]
    n_items, n_raters = int(items.max()) + 1, int(raters.max()) + 1
    note = ""
    if n_items >= 2 and n_raters >= 2:
        cells = pd.factorize(items.astype(np.int64) * n_raters + raters)[0]
        meat = (
            _cluster_meat(scores, items)
            + _cluster_meat(scores, raters)
            - _cluster_meat(scores, cells)
        )
        df = min(n_items, n_raters) - 1.0
    elif n_items >= 2 or n_raters >= 2:
        codes, df = (items, n_items - 1.0) if n_items >= 2 else (raters, n_raters - 1.0)
        meat = _cluster_meat(scores, codes)
        note = "one item or one rater: clustered on the other only"
    else:
        return beta, bread, math.inf, "one item and one rater: model-based errors"
    return beta, bread @ meat @ bread, df, note


def _pair_row(
    beta: Any, cov: Any, contrast: npt.NDArray[np.float64], crit: float
) -> tuple[float, float, float]:
    """(expit(c'b), low, high) with a t interval on the logit scale."""
    estimate = float(contrast @ beta)
    se = math.sqrt(max(float(contrast @ cov @ contrast), 0.0))
    return (
        float(expit(estimate)),
        float(expit(estimate - crit * se)),
        float(expit(estimate + crit * se)),
    )


def _group_rows(
    group: pd.DataFrame, question: str, prompt_type: str, confidence: float
) -> list[dict[str, Any]]:
    # Distinct values first: the frame has one row per judgment (hundreds of thousands).
    distinct = group[["model_a", "model_b"]].drop_duplicates()
    pairs = sorted({(str(a), str(b)) for a, b in distinct.itertuples(index=False)})
    models = sorted({model for pair in pairs for model in pair})
    decided = group.loc[group["choice"] != "none"]
    per_pair: dict[tuple[str, str], int] = {}
    for (a, b), count in decided.groupby(["model_a", "model_b"], observed=True).size().items():
        per_pair[(str(a), str(b))] = per_pair.get((str(a), str(b)), 0) + int(count)
    fit = _fit(decided, models) if len(decided) else None
    rows = []
    for model_a, model_b in pairs:
        n = per_pair.get((model_a, model_b), 0)
        row: dict[str, Any] = dict.fromkeys(POSITION_COLUMNS, math.nan)
        row.update(question=question, prompt_type=prompt_type, model_a=model_a)
        row.update(model_b=model_b, n_judgments=n, method=METHOD)
        if fit is None:
            row["note"] = _NO_FIT if len(decided) else "no data"
            rows.append(row)
            continue
        beta, cov, df, note = fit
        crit = float(student_t.isf((1 - confidence) / 2, df))
        contrast = np.zeros(len(models))
        contrast[models.index(model_a)] += 1.0
        contrast[models.index(model_b)] -= 1.0
        contrast = np.append(contrast[: len(models) - 1], 0.0)
        side = np.zeros(len(models))
        side[-1] = 1.0
        adjusted = _pair_row(beta, cov, contrast, crit)
        left = _pair_row(beta, cov, side, crit)
        row.update(adjusted_win_rate_a=adjusted[0], adjusted_low=adjusted[1])
        row.update(adjusted_high=adjusted[2], left_share_equal_models=left[0])
        row.update(left_low=left[1], left_high=left[2], note=note)
        rows.append(row)
    return rows


def position_adjusted(frame: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Win rates of every pair adjusted for the side shown, per question and prompt type.

    Parameters
    ----------
    frame : pandas.DataFrame
        Side-by-side judgments, validated by :func:`analysis.tables.validate_pairwise`, with
        exclusions applied.
    confidence : float
        Nominal coverage of the intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`POSITION_COLUMNS`, one row per question × prompt type × pair. Where the model
        has no finite estimate the numbers are NaN and ``note`` says why.
    """
    rows: list[dict[str, Any]] = []
    if len(frame):
        for (question, prompt_type), group in frame.groupby(
            ["question", "prompt_type"], sort=True, observed=True
        ):
            rows += _group_rows(group, str(question), str(prompt_type), confidence)
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS))
