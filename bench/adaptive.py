"""Fixed K against adaptive allocation at the same precision targets (simulated studies).

Each simulated study has ``cells`` single-image cells (model × prompt type) of ``items``
items, judged by a crowd of ``raters`` raters with item and rater effects, the generator of
``bench/coverage_simulation.py``: a judgment is correct with probability
``expit(mu_cell + u_item + b_rater)``, ``u ~ N(0, item_sd²)`` per cell and item,
``b ~ N(0, rater_sd²)`` per rater (shared by all cells), the cells' population accuracies
spread evenly over ``--rates``. Every unit's judgments come from distinct raters.

* **Fixed K**: every unit gets K judgments, K = 1 .. K_max.
* **Adaptive** (:func:`analysis.adaptive.run_adaptive`, the rule of ``next_cell``): every
  unit gets ``K_min``; then, one round of the chosen cell at a time (one more judgment for
  each of its units), the open cell with the largest expected half-width reduction per
  judgment, until every cell's two-way interval (``analysis.crossed``, the report's) is
  within the target or at K_max.

Printed per rule: judgments used (median, 90th percentile), share of cells meeting the target,
coverage of the reported 95% two-way intervals of every cell, and, for the adaptive rule, the
coverage of the item-clustered confidence sequence (``analysis.sequential``) at the end.

Usage (one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.adaptive --studies 500 --seed 0
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analysis.adaptive import (
    DECIDE_RULES,
    AllocationDesign,
    cell_intervals,
    cell_logits,
    draw_study,
    run_adaptive,
    run_decide,
)
from analysis.crossed import crossed_groups, groups_frame
from analysis.sequential import clustered_confidence_sequence


def run(setup: AllocationDesign, *, studies: int, seed: int) -> dict[str, object]:
    mus, rates = cell_logits(setup), np.array(setup.rates)
    rng = np.random.default_rng(seed)
    cells = len(setup.rates)
    fixed_used = {kk: [] for kk in range(1, setup.k_max + 1)}  # type: dict[int, list[float]]
    fixed_met = {kk: [] for kk in fixed_used}  # type: dict[int, list[float]]
    fixed_all = {kk: [] for kk in fixed_used}  # type: dict[int, list[bool]]
    fixed_cover = {kk: [] for kk in fixed_used}  # type: dict[int, list[float]]
    used, met, cover, cs_cover = [], [], [], []
    k_per_cell = []
    for _ in range(studies):
        values, raters = draw_study(setup, mus, rng)
        for kk in fixed_used:
            low, high = cell_intervals(values, raters, np.full(cells, kk, dtype=np.int64))
            ok = (high - low) / 2 <= setup.target
            fixed_used[kk].append(kk * setup.items * cells)
            fixed_met[kk].append(float(ok.mean()))
            fixed_all[kk].append(bool(ok.all()))
            fixed_cover[kk].append(float(((low <= rates) & (rates <= high)).mean()))
        k, low, high = run_adaptive(setup, values, raters, rng)
        used.append(float(k.sum() * setup.items))
        met.append(float(((high - low) / 2 <= setup.target).mean()))
        cover.append(float(((low <= rates) & (rates <= high)).mean()))
        k_per_cell.append(k.copy())
        hits = []
        for c in range(cells):
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


def run_decide_mode(
    setup: AllocationDesign, *, studies: int, seed: int, alpha: float, rule: str = "sequence"
) -> dict[str, object]:
    """Side-by-side "decide" comparisons (win rates ``setup.rates``): the rule against fixed
    K decided by the report's crossed test at ``alpha``."""
    mus, rates = cell_logits(setup), np.array(setup.rates)
    rng = np.random.default_rng(seed)
    cells = len(rates)
    null = np.isclose(rates, 0.5)
    fixed = {kk: {"decided": [], "false": []} for kk in range(1, setup.k_max + 1)}
    used, decided_share, false_share, cover, k_per_cell = [], [], [], [], []
    for _ in range(studies):
        values, raters = draw_study(setup, mus, rng)
        for kk, out in fixed.items():
            parts = crossed_groups(
                values[:, :, :kk].ravel(),
                np.broadcast_to(
                    np.arange(setup.items)[None, :, None], (cells, setup.items, kk)
                ).ravel(),
                raters[:, :, :kk].ravel(),
                np.repeat(np.arange(cells), setup.items * kk),
            )
            significant = groups_frame(parts)["p_value"].to_numpy() < alpha
            out["decided"].append(float(significant[~null].mean()) if (~null).any() else np.nan)
            out["false"].append(float(significant[null].mean()) if null.any() else np.nan)
        order = rng.permutation(setup.items)
        k, decided, low, high = run_decide(
            setup, values, order, alpha=alpha, raters=raters, rule=rule
        )
        used.append(float(k.sum() * setup.items))
        decided_share.append(float(decided[~null].mean()) if (~null).any() else np.nan)
        false_share.append(float(decided[null].mean()) if null.any() else np.nan)
        cover.append(float(((low <= rates) & (rates <= high)).mean()))
        k_per_cell.append(k.copy())
    return {
        "rates": rates,
        "fixed": {
            kk: (
                float(kk * setup.items * cells),
                float(np.nanmean(out["decided"])),
                float(np.nanmean(out["false"])),
            )
            for kk, out in fixed.items()
        },
        "adaptive": (
            float(np.median(used)),
            float(np.percentile(used, 90)),
            float(np.nanmean(decided_share)),
            float(np.nanmean(false_share)),
            float(np.mean(cover)),
        ),
        "k_per_cell": np.mean(k_per_cell, axis=0),
    }


def _print_decide(result: dict[str, object], rule: str) -> None:
    print("| rule | judgments (median) | 90th pct | non-null comparisons decided "
          "| tied comparisons decided (false) | coverage of the last look |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for kk, (n, share, false) in result["fixed"].items():  # type: ignore[attr-defined]
        print(
            f"| fixed K = {kk} (crossed test) | {n:,.0f} | {n:,.0f} | {share:.3f} "
            f"| {false:.3f} | — |"
        )
    n, p90, share, false, cov = result["adaptive"]  # type: ignore[misc]
    print(f"| adaptive ({rule}) | {n:,.0f} | {p90:,.0f} | {share:.3f} | {false:.3f} | {cov:.3f} |")
    print()
    print("mean K per cell (adaptive): " + ", ".join(f"{k:.1f}" for k in result["k_per_cell"]))


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
    parser.add_argument(
        "--decide",
        action="store_true",
        help="side-by-side comparisons with a 'decide at alpha' target (rates: win rates)",
    )
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--rule",
        choices=DECIDE_RULES,
        default="crossed",
        help="the decide rule: the two-way interval or the confidence sequence at each look",
    )
    args = parser.parse_args(argv)
    setup = AllocationDesign(
        rates=tuple(float(r) for r in np.linspace(*args.rates, args.cells)),
        items=args.items,
        target=args.target,
        k_min=args.k_min,
        k_max=args.k_max,
        raters=args.raters,
    )
    setup.validate()
    started = time.perf_counter()
    if args.decide:
        result = run_decide_mode(
            setup, studies=args.studies, seed=args.seed, alpha=args.alpha, rule=args.rule
        )
        print(
            f"{args.studies} studies, {len(setup.rates)} comparisons × {setup.items} items, "
            f"crowd of {setup.raters}, item sd 1.2, rater sd 0.6, win rates "
            f"{', '.join(f'{r:.2f}' for r in result['rates'])}; decide at alpha {args.alpha} "
            f"(the rule: the {args.rule} interval at {args.alpha} split over rounds "
            f"{setup.k_min}..{setup.k_max}), "
            f"seed {args.seed}"
        )
        print()
        _print_decide(result, args.rule)
        print(f"elapsed {time.perf_counter() - started:.0f} s")
        return
    result = run(setup, studies=args.studies, seed=args.seed)
    print(
        f"{args.studies} studies, {len(setup.rates)} cells × {setup.items} items, crowd of "
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
