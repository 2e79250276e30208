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

:func:`plan_allocation` simulates the rule against fixed K on studies with item and rater
effects (the generator of ``bench/coverage_simulation.py``): the wizard's estimate and
``bench/adaptive.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import expit

from analysis.crossed import crossed_groups, groups_frame
from analysis.sequential import clustered_confidence_sequence

__all__ = [
    "BUDGET_REACHED",
    "DECIDED",
    "DECIDE_RULES",
    "K_MAX_REACHED",
    "RUNNING",
    "STATUSES",
    "TARGET_MET",
    "AllocationDesign",
    "AllocationPlan",
    "cell_intervals",
    "cell_logits",
    "cell_status",
    "decide_alpha_per_look",
    "draw_study",
    "next_cell",
    "open_cells",
    "plan_allocation",
    "run_adaptive",
    "run_decide",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
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


#: A cell's status, as the dashboard, the report and the JSON spell it (one home).
RUNNING = "running"
TARGET_MET = "target met"
DECIDED = "decided"
K_MAX_REACHED = "K_max reached"
BUDGET_REACHED = "budget reached"
STATUSES = (RUNNING, TARGET_MET, DECIDED, K_MAX_REACHED, BUDGET_REACHED)


def cell_status(half_width: float, target: float, *, full: bool, budget_spent: bool) -> str:
    """What the report and dashboard say about a half-width cell: :data:`TARGET_MET`,
    :data:`K_MAX_REACHED` (every unit at the ceiling, target not met), :data:`BUDGET_REACHED`
    or :data:`RUNNING`."""
    if half_width <= target:
        return TARGET_MET
    if full:
        return K_MAX_REACHED
    if budget_spent:
        return BUDGET_REACHED
    return RUNNING


# --- Simulating the rule: the planner's estimate and bench/adaptive.py -----------------------


@dataclass(frozen=True)
class AllocationDesign:
    """A design to simulate: cells of ``items`` items each, judged by a crowd of ``raters``
    with item and rater effects (sd on the logit scale), the cells' population rates
    ``rates`` (accuracies, or win rates of side-by-side cells), a 95% half-width ``target``
    (``targets``: one per cell instead, e.g. single-image and side-by-side cells with their own
    targets), ``k_min`` .. ``k_max`` per unit."""

    rates: tuple[float, ...]
    items: int
    target: float
    k_min: int = 1
    k_max: int = 5
    raters: int = 40
    item_sd: float = 1.2
    rater_sd: float = 0.6
    targets: tuple[float, ...] = ()

    def cell_targets(self) -> Floats:
        """Each cell's half-width target."""
        return np.array(self.targets if self.targets else (self.target,) * len(self.rates))

    def validate(self) -> None:
        if not self.rates or not all(0.0 < r < 1.0 for r in self.rates):
            raise ValueError("rates must be accuracies strictly between 0 and 1")
        if self.items < 2 or self.raters < self.k_max:
            raise ValueError("need at least 2 items and at least K_max raters")
        if not 1 <= self.k_min <= self.k_max:
            raise ValueError("need 1 <= k_min <= k_max")
        if not 0.0 < self.target < 0.5 or not all(0.0 < t < 0.5 for t in self.targets):
            raise ValueError("target must be a half-width between 0 and 0.5")
        if self.targets and len(self.targets) != len(self.rates):
            raise ValueError("targets: one per cell (as many as rates)")


def _population_rate(mu: float, sd: float) -> float:
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float((weights * expit(mu + sd * nodes)).sum() / weights.sum())


def cell_logits(design: AllocationDesign) -> Floats:
    """The logit ``mu`` of each cell whose population accuracy is the cell's rate."""
    sd = float(np.hypot(design.item_sd, design.rater_sd))
    return np.array(
        [brentq(lambda m, r=r: _population_rate(m, sd) - r, -20, 20) for r in design.rates]
    )


def draw_study(
    design: AllocationDesign, mus: Floats, rng: np.random.Generator
) -> tuple[Floats, Ints]:
    """(values, raters), shape (cells, items, K_max): every judgment a unit could get, each
    unit's from distinct raters; rater effects shared by all cells."""
    shape = (len(design.rates), design.items)
    rater_effect = rng.normal(0.0, design.rater_sd, design.raters)
    item_effect = rng.normal(0.0, design.item_sd, shape)
    raters = np.argsort(rng.random((*shape, design.raters)), axis=2)[:, :, : design.k_max]
    logits = mus[:, None, None] + item_effect[:, :, None] + rater_effect[raters]
    values = (rng.random(logits.shape) < expit(logits)).astype(float)
    return values, raters.astype(np.int64)


def cell_intervals(
    values: Floats, raters: Ints, k: Ints, *, confidence: float = 0.95
) -> tuple[Floats, Floats]:
    """(low, high) of each cell's two-way interval from the first ``k[c]`` judgments."""
    used = np.broadcast_to(
        np.arange(values.shape[2])[None, None, :] < k[:, None, None], values.shape
    )
    cell = np.broadcast_to(np.arange(values.shape[0])[:, None, None], values.shape)
    item = np.broadcast_to(np.arange(values.shape[1])[None, :, None], values.shape)
    parts = crossed_groups(values[used], item[used], raters[used], cell[used])
    frame = groups_frame(parts, confidence=confidence)
    return frame["low"].to_numpy(), frame["high"].to_numpy()


def run_adaptive(
    design: AllocationDesign, values: Floats, raters: Ints, rng: np.random.Generator
) -> tuple[Ints, Floats, Floats]:
    """The rule run to the end on one drawn study, a round of one cell at a time:
    (K per cell, low, high)."""
    cells = len(design.rates)
    k = np.full(cells, design.k_min, dtype=np.int64)
    while True:
        low, high = cell_intervals(values, raters, k)
        chosen = next_cell(
            (high - low) / 2,
            design.cell_targets(),
            k * design.items,
            below_floor=np.zeros(cells, dtype=bool),
            full=k >= design.k_max,
            rng=rng,
        )
        if chosen is None:
            return k, low, high
        k[chosen] += 1


@dataclass(frozen=True)
class AllocationPlan:
    """What the planner expects (``studies`` simulated studies)."""

    studies: int
    fixed_k: int | None  # smallest K whose median study meets every target (None: not <= K_max)
    fixed_judgments: int | None
    fixed_all_met: float  # share of studies where that K meets every target
    adaptive_median: float
    adaptive_p10: float
    adaptive_p90: float
    adaptive_all_met: float  # share of studies where the rule meets every target
    saving: float | None  # 1 - adaptive median / fixed judgments


def plan_allocation(
    design: AllocationDesign, *, studies: int = 40, seed: int = 0
) -> AllocationPlan:
    """Judgments needed at the same targets by a fixed K and by the rule (simulated)."""
    design.validate()
    mus = cell_logits(design)
    rng = np.random.default_rng(seed)
    cells = len(design.rates)
    targets = design.cell_targets()
    met_at_k = np.zeros((studies, design.k_max), dtype=bool)
    used, all_met = [], []
    for s in range(studies):
        values, raters = draw_study(design, mus, rng)
        for kk in range(1, design.k_max + 1):
            low, high = cell_intervals(values, raters, np.full(cells, kk, dtype=np.int64))
            met_at_k[s, kk - 1] = bool(((high - low) / 2 <= targets).all())
        k, low, high = run_adaptive(design, values, raters, rng)
        used.append(float(k.sum() * design.items))
        all_met.append(bool(((high - low) / 2 <= targets).all()))
    share = met_at_k.mean(axis=0)
    enough = np.flatnonzero(share >= 0.5)
    fixed_k = int(enough[0]) + 1 if len(enough) else None
    fixed_n = None if fixed_k is None else fixed_k * design.items * cells
    median = float(np.median(used))
    return AllocationPlan(
        studies=studies,
        fixed_k=fixed_k,
        fixed_judgments=fixed_n,
        fixed_all_met=float(share[fixed_k - 1]) if fixed_k else 0.0,
        adaptive_median=median,
        adaptive_p10=float(np.percentile(used, 10)),
        adaptive_p90=float(np.percentile(used, 90)),
        adaptive_all_met=float(np.mean(all_met)),
        saving=None if not fixed_n else 1.0 - median / fixed_n,
    )


def decide_alpha_per_look(alpha: float, k_min: int, k_max: int) -> float:
    """The level of each look of a "decide" comparison: ``alpha`` split over the rounds
    K_min .. K_max at which it can be decided, one look per complete round (union bound:
    a tied comparison is decided at most ``alpha`` of the time, whichever round it stops)."""
    return alpha / max(1, k_max - k_min + 1)


#: The "decide" rules: ``crossed`` (the report's two-way interval at each look's level) and
#: ``sequence`` (the item-clustered empirical-Bernstein confidence sequence at that level).
DECIDE_RULES = ("crossed", "sequence")


def run_decide(
    design: AllocationDesign,
    values: Floats,
    order: Ints,
    *,
    alpha: float,
    raters: Ints | None = None,
    rule: str = "crossed",
) -> tuple[Ints, Bools, Floats, Floats]:
    """ "Decide" comparisons run to the end on one drawn study: every cell gets rounds until
    its interval at the look's level (:func:`decide_alpha_per_look`) excludes 0.5, or K_max.
    ``values`` are win indicators (cells, items, K_max); ``order`` the items' fixed random
    order; ``raters`` the judgments' raters (needed by ``rule="crossed"``). Returns (K per
    cell, decided, low, high) of the last look."""
    if rule not in DECIDE_RULES:
        raise ValueError(f"rule must be one of {DECIDE_RULES}, got {rule!r}")
    cells = values.shape[0]
    level = decide_alpha_per_look(alpha, design.k_min, design.k_max)
    k = np.full(cells, design.k_min, dtype=np.int64)
    decided = np.zeros(cells, dtype=bool)
    low, high = np.zeros(cells), np.ones(cells)
    running = np.ones(cells, dtype=bool)
    while running.any():
        if rule == "crossed":
            if raters is None:
                raise ValueError('rule="crossed" needs the raters')
            lo, hi = cell_intervals(values, raters, k, confidence=1.0 - level)
        else:
            lo, hi = np.zeros(cells), np.ones(cells)
            for c in np.flatnonzero(running):
                kept = values[c, order, : k[c]]
                seq = clustered_confidence_sequence(
                    kept.ravel(), np.repeat(order, k[c]), alpha=level
                )
                lo[c], hi[c] = seq.final
        low[running], high[running] = lo[running], hi[running]
        decided |= running & ((low > 0.5) | (high < 0.5))
        running &= ~decided & (k < design.k_max)
        k[running] += 1
    return k, decided, low, high
