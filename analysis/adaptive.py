"""Adaptive allocation of judgments to the cells of a study (precision targets).

A *cell* is one reported number: a model's accuracy on a prompt type (optionally within a
category), or one side-by-side comparison. With a precision target, a cell keeps receiving
judgments only while its interval is wider than the target; a study then spends its
judgments where the answer is still unclear instead of giving every unit the same K.

The rule (:func:`next_cell`), pure numerics so that the platform's assignment code, the
planner and ``bench/adaptive.py`` share it:

1. **Floor**: a cell with a unit below ``K_min`` judgments comes first (no cell starves).
2. **Open cells**: a cell is open while its half-width exceeds its target and it has a unit
   below ``K_max`` judgments.
3. **Priority**: among open cells, the largest expected reduction of the half-width per
   judgment, ``w / (2 N)`` (a half-width ``w`` shrinks like ``1 / sqrt(N)`` in the number of
   judgments ``N``); ties broken at random.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["cell_status", "next_cell", "open_cells"]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def open_cells(half_width: npt.ArrayLike, target: npt.ArrayLike, full: npt.ArrayLike) -> Bools:
    """Cells still receiving judgments: wider than their target and not every unit at
    ``K_max`` (``full``). A NaN half-width (no judgments yet) is open."""
    w = np.asarray(half_width, dtype=float)
    h = np.asarray(target, dtype=float)
    at_ceiling = np.asarray(full, dtype=bool)
    wide = np.isnan(w) | (w > h)
    result: Bools = wide & ~at_ceiling
    return result


def next_cell(
    half_width: npt.ArrayLike,
    target: npt.ArrayLike,
    judgments: npt.ArrayLike,
    *,
    below_floor: npt.ArrayLike,
    full: npt.ArrayLike,
    rng: np.random.Generator,
) -> int | None:
    """The cell the next judgment goes to, or None when every cell has stopped.

    Parameters
    ----------
    half_width, target : array_like of float, shape (cells,)
        Current half-width of each cell's interval (NaN before any judgment) and its target.
    judgments : array_like of int, shape (cells,)
        Judgments the cell has.
    below_floor : array_like of bool, shape (cells,)
        The cell has a unit with fewer than ``K_min`` judgments.
    full : array_like of bool, shape (cells,)
        Every unit of the cell has ``K_max`` judgments.
    rng : numpy.random.Generator
        Breaks ties.
    """
    w = np.asarray(half_width, dtype=float)
    n = np.asarray(judgments, dtype=float)
    floor = np.asarray(below_floor, dtype=bool) & ~np.asarray(full, dtype=bool)
    if floor.any():
        return int(rng.choice(np.flatnonzero(floor)))
    candidates = open_cells(w, target, full)
    if not candidates.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(np.isnan(w) | (n <= 0), np.inf, w / (2 * np.maximum(n, 1)))
    gain = np.where(candidates, gain, -np.inf)
    best = np.flatnonzero(gain == gain.max())
    return int(rng.choice(best))


def cell_status(half_width: float, target: float, *, full: bool, budget_spent: bool) -> str:
    """What the report and dashboard say about a cell: "target met", "K_max reached" (every
    unit at the ceiling, target not met), "budget reached" or "running"."""
    if half_width <= target:
        return "target met"
    if full:
        return "K_max reached"
    if budget_spent:
        return "budget reached"
    return "running"
