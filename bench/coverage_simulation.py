"""Coverage of the report's 95% intervals, and size of its tests, in crossed designs.

Each simulated study has ``items`` benchmark items and a pool of ``rater_pool`` raters; every
item (one edit, or one pair of edits for side-by-side) is judged by ``raters_per_item``
distinct raters drawn from the pool, so with a pool of 40 each rater judges many units, as on
the platform (a crowd of 40 taking 4.5–18 tasks each, or a team of 6 sharing everything).

Single-image: a judgment is correct with probability ``expit(mu + u_item + b_rater)``, with
``u ~ N(0, item_sd²)`` (item difficulty) and ``b ~ N(0, rater_sd²)`` (rater leniency).
Side-by-side: model a wins a decided judgment with probability
``expit(delta + u_item + b_rater ± gamma)``, ``+gamma`` when a is shown on the left (a
position bias; sides balanced over a unit's raters), and a judgment is a tie (no preference)
with probability 0.15 and then left out of the win rate. The target is the population rate
over new items, new raters and both sides (Gauss-Hermite quadrature); with ``delta = 0`` it
is exactly 0.5, so the share of studies whose test rejects at 5% is the test's size.

Intervals compared (the same functions the report calls, or the alternatives considered):

* ``wilson``: Wilson score, every judgment independent (analysis.intervals.wilson);
* ``item bootstrap``: item-clustered percentile bootstrap (analysis.intervals);
* ``pigeonhole``: two-way (pigeonhole) bootstrap, items and raters resampled independently
  and each judgment weighted by the product of its item's and rater's draw counts;
* ``crossed``: two-way cluster-robust Wilson interval (analysis.crossed), the report's.

Tests of ``rate == 0.5``: the exact binomial test over judgments (the old report) and the
crossed test (analysis.crossed), at 5%.

Usage (one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.coverage_simulation --studies 1000 --seed 0
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from scipy.stats import binomtest

from analysis.crossed import crossed_groups, groups_frame
from analysis.intervals import cluster_sums_bootstrap, wilson

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
METHODS = ("wilson", "item bootstrap", "pigeonhole", "crossed")
TIE_SHARE = 0.15


@dataclass(frozen=True)
class Design:
    """One study design and its random effects."""

    name: str  # label printed in the table
    items: int  # benchmark items (units: one per item)
    raters_per_item: int  # K distinct raters judge every unit
    rater_pool: int  # raters available to the study
    item_sd: float  # sd of the item effect on the logit scale
    rater_sd: float  # sd of the rater effect on the logit scale
    pairwise: bool = False  # side-by-side win rate instead of single-image accuracy
    mu: float = 0.4  # logit of the typical accuracy, or delta (a's advantage) for pairs
    gamma: float = 0.0  # position bias on the logit scale (pairs only)


DESIGNS = (
    Design("independent judgments", 60, 3, 100_000, 0.0, 0.0),
    Design("60 items, K = 3, a crowd of 40", 60, 3, 40, 1.2, 0.6),
    Design("240 items (EditBench's size), crowd of 40", 240, 3, 40, 1.2, 0.6),
    Design("a 12-item category cell, crowd of 40", 12, 3, 40, 1.2, 0.6),
    Design("K = 5, crowd of 40", 60, 5, 40, 1.2, 0.6),
    Design("a team of 6 raters", 60, 3, 6, 1.2, 0.6),
    Design("side-by-side win rate, null, crowd of 40", 60, 3, 40, 1.0, 0.6, True, 0.0, 0.3),
    Design("side-by-side win rate, null, team of 6", 60, 3, 6, 1.0, 0.6, True, 0.0, 0.3),
    Design("side-by-side win rate, a better, crowd of 40", 60, 3, 40, 1.0, 0.6, True, 0.5, 0.3),
)


def true_rate(design: Design) -> float:
    """Population rate ``E[expit(mu + Z ± gamma)]``, ``Z ~ N(0, item_sd² + rater_sd²)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    sd = math.hypot(design.item_sd, design.rater_sd)
    rates = [
        float((weights * expit(design.mu + side + sd * nodes)).sum() / weights.sum())
        for side in (design.gamma, -design.gamma)
    ]
    return sum(rates) / 2


def simulate_study(design: Design, rng: np.random.Generator) -> tuple[Floats, Ints, Ints]:
    """(value, item, rater) of every counted judgment of one simulated study."""
    item_effect = rng.normal(0.0, design.item_sd, design.items)
    rater_effect = rng.normal(0.0, design.rater_sd, design.rater_pool)
    k = design.raters_per_item
    if design.rater_pool > 1000:
        # A pool much larger than the judgments: distinct raters without a full permutation.
        raters = rng.choice(design.rater_pool, size=design.items * k, replace=False)
        raters = raters.reshape(design.items, k)
    else:
        raters = np.argsort(rng.random((design.items, design.rater_pool)), axis=1)[:, :k]
    logits = design.mu + item_effect[:, None] + rater_effect[raters]
    keep = np.ones(logits.shape, dtype=bool)
    if design.pairwise:
        # Sides balanced over a unit's raters: a on the left for every other rater.
        left = (np.arange(k)[None, :] + rng.integers(0, 2, (design.items, 1))) % 2 == 0
        logits = logits + np.where(left, design.gamma, -design.gamma)
        keep = rng.random(logits.shape) >= TIE_SHARE
    values = (rng.random(logits.shape) < expit(logits)).astype(float)
    items = np.repeat(np.arange(design.items), k).reshape(design.items, k)
    return values[keep], items[keep].astype(np.int64), raters[keep].astype(np.int64)


def _draw_counts(rng: np.random.Generator, k: int, resamples: int) -> Floats:
    """``(resamples, k)`` draw counts of k clusters drawn k times with replacement."""
    drawn = rng.integers(0, k, size=(resamples, k)) + (np.arange(resamples) * k)[:, None]
    counts: Floats = np.bincount(drawn.ravel(), minlength=resamples * k).reshape(resamples, k)
    return counts.astype(float)


def pigeonhole(
    values: Floats, items: Ints, raters: Ints, *, resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bounds of the two-way (pigeonhole) bootstrap of a mean, vectorised.

    Each resample draws the items and, independently, the raters with replacement; a
    judgment's weight is its item's draw count times its rater's.
    """
    _, raters = np.unique(raters, return_inverse=True)  # raters numbered 0 .. R-1
    n_items, n_raters = int(items.max()) + 1, int(raters.max()) + 1
    item_weights = _draw_counts(rng, n_items, resamples)
    rater_weights = _draw_counts(rng, n_raters, resamples)
    weights = item_weights[:, items] * rater_weights[:, raters]
    totals = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ values) / totals
    means = means[totals > 0]
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def one_study(
    design: Design, *, resamples: int, rng: np.random.Generator
) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """The four intervals and the two tests' p-values of one simulated study."""
    values, items, raters = simulate_study(design, rng)
    successes, n = int(values.sum()), len(values)
    w = wilson(successes, n)
    sums = np.bincount(items, weights=values)
    sizes = np.bincount(items).astype(float)
    boot = cluster_sums_bootstrap(sums, sizes, rng=rng, n_resamples=resamples)
    parts = crossed_groups(values, items, raters, np.zeros(n, dtype=np.int64))
    crossed = groups_frame(parts).iloc[0]
    intervals = {
        "wilson": (w.low, w.high),
        "item bootstrap": (boot.low, boot.high),
        "pigeonhole": pigeonhole(values, items, raters, resamples=resamples, rng=rng),
        "crossed": (float(crossed["low"]), float(crossed["high"])),
    }
    tests = {
        "binomial": float(binomtest(successes, n, 0.5).pvalue),
        "crossed": float(crossed["p_value"]),
    }
    return intervals, tests


def run_design(design: Design, *, studies: int, resamples: int, seed: int) -> dict[str, float]:
    """Coverage and mean width of each interval, and each test's rejection rate at 5%."""
    rng = np.random.default_rng(seed)
    target = true_rate(design)
    hits = dict.fromkeys(METHODS, 0)
    widths = dict.fromkeys(METHODS, 0.0)
    rejections = {"binomial": 0, "crossed": 0}
    for _ in range(studies):
        intervals, tests = one_study(design, resamples=resamples, rng=rng)
        for name, (low, high) in intervals.items():
            hits[name] += low <= target <= high
            widths[name] += high - low
        for name, p in tests.items():
            rejections[name] += p < 0.05
    return {
        "target": target,
        **{f"{name} coverage": hits[name] / studies for name in METHODS},
        **{f"{name} width": widths[name] / studies for name in METHODS},
        **{f"{name} rejects": rejections[name] / studies for name in rejections},
    }


def main(argv: list[str] | None = None) -> None:
    """Run every design and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1000, help="simulated studies per design")
    parser.add_argument("--resamples", type=int, default=500, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed; design i uses seed + i")
    args = parser.parse_args(argv)
    if args.studies < 1:
        parser.error("--studies must be at least 1")
    mc_se = math.sqrt(0.95 * 0.05 / args.studies)
    print(
        f"{args.studies} studies per design, {args.resamples} bootstrap resamples, seed "
        f"{args.seed}; Monte-Carlo s.e. of a 95% coverage {mc_se:.1%}, of a 5% rate "
        f"{mc_se:.1%}\n"
    )
    print(
        "| design | items × K | raters | item sd | rater sd | true rate | Wilson "
        "| item bootstrap | pigeonhole bootstrap | **crossed (report)** "
        "| binomial test rejects | crossed test rejects |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for i, design in enumerate(DESIGNS):
        r = run_design(design, studies=args.studies, resamples=args.resamples, seed=args.seed + i)
        cells = " | ".join(f"{r[f'{m} coverage']:.3f} ({r[f'{m} width']:.3f})" for m in METHODS)
        null = design.pairwise and design.mu == 0
        tests = (
            f"{r['binomial rejects']:.3f} | {r['crossed rejects']:.3f}"
            if null
            else "(not a null) | (not a null)"
            if design.pairwise
            else "— | —"
        )
        pool = "1 per judgment" if design.rater_pool > 1000 else str(design.rater_pool)
        print(
            f"| {design.name} | {design.items} × {design.raters_per_item} | {pool} "
            f"| {design.item_sd} | {design.rater_sd} | {r['target']:.3f} | {cells} | {tests} |",
            flush=True,
        )
    print(f"\nelapsed {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
