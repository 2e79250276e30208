"""Tests for analysis.adaptive: which cell the next judgment goes to, and when cells stop."""

from __future__ import annotations

import numpy as np

from analysis.adaptive import cell_status, next_cell, open_cells

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
