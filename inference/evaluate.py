"""Evaluate the shipped checkpoints on held-out scenes with the automatic judge.

    python -m inference.evaluate                      # 300 items, both checkpoints, 2 schedules
    python -m inference.evaluate --judge-only         # the judge's accuracy on ground truth
    python -m inference.evaluate --validation         # choose settings on validation items

Items are at the benchmark's resolution (256×256) and the judge judges the final edit there.
Beside the models it reports the pipeline's *ceiling*: the ground truth passed through the edit
window at the canvas size and pasted back, judged the same way (no model can beat it).
``--validation`` runs on validation items (disjoint from the held-out ones) and writes nothing
but ``var/eval/validation.json``: settings (guidance, SR steps) are chosen there, never on the
held-out items. A contact sheet of the first 16 held-out items (input with the mask outlined,
reference, each checkpoint's edit) goes to ``inference/checkpoints/contact-sheet.png``.

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
from PIL import Image
from scipy import ndimage
from tqdm import tqdm

from inference import data, judge, pipeline, train, window, world

RESULTS = Path("bench/RESULTS.md")
CONTACT_SHEET = pipeline.CHECKPOINTS / "contact-sheet.png"


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


def ceiling(
    items: list[data.HeldOutItem], canvas: int, *, margin: float | None = window.MARGIN
) -> dict[str, Any]:
    """The judge on each item's ground truth passed through the pipeline's resolution: cut to
    the edit window (``margin`` × the mask's box; None: the whole image), brought to ``canvas``
    and back (Lanczos down, bicubic up, as the pipeline does), pasted through the mask. The best
    any model of this design can score."""
    results = []
    for it in items:
        h, w = it.mask.shape
        box = (
            window.Box(0, 0, w, h) if margin is None else window.edit_window(it.mask, margin=margin)
        )
        small, _ = window.cut(it.truth, it.mask, box, canvas)
        results.append(judge_edit(it, window.paste(small, it.image, it.mask, box)))
    s = summarize(results, 0.0)
    return {"canvas": canvas, "margin": margin, **s}


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
    *,
    sr_steps: int = pipeline.SR_STEPS,
) -> tuple[list[ItemResult], float, list[np.ndarray[Any, Any]]]:
    """Edit every item with its Mask-Simple prompt; return verdicts, seconds per edit and the
    edits."""
    out: list[ItemResult] = []
    edits: list[np.ndarray[Any, Any]] = []
    seconds = 0.0
    for start in tqdm(range(0, len(items), batch), desc=f"{model.name} {guidance}", leave=False):
        chunk = items[start : start + batch]
        began = time.perf_counter()
        results = pipeline.inpaint(
            [it.image for it in chunk], [it.mask for it in chunk],
            [it.captions.mask_simple for it in chunk], model=model, guidance=guidance,
            steps=steps, seed=[seed + it.seed - data.HELDOUT_BASE for it in chunk], batch=batch,
            sr_steps=sr_steps,
        )  # fmt: skip
        seconds += time.perf_counter() - began
        for it, r in zip(chunk, results, strict=True):
            edits.append(np.asarray(r.image))
            out.append(judge_edit(it, edits[-1]))
    return out, seconds / len(items), edits


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
        "object_correct": float(np.mean([r.correct["object"] for r in results])),
        "color_correct": float(np.mean([r.correct["color"] for r in results])),
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
    return {**train.sr_check(model.cascade, items, seed=0), "used": float(model.use_sr)}


# --- Contact sheet ---------------------------------------------------------------------------


def _outlined(image: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The image with the mask's outline drawn two-tone (white inside, black outside), visible
    on any background."""
    out = image.copy()
    inner = mask & ~ndimage.binary_erosion(mask, iterations=2)
    outer = ndimage.binary_dilation(mask, iterations=2) & ~mask
    out[inner], out[outer] = 255, 0
    return out


def contact_sheet(
    items: list[data.HeldOutItem], edits: dict[str, list[np.ndarray[Any, Any]]], tile: int = 128
) -> Image.Image:
    """One row per item: input with the mask outlined, reference, then each model's edit."""
    columns = 2 + len(edits)
    sheet = Image.new("RGB", (columns * tile, len(items) * tile), "white")
    for row, it in enumerate(items):
        tiles = [_outlined(it.image, it.mask), it.truth, *(e[row] for e in edits.values())]
        for col, pixels in enumerate(tiles):
            thumb = Image.fromarray(pixels).resize((tile, tile), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (col * tile, row * tile))
    return sheet


# --- Reports ---------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"


def markdown(report: dict[str, Any]) -> str:
    first = data.HELDOUT_BASE + (data.VALIDATION_START if report.get("validation") else 0)
    kind = "Validation items" if report.get("validation") else "Held-out items"
    lines = [f"{kind}: {report['items']} (world seeds {first} + i), "
             f"Mask-Simple prompts asking for a different object than the one under the mask; "
             f"{report['steps']} base DDIM steps, batch {report['batch']}, "
             f"{report['threads']} CPU threads.", ""]  # fmt: skip
    ja = report["judge"]
    size = report.get("size", data.RENDER_SIZE)
    lines += [
        f"**Judge accuracy on ground-truth renders** ({ja['items']} {kind.lower()}, "
        f"{size}×{size}, the benchmark's resolution): "
        + ", ".join(f"{k} {v:.3f}" for k, v in ja["per_attribute"].items())
        + f"; tested attribute {ja['tested']:.3f}.",
        "",
    ]
    if "ceiling" in report:
        c = report["ceiling"]
        lines += [
            f"**Ceiling of the design** (the ground truth through a {c['margin']}× edit window "
            f"at {c['canvas']}×{c['canvas']} and pasted back, judged the same way): object "
            f"{c['object_correct']:.3f}, colour {c['color_correct']:.3f}, tested attribute "
            f"{c['tested_correct']:.3f}, all-correct (Mask-Simple) "
            f"{c['all_correct_mask_simple']:.3f}; by tested attribute: "
            + ", ".join(f"{a} {_fmt(v)}" for a, v in c["tested_by_attribute_type"].items())
            + ".",
            "",
        ]
    if not report["runs"]:
        return "\n".join(lines)
    attrs, objs = world.ATTRIBUTE_TYPES, world.OBJECT_TYPES
    lines += [
        "| checkpoint | guidance | object | colour (all) | " + " | ".join(attrs) + " | "
        + " | ".join(objs)
        + " | tested attr. (all) | all-correct (Mask-Simple) | preserved | masked PSNR | s/edit |",
        "|---|---|---|---|" + "---|" * (len(attrs) + len(objs) + 5),
    ]  # fmt: skip
    for run in report["runs"]:
        s = run["summary"]
        lines.append(
            f"| {run['checkpoint']} | {run['guidance']} | {_fmt(s['object_correct'])} | "
            f"{_fmt(s['color_correct'])} | "
            + " | ".join(_fmt(s["tested_by_attribute_type"][a]) for a in attrs) + " | "
            + " | ".join(_fmt(s["simple_by_object_type"][o]) for o in objs)
            + f" | {_fmt(s['tested_correct'])} | {_fmt(s['all_correct_mask_simple'])}"
            f" | {s['preserved_exactly']:.3f} | "
            f"{s['masked_psnr']:.2f} dB | {s['seconds_per_edit']:.3f} |"
        )  # fmt: skip
    lines += ["", "object: the asked-for object drawn (all items); colour (all): its colour right "
              "(all items); attribute columns: accuracy on the tested attribute among items "
              "testing it; object-type columns: Mask-Simple all-correct rate (object and tested "
              "attribute); tested attr. (all): the tested attribute right, whatever the object.",
              ""]  # fmt: skip
    for run in report["runs"]:
        obj = run["summary"]["object_by_object_type"]
        lines.append(
            f"- `{run['checkpoint']}` {run['guidance']}: object right by object type: "
            + ", ".join(f"{o} {_fmt(obj[o])}" for o in objs) + "."
        )  # fmt: skip
    for name, sr in report["sr"].items():
        lines.append(
            f"- `{name}` SR stage vs bilinear (masked PSNR in the edit window, from the true "
            "low-res window, validation items, "
            f"{int(sr['items'])} items): SR {sr['psnr_sr']:.2f} dB, bilinear "
            f"{sr['psnr_bilinear']:.2f} dB; judged after paste-back, object right SR "
            f"{sr['object_sr']:.3f}, bilinear {sr['object_bilinear']:.3f}, all-correct SR "
            f"{sr['all_correct_sr']:.3f}, bilinear {sr['all_correct_bilinear']:.3f} → the check "
            f"prefers {'SR' if train.prefers_sr(sr) else 'bilinear'}; the checkpoint uses "
            f"{'SR' if sr['used'] else 'bilinear'}."
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
    sheet = (
        f"Contact sheet of the first 16 held-out items: [{CONTACT_SHEET.name}]"
        f"({CONTACT_SHEET.name})"
        " (columns: input with the mask outlined, reference, editor-im, editor-rm).\n\n"
    )
    card.write_text(f"{head}{train.EVAL_MARKER}\n\n## Evaluation\n\n{sheet}{body}")


def _compare(report: dict[str, Any], outcomes: dict[tuple[str, str], list[ItemResult]]) -> None:
    """IM − RM on the same items, per guidance schedule, with paired bootstrap intervals."""
    for (name, g), im in outcomes.items():
        rm = outcomes.get(("editor-rm", g))
        if name != "editor-im" or rm is None:
            continue
        report["im_vs_rm"][f"{g} tested attribute correct"] = paired_difference(
            [r.tested_correct for r in im], [r.tested_correct for r in rm]
        )
        report["im_vs_rm"][f"{g} Mask-Simple all-correct"] = paired_difference(
            [r.simple_correct for r in im], [r.simple_correct for r in rm]
        )


def evaluate_models(a: argparse.Namespace, items: list[data.HeldOutItem]) -> dict[str, Any]:
    """Every checkpoint × guidance schedule on ``items``; the report and the contact sheet."""
    report: dict[str, Any] = {
        "items": len(items), "steps": a.steps, "sr_steps": a.sr_steps, "batch": a.batch,
        "threads": a.threads, "size": data.RENDER_SIZE, "validation": a.validation,
        "judge": judge_accuracy(items), "runs": [], "sr": {}, "im_vs_rm": {},
    }  # fmt: skip
    print(json.dumps(report["judge"], indent=1))
    if a.judge_only:
        return report
    outcomes: dict[tuple[str, str], list[ItemResult]] = {}
    sheet: dict[str, list[np.ndarray[Any, Any]]] = {}
    for name in a.checkpoints:
        model = pipeline.load(name)
        report.setdefault("ceiling", ceiling(items, model.cascade.config.canvas))
        report["sr"][name] = sr_vs_bilinear(model, min(len(items), 64))
        for g in a.guidance:
            results, seconds, edits = run_edits(
                model, items, g, a.steps, a.batch, a.seed, sr_steps=a.sr_steps
            )
            summary = summarize(results, seconds)
            report["runs"].append({"checkpoint": name, "guidance": g, "summary": summary})
            outcomes[(name, g)] = results
            sheet.setdefault(name, edits[:16])  # the first schedule's edits
            print(name, g, json.dumps(summary))
    _compare(report, outcomes)
    if not a.validation and sheet:
        contact_sheet(items[:16], sheet).save(CONTACT_SHEET, optimize=True)
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--items", type=int, default=300)
    p.add_argument("--checkpoints", nargs="*", default=["editor-im", "editor-rm"])
    p.add_argument("--guidance", nargs="*", default=["oscillate", "constant:5"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--sr-steps", type=int, default=pipeline.SR_STEPS)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judge-only", action="store_true")
    p.add_argument("--validation", action="store_true", help="validation items; writes no card")
    p.add_argument("--out", default="")
    p.add_argument("--results", default=str(RESULTS))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    pick = data.validation_item if a.validation else data.heldout_item
    items = [pick(i) for i in range(a.items)]
    report = evaluate_models(a, items)
    default_out = "var/eval/validation.json" if a.validation else "var/eval/results.json"
    out = Path(a.out or default_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    body = markdown(report)
    print(body)
    if a.validation:
        return
    write_section(Path(a.results), "evaluate", "### Evaluation (`python -m inference.evaluate`)\n\n"
                  + body)  # fmt: skip
    for name in a.checkpoints if not a.judge_only else []:
        card = pipeline.resolve(name).with_suffix(".md")
        if card.exists():
            write_card(card, body)


if __name__ == "__main__":
    main()
