"""Bradley-Terry maximum likelihood on win matrices, by Hunter's (2004) MM iteration.

Pure numerics on arrays: :func:`fit_bradley_terry` fits one win matrix,
:func:`fit_bradley_terry_batch` a stack of them at once (the bootstrap resamples of
:func:`analysis.pairwise.bradley_terry`, which builds the matrices from judgments).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import connected_components

__all__ = ["fit_bradley_terry", "fit_bradley_terry_batch"]


def fit_bradley_terry(
    wins: npt.ArrayLike, *, tol: float = 1e-10, max_iter: int = 10_000
) -> npt.NDArray[np.float64] | None:
    """Maximum-likelihood Bradley-Terry log-strengths from a win matrix.

    Uses Hunter's (2004) MM iteration ``g_i <- W_i / sum_j N_ij / (g_i + g_j)``, where
    ``W_i`` is model i's total wins and ``N_ij`` the decided comparisons of i and j.

    Parameters
    ----------
    wins : array_like, shape (m, m)
        ``wins[i, j]`` = times model i was preferred over model j (may be fractional, e.g.
        bootstrap weights). The diagonal is ignored.
    tol : float
        Stop when no log-strength moves by more than this.
    max_iter : int
        Iteration cap; reaching it raises.

    Returns
    -------
    numpy.ndarray or None
        Log-strengths summing to zero, or None when the estimate does not exist: the
        directed "i beat j" graph must be strongly connected (Ford, 1957), otherwise some
        group of models never beats the rest and its strengths run off to infinity.

    Raises
    ------
    ValueError
        For a non-square or negative matrix, or when the iteration does not converge.
    """
    w = np.array(wins, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 2:
        raise ValueError(f"wins must be a square matrix of at least 2 models, got {w.shape}")
    if (w < 0).any() or np.isnan(w).any():
        raise ValueError("wins must be non-negative numbers")
    np.fill_diagonal(w, 0.0)
    n_components, _ = connected_components(w > 0, directed=True, connection="strong")
    if n_components > 1:
        return None
    total = w + w.T
    won = w.sum(axis=1)
    log_g: npt.NDArray[np.float64] = np.zeros(w.shape[0])
    for _ in range(max_iter):
        g = np.exp(log_g)
        new: npt.NDArray[np.float64] = np.log(won / (total / (g[:, None] + g[None, :])).sum(axis=1))
        new -= new.mean()
        if np.max(np.abs(new - log_g)) < tol:
            return new
        log_g = new
    raise ValueError(f"Bradley-Terry MM iteration did not converge in {max_iter} steps")


def _strongly_connected(wins: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Whether each ``(m, m)`` win matrix of a ``(b, m, m)`` stack has a strongly connected
    "i beat j" graph: the transitive closure (by repeated squaring) has no zero."""
    m = wins.shape[-1]
    reach = ((wins > 0) | np.eye(m, dtype=bool)).astype(float)
    for _ in range(max(1, math.ceil(math.log2(m)))):
        reach = (reach @ reach > 0).astype(float)
    connected: npt.NDArray[np.bool_] = np.all(reach > 0, axis=(1, 2))
    return connected


def fit_bradley_terry_batch(
    wins: npt.NDArray[np.float64],
    *,
    start: npt.NDArray[np.float64],
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> npt.NDArray[np.float64]:
    """:func:`fit_bradley_terry` of a ``(b, m, m)`` stack of win matrices at once.

    The same MM iteration and stopping rule, run on all matrices together, each stopped as
    soon as none of its log-strengths moves by more than ``tol``; it starts from ``start``
    (the point estimate, for bootstrap resamples) instead of zero, which only changes how
    many steps the iteration takes to reach the same maximum. Rows without an estimate
    (graph not strongly connected) are NaN.
    """
    w = np.array(wins, dtype=float)
    b, m, _ = w.shape
    w[:, np.arange(m), np.arange(m)] = 0.0
    out = np.full((b, m), math.nan)
    active = np.flatnonzero(_strongly_connected(w))
    total = w + w.transpose(0, 2, 1)
    won = w.sum(axis=2)
    log_g = np.tile(np.asarray(start, dtype=float), (b, 1))
    for _ in range(max_iter):
        if not len(active):
            return out
        g = np.exp(log_g[active])
        denominator = (total[active] / (g[:, :, None] + g[:, None, :])).sum(axis=2)
        new = np.log(won[active] / denominator)
        new -= new.mean(axis=1, keepdims=True)
        done = np.max(np.abs(new - log_g[active]), axis=1) < tol
        out[active[done]] = new[done]
        log_g[active] = new
        active = active[~done]
    if len(active):
        raise ValueError(f"Bradley-Terry MM iteration did not converge in {max_iter} steps")
    return out
