"""Tests for analysis.adaptive: which cell the next judgment goes to, and when cells stop."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.adaptive import (
    AllocationDesign,
    cell_logits,
    cell_status,
    decide_alpha_per_look,
    draw_study,
    next_cell,
    open_cells,
    plan_allocation,
    run_decide,
)

NONE = np.zeros(3, dtype=bool)


def test_the_widest_cell_per_judgment_comes_first() -> None:
    rng = np.random.default_rng(0)
    # Half-widths 0.20, 0.15, 0.30 against a 0.10 target with 100, 50, 300 judgments:
    # gains 0.001, 0.0015, 0.0005 per judgment -> the second cell.
    chosen = next_cell(
        [0.20, 0.15, 0.30], [0.1] * 3, [100, 50, 300], below_floor=NONE, full=NONE, rng=rng
    )
    assert chosen == 1


def test_cells_below_the_floor_come_before_any_other() -> None:
    rng = np.random.default_rng(0)
    floor = np.array([False, False, True])
    chosen = next_cell(
        [0.50, 0.40, 0.01], [0.1] * 3, [10, 10, 900], below_floor=floor, full=NONE, rng=rng
    )
    assert chosen == 2


def test_a_cell_at_its_target_or_at_k_max_stops() -> None:
    rng = np.random.default_rng(0)
    full = np.array([False, True, False])
    # Cell 0 met its target, cell 1 is at K_max, cell 2 is the only open one.
    assert list(open_cells([0.08, 0.30, 0.12], [0.1] * 3, full)) == [False, False, True]
    assert (
        next_cell([0.08, 0.30, 0.12], [0.1] * 3, [90] * 3, below_floor=NONE, full=full, rng=rng)
        == 2
    )
    # Everything met or full: the study stops.
    done = next_cell([0.08, 0.30, 0.09], [0.1] * 3, [90] * 3, below_floor=NONE, full=full, rng=rng)
    assert done is None


def test_ties_are_broken_at_random_among_the_tied_cells_only() -> None:
    rng = np.random.default_rng(1)
    picks = {
        next_cell([0.2, 0.2, 0.1], [0.05] * 3, [10, 10, 10], below_floor=NONE, full=NONE, rng=rng)
        for _ in range(200)
    }
    assert picks == {0, 1}


def test_a_cell_without_judgments_is_open_and_first() -> None:
    rng = np.random.default_rng(0)
    chosen = next_cell(
        [np.nan, 0.4, 0.3], [0.1] * 3, [0, 10, 10], below_floor=NONE, full=NONE, rng=rng
    )
    assert chosen == 0


def test_the_status_names_why_a_cell_stopped() -> None:
    assert cell_status(0.08, 0.1, full=False, budget_spent=False) == "target met"
    assert cell_status(0.20, 0.1, full=True, budget_spent=False) == "K_max reached"
    assert cell_status(0.20, 0.1, full=False, budget_spent=True) == "budget reached"
    assert cell_status(0.20, 0.1, full=False, budget_spent=False) == "running"


def test_the_planner_finds_the_rule_cheaper_than_fixed_k_where_cells_differ() -> None:
    # Twelve cells from 0.1 to 0.9 at a 0.1 target (the bench's design, fewer studies).
    design = AllocationDesign(
        rates=tuple(float(r) for r in np.linspace(0.1, 0.9, 12)), items=60, target=0.1, k_max=8
    )
    plan = plan_allocation(design, studies=20, seed=0)
    assert plan.fixed_k is not None and plan.fixed_k >= 3
    assert plan.fixed_judgments == plan.fixed_k * 60 * 12
    assert plan.adaptive_all_met == 1.0
    assert plan.adaptive_p10 <= plan.adaptive_median <= plan.adaptive_p90
    assert plan.saving is not None and plan.saving > 0.3


def test_the_planner_gains_nothing_where_every_cell_is_alike() -> None:
    # Every cell at 0.5: each needs the same K, so the rule cannot beat the best fixed K by
    # more than the rounding of K (and never uses more than K_max).
    design = AllocationDesign(rates=(0.5,) * 4, items=60, target=0.1, k_max=8)
    plan = plan_allocation(design, studies=20, seed=1)
    assert plan.fixed_judgments is not None
    assert plan.adaptive_median <= 8 * 60 * 4
    assert abs(plan.saving or 0.0) < 0.3


def test_a_looser_target_for_some_cells_costs_fewer_judgments_there() -> None:
    # Single-image cells at 0.12 and comparisons at 0.2: the comparisons stop sooner.
    rates = tuple(float(r) for r in np.linspace(0.3, 0.7, 6))
    tight = AllocationDesign(rates=rates, items=60, target=0.12, k_max=8)
    mixed = AllocationDesign(
        rates=rates, items=60, target=0.2, targets=(0.12, 0.12, 0.12, 0.2, 0.2, 0.2), k_max=8
    )
    a = plan_allocation(tight, studies=10, seed=2)
    b = plan_allocation(mixed, studies=10, seed=2)
    assert b.adaptive_all_met == 1.0 and b.adaptive_median < a.adaptive_median
    assert list(mixed.cell_targets()) == [0.12, 0.12, 0.12, 0.2, 0.2, 0.2]
    with pytest.raises(ValueError, match="one per cell"):
        AllocationDesign(rates=rates, items=40, target=0.1, targets=(0.1,)).validate()


def test_the_planner_refuses_an_impossible_design() -> None:
    with pytest.raises(ValueError, match="rates"):
        AllocationDesign(rates=(1.0,), items=10, target=0.1).validate()
    with pytest.raises(ValueError, match="k_min"):
        AllocationDesign(rates=(0.5,), items=10, target=0.1, k_min=6, k_max=5).validate()


def _decide_runs(rule: str, studies: int) -> tuple[np.ndarray, np.ndarray]:
    design = AllocationDesign(rates=(0.5, 0.9), items=60, target=0.1, k_min=1, k_max=4)
    rng = np.random.default_rng(3)
    ks, decided = [], []
    for _ in range(studies):
        values, raters = draw_study(design, cell_logits(design), rng)
        order = rng.permutation(design.items)
        k, d, low, high = run_decide(design, values, order, alpha=0.05, raters=raters, rule=rule)
        assert (low <= high).all() and ((k >= 1) & (k <= 4)).all()
        # Stopped early only when decided; the last look's interval decides.
        assert (d | (k == 4)).all()
        assert (d == ((low > 0.5) | (high < 0.5))).all()
        ks.append(k)
        decided.append(d)
    return np.array(ks), np.array(decided)


@pytest.mark.parametrize("rule", ["crossed", "sequence"])
def test_a_clear_comparison_is_decided_early_and_a_tie_rarely(rule: str) -> None:
    ks, decided = _decide_runs(rule, 40)
    # Win rate 0.9 over 60 items: decided in every study, by the first round or two.
    assert decided[:, 1].all() and np.median(ks[:, 1]) <= 2
    # The true tie: decided at most a few times in 40 (the bound is 5%), else it runs to K_max.
    assert decided[:, 0].sum() <= 4
    assert (ks[~decided[:, 0], 0] == 4).all()


def test_each_look_is_tested_at_alpha_split_over_the_rounds() -> None:
    assert decide_alpha_per_look(0.05, 1, 8) == pytest.approx(0.05 / 8)
    assert decide_alpha_per_look(0.05, 3, 3) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="rule"):
        design = AllocationDesign(rates=(0.5,), items=5, target=0.1, k_max=2)
        run_decide(design, np.zeros((1, 5, 2)), np.arange(5), alpha=0.05, rule="peek")
