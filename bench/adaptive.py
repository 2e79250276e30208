"""Fixed K against adaptive allocation at the same precision targets (simulated studies).

Each simulated study has ``cells`` single-image cells (model × prompt type) of ``items``
items, judged by a crowd of ``raters`` raters with item and rater effects, the generator of
``bench/coverage_simulation.py``: a judgment is correct with probability
``expit(mu_cell + u_item + b_rater)``, ``u ~ N(0, item_sd²)`` per cell and item,
``b ~ N(0, rater_sd²)`` per rater (shared by all cells), the cells' population accuracies
spread evenly over ``--rates``. Every unit's judgments come from distinct raters.

* **Fixed K**: every unit gets K judgments, K = 1 .. K_max.
* **Adaptive** (:func:`analysis.adaptive.next_cell`): every unit gets ``K_min``; then, one
  round of the chosen cell at a time (one more judgment for each of its units), the open
  cell with the largest expected half-width reduction per judgment, until every cell's
  two-way interval (``analysis.crossed``, the report's) is within the target or at K_max.

Printed per rule: judgments used (median, 90th percentile), share of cells meeting the target,
coverage of the reported 95% two-way intervals of every cell, and, for the adaptive rule, the
coverage of the item-clustered confidence sequence (``analysis.sequential``) at the end.

Usage (one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.adaptive --studies 500 --seed 0
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import expit

from analysis.adaptive import next_cell
from analysis.crossed import crossed_groups, groups_frame
from analysis.sequential import clustered_confidence_sequence

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Setup:
    cells: int
    items: int
    raters: int
    item_sd: float
    rater_sd: float
    rates: tuple[float, float]
    target: float
    k_min: int
    k_max: int


def _population_rate(mu: float, sd: float) -> float:
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float((weights * expit(mu + sd * nodes)).sum() / weights.sum())


def cell_logits(setup: Setup) -> tuple[Floats, Floats]:
    """(logit mu, population rate) of each cell: rates evenly spread over ``setup.rates``."""
    sd = float(np.hypot(setup.item_sd, setup.rater_sd))
    rates = np.linspace(*setup.rates, setup.cells)
    mus = np.array([brentq(lambda m, r=r: _population_rate(m, sd) - r, -20, 20) for r in rates])
    return mus, rates


def draw_study(setup: Setup, mus: Floats, rng: np.random.Generator) -> tuple[Floats, Floats]:
    """(values, raters) of shape (cells, items, K_max): every judgment a unit could get."""
    shape = (setup.cells, setup.items)
    rater_effect = rng.normal(0.0, setup.rater_sd, setup.raters)
    item_effect = rng.normal(0.0, setup.item_sd, shape)
    raters = np.argsort(rng.random((*shape, setup.raters)), axis=2)[:, :, : setup.k_max]
    logits = mus[:, None, None] + item_effect[:, :, None] + rater_effect[raters]
    values = (rng.random(logits.shape) < expit(logits)).astype(float)
    return values, raters.astype(float)


def intervals(values: Floats, raters: Floats, k: npt.NDArray[np.int64]) -> tuple[Floats, Floats]:
    """(low, high) of each cell's two-way interval using the first ``k[c]`` judgments."""
    cells, items, k_max = values.shape
    used = np.arange(k_max)[None, None, :] < k[:, None, None]
    used = np.broadcast_to(used, values.shape)
    cell = np.broadcast_to(np.arange(cells)[:, None, None], values.shape)
    item = np.broadcast_to(np.arange(items)[None, :, None], values.shape)
    parts = crossed_groups(values[used], item[used], raters[used].astype(np.int64), cell[used])
    frame = groups_frame(parts)
    return frame["low"].to_numpy(), frame["high"].to_numpy()


def adaptive(
    setup: Setup, values: Floats, raters: Floats, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], Floats, Floats]:
    """Rounds chosen by the rule until every cell stops: (K per cell, low, high)."""
    k = np.full(setup.cells, setup.k_min, dtype=np.int64)
    while True:
        low, high = intervals(values, raters, k)
        half = (high - low) / 2
        chosen = next_cell(
            half,
            np.full(setup.cells, setup.target),
            k * setup.items,
            below_floor=np.zeros(setup.cells, dtype=bool),
            full=k >= setup.k_max,
            rng=rng,
        )
        if chosen is None:
            return k, low, high
        k[chosen] += 1


def run(setup: Setup, *, studies: int, seed: int) -> dict[str, object]:
    mus, rates = cell_logits(setup)
    rng = np.random.default_rng(seed)
    fixed_used = {kk: [] for kk in range(1, setup.k_max + 1)}  # type: dict[int, list[float]]
    fixed_met = {kk: [] for kk in fixed_used}  # type: dict[int, list[float]]
    fixed_all = {kk: [] for kk in fixed_used}  # type: dict[int, list[bool]]
    fixed_cover = {kk: [] for kk in fixed_used}  # type: dict[int, list[float]]
    used, met, cover, cs_cover = [], [], [], []
    k_per_cell = []
    for _ in range(studies):
        values, raters = draw_study(setup, mus, rng)
        for kk in fixed_used:
            low, high = intervals(values, raters, np.full(setup.cells, kk, dtype=np.int64))
            ok = (high - low) / 2 <= setup.target
            fixed_used[kk].append(kk * setup.items * setup.cells)
            fixed_met[kk].append(float(ok.mean()))
            fixed_all[kk].append(bool(ok.all()))
            fixed_cover[kk].append(float(((low <= rates) & (rates <= high)).mean()))
        k, low, high = adaptive(setup, values, raters, rng)
        used.append(float(k.sum() * setup.items))
        met.append(float(((high - low) / 2 <= setup.target).mean()))
        cover.append(float(((low <= rates) & (rates <= high)).mean()))
        k_per_cell.append(k.copy())
        hits = []
        for c in range(setup.cells):
            # Item means over the judgments used, items in a random (exchangeable) order.
            order = rng.permutation(setup.items)
            kept = values[c, order, : k[c]]
            seq = clustered_confidence_sequence(kept.ravel(), np.repeat(order, k[c]))
            lo, hi = seq.final
            hits.append(lo <= rates[c] <= hi)
        cs_cover.append(float(np.mean(hits)))
    return {
        "rates": rates,
        "fixed": {
            kk: (
                float(np.median(fixed_used[kk])),
                float(np.mean(fixed_met[kk])),
                float(np.mean(fixed_all[kk])),
                float(np.mean(fixed_cover[kk])),
            )
            for kk in fixed_used
        },
        "adaptive": (
            float(np.median(used)),
            float(np.percentile(used, 90)),
            float(np.mean(met)),
            float(np.mean(cover)),
            float(np.mean(cs_cover)),
        ),
        "k_per_cell": np.mean(k_per_cell, axis=0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", type=int, default=12)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--raters", type=int, default=40)
    parser.add_argument("--target", type=float, default=0.10, help="95%% half-width target")
    parser.add_argument("--k-min", type=int, default=1)
    parser.add_argument("--k-max", type=int, default=8)
    parser.add_argument("--rates", type=float, nargs=2, default=(0.1, 0.9))
    args = parser.parse_args(argv)
    setup = Setup(
        args.cells, args.items, args.raters, 1.2, 0.6, tuple(args.rates), args.target,
        args.k_min, args.k_max,
    )  # fmt: skip
    started = time.perf_counter()
    result = run(setup, studies=args.studies, seed=args.seed)
    print(
        f"{args.studies} studies, {setup.cells} cells × {setup.items} items, crowd of "
        f"{setup.raters}, item sd 1.2, rater sd 0.6, cell accuracies "
        f"{', '.join(f'{r:.2f}' for r in result['rates'])}; target half-width "
        f"{setup.target}, K_min {setup.k_min}, K_max {setup.k_max}, seed {args.seed}"
    )
    print()
    print("| rule | judgments (median) | 90th pct | cells meeting target | studies with all met "
          "| coverage of the 95% intervals |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for kk, (n, share, every, cov) in result["fixed"].items():  # type: ignore[attr-defined]
        print(f"| fixed K = {kk} | {n:,.0f} | {n:,.0f} | {share:.3f} | {every:.3f} | {cov:.3f} |")
    n, p90, share, cov, cs = result["adaptive"]  # type: ignore[misc]
    print(f"| adaptive | {n:,.0f} | {p90:,.0f} | {share:.3f} | — | {cov:.3f} (CS {cs:.3f}) |")
    print()
    print("mean K per cell (adaptive): " + ", ".join(f"{k:.1f}" for k in result["k_per_cell"]))
    print(f"elapsed {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
