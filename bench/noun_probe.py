"""Does a checkpoint's base stage draw what the caption's noun says? A probe without sampling.

For validation items whose target is one common or rare shape, the same scene is rendered with
each of the 10 shape nouns in the target's place (same box, colour, material, size, stretch), and
each version's Mask-Rich caption is given to the base stage with an ``x_t`` that carries no noun:
the mean of the 10 truths at the base resolution, noised to time ``t`` with one shared noise. Per
time and guidance weight it prints

- nearest-truth accuracy: how often the x0 prediction for noun i lies closest (squared error
  inside the mask) to the truth of noun i among the 10 (chance: 0.1);
- spread across nouns: the mean squared deviation of the 10 predictions from their mean inside
  the mask, beside the same spread of the 10 truths (what a model using the noun would show at
  t = 1, where the prediction is the mean given the caption).

For a checkpoint trained with ``--silhouette-weight`` it also probes the base stage's silhouette
head, or its ``--layout-decoder`` (the caption-conditioned prediction of which pixels the object
covers), the same way: how often its map for noun i lies closest (squared error over the window)
to the true silhouette of noun i, and its IoU with that silhouette at a 0.5 threshold.

Usage: ``PYTHONPATH=. python -m bench.noun_probe inference/checkpoints/editor-im.pt --items 40``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict

import torch

from inference import cascade, data, diffusion, world
from inference.unet import Context

SHAPES = [n for kind in ("common", "rare") for n in world.NOUNS[kind]]
KIND = {n: kind for kind in ("common", "rare") for n in world.NOUNS[kind]}
TIMES = (1.0, 0.95, 0.9, 0.8, 0.6)
WEIGHTS = (1.0, 5.0)


def _masked_spread(x: torch.Tensor, m: torch.Tensor) -> float:
    """Mean squared deviation from the mean over the first axis, inside ``m`` (1, 1, r, r)."""
    dev = (x - x.mean(0, keepdim=True)).pow(2).mean(1)  # (n, r, r)
    return float((dev * m[:, 0]).sum() / (m.sum() * x.shape[0]))


def _probe_item(
    net: cascade.Cascade, item: data.HeldOutItem, seed: int
) -> tuple[dict[tuple[float, float], tuple[float, ...]], float]:
    specs = [
        dataclasses.replace(
            item.spec, target=dataclasses.replace(item.spec.target, noun=n, object_type=KIND[n])
        )
        for n in SHAPES
    ]
    captions = [world.captions(s).mask_rich for s in specs]
    canvas, side, r = net.config.canvas, net.config.context, net.config.base.resolution
    inputs = [
        data.window_example(item.image, item.mask, c, canvas=canvas, context=side) for c in captions
    ]
    images, masks, context = data.to_tensors(inputs)
    renders = [world.render(s, canvas=item.image.shape[0]) for s in specs]
    truths = [
        data.window_example(
            rendered.image, item.mask, "", canvas=canvas, context=side,
            silhouette=rendered.target_mask,
        )
        for rendered in renders
    ]  # fmt: skip
    truth, m = cascade.downsample(data.to_tensors(truths)[0], masks[:1], r)  # (n, 3, r, r)
    shares = data.silhouettes(truths)[0]
    shape = torch.nn.functional.avg_pool2d(shares, shares.shape[-1] // r)  # (n, 1, r, r)
    n = len(SHAPES)
    noise = torch.randn((1, 3, r, r), generator=torch.Generator().manual_seed(seed)).expand(
        n, -1, -1, -1
    )
    neutral = truth.mean(0, keepdim=True).expand(n, -1, -1, -1)
    out: dict[tuple[float, float], tuple[float, ...]] = {}
    with torch.no_grad():
        cond, states, pad, pooled = net._context(images, masks, net.tokenizer.encode(captions))
        none = net.layout_input(torch.zeros(n, 1, r, r), torch.zeros(n, dtype=torch.bool))
        denoise = net._denoiser(net.base, cond, states, pad, pooled, none, context)  # no layout
        for t in TIMES:
            tt = torch.full((n,), t)
            a, s = (v[:, None, None, None] for v in diffusion.alpha_sigma(tt))
            x_t = a * neutral + s * noise
            for w in WEIGHTS:
                x0 = diffusion.x0_from_v(x_t, tt, denoise(x_t, tt, w))
                dist = ((x0[:, None] - truth[None]).pow(2).mean(2) * m[:, 0]).sum((-1, -2))
                right = (dist.argmin(1) == torch.arange(n)).float().mean()
                out[(t, w)] = (float(right), _masked_spread(x0, m))
            if net.silhouette is not None or net.decoder is not None:
                out[(t, 0.0)] = _probe_head(net, x_t, tt, cond, states, pad, pooled, context, shape)
    return out, _masked_spread(truth, m)


def _probe_head(
    net: cascade.Cascade,
    x_t: torch.Tensor,
    t: torch.Tensor,
    cond: torch.Tensor,
    states: torch.Tensor,
    pad: torch.Tensor,
    pooled: torch.Tensor,
    context: Context,
    shape: torch.Tensor,
) -> tuple[float, float]:
    """Nearest-truth accuracy and mean IoU (at 0.5) of the silhouette head's maps (cond rows),
    or of the layout decoder's (which sees no x_t: the same at every t)."""
    n = x_t.shape[0]
    if net.decoder is not None:
        masks = cond[:, 3:]  # the condition's mask channel, at the canvas
        guess = torch.sigmoid(net.decoder(states[:n], pad[:n], masks))  # (n, 1, r, r)
    else:
        assert net.silhouette is not None
        none = net.layout_input(torch.zeros_like(shape), torch.zeros(n, dtype=torch.bool))
        h = net.base.features(x_t, t, cond, states[:n], pad[:n], pooled[:n], none, context)
        guess = torch.sigmoid(net.silhouette(h))  # (n, 1, r, r)
    dist = (guess[:, None] - shape[None]).pow(2).flatten(2).sum(-1)  # (n, n)
    right = (dist.argmin(1) == torch.arange(n)).float().mean()
    a, b = guess > 0.5, shape > 0.5
    iou = (a & b).flatten(1).sum(1) / (a | b).flatten(1).sum(1).clamp_min(1)
    return float(right), float(iou.mean())


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--items", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    net, _ = cascade.load_checkpoint(a.checkpoint)
    net.eval()
    results: dict[tuple[float, float], list[tuple[float, ...]]] = defaultdict(list)
    truth_spreads: list[float] = []
    index = 0
    while len(truth_spreads) < a.items:
        item = data.validation_item(index)
        index += 1
        if item.spec.target.object_type == "text" or item.spec.target.count != 1:
            continue
        per_item, truth_spread = _probe_item(net, item, seed=index)
        truth_spreads.append(truth_spread)
        for key, value in per_item.items():
            results[key].append(value)
    print(f"{a.checkpoint}: {a.items} validation items with one shape; {len(SHAPES)} nouns each")
    print(f"spread of the truths across nouns: {sum(truth_spreads) / len(truth_spreads):.4f}")
    print("| t | guidance | nearest-truth accuracy (chance 0.100) | spread across nouns |")
    print("|---|---|---|---|")
    rows = sorted(results.items(), key=lambda kv: (-kv[0][0], kv[0][1]))
    for (t, w), values in rows:
        if w:
            acc = sum(v[0] for v in values) / len(values)
            spread = sum(v[1] for v in values) / len(values)
            print(f"| {t:.2f} | {w:g} | {acc:.3f} | {spread:.4f} |")
    if net.silhouette is None and net.decoder is None:
        return
    source = "silhouette head" if net.decoder is None else "layout decoder"
    print(f"\nthe {source} (caption rows; squared error over the window for nearest-truth)")
    print("| t | nearest-truth silhouette (chance 0.100) | IoU with the true silhouette |")
    print("|---|---|---|")
    for (t, w), values in rows:
        if not w:
            acc, iou = (sum(v[i] for v in values) / len(values) for i in (0, 1))
            print(f"| {t:.2f} | {acc:.3f} | {iou:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
