"""Tests for analysis.intervals: Wilson and item-clustered bootstrap intervals."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest
from scipy.stats import bootstrap

from analysis.intervals import (
    DEGENERATE_SINGLE_CLUSTER,
    NO_DATA,
    Estimate,
    cluster_sums_bootstrap,
    clustered_bootstrap,
    wilson,
)


def test_wilson_matches_statsmodels_for_7_of_20() -> None:
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(7, 20, method='wilson'))"  -> (0.18119182410108203, 0.5671457233147638)
    result = wilson(7, 20)
    assert result.estimate == pytest.approx(0.35)
    assert result.low == pytest.approx(0.18119182410108203, abs=1e-12)
    assert result.high == pytest.approx(0.5671457233147638, abs=1e-12)
    assert (result.method, result.n, result.note) == ("wilson", 20, "")


def test_wilson_uses_the_requested_confidence() -> None:
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(7, 20, alpha=0.1, method='wilson'))"  -> (0.202260040056761, 0.5334873111515284)
    result = wilson(7, 20, confidence=0.90)
    assert result.low == pytest.approx(0.202260040056761, abs=1e-12)
    assert result.high == pytest.approx(0.5334873111515284, abs=1e-12)
    assert result.confidence == 0.90


def test_wilson_for_0_of_4_has_lower_bound_exactly_zero() -> None:
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(0, 4, method='wilson'))"  -> (0.0, 0.4898908364545974)
    result = wilson(0, 4)
    assert result.estimate == 0.0
    assert result.low == 0.0
    assert result.high == pytest.approx(0.4898908364545974, abs=1e-12)


def test_wilson_for_4_of_4_has_upper_bound_exactly_one() -> None:
    # .venv/bin/python -c "from statsmodels.stats.proportion import proportion_confint as p;
    #   print(p(4, 4, method='wilson'))"  -> (0.5101091635454025, 1.0)
    result = wilson(4, 4)
    assert result.estimate == 1.0
    assert result.low == pytest.approx(0.5101091635454025, abs=1e-12)
    assert result.high == 1.0


def test_wilson_with_no_trials_says_no_data_instead_of_raising() -> None:
    result = wilson(0, 0)
    assert result.n == 0
    assert not result.has_data
    assert result.note == NO_DATA
    assert math.isnan(result.estimate) and math.isnan(result.low) and math.isnan(result.high)


@pytest.mark.parametrize(("successes", "n"), [(5, 4), (-1, 4), (1, -1), (1.5, 4)])
def test_wilson_rejects_impossible_counts(successes: float, n: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson(successes, n)  # type: ignore[arg-type]


def test_wilson_rejects_a_confidence_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson(1, 2, confidence=95)


def test_an_estimate_serialises_to_a_plain_dict() -> None:
    assert asdict(wilson(4, 4)) == {
        "estimate": 1.0,
        "low": pytest.approx(0.5101091635454025),
        "high": 1.0,
        "method": "wilson",
        "n": 4,
        "confidence": 0.95,
        "n_clusters": None,
        "note": "",
    }


def test_clustered_bootstrap_with_a_fixed_rng_is_reproducible() -> None:
    values = np.random.default_rng(1).random(40) < 0.4
    clusters = np.repeat(np.arange(10), 4)
    first = clustered_bootstrap(values, clusters, rng=np.random.default_rng(7), n_resamples=500)
    second = clustered_bootstrap(values, clusters, rng=np.random.default_rng(7), n_resamples=500)
    other = clustered_bootstrap(values, clusters, rng=np.random.default_rng(8), n_resamples=500)
    assert first == second
    assert (first.low, first.high) != (other.low, other.high)


def test_clustered_bootstrap_with_one_value_per_cluster_matches_scipy_percentile() -> None:
    values = np.random.default_rng(3).normal(0.5, 0.2, size=60)
    ours = clustered_bootstrap(
        values, np.arange(60), rng=np.random.default_rng(0), n_resamples=20_000
    )
    reference = bootstrap(
        (values,),
        np.mean,
        method="percentile",
        n_resamples=20_000,
        rng=np.random.default_rng(1),
    ).confidence_interval
    # Monte-Carlo error of a 2.5% quantile over 20k resamples is ~0.001 here.
    assert ours.low == pytest.approx(reference.low, abs=0.005)
    assert ours.high == pytest.approx(reference.high, abs=0.005)
    assert ours.estimate == pytest.approx(values.mean())
    assert (ours.n, ours.n_clusters) == (60, 60)


def _hand_rolled_cluster_bootstrap(
    values: np.ndarray, clusters: np.ndarray, rng: np.random.Generator, n_resamples: int
) -> tuple[float, float]:
    """Slow and obvious: draw cluster labels, concatenate their rows, take the mean."""
    labels = np.unique(clusters)
    by_cluster = {label: values[clusters == label] for label in labels}
    means = []
    for _ in range(n_resamples):
        drawn = rng.choice(labels, size=len(labels), replace=True)
        means.append(np.concatenate([by_cluster[label] for label in drawn]).mean())
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def test_clustered_bootstrap_matches_a_hand_rolled_resampler_on_unequal_clusters() -> None:
    gen = np.random.default_rng(5)
    sizes = gen.integers(1, 7, size=25)
    clusters = np.repeat([f"item{i}" for i in range(25)], sizes)
    difficulty = np.repeat(gen.random(25), sizes)
    values = (gen.random(len(clusters)) < difficulty).astype(float)
    ours = clustered_bootstrap(values, clusters, rng=np.random.default_rng(0), n_resamples=20_000)
    low, high = _hand_rolled_cluster_bootstrap(values, clusters, np.random.default_rng(1), 8000)
    assert ours.low == pytest.approx(low, abs=0.01)
    assert ours.high == pytest.approx(high, abs=0.01)


def test_clustered_bootstrap_is_wider_than_wilson_when_items_are_homogeneous() -> None:
    # Every judgment of an item agrees, so 20 items carry the information of 20 trials, not 100.
    item_correct = np.array([1] * 10 + [0] * 10, dtype=float)
    values = np.repeat(item_correct, 5)
    clusters = np.repeat(np.arange(20), 5)
    boot = clustered_bootstrap(values, clusters, rng=np.random.default_rng(0), n_resamples=4000)
    iid = wilson(50, 100)
    assert boot.high - boot.low > 1.5 * (iid.high - iid.low)


def test_clustered_bootstrap_with_a_single_cluster_is_degenerate_and_says_so() -> None:
    result = clustered_bootstrap([1.0, 0.0, 1.0], ["only"] * 3, rng=np.random.default_rng(0))
    assert result.low == result.high == result.estimate == pytest.approx(2 / 3)
    assert result.note == DEGENERATE_SINGLE_CLUSTER
    assert result.n_clusters == 1


def test_clustered_bootstrap_without_values_says_no_data() -> None:
    result = clustered_bootstrap([], [], rng=np.random.default_rng(0))
    assert isinstance(result, Estimate)
    assert (result.n, result.n_clusters, result.note) == (0, 0, NO_DATA)
    assert math.isnan(result.estimate)


def test_clustered_bootstrap_rejects_mismatched_lengths_nan_and_unknown_statistics() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="same length"):
        clustered_bootstrap([1.0, 0.0], ["a"], rng=rng)
    with pytest.raises(ValueError, match="NaN"):
        clustered_bootstrap([1.0, math.nan], ["a", "b"], rng=rng)
    with pytest.raises(ValueError, match="statistic"):
        clustered_bootstrap([1.0], ["a"], rng=rng, statistic="median")


def test_wilson_equals_statsmodels_bit_for_bit_across_counts_and_levels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for n in (1, 2, 7, 20, 99, 1000, 123_457):
        for successes in sorted({1, n // 3, n // 2, n - 1}):
            for confidence in (0.9, 0.95, 0.99):
                low, high = proportion_confint(
                    successes, n, alpha=1.0 - confidence, method="wilson"
                )
                result = wilson(successes, n, confidence=confidence)
                assert (result.low, result.high) == (float(low), float(high))


def test_cluster_sums_bootstrap_equals_clustered_bootstrap_on_the_rows() -> None:
    gen = np.random.default_rng(11)
    sizes = gen.integers(1, 9, size=40)
    clusters = np.repeat(np.arange(40), sizes)
    values = (gen.random(len(clusters)) < 0.6).astype(float)
    rows = clustered_bootstrap(values, clusters, rng=np.random.default_rng(4), n_resamples=700)
    sums = np.bincount(clusters, weights=values)
    totals = cluster_sums_bootstrap(sums, sizes, rng=np.random.default_rng(4), n_resamples=700)
    assert rows == totals


def test_cluster_sums_bootstrap_gives_the_same_interval_for_counts_and_for_fractions() -> None:
    # Whole and half counts take the packed integer path; scaling by 1/3 forces the float
    # path; the ratios, and so the interval, must agree (up to the float rounding of 1/3).
    gen = np.random.default_rng(2)
    sizes = gen.integers(1, 30, size=50).astype(float)
    sums = np.round(gen.random(50) * sizes * 2) / 2
    packed = cluster_sums_bootstrap(sums, sizes, rng=np.random.default_rng(9), n_resamples=500)
    scaled = cluster_sums_bootstrap(
        sums / 3, sizes / 3, rng=np.random.default_rng(9), n_resamples=500
    )
    assert packed.low == pytest.approx(scaled.low, abs=1e-12)
    assert packed.high == pytest.approx(scaled.high, abs=1e-12)


def test_cluster_sums_bootstrap_drops_empty_clusters_and_says_no_data_without_any() -> None:
    result = cluster_sums_bootstrap([1.0, 0.0], [2.0, 0.0], rng=np.random.default_rng(0))
    assert (result.n, result.n_clusters, result.note) == (2, 1, DEGENERATE_SINGLE_CLUSTER)
    assert cluster_sums_bootstrap([], [], rng=np.random.default_rng(0)).note == NO_DATA
