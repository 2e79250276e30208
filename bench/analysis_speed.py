"""Time and size of the full study report (analysis.report) on a large synthetic study.

Synthesises a study shaped like the platform's exports (annotation/selectors/reports.py): 4 models,
240 benchmark items with EditBench's categories, single-image judgments on the three prompt
types and side-by-side judgments (both questions) for every model pair on Mask-Rich, K raters
per unit drawn from a crowd of a few thousand, the judgments of some raters excluded by a
quality rule, a share of no-preference answers, one automatic-judge verdict per edit and a
rater quality table. K is chosen so that the judgment rows (single-image rows plus one row per
side-by-side question answered) total ``--judgments``.

Then times ``build_report`` (``--resamples`` bootstrap resamples) and, separately, the three
writers, and prints the peak resident set size of this process (``ru_maxrss``: the whole
process, synthetic data and imports included) before and after the report.

    .venv/bin/python -m bench.analysis_speed --judgments 1000000 --resamples 2000 --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.categories import (
    ATTRIBUTE_TYPES,
    OBJECT_TYPES,
    PROMPT_TYPES,
    SCENES,
    SOURCES,
    STYLES,
)
from analysis.report import (
    ReportSettings,
    StudyData,
    build_report,
    report_to_csv,
    report_to_json,
)
from analysis.report.html import render_html
from analysis.tables import QUESTIONS

MODELS = ("DALL-E 2", "Imagen Editor", "Imagen Editor-RM", "Stable Diffusion")
MODEL_SKILL = np.array([-0.3, 0.6, 0.9, 0.0])
PROMPT_EFFECT = {"mask_simple": 0.4, "mask_rich": 0.0, "full_image": -0.5}
RULES = {"min_gold_accuracy": 0.7, "min_median_seconds": 4}


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _split_rows(total: int, n_units: int) -> np.ndarray:
    """Raters per unit: ``total`` spread over ``n_units`` as evenly as possible."""
    base, extra = divmod(total, n_units)
    per_unit = np.full(n_units, base, dtype=np.int64)
    per_unit[:extra] += 1
    return per_unit


def _draw_raters(per_unit: np.ndarray, crowd: int, rng: np.random.Generator) -> np.ndarray:
    """For each unit, ``per_unit[u]`` distinct raters of the crowd (a rater judges a unit once)."""
    if per_unit.max() > crowd:
        raise SystemExit(f"K = {per_unit.max()} raters per unit exceeds the crowd of {crowd}")
    # Sorting random keys per unit gives a uniform random subset of each size, all at once.
    keys = rng.random((len(per_unit), crowd))
    order = np.argsort(keys, axis=1)
    mask = np.arange(crowd)[None, :] < per_unit[:, None]
    return order[mask]


#: The checks of each prompt type (annotation/questions.py), as answer columns.
CHECKS = {
    "mask_simple": ("object", "attribute", "binding"),
    "mask_rich": ("object", "attr_color"),
    "full_image": ("match",),
}


def _answer_columns(single: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``answer_<check>`` per judgment: all "yes" when correct, else one random check "no";
    missing where the prompt type does not ask the check."""
    prompt = single["prompt_type"].to_numpy(dtype=object)
    correct = single["correct"].to_numpy(dtype=bool)
    pick = rng.random(len(single))
    columns: dict[str, np.ndarray] = {}
    for prompt_type, checks in CHECKS.items():
        rows = prompt == prompt_type
        failed = np.floor(pick * len(checks)).astype(int)
        for c, check in enumerate(checks):
            name = f"answer_{check}"
            column = columns.setdefault(name, np.full(len(single), None, dtype=object))
            column[rows] = np.where(correct[rows] | (failed[rows] != c), "yes", "no")
    return columns


def synthesise(n_judgments: int, *, seed: int, n_items: int = 240, crowd: int = 3000) -> StudyData:
    """A study with ``n_judgments`` judgment rows (single-image + side-by-side answers)."""
    rng = np.random.default_rng(seed)
    n_models = len(MODELS)
    items = [f"item-{i:04d}" for i in range(n_items)]
    categories = {
        "object_type": rng.choice(OBJECT_TYPES, n_items, p=[0.6, 0.25, 0.15]),
        "attribute_type": rng.choice(ATTRIBUTE_TYPES, n_items),
        "scene": rng.choice(SCENES, n_items),
        "style": rng.choice(STYLES, n_items, p=[0.7, 0.3]),
        "source": rng.choice(SOURCES, n_items),
    }
    difficulty = rng.normal(0.0, 1.2, n_items)
    leniency = rng.normal(0.0, 0.5, crowd)
    raters = np.array([f"rater-{r}" for r in range(crowd)], dtype=object)
    # 4% of the crowd fail the gold rule, 1% the speed rule; their judgments are noise.
    rule_of = np.full(crowd, None, dtype=object)
    flagged = rng.permutation(crowd)
    rule_of[flagged[: crowd // 25]] = "min_gold_accuracy"
    rule_of[flagged[crowd // 25 : crowd // 25 + crowd // 100]] = "min_median_seconds"
    careless = pd.notna(rule_of)

    # Side-by-side rows come two per answer (both questions): keep their total even.
    pairs = list(itertools.combinations(range(n_models), 2))
    single_units = list(itertools.product(range(n_items), range(n_models), PROMPT_TYPES))
    pair_units = list(itertools.product(range(n_items), pairs))
    pairwise_rows = 2 * ((n_judgments - n_judgments // 2) // 2)
    single_rows = n_judgments - pairwise_rows

    # Single-image judgments.
    per_unit = _split_rows(single_rows, len(single_units))
    rater_idx = _draw_raters(per_unit, crowd, rng)
    unit_idx = np.repeat(np.arange(len(single_units)), per_unit)
    u_item = np.array([u[0] for u in single_units])[unit_idx]
    u_model = np.array([u[1] for u in single_units])[unit_idx]
    u_prompt = np.array([u[2] for u in single_units], dtype=object)[unit_idx]
    logit = (
        MODEL_SKILL[u_model]
        + pd.Series(u_prompt).map(PROMPT_EFFECT).to_numpy(dtype=float)
        - difficulty[u_item]
        + leniency[rater_idx]
    )
    p = np.where(careless[rater_idx], 0.5, _expit(logit))
    single = pd.DataFrame(
        {
            "unit": unit_idx + 1,
            "item": np.array(items, dtype=object)[u_item],
            "model": np.array(MODELS, dtype=object)[u_model],
            "prompt_type": u_prompt,
            **{name: values.astype(object)[u_item] for name, values in categories.items()},
            "rater": raters[rater_idx],
            "excluded": careless[rater_idx],
            "exclusion_rule": rule_of[rater_idx],
            "correct": rng.random(len(unit_idx)) < p,
        }
    )
    single = single.assign(**_answer_columns(single, rng))

    # Side-by-side judgments: one answer per (unit, rater), two rows (questions) per answer.
    per_unit = _split_rows(pairwise_rows // 2, len(pair_units))
    rater_idx = _draw_raters(per_unit, crowd, rng)
    unit_idx = np.repeat(np.arange(len(pair_units)), per_unit)
    p_item = np.array([u[0] for u in pair_units])[unit_idx]
    p_a = np.array([u[1][0] for u in pair_units])[unit_idx]
    p_b = np.array([u[1][1] for u in pair_units])[unit_idx]
    left = np.where(rng.random(len(unit_idx)) < 0.5, "a", "b").astype(object)
    frames = []
    for q, question in enumerate(QUESTIONS):
        # Realism separates the models less; the left image is slightly favoured.
        gap = (MODEL_SKILL[p_a] - MODEL_SKILL[p_b]) * (1.0 if q == 0 else 0.4)
        gap = gap + np.where(left == "a", 0.15, -0.15)
        tie = rng.random(len(unit_idx)) < 0.15
        a_wins = rng.random(len(unit_idx)) < np.where(careless[rater_idx], 0.5, _expit(gap))
        choice = np.where(tie, "none", np.where(a_wins, "a", "b")).astype(object)
        frames.append(
            pd.DataFrame(
                {
                    "unit": len(single_units) + unit_idx + 1,
                    "item": np.array(items, dtype=object)[p_item],
                    "prompt_type": "mask_rich",
                    "rater": raters[rater_idx],
                    "excluded": careless[rater_idx],
                    "exclusion_rule": rule_of[rater_idx],
                    "model_a": np.array(MODELS, dtype=object)[p_a],
                    "model_b": np.array(MODELS, dtype=object)[p_b],
                    "left": left,
                    "question": question,
                    "choice": choice,
                }
            )
        )
    pairwise = pd.concat(frames, ignore_index=True)

    # One automatic-judge verdict per edit.
    j_item = np.array([u[0] for u in single_units])
    j_model = np.array([u[1] for u in single_units])
    j_prompt = np.array([u[2] for u in single_units], dtype=object)
    j_logit = (
        MODEL_SKILL[j_model]
        + pd.Series(j_prompt).map(PROMPT_EFFECT).to_numpy(dtype=float)
        - difficulty[j_item]
    )
    auto = pd.DataFrame(
        {
            "unit": np.arange(len(single_units)) + 1,
            "item": np.array(items, dtype=object)[j_item],
            "model": np.array(MODELS, dtype=object)[j_model],
            "prompt_type": j_prompt,
            **{name: values.astype(object)[j_item] for name, values in categories.items()},
            "rater": "auto-judge",
            "correct": rng.random(len(single_units)) < _expit(j_logit),
        }
    )
    quality = pd.DataFrame(
        {
            "rater": raters,
            "platform": "prolific",
            "excluded": careless,
            "gold_accuracy": np.where(
                careless, rng.uniform(0.3, 0.7, crowd), rng.uniform(0.7, 1.0, crowd)
            ),
            "median_seconds": rng.gamma(4.0, 3.0, crowd),
        }
    )
    settings = ReportSettings(
        task_kinds=("single", "pairwise"),
        prompt_types=PROMPT_TYPES,
        raters_per_unit=int(per_unit.max()),
        gold_rate=0.1,
        exclusion_rules=RULES,
        models=MODELS,
    )
    return StudyData(
        name="Synthetic scale study",
        settings=settings,
        single=single,
        pairwise=pairwise,
        rater_quality=quality,
        auto_judge=auto,
    )


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile", type=Path, default=None, help="write a cProfile of build_report to this file"
    )
    args = parser.parse_args()

    start = time.perf_counter()
    data = synthesise(args.judgments, seed=args.seed)
    assert data.single is not None and data.pairwise is not None
    n_single, n_pairwise = len(data.single), len(data.pairwise)
    synth_s = time.perf_counter() - start
    rss_data = _peak_rss_mib()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"judgments: {n_single + n_pairwise} ({n_single} single-image, {n_pairwise} "
        f"side-by-side rows), excluded: "
        f"{int(data.single['excluded'].sum() + data.pairwise['excluded'].sum())}, "
        f"K = {data.settings.raters_per_unit}, synthesised in {synth_s:.1f} s"
    )

    if args.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    report = build_report(data, rng=args.seed, n_resamples=args.resamples, salt="bench-salt")
    build_s, build_cpu = time.perf_counter() - start, time.process_time() - cpu
    if args.profile is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    rss_report = _peak_rss_mib()

    start, cpu = time.perf_counter(), time.process_time()
    text = report_to_json(report)
    json_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = report_to_csv(report, Path(folder))
        csv_s = time.perf_counter() - start
    start = time.perf_counter()
    page = render_html(report)
    html_s = time.perf_counter() - start
    writers_cpu = time.process_time() - cpu
    rss_end = _peak_rss_mib()

    print(
        f"build_report ({args.resamples} resamples, {len(report.tables)} tables): "
        f"{build_s:.2f} s wall, {build_cpu:.2f} s CPU"
    )
    print(f"report_to_json: {json_s:.2f} s ({len(text) / 1e6:.1f} MB)")
    print(f"report_to_csv: {csv_s:.2f} s ({len(paths)} files)")
    print(f"render_html: {html_s:.2f} s ({len(page) / 1e6:.1f} MB)")
    print(
        f"total report + writers: {build_s + json_s + csv_s + html_s:.2f} s wall, "
        f"{build_cpu + writers_cpu:.2f} s CPU"
    )
    print(
        f"peak RSS (ru_maxrss, whole process): after synthesis {rss_data:.0f} MiB, "
        f"after build_report {rss_report:.0f} MiB, after writers {rss_end:.0f} MiB"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
