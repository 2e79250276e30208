"""Evaluate the shipped checkpoints on held-out scenes with the automatic judge.

    python -m inference.evaluate                      # 300 items, both checkpoints, 2 schedules
    python -m inference.evaluate --judge-only         # the judge's accuracy on ground truth

Each held-out item (:func:`inference.data.heldout_item`) asks, with its Mask-Simple caption, for
an object different from the one under the mask. For each checkpoint and guidance schedule it
reports judge accuracy per attribute type and per object type, the all-attributes-correct
(Mask-Simple) rate, preservation outside the mask, masked-region PSNR against the ground truth
(of the edit, and of the SR stage vs bilinear upsampling from the true low-res image), and time
per edit. Object vs random masking is compared on the same items: the difference in Mask-Simple
correctness with a paired bootstrap 95% interval. Results go to ``var/eval/results.json``, each
model card and ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from inference import data, judge, pipeline, train, world

RESULTS = Path("bench/RESULTS.md")


@dataclass(frozen=True)
class ItemResult:
    attribute_type: str
    object_type: str
    correct: dict[str, bool]  # judge verdict per attribute
    tested_correct: bool
    simple_correct: bool
    preserved: bool  # every pixel outside the mask equals the input
    psnr: float  # masked-region PSNR of the edit vs the ground truth


def judge_accuracy(items: list[data.HeldOutItem]) -> dict[str, Any]:
    """The judge on ground-truth renders: per attribute, and on the tested attribute."""
    hits: dict[str, int] = defaultdict(int)
    tested = 0
    for it in items:
        v = judge.judge(it.truth, it.mask, it.target)
        for k, ok in v.correct.items():
            hits[k] += ok
        tested += v.correct[v.tested]
    n = len(items)
    return {"items": n, "per_attribute": {k: hits[k] / n for k in judge.ATTRIBUTES},
            "tested": tested / n}  # fmt: skip


def _psnr(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> float:
    diff = a.astype(np.float64)[mask] - b.astype(np.float64)[mask]
    mse = max(float((diff**2).mean()), 1e-10)
    return float(10 * np.log10(255.0**2 / mse))


def run_edits(
    model: pipeline.LoadedModel,
    items: list[data.HeldOutItem],
    guidance: str,
    steps: int,
    batch: int,
    seed: int,
) -> tuple[list[ItemResult], float]:
    """Edit every item with its Mask-Simple prompt; return verdicts and seconds per edit."""
    out: list[ItemResult] = []
    seconds = 0.0
    for start in tqdm(range(0, len(items), batch), desc=f"{model.name} {guidance}", leave=False):
        chunk = items[start : start + batch]
        began = time.perf_counter()
        results = pipeline.inpaint(
            [it.image for it in chunk], [it.mask for it in chunk],
            [it.captions.mask_simple for it in chunk], model=model, guidance=guidance,
            steps=steps, seed=[seed + it.seed - data.HELDOUT_BASE for it in chunk], batch=batch,
        )  # fmt: skip
        seconds += time.perf_counter() - began
        for it, r in zip(chunk, results, strict=True):
            out.append(judge_edit(it, np.asarray(r.image)))
    return out, seconds / len(items)


def judge_edit(item: data.HeldOutItem, edited: np.ndarray[Any, Any]) -> ItemResult:
    """The judge's verdicts on one edit (H×W×3 uint8) of a held-out item."""
    v = judge.judge(edited, item.mask, item.target)
    return ItemResult(
        attribute_type=item.spec.attribute_type,
        object_type=item.spec.target.object_type,
        correct=v.correct,
        tested_correct=v.correct[v.tested],
        simple_correct=v.simple_correct,
        preserved=bool((edited[~item.mask] == item.image[~item.mask]).all()),
        psnr=_psnr(edited, item.truth, item.mask),
    )


def summarize(results: list[ItemResult], seconds: float) -> dict[str, Any]:
    def rate(rs: list[ItemResult], key: str) -> float:
        return float(np.mean([getattr(r, key) for r in rs])) if rs else float("nan")

    by_attr = {a: [r for r in results if r.attribute_type == a] for a in world.ATTRIBUTE_TYPES}
    by_obj = {o: [r for r in results if r.object_type == o] for o in world.OBJECT_TYPES}
    return {
        "items": len(results),
        "tested_by_attribute_type": {a: rate(rs, "tested_correct") for a, rs in by_attr.items()},
        "n_by_attribute_type": {a: len(rs) for a, rs in by_attr.items()},
        "simple_by_object_type": {o: rate(rs, "simple_correct") for o, rs in by_obj.items()},
        "object_by_object_type": {
            o: float(np.mean([r.correct["object"] for r in rs])) if rs else float("nan")
            for o, rs in by_obj.items()
        },
        "tested_correct": rate(results, "tested_correct"),
        "all_correct_mask_simple": rate(results, "simple_correct"),
        "preserved_exactly": rate(results, "preserved"),
        "masked_psnr": rate(results, "psnr"),
        "seconds_per_edit": seconds,
    }


def paired_difference(
    a: list[bool], b: list[bool], *, resamples: int = 4000, seed: int = 0
) -> dict[str, float]:
    """Mean of a − b over paired items with a percentile bootstrap 95% interval."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(1)
    low, high = np.quantile(boots, [0.025, 0.975])
    return {"difference": float(d.mean()), "low": float(low), "high": float(high), "n": len(d)}


def sr_vs_bilinear(model: pipeline.LoadedModel, items: int) -> dict[str, float]:
    return train.sr_check(model.cascade, items, seed=0)


# --- Reports ---------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Held-out items: {report['items']} (world seeds {data.HELDOUT_BASE} + i), "
             f"Mask-Simple prompts asking for a different object than the one under the mask; "
             f"{report['steps']} base DDIM steps, batch {report['batch']}, "
             f"{report['threads']} CPU threads.", ""]  # fmt: skip
    ja = report["judge"]
    lines += [
        f"**Judge accuracy on ground-truth renders** ({ja['items']} held-out items, 64×64): "
        + ", ".join(f"{k} {v:.3f}" for k, v in ja["per_attribute"].items())
        + f"; tested attribute {ja['tested']:.3f}.",
        "",
    ]
    if not report["runs"]:
        return "\n".join(lines)
    attrs, objs = world.ATTRIBUTE_TYPES, world.OBJECT_TYPES
    lines += [
        "| checkpoint | guidance | " + " | ".join(attrs) + " | " + " | ".join(objs)
        + " | tested attr. (all) | all-correct (Mask-Simple) | preserved | masked PSNR | s/edit |",
        "|---|---|" + "---|" * (len(attrs) + len(objs) + 5),
    ]  # fmt: skip
    for run in report["runs"]:
        s = run["summary"]
        lines.append(
            f"| {run['checkpoint']} | {run['guidance']} | "
            + " | ".join(_fmt(s["tested_by_attribute_type"][a]) for a in attrs) + " | "
            + " | ".join(_fmt(s["simple_by_object_type"][o]) for o in objs)
            + f" | {_fmt(s['tested_correct'])} | {_fmt(s['all_correct_mask_simple'])}"
            f" | {s['preserved_exactly']:.3f} | "
            f"{s['masked_psnr']:.2f} dB | {s['seconds_per_edit']:.3f} |"
        )  # fmt: skip
    lines += ["", "Attribute columns: accuracy on the tested attribute among items testing it; "
              "object-type columns: Mask-Simple all-correct rate (object and tested attribute); "
              "tested attr. (all): the tested attribute right, whatever the object.",
              ""]  # fmt: skip
    for name, sr in report["sr"].items():
        lines.append(
            f"- `{name}` SR stage vs bilinear (masked PSNR from the true 32×32 image, "
            f"{int(sr['items'])} items): SR {sr['psnr_sr']:.2f} dB, bilinear "
            f"{sr['psnr_bilinear']:.2f} dB → pipeline uses "
            f"{'SR' if sr['psnr_sr'] > sr['psnr_bilinear'] else 'bilinear'}."
        )
    for key, cmp in report["im_vs_rm"].items():
        g, measure = key.split(" ", 1)
        lines.append(
            f"- Object vs random masking ({g}), {measure}: IM − RM = "
            f"{cmp['difference']:+.3f}, 95% paired bootstrap interval [{cmp['low']:+.3f}, "
            f"{cmp['high']:+.3f}] (n = {cmp['n']})."
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the block between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else "# Inference results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in old and end in old:
        new = old.split(start)[0] + block + old.split(end, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def write_card(card: Path, body: str) -> None:
    text = card.read_text()
    head = text.split(train.EVAL_MARKER)[0]
    card.write_text(f"{head}{train.EVAL_MARKER}\n\n## Evaluation\n\n{body}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--items", type=int, default=300)
    p.add_argument("--checkpoints", nargs="*", default=["editor-im", "editor-rm"])
    p.add_argument("--guidance", nargs="*", default=["oscillate", "constant:5"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judge-only", action="store_true")
    p.add_argument("--out", default="var/eval/results.json")
    p.add_argument("--results", default=str(RESULTS))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    items = [data.heldout_item(i) for i in range(a.items)]
    report: dict[str, Any] = {
        "items": a.items, "steps": a.steps, "batch": a.batch, "threads": a.threads,
        "judge": judge_accuracy(items), "runs": [], "sr": {}, "im_vs_rm": {},
    }  # fmt: skip
    print(json.dumps(report["judge"], indent=1))
    simple: dict[tuple[str, str], list[bool]] = {}
    tested: dict[tuple[str, str], list[bool]] = {}
    if not a.judge_only:
        for name in a.checkpoints:
            model = pipeline.load(name)
            report["sr"][name] = sr_vs_bilinear(model, a.items)
            for g in a.guidance:
                results, seconds = run_edits(model, items, g, a.steps, a.batch, a.seed)
                summary = summarize(results, seconds)
                report["runs"].append({"checkpoint": name, "guidance": g, "summary": summary})
                simple[(name, g)] = [r.simple_correct for r in results]
                tested[(name, g)] = [r.tested_correct for r in results]
                print(name, g, json.dumps(summary))
        for g in a.guidance:
            if ("editor-im", g) in simple and ("editor-rm", g) in simple:
                im, rm = ("editor-im", g), ("editor-rm", g)
                report["im_vs_rm"][f"{g} tested attribute correct"] = paired_difference(
                    tested[im], tested[rm]
                )
                report["im_vs_rm"][f"{g} Mask-Simple all-correct"] = paired_difference(
                    simple[im], simple[rm]
                )
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    body = markdown(report)
    print(body)
    write_section(Path(a.results), "evaluate", "### Evaluation (`python -m inference.evaluate`)\n\n"
                  + body)  # fmt: skip
    for name in a.checkpoints if not a.judge_only else []:
        card = pipeline.resolve(name).with_suffix(".md")
        if card.exists():
            write_card(card, body)


if __name__ == "__main__":
    main()
