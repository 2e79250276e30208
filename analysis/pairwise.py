"""Side-by-side comparisons: win rates, tests, Bradley-Terry strengths, position bias.

All functions read the side-by-side judgment table described in :mod:`analysis.tables`
(validated by :func:`analysis.tables.validate_pairwise`) with exclusions already applied.
A ``choice`` of ``"none"`` (no preference) is a tie. Win rates are reported from
``model_a``'s side; ``model_b``'s is one minus it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from analysis.bradley_terry import fit_bradley_terry, fit_bradley_terry_batch
from analysis.crossed import crossed_estimate, crossed_frame
from analysis.intervals import Estimate, cluster_sums_bootstrap, draw_clusters, no_data, wilson
from analysis.position import PositionBias, position_bias, position_bias_validated
from analysis.tables import validate_pairwise

__all__ = [
    "BradleyTerryResult",
    "PairwiseComparison",
    "PositionBias",
    "bradley_terry",
    "bradley_terry_validated",
    "comparisons_frame",
    "pairwise_comparisons",
    "pairwise_comparisons_validated",
    "position_bias",
    "position_bias_validated",
]

_PAIR_KEY = ["question", "prompt_type", "model_a", "model_b"]
_BT_METHOD = "bradley-terry-mle/cluster-bootstrap-percentile"


@dataclass(frozen=True)
class PairwiseComparison:
    """One model pair on one question (and prompt type).

    Attributes
    ----------
    question, prompt_type, model_a, model_b : str
        What was compared.
    wins_a, wins_b, ties : int
        Judgments preferring ``model_a``, preferring ``model_b``, and with no preference.
    n_items : int
        Distinct items among the judgments.
    win_rate_a : Estimate
        ``wins_a / (wins_a + wins_b)`` (ties excluded) with a Wilson interval.
    win_rate_a_bootstrap : Estimate
        The same rate with an item-clustered bootstrap interval.
    win_rate_a_ties_split : Estimate
        ``(wins_a + ties / 2) / (wins_a + wins_b + ties)`` with an item-clustered bootstrap
        interval (a Wilson interval is not defined for half-counts).
    win_rate_a_crossed : Estimate
        ``win_rate_a`` with the two-way (items and raters) cluster-robust interval of
        :mod:`analysis.crossed`: the primary interval.
    p_value : float
        Two-sided test of ``win_rate_a == 0.5`` from the same two-way clustered variance
        (:mod:`analysis.crossed`), so it is below 0.05 exactly when the 95% crossed interval
        excludes 0.5; NaN when every judgment was a tie.
    p_value_binomial : float
        Exact two-sided binomial test of ``wins_a`` out of ``wins_a + wins_b``, every
        judgment independent (the reference; too small in a crossed design).
    p_holm : float
        ``p_value`` after Holm's correction over all comparisons of the same call.
    reject_holm : bool
        ``p_holm < alpha``.
    """

    question: str
    prompt_type: str
    model_a: str
    model_b: str
    wins_a: int
    wins_b: int
    ties: int
    n_items: int
    win_rate_a: Estimate
    win_rate_a_bootstrap: Estimate
    win_rate_a_ties_split: Estimate
    win_rate_a_crossed: Estimate
    p_value: float
    p_value_binomial: float
    p_holm: float
    reject_holm: bool


@dataclass(frozen=True)
class BradleyTerryResult:
    """Bradley-Terry strengths of several models on one question.

    ``P(i preferred over j) = 1 / (1 + exp(-(s_i - s_j)))`` with log-strengths ``s``
    normalised to **sum to zero** over the models. Ties are left out of the fit.

    Attributes
    ----------
    question : str
        The question analysed.
    models : tuple of str
        Model names, strongest first.
    strengths : tuple of Estimate
        Log-strength of each model in ``models`` order, with item-clustered bootstrap
        percentile intervals (NaN when the maximum-likelihood estimate does not exist).
    n_judgments : int
        Decided judgments fitted.
    n_ties : int
        No-preference judgments left out.
    n_items : int
        Distinct items (the bootstrap's clusters).
    n_resamples : int
        Bootstrap resamples drawn.
    n_failed_resamples : int
        Resamples whose maximum-likelihood estimate does not exist (some group of models
        never beats the rest); they are left out of the intervals.
    method : str
        ``"mm"``: Hunter's (2004) minorization-maximization iteration.
    note : str
        Empty, or why the estimate or its intervals need care.
    """

    question: str
    models: tuple[str, ...]
    strengths: tuple[Estimate, ...]
    n_judgments: int
    n_ties: int
    n_items: int
    n_resamples: int
    n_failed_resamples: int
    method: str
    note: str = ""


def _prepared(df: pd.DataFrame) -> pd.DataFrame:
    frame = validate_pairwise(df)
    if frame["excluded"].any():
        raise ValueError("the table contains excluded judgments; call apply_exclusions() first")
    return frame


# --------------------------------------------------------------------------- win rates


def _binomial_p(successes: int, n: int) -> float:
    return float(binomtest(successes, n, 0.5).pvalue) if n > 0 else math.nan


def _crossed_by_pair(frame: pd.DataFrame, confidence: float) -> dict[tuple[str, ...], Any]:
    """The crossed interval and test of each comparison's win rate, by comparison key."""
    decided = frame.loc[frame["choice"] != "none"]
    if decided.empty:
        return {}
    grouped = decided.groupby(_PAIR_KEY, sort=True, observed=True)
    ids = grouped.ngroup().to_numpy()
    keys = [tuple(map(str, key)) for key in grouped.size().index]
    items, _ = pd.factorize(decided["item"])
    raters, _ = pd.factorize(decided["rater"])
    values = (decided["choice"] == "a").to_numpy(dtype=float)
    result = crossed_frame(values, items, raters, ids, confidence=confidence)
    return {key: result.iloc[g].to_dict() for g, key in enumerate(keys)}


def _compare(
    key: tuple[str, ...],
    rows: pd.DataFrame,
    *,
    crossed: dict[str, Any] | None,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
) -> PairwiseComparison:
    """One comparison, before Holm's correction (``p_holm`` NaN for now)."""
    choice = rows["choice"]
    a_won = (choice == "a").to_numpy(dtype=bool)
    b_won = (choice == "b").to_numpy(dtype=bool)
    wins_a, wins_b = int(a_won.sum()), int(b_won.sum())
    # Both bootstraps resample items; per-item totals are all they need.
    codes, items = pd.factorize(rows["item"])
    k = len(items)
    won_a = np.bincount(codes, weights=a_won, minlength=k)
    decided = np.bincount(codes, weights=a_won | b_won, minlength=k)
    judged = np.bincount(codes, minlength=k).astype(float)
    split = won_a + 0.5 * (judged - decided)
    question, prompt_type, model_a, model_b = key
    return PairwiseComparison(
        question=question,
        prompt_type=prompt_type,
        model_a=model_a,
        model_b=model_b,
        wins_a=wins_a,
        wins_b=wins_b,
        ties=len(rows) - wins_a - wins_b,
        n_items=k,
        win_rate_a=wilson(wins_a, wins_a + wins_b, confidence=confidence),
        win_rate_a_bootstrap=cluster_sums_bootstrap(
            won_a,
            decided,
            rng=rng,
            confidence=confidence,
            n_resamples=n_resamples,
        ),
        win_rate_a_ties_split=cluster_sums_bootstrap(
            split,
            judged,
            rng=rng,
            confidence=confidence,
            n_resamples=n_resamples,
        ),
        win_rate_a_crossed=crossed_estimate(crossed, confidence),
        p_value=math.nan if crossed is None else float(crossed["p_value"]),
        p_value_binomial=_binomial_p(wins_a, wins_a + wins_b),
        p_holm=math.nan,
        reject_holm=False,
    )


def pairwise_comparisons(
    df: pd.DataFrame,
    *,
    rng: np.random.Generator,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> list[PairwiseComparison]:
    """Compare every model pair on every question present in the table.

    Parameters
    ----------
    df : pandas.DataFrame
        Side-by-side judgments with exclusions applied.
    rng : numpy.random.Generator
        Drives the bootstrap intervals.
    n_resamples : int
        Bootstrap resamples per interval.
    confidence : float
        Nominal coverage of the intervals.
    alpha : float
        Family-wise error rate for Holm's correction, which runs over all comparisons
        returned (those with a p-value; all-tie comparisons get NaN and are left out).

    Returns
    -------
    list of PairwiseComparison
        Sorted by question, prompt type, ``model_a``, ``model_b``.
    """
    return pairwise_comparisons_validated(
        _prepared(df), rng=rng, n_resamples=n_resamples, confidence=confidence, alpha=alpha
    )


def pairwise_comparisons_validated(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    n_resamples: int,
    confidence: float,
    alpha: float,
) -> list[PairwiseComparison]:
    """:func:`pairwise_comparisons` of a frame already validated, without excluded rows.

    ``frame`` must already be validated by :func:`analysis.tables.validate_pairwise` and hold
    no excluded rows: neither is checked again. A caller that computes many results from one
    table (the report) validates once and calls this; everyone else calls the checking
    function.
    """
    crossed = _crossed_by_pair(frame, confidence)
    partial = [
        _compare(
            tuple(map(str, key)),
            rows,
            crossed=crossed.get(tuple(map(str, key))),
            rng=rng,
            n_resamples=n_resamples,
            confidence=confidence,
        )
        for key, rows in frame.groupby(_PAIR_KEY, sort=True, observed=True)
    ]
    p_values = np.array([c.p_value for c in partial], dtype=float)
    p_holm = np.full(p_values.shape, math.nan)
    reject = np.zeros(p_values.shape, dtype=bool)
    tested = ~np.isnan(p_values)
    if tested.any():
        reject[tested], p_holm[tested], _, _ = multipletests(
            p_values[tested], alpha=alpha, method="holm"
        )
    return [
        replace(c, p_holm=float(p), reject_holm=bool(r))
        for c, p, r in zip(partial, p_holm, reject, strict=True)
    ]


def comparisons_frame(comparisons: list[PairwiseComparison]) -> pd.DataFrame:
    """Flatten comparisons into one row each (nested estimates become ``win_rate_a_low``...).

    Parameters
    ----------
    comparisons : list of PairwiseComparison

    Returns
    -------
    pandas.DataFrame
    """
    return pd.json_normalize([asdict(c) for c in comparisons], sep="_")


# --------------------------------------------------------------------------- Bradley-Terry


def bradley_terry(
    df: pd.DataFrame,
    *,
    rng: np.random.Generator,
    question: str = "alignment",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    method: str = "mm",
) -> BradleyTerryResult:
    """Bradley-Terry log-strengths of all models on one question, with intervals.

    Ties are left out. Intervals are percentile intervals over ``n_resamples`` item-clustered
    bootstrap resamples (whole items drawn with replacement, the model refitted each time).
    The judgments are first reduced to one win matrix per item; a resample's win matrix is
    the sum of its drawn items' matrices, and all resamples are fitted together by the MM
    iteration of :func:`analysis.bradley_terry.fit_bradley_terry` (same tolerance, each
    resample stopped on its own), started from the point estimate rather than from zero,
    which changes the number of steps, not the maximum reached.
    The model is meant for three or more models; with two it reproduces the win rate on the
    log-odds scale (``s_a - s_b = logit(win rate)``).

    Parameters
    ----------
    df : pandas.DataFrame
        Side-by-side judgments with exclusions applied, of a single prompt type.
    rng : numpy.random.Generator
        Drives the bootstrap.
    question : str
        Which question's answers to fit.
    n_resamples : int
        Bootstrap resamples.
    confidence : float
        Nominal coverage.
    method : {"mm"}
        Fitting algorithm (see :func:`analysis.bradley_terry.fit_bradley_terry`).

    Returns
    -------
    BradleyTerryResult
        When the estimate does not exist on the data (e.g. one model won every comparison)
        all strengths are NaN and ``note`` says why; no exception is raised.

    Raises
    ------
    ValueError
        For an unknown method, rows of several prompt types, or fewer than two models.
    """
    if method != "mm":
        raise ValueError(f"method must be 'mm', got {method!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    return bradley_terry_validated(
        _prepared(df),
        rng=rng,
        question=question,
        n_resamples=n_resamples,
        confidence=confidence,
        method=method,
    )


def bradley_terry_validated(
    frame: pd.DataFrame,
    *,
    rng: np.random.Generator,
    question: str,
    n_resamples: int,
    confidence: float,
    method: str,
) -> BradleyTerryResult:
    """:func:`bradley_terry` of a frame already validated, without excluded rows.

    ``frame`` must already be validated by :func:`analysis.tables.validate_pairwise` and hold
    no excluded rows: neither is checked again. A caller that computes many results from one
    table (the report) validates once and calls this; everyone else calls the checking
    function.

    ``method`` and ``n_resamples`` are not checked either (:func:`bradley_terry` checks them).
    """
    frame = frame.loc[frame["question"] == question]
    if frame["prompt_type"].nunique() > 1:
        raise ValueError("the rows span several prompt types; pass one prompt type's rows")
    models = sorted(set(frame["model_a"].unique()) | set(frame["model_b"].unique()))
    if len(models) < 2:
        raise ValueError(f"need at least two models for question {question!r}, got {models}")
    decided = frame.loc[frame["choice"] != "none"]
    per_item = _per_item_wins(decided, models)
    m, k = len(models), per_item.shape[0]
    point = fit_bradley_terry(per_item.sum(axis=0).reshape(m, m))
    counts = {"n_judgments": len(decided), "n_ties": len(frame) - len(decided), "n_items": k}
    if point is None:
        return BradleyTerryResult(
            question=question,
            models=tuple(models),
            strengths=tuple(
                replace(
                    no_data(_BT_METHOD, confidence=confidence, n_clusters=k),
                    n=len(decided),
                    note="no finite estimate",
                )
                for _ in models
            ),
            **counts,
            n_resamples=0,
            n_failed_resamples=0,
            method=method,
            note="the maximum-likelihood estimate does not exist: some group of models never "
            "beats the others (too little or one-sided data)",
        )
    fits = _resampled_fits(per_item, point, rng=rng, n_resamples=n_resamples)
    kept = fits[~np.isnan(fits).any(axis=1)]
    n_failed = n_resamples - len(kept)
    bounds = _percentile_bounds(kept, confidence=confidence, m=m)
    note = ""
    if n_failed:
        note = (
            f"{n_failed} of {n_resamples} resamples had no finite estimate and were left out; "
            "the intervals are conditional on the rest and likely too narrow"
        )
    order = np.argsort(-point, kind="stable")
    return BradleyTerryResult(
        question=question,
        models=tuple(models[i] for i in order),
        strengths=tuple(
            Estimate(
                float(point[i]),
                float(bounds[0, i]),
                float(bounds[1, i]),
                _BT_METHOD,
                len(decided),
                confidence,
                k,
            )
            for i in order
        ),
        **counts,
        n_resamples=n_resamples,
        n_failed_resamples=n_failed,
        method=method,
        note=note,
    )


def _per_item_wins(decided: pd.DataFrame, models: list[str]) -> npt.NDArray[np.float64]:
    """``(k, m * m)``: entry ``[c, i * m + j]`` = times model i beat model j on item c.

    Items are numbered in order of appearance; a resample's win matrix is a weighted sum of
    these rows.
    """
    index = {model: i for i, model in enumerate(models)}
    a = decided["model_a"].map(index).to_numpy(dtype=int)
    b = decided["model_b"].map(index).to_numpy(dtype=int)
    a_won = (decided["choice"] == "a").to_numpy()
    winner, loser = np.where(a_won, a, b), np.where(a_won, b, a)
    item_codes, items = pd.factorize(decided["item"])
    m, k = len(models), len(items)
    per_item = np.zeros((k, m * m))
    np.add.at(per_item, (item_codes, winner * m + loser), 1.0)
    return per_item


def _percentile_bounds(
    kept: npt.NDArray[np.float64], *, confidence: float, m: int
) -> npt.NDArray[np.float64]:
    """``(2, m)`` percentile bounds of the resampled fits; NaN when none had an estimate."""
    tail = (1.0 - confidence) / 2.0
    if len(kept):
        bounds: npt.NDArray[np.float64] = np.quantile(kept, [tail, 1.0 - tail], axis=0)
        return bounds
    return np.full((2, m), math.nan)


def _resampled_fits(
    per_item: npt.NDArray[np.float64],
    point: npt.NDArray[np.float64],
    *,
    rng: np.random.Generator,
    n_resamples: int,
) -> npt.NDArray[np.float64]:
    """Log-strengths of ``n_resamples`` item-clustered resamples, ``(n_resamples, m)``.

    ``per_item`` is ``(k, m * m)``: item c's win matrix, flattened. A resample's win matrix
    is the sum of its drawn items' win matrices: count the draws of each item per resample,
    then one matrix product gives every resample's wins. Rows without an estimate are NaN.
    """
    k, m = per_item.shape[0], len(point)
    drawn = draw_clusters(rng, k, n_resamples).astype(np.int64)
    drawn += (np.arange(n_resamples, dtype=np.int64) * k)[:, None]
    counts = np.bincount(drawn.ravel(), minlength=n_resamples * k).reshape(n_resamples, k)
    resampled_wins = (counts.astype(float) @ per_item).reshape(n_resamples, m, m)
    return fit_bradley_terry_batch(resampled_wins, start=point)
