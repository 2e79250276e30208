"""Coverage of the accuracy intervals on simulated studies with item and rater effects.

Each simulated study draws ``items`` benchmark items and a pool of raters; every item is
judged by ``raters_per_item`` distinct raters from the pool. A judgment is correct with
probability ``expit(mu + u_item + b_rater)`` where ``u_item ~ N(0, item_sd^2)`` (logit-normal
item difficulty) and ``b_rater ~ N(0, rater_sd^2)`` (rater leniency). The target is the
population rate ``E[expit(mu + u + b)]`` over new items and new raters, computed by
Gauss-Hermite quadrature. The script reports how often the 95% Wilson interval (which treats
judgments as independent) and the 95% item-clustered bootstrap interval (analysis.intervals)
contain the target.

Usage::

    .venv/bin/python -m bench.coverage_simulation --studies 1000 --seed 0
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from analysis.intervals import clustered_bootstrap, wilson


@dataclass(frozen=True)
class Scenario:
    """One study design and its random effects."""

    name: str  # label printed in the table
    items: int  # benchmark items in the study (the bootstrap's clusters)
    raters_per_item: int  # K distinct raters judge every item
    rater_pool: int  # raters available to the study
    mu: float  # logit of the typical item's accuracy
    item_sd: float  # sd of the item difficulty on the logit scale
    rater_sd: float  # sd of the rater leniency on the logit scale


SCENARIOS = (
    Scenario("independent judgments", 60, 3, 200, 0.4, 0.0, 0.0),
    Scenario("item effects", 60, 3, 200, 0.4, 1.5, 0.0),
    Scenario("item + rater effects, crowd of 200", 60, 3, 200, 0.4, 1.5, 0.5),
    Scenario("item + rater effects, 30 items", 30, 3, 200, 0.4, 1.5, 0.5),
    Scenario("item + rater effects, pool of 5", 60, 3, 5, 0.4, 1.5, 0.5),
)


def true_rate(scenario: Scenario) -> float:
    """Population accuracy ``E[expit(mu + Z)]``, ``Z ~ N(0, item_sd^2 + rater_sd^2)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    sd = math.hypot(scenario.item_sd, scenario.rater_sd)
    return float((weights * expit(scenario.mu + sd * nodes)).sum() / weights.sum())


def simulate_study(scenario: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (correct as 0/1, item index) for every judgment of one simulated study."""
    item_effect = rng.normal(0.0, scenario.item_sd, scenario.items)
    rater_effect = rng.normal(0.0, scenario.rater_sd, scenario.rater_pool)
    # K distinct raters per item: the first K of an independent permutation of the pool.
    raters = np.argsort(rng.random((scenario.items, scenario.rater_pool)), axis=1)
    raters = raters[:, : scenario.raters_per_item]
    logits = scenario.mu + item_effect[:, None] + rater_effect[raters]
    correct = (rng.random(logits.shape) < expit(logits)).astype(float)
    items = np.repeat(np.arange(scenario.items), scenario.raters_per_item)
    return correct.ravel(), items


def coverage(
    scenario: Scenario, *, studies: int, resamples: int, rng: np.random.Generator
) -> dict[str, float]:
    """Coverage and mean width of both intervals over ``studies`` simulated studies."""
    target = true_rate(scenario)
    hits = {"wilson": 0, "bootstrap": 0}
    widths = {"wilson": 0.0, "bootstrap": 0.0}
    for _ in range(studies):
        correct, items = simulate_study(scenario, rng)
        intervals = {
            "wilson": wilson(int(correct.sum()), len(correct)),
            "bootstrap": clustered_bootstrap(correct, items, rng=rng, n_resamples=resamples),
        }
        for name, estimate in intervals.items():
            hits[name] += estimate.low <= target <= estimate.high
            widths[name] += estimate.high - estimate.low
    return {
        "target": target,
        **{f"{name}_coverage": hits[name] / studies for name in hits},
        **{f"{name}_width": widths[name] / studies for name in widths},
    }


def main(argv: list[str] | None = None) -> None:
    """Run every scenario and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1000, help="simulated studies per scenario")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy Generator")
    args = parser.parse_args(argv)
    if args.studies < 1:
        parser.error("--studies must be at least 1")

    rng = np.random.default_rng(args.seed)
    # Binomial Monte-Carlo error of a coverage near 95%.
    mc_se = math.sqrt(0.95 * 0.05 / args.studies)
    print(
        f"{args.studies} studies per scenario, {args.resamples} bootstrap resamples, "
        f"seed {args.seed}; Monte-Carlo s.e. of a 95% coverage: {mc_se:.1%}\n"
    )
    print(
        "| scenario | items x K | rater pool | item sd | rater sd | true rate "
        "| Wilson coverage (width) | cluster bootstrap coverage (width) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for scenario in SCENARIOS:
        result = coverage(scenario, studies=args.studies, resamples=args.resamples, rng=rng)
        print(
            f"| {scenario.name} | {scenario.items} x {scenario.raters_per_item} "
            f"| {scenario.rater_pool} | {scenario.item_sd} | {scenario.rater_sd} "
            f"| {result['target']:.3f} "
            f"| {result['wilson_coverage']:.1%} ({result['wilson_width']:.3f}) "
            f"| {result['bootstrap_coverage']:.1%} ({result['bootstrap_width']:.3f}) |",
            flush=True,
        )
    print(f"\nelapsed {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
