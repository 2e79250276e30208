"""Tests for analysis.bradley_terry: the MM fit of one win matrix and of a stack of them."""

from __future__ import annotations

import numpy as np

from analysis.bradley_terry import fit_bradley_terry, fit_bradley_terry_batch


def test_fit_bradley_terry_returns_none_for_a_disconnected_comparison_graph() -> None:
    wins = np.array([[0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 3], [0, 0, 1, 0]])
    assert fit_bradley_terry(wins) is None


def test_fit_bradley_terry_recovers_equal_strengths_from_a_balanced_record() -> None:
    wins = np.array([[0, 5, 5], [5, 0, 5], [5, 5, 0]])
    np.testing.assert_allclose(fit_bradley_terry(wins), np.zeros(3), atol=1e-9)  # type: ignore[arg-type]


def test_the_batched_bradley_terry_fit_matches_one_fit_per_matrix() -> None:
    gen = np.random.default_rng(6)
    wins = gen.poisson(5.0, size=(30, 4, 4)).astype(float)
    wins[3, 0, :] = 0.0  # model 0 never wins: no finite estimate
    start = np.array([0.2, -0.1, 0.0, -0.1])
    batch = fit_bradley_terry_batch(wins, start=start)
    for matrix, fitted in zip(wins, batch, strict=True):
        single = fit_bradley_terry(matrix)
        if single is None:
            assert np.isnan(fitted).all()
        else:
            np.testing.assert_allclose(fitted, single, atol=1e-8)
    assert np.isnan(batch[3]).all()
