"""How the base stage's held-out quality grows with training steps, for a few recipes.

    python -m bench.recipe_sweep SNAPSHOT.pt [...] --items 100 --device cpu

Training with ``python -m inference.train ... --snapshots 1000,2000,4000`` saves the EMA weights
at those steps; this script edits ``--items`` held-out items with each snapshot (Mask-Simple
prompts, oscillating guidance, 20 DDIM steps, bilinear upsampling) and prints one JSON line per
snapshot with the judge's accuracies. It answers "how many steps does a recipe need to clear the
bars", which decides what fits the CPU training budget. Items are validation items (disjoint from
the held-out ones the model cards report), so a sweep never chooses on the test items.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from inference import cascade, data, evaluate, pipeline, text, window


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("snapshots", nargs="+")
    p.add_argument("--items", type=int, default=100)
    p.add_argument("--guidance", default="oscillate")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--ceiling",
        action="store_true",
        help="judge the second stage alone: each item's true image at the base resolution, "
        "upsampled by the snapshot's SR stage (and by fixed upsamplers, for comparison)",
    )
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    items = [data.validation_item(i) for i in range(a.items)]
    if a.ceiling:
        ceiling(a, items)
        return
    for path in a.snapshots:
        model = pipeline.load(Path(path).resolve(), device=a.device)
        results, seconds, _ = evaluate.run_edits(model, items, a.guidance, 20, 25, seed=0)
        s = evaluate.summarize(results, seconds)
        row = {
            "snapshot": Path(path).name,
            "steps": model.meta.get("steps"),
            "minutes": round(model.meta.get("minutes", 0.0), 2),
            "tested": round(s["tested_correct"], 3),
            "all_correct": round(s["all_correct_mask_simple"], 3),
            "by_attribute": {k: round(v, 3) for k, v in s["tested_by_attribute_type"].items()},
            "object": {k: round(v, 3) for k, v in s["object_by_object_type"].items()},
        }
        print(json.dumps(row), flush=True)


def _summary(
    items: list[data.HeldOutItem], examples: list[data.Example], edited: torch.Tensor
) -> dict[str, Any]:
    """Judge (B, 3, C, C) edited windows in [-1, 1], pasted back into each item's input at the
    benchmark's resolution, the way ``inference.evaluate`` does."""
    pixels = ((edited.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    results = [
        evaluate.judge_edit(it, window.paste(img, it.image, it.mask, ex.box))
        for it, ex, img in zip(items, examples, pixels.numpy(), strict=True)
    ]
    s = evaluate.summarize(results, 0.0)
    return {
        "all_correct": round(s["all_correct_mask_simple"], 3),
        "by_attribute": {k: round(v, 3) for k, v in s["tested_by_attribute_type"].items()},
        "object": round(float(np.mean([r.correct["object"] for r in results])), 3),
    }


def _windows(
    items: list[data.HeldOutItem], pixels: str, config: cascade.CascadeConfig
) -> list[data.Example]:
    return [
        data.window_example(
            getattr(it, pixels), it.mask, it.captions.mask_simple, canvas=config.canvas,
            context=config.context,
        )
        for it in items
    ]  # fmt: skip


@torch.no_grad()
def ceiling(a: argparse.Namespace, items: list[data.HeldOutItem]) -> None:
    config = cascade.CascadeConfig()
    truth_ex, input_ex = _windows(items, "truth", config), _windows(items, "image", config)
    truth, masks, context = data.to_tensors(truth_ex)
    inputs, _, _ = data.to_tensors(input_ex)
    low, _ = cascade.downsample(truth, masks, config.base.resolution)
    fixed = {
        mode: F.interpolate(low, size=truth.shape[-2:], mode=mode)
        for mode in ("nearest", "bilinear", "bicubic")
    }
    for mode, up in fixed.items():
        out = torch.where(masks > 0, up.clamp(-1, 1), inputs)
        print(json.dumps({"upsampler": mode, **_summary(items, input_ex, out)}), flush=True)
    for path in a.snapshots:
        model = pipeline.load(Path(path).resolve(), device=a.device)
        net, dev = model.cascade, model.device
        tokens = net.tokenizer.encode(it.captions.mask_simple for it in items)
        out = torch.zeros_like(truth)
        for i in range(0, len(items), 50):
            sl = slice(i, i + 50)
            gens = [torch.Generator().manual_seed(j) for j in range(i, min(len(items), i + 50))]
            tok = text.Tokenized(tokens.ids[sl].to(dev), tokens.pad[sl].to(dev), tokens.unknown[sl])
            out[sl] = net.super_resolve(
                low[sl].to(dev), inputs[sl].to(dev), masks[sl].to(dev), tok, gens, None,
                context.rows(sl).to(dev),
            ).cpu()  # fmt: skip
        row = {"snapshot": Path(path).name, "steps": model.meta.get("steps")}
        print(json.dumps({**row, **_summary(items, input_ex, out)}), flush=True)


if __name__ == "__main__":
    main()
