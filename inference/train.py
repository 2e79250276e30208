"""Train a cascade on scenes of the world and write ``inference/checkpoints/<name>.pt`` + card.

    python -m inference.train --name editor-im --policy object --lr 2e-3 --sr-every 1 \
        --sr-batch 32 --max-minutes 44     (`make train` runs the shipped recipe for both)

Seeded; resumable (the optimizer, EMA and step are saved to ``var/train/<name>.state.pt`` every
few minutes and picked up by the same command); a tqdm bar shows the losses. The run stops at
``--steps`` or when ``--max-minutes`` of training time is spent, whichever comes first, then
writes the EMA weights, checks the SR stage against bilinear upsampling on held-out items, and
writes the model card. A resumed run continues the same schedule but draws other scenes than an
uninterrupted run would (the scene pool is rebuilt from the seed and the step).
"""

from __future__ import annotations

import argparse
import copy
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.stats import binomtest
from tqdm import tqdm

from inference import cascade, data, judge, masking, text, window
from inference.unet import UNetConfig

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
STATE_DIR = Path("var/train")
EVAL_MARKER = "<!-- evaluation -->"


@dataclass
class TrainConfig:
    name: str = "editor-im"  # checkpoint name: <out>/<name>.pt and <name>.md
    policy: str = "object"  # mask policy: "object" (IM) or "random" (IM-RM ablation)
    seed: int = 0  # seeds scenes, masks, captions, noise and initial weights
    batch: int = 16  # examples per base-stage step
    sr_batch: int = 0  # examples per SR-stage step (0: same as batch)
    sr_crop: int = 0  # side of the SR stage's random training crops (0: whole windows)
    lr: float = 1e-3  # AdamW learning rate after warm-up
    warmup: int = 200  # linear warm-up steps
    lr_decay: str = "none"  # "cosine": down to lr_floor × lr over the step or time budget
    lr_floor: float = 0.1  # the cosine schedule's last learning rate, as a share of lr
    steps: int = 100_000  # maximum base-stage steps
    max_minutes: float = 40.0  # training-time budget (the SR check and saving come on top)
    sr_every: int = 4  # one SR step after every this many base steps
    ema: float = 0.999  # EMA decay of the shipped weights (warmed up from 0)
    cond_drop: float = 0.1  # share of captions replaced by the null caption (CFG training)
    pool: int = 2048  # scenes kept rendered
    refresh: int = 2  # new scenes rendered into the pool per step
    save_minutes: float = 4.0  # resumable state every this many minutes
    sr_check: int = 64  # held-out items for the SR-vs-bilinear check
    micro: bool = False  # tiny 16×16 configuration (tests)
    render_size: int = data.RENDER_SIZE  # side of the rendered training scenes (micro: 64)
    base_resolution: int = 0  # side of the base stage's image (0: the default, 32)
    base_channels: tuple[int, ...] = ()  # base U-Net widths per level (empty: the default)
    base_shift: float = 1.0  # the base stage's time shift (diffusion.shift_time; 1: none)
    cross_attention: bool = False  # the base stage reads the caption in a softmax of its own
    text_bag: bool = False  # the pooled caption also carries its mean word embedding
    bf16: bool = False  # run the stages' forward and backward passes under bfloat16 autocast
    silhouette_weight: float = 0.0  # the base stage's auxiliary silhouette loss (0: none)
    layout: bool = False  # the base stage takes a silhouette input (cascade.CascadeConfig.layout)
    layout_decoder: bool = False  # that layout from a decoder of its own (inference.layout_decoder)
    sr_channels: tuple[int, ...] = ()  # SR U-Net widths per level (empty: the default)
    sr_only: bool = False  # train the SR stage alone (recipe sweeps of the second stage)
    device: str = "cpu"  # where training runs (the shipped checkpoints: this machine's CPU)
    snapshots: tuple[int, ...] = ()  # also save the EMA weights at these steps (recipe sweeps)
    vocab_scenes: int = 3000  # scenes sampled to build the vocabulary
    out: str = str(CHECKPOINTS)  # directory of the checkpoint and card
    state_dir: str = str(STATE_DIR)  # directory of the resumable state
    command: str = field(default="", repr=False)  # the command line, for the card


def micro_config(vocab_size: int) -> cascade.CascadeConfig:
    """A configuration small enough to train for a few seconds in tests (16×16 window)."""
    tc = text.TextConfig(vocab_size=vocab_size, width=16, layers=1, heads=2)
    small: dict[str, Any] = {
        "cond_channels": 4,
        "heads": 2,
        "text_width": 16,
        "emb_dim": 16,
        "groups": 4,
    }
    base = UNetConfig(
        resolution=8, canvas=16, channels=(8, 16), attention=(4,), context=8, context_width=8,
        **small,
    )  # fmt: skip
    sr = UNetConfig(
        resolution=16, canvas=16, extra_channels=3, channels=(8, 16), attention=(8,), context=8,
        context_width=8, **small,
    )  # fmt: skip
    return cascade.CascadeConfig(canvas=16, context=8, text=tc, base=base, sr=sr)


def build_model(cfg: TrainConfig) -> cascade.Cascade:
    vocab = text.world_vocabulary(cfg.vocab_scenes)
    if cfg.micro:
        config = micro_config(len(vocab))
    else:
        config = cascade.CascadeConfig()
        config.text.vocab_size = len(vocab)
        if cfg.base_channels:
            config.base.channels = tuple(cfg.base_channels)
        if cfg.sr_channels:
            config.sr.channels = tuple(cfg.sr_channels)
    if cfg.base_resolution < 0:
        raise ValueError(
            f"--base-resolution must be 0 (the default) or positive, got {cfg.base_resolution}"
        )
    if cfg.base_resolution:
        config.base.resolution = cfg.base_resolution
    if not 0 < cfg.base_shift <= 100:
        raise ValueError(f"--base-shift must be in (0, 100] (1: no shift), got {cfg.base_shift}")
    config.base_shift = cfg.base_shift
    config.base.cross_attention = cfg.cross_attention
    config.text.bag = cfg.text_bag
    if not 0 <= cfg.silhouette_weight <= 100:
        raise ValueError(
            f"--silhouette-weight must be in [0, 100] (0: none), got {cfg.silhouette_weight}"
        )
    config.silhouette_weight = cfg.silhouette_weight
    config.layout, config.layout_decoder = cfg.layout, cfg.layout_decoder
    config.base.extra_channels = cascade.LAYOUT_CHANNELS if cfg.layout else 0
    torch.manual_seed(cfg.seed)
    return cascade.Cascade(config, text.Tokenizer(vocab, config.text.max_len))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1.0 - decay)


LR_DECAYS = ("none", "cosine")


def _lr(cfg: TrainConfig, step: int, seconds: float = 0.0) -> float:
    """Linear warm-up, then constant or a cosine decay over whichever budget runs out first.

    The runs are time-limited, so the cosine's progress is the larger of the step share and
    the share of the training minutes spent (both kept over resumed runs).
    """
    lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
    if cfg.lr_decay == "none":
        return lr
    progress = min(1.0, max(step / cfg.steps, seconds / (cfg.max_minutes * 60)))
    return lr * (cfg.lr_floor + (1 - cfg.lr_floor) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class State:
    step: int = 0  # base-stage steps done
    sr_steps: int = 0  # SR-stage steps done
    seconds: float = 0.0  # training time spent so far (over all resumed runs)
    base_loss: float = math.nan  # running mean of the base loss
    sr_loss: float = math.nan  # running mean of the SR loss
    best_base_loss: float = math.nan  # lowest running base loss once it has settled
    best_sr_loss: float = math.nan  # lowest running SR loss once it has settled


def _threads(n: int) -> str:
    return "1 thread" if n == 1 else f"{n} threads"


def _running(old: float, new: float, rate: float = 0.02) -> float:
    return new if math.isnan(old) else (1 - rate) * old + rate * new


DIVERGED = 2.0  # a running loss this many times its settled best means the run has diverged
SETTLE_STEPS = 100  # steps after the warm-up before the best losses are tracked


class TrainingDiverged(ValueError):
    """The running loss of a stage blew up; nothing is saved from the diverged weights."""


def check_divergence(cfg: TrainConfig, state: State) -> None:
    """Track each stage's best running loss once settled; raise :class:`TrainingDiverged` when
    one climbs past ``DIVERGED`` × its best (a checkpoint of a blown-up run is never written,
    and the resumable state keeps its last save from before)."""
    if state.step < cfg.warmup + SETTLE_STEPS:
        return
    for stage in ("base", "sr"):
        loss, best = getattr(state, f"{stage}_loss"), getattr(state, f"best_{stage}_loss")
        if math.isnan(loss):
            continue
        if not math.isnan(best) and loss > DIVERGED * best:
            raise TrainingDiverged(
                f"training diverged at step {state.step}: the running {stage} loss {loss:.4f} is "
                f"over {DIVERGED:g}x its best {best:.4f}; no checkpoint was written, and the "
                f"state in {cfg.state_dir} holds the last save before it: resume with a lower "
                "--lr (e.g. half)"
            )
        setattr(state, f"best_{stage}_loss", loss if math.isnan(best) else min(best, loss))


def train(cfg: TrainConfig, *, progress: bool = True) -> Path:
    """Run (or resume) training; return the checkpoint path."""
    device = torch.device(cfg.device)
    model = build_model(cfg).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    state = State()
    state_path = Path(cfg.state_dir) / f"{cfg.name}.state.pt"
    if state_path.exists():
        blob = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(blob["model"])
        ema.load_state_dict(blob["ema"])
        opt.load_state_dict(blob["opt"])
        state = State(**blob["state"])
    policy = masking.MaskPolicy(cfg.policy)
    canvas = model.config.canvas
    _check_config(cfg, canvas, len(model.config.sr.channels))
    rng = np.random.default_rng([cfg.seed, state.step])
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + state.step)
    pool = data.ScenePool(
        min(cfg.pool, 64) if cfg.micro else cfg.pool,
        canvas,
        rng,
        context=model.config.context,
        render_size=64 if cfg.micro else cfg.render_size,
    )
    started, last_save = time.monotonic(), time.monotonic()
    spent = state.seconds
    bar = tqdm(total=cfg.steps, initial=state.step, disable=not progress, dynamic_ncols=True)
    model.train()
    while state.step < cfg.steps and spent < cfg.max_minutes * 60:
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, state.step, spent)
        if cfg.sr_only:
            stages = ["sr"]
        else:
            stages = ["base"] + (["sr"] if (state.step + 1) % cfg.sr_every == 0 else [])
        for stage in stages:
            loss = _stage_loss(cfg, model, stage, pool.examples(_batch(cfg, stage), policy), gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if stage == "base":
                state.base_loss = _running(state.base_loss, loss.item())
            else:
                state.sr_loss = _running(state.sr_loss, loss.item())
                state.sr_steps += 1
        ema_update(ema, model, min(cfg.ema, (1 + state.step) / (10 + state.step)))
        pool.refresh(cfg.refresh)
        state.step += 1
        check_divergence(cfg, state)
        spent = state.seconds + time.monotonic() - started
        bar.update(1)
        bar.set_postfix(
            base=f"{state.base_loss:.4f}", sr=f"{state.sr_loss:.4f}", min=f"{spent / 60:.1f}"
        )
        if state.step in cfg.snapshots:
            snapshot = Path(cfg.state_dir) / f"{cfg.name}-{state.step}.pt"
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            meta = {"name": cfg.name, "policy": cfg.policy, "steps": state.step, "use_sr": False}
            cascade.save_checkpoint(snapshot, ema, {**meta, "minutes": spent / 60})
        if time.monotonic() - last_save > cfg.save_minutes * 60:
            _save_state(state_path, model, ema, opt, state, spent)
            last_save = time.monotonic()
    bar.close()
    state.seconds = spent
    _save_state(state_path, model, ema, opt, state, spent)
    return finish(cfg, ema.to("cpu"), state)


def _batch(cfg: TrainConfig, stage: str) -> int:
    return cfg.sr_batch if stage == "sr" and cfg.sr_batch else cfg.batch


def _stage_loss(
    cfg: TrainConfig,
    model: cascade.Cascade,
    stage: str,
    examples: list[data.Example],
    gen: torch.Generator,
) -> torch.Tensor:
    """One stage's training loss on ``examples``, captions dropped for CFG at ``cond_drop``."""
    device = torch.device(cfg.device)
    images, masks, context = data.to_tensors(examples)
    images, masks, context = images.to(device), masks.to(device), context.to(device)
    tokens = model.tokenizer.encode(e.caption for e in examples)
    keep = torch.rand(len(examples), generator=gen) >= cfg.cond_drop
    tokens = text.drop_captions(tokens, keep, model.tokenizer)
    tokens = text.Tokenized(tokens.ids.to(device), tokens.pad.to(device), tokens.unknown)
    shares, valid = data.silhouettes(examples)
    silhouettes = (shares.to(device), (valid & keep).to(device))  # a dropped caption names none
    given = None  # with a layout input: which examples get their true silhouette as input
    if model.config.layout:
        given = valid & (torch.rand(len(examples), generator=gen) < cascade.LAYOUT_GIVEN)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        if stage == "base":
            loss = model.base_loss(images, masks, tokens, gen, context, silhouettes, given)
        else:
            loss = model.sr_loss(images, masks, tokens, gen, context, crop=cfg.sr_crop)
    return loss.float()


def _check_config(cfg: TrainConfig, canvas: int, levels: int) -> None:
    if cfg.policy not in masking.POLICIES:
        raise ValueError(f"policy must be one of {masking.POLICIES}, got {cfg.policy!r}")
    if cfg.lr_decay not in LR_DECAYS or not 0.0 <= cfg.lr_floor <= 1.0:
        raise ValueError(
            f"--lr-decay must be one of {LR_DECAYS} and --lr-floor within 0..1, "
            f"got {cfg.lr_decay!r} and {cfg.lr_floor}"
        )
    crop = cfg.sr_crop
    if crop and not (0 < crop <= canvas and crop % 2 ** (levels - 1) == 0):
        raise ValueError(
            f"--sr-crop must be 0 (whole windows) or a multiple of {2 ** (levels - 1)} up to the "
            f"canvas {canvas}, got {crop}"
        )


def _save_state(
    path: Path,
    model: torch.nn.Module,
    ema: torch.nn.Module,
    opt: torch.optim.Optimizer,
    state: State,
    spent: float,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot = {**asdict(state), "seconds": spent}
    blob = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict()}
    tmp = path.with_suffix(".tmp")
    torch.save({**blob, "state": snapshot}, tmp)
    tmp.replace(path)  # atomic: a kill mid-save leaves the previous state intact


def masked_psnr(a: torch.Tensor, b: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """PSNR (dB, images in [-1, 1] → 8-bit scale) inside ``masks`` (B, 1, H, W), per item."""
    se = ((a - b) * 127.5).pow(2).mean(dim=1, keepdim=True) * masks
    mse = se.flatten(1).sum(1) / masks.flatten(1).sum(1).clamp_min(1)
    return 10 * torch.log10(255.0**2 / mse.clamp_min(1e-10))


@torch.no_grad()
def sr_check(model: cascade.Cascade, items: int, seed: int) -> dict[str, float]:
    """The SR stage vs bilinear upsampling, both from the ground truth's own low-resolution
    version, on the edit windows of validation items (disjoint from the evaluation's held-out
    items, since this check chooses the pipeline's upsampler): masked-region PSNR, and what the
    judge finds in each pasted back at the benchmark's resolution (object right, Mask-Simple
    all-correct). :func:`prefers_sr` decides from these."""
    canvas, r = model.config.canvas, model.config.base.resolution
    held = [data.validation_item(i) for i in range(items)]
    ex = [
        data.window_example(
            h.truth, h.mask, h.captions.mask_rich, canvas=canvas, context=model.config.context
        )
        for h in held
    ]
    truth, masks, context = data.to_tensors(ex)
    tokens = model.tokenizer.encode(e.caption for e in ex)
    low, _ = cascade.downsample(truth, masks, r)
    bilinear = cascade.upsample(low, canvas)
    sr = torch.zeros_like(truth)
    for i in range(0, items, 16):
        sl = slice(i, i + 16)
        gens = [torch.Generator().manual_seed(seed + j) for j in range(i, min(items, i + 16))]
        sr[sl] = model.super_resolve(
            low[sl], truth[sl], masks[sl], tokens_slice(tokens, sl), gens, None, context.rows(sl)
        )
    psnr_sr = masked_psnr(sr, truth, masks).mean().item()
    psnr_bilinear = masked_psnr(bilinear, truth, masks).mean().item()
    check = {"items": float(items), "psnr_sr": psnr_sr, "psnr_bilinear": psnr_bilinear}
    right = {}
    for name, up in (("sr", sr), ("bilinear", bilinear)):
        right[name], check[f"all_correct_{name}"] = _judged(held, ex, up)
        check[f"object_{name}"] = float(right[name].mean())
    # The items on which the two differ (the paired test of prefers_sr).
    check["object_sr_only"] = float((right["sr"] & ~right["bilinear"]).sum())
    check["object_bilinear_only"] = float((right["bilinear"] & ~right["sr"]).sum())
    return check


def _judged(
    held: list[data.HeldOutItem], ex: list[data.Example], up: torch.Tensor
) -> tuple[npt.NDArray[np.bool_], float]:
    """(object right per item, Mask-Simple all-correct rate) of windows ``up`` pasted into each
    item's input through the mask, as the pipeline pastes, and judged at the benchmark's
    resolution."""
    pixels = ((up.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    verdicts = [
        judge.judge(window.paste(img, h.image, h.mask, e.box), h.mask, h.target)
        for h, e, img in zip(held, ex, pixels, strict=True)
    ]
    obj = np.array([bool(v.correct["object"]) for v in verdicts])
    return obj, float(np.mean([v.simple_correct for v in verdicts]))


#: The paired test's level: the judge must tell the two apart on the check's items.
PREFER_ALPHA = 0.05


def prefers_sr(check: dict[str, float]) -> bool:
    """Whether the pipeline should use the SR stage. What the judge sees decides when it tells
    the two apart: the items where only one of them draws the object right, by an exact
    two-sided sign test at :data:`PREFER_ALPHA` (so a few lucky items of an untrained stage do
    not choose it); otherwise masked PSNR decides, as it did for checks made before the judged
    figures existed. PSNR alone chose bilinear for an SR stage that doubled the object accuracy
    the judge finds (bench/RESULTS.md)."""
    only_sr, only_bilinear = check.get("object_sr_only"), check.get("object_bilinear_only")
    if only_sr is not None and only_bilinear is not None and only_sr + only_bilinear > 0:
        differ = int(only_sr + only_bilinear)
        if binomtest(int(only_sr), differ, 0.5).pvalue < PREFER_ALPHA:
            return only_sr > only_bilinear
    return check["psnr_sr"] > check["psnr_bilinear"]


def tokens_slice(tokens: text.Tokenized, sl: slice) -> text.Tokenized:
    return text.Tokenized(tokens.ids[sl], tokens.pad[sl], tokens.unknown[sl])


def finish(cfg: TrainConfig, ema: cascade.Cascade, state: State) -> Path:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    check = sr_check(ema, cfg.sr_check, cfg.seed)
    use_sr = state.sr_steps > 0 and prefers_sr(check)  # an untrained SR stage: never
    meta: dict[str, Any] = {
        "name": cfg.name,
        "policy": cfg.policy,
        "steps": state.step,
        "sr_steps": state.sr_steps,
        "minutes": round(state.seconds / 60, 2),
        "base_loss": state.base_loss,
        "sr_loss": state.sr_loss,
        "use_sr": use_sr,
        "sr_check": check,
        "command": cfg.command,
        "train_config": {k: v for k, v in asdict(cfg).items() if k != "command"},
    }
    path = out / f"{cfg.name}.pt"
    cascade.save_checkpoint(path, ema, meta)
    write_card(out / f"{cfg.name}.md", meta, ema, path)
    return path


def write_card(path: Path, meta: dict[str, Any], model: cascade.Cascade, weights: Path) -> None:
    """The model card; an existing card's evaluation section (after the marker) is kept."""
    kept = ""
    if path.exists() and EVAL_MARKER in path.read_text():
        kept = path.read_text().split(EVAL_MARKER, 1)[1]
    params = sum(p.numel() for p in model.parameters())
    check = meta["sr_check"]
    batch = meta["train_config"]["batch"]
    sr_batch = meta["train_config"].get("sr_batch") or batch
    sr_crop = meta["train_config"].get("sr_crop") or 0
    sr_examples = f"SR {sr_batch}" + (f" crops of {sr_crop}×{sr_crop}" if sr_crop else "")
    sr_line = (
        "the SR stage is used"
        if meta["use_sr"]
        else "the SR stage did NOT beat bilinear upsampling, so the pipeline uses bilinear"
    )
    lines = [
        f"# Model card: `{meta['name']}`",
        "",
        "A two-stage text-guided inpainting cascade in the manner of Imagen Editor (base U-Net "
        f"{model.config.base.resolution}×{model.config.base.resolution}, SR U-Net to "
        f"{model.config.canvas}×{model.config.canvas}, v-prediction, DDIM, classifier-free "
        "guidance"
        + (
            f", base stage times shifted ×{model.config.base_shift:g} toward noise"
            if model.config.base_shift != 1
            else ""
        )
        + "), trained from scratch on scenes of `inference/world.py`. Both stages work on "
        f"the edit window (a square of {window.MARGIN}× the mask's bounding box, cut from the "
        "input at full resolution and brought to the canvas) with a global context input (the "
        f"whole image at {model.config.context}×{model.config.context} and the window's place "
        "in it); the result is pasted back through the mask at the input's resolution."
        + cascade.layout_note(model.config),
        "",
        f"- Mask policy: `{meta['policy']}` "
        + (
            "(object masks from world boxes, 20% random boxes/strokes)"
            if meta["policy"] == "object"
            else "(random boxes and brush strokes only: the IM-RM ablation)"
        ),
        f"- Training data: world seeds drawn below {data.HELDOUT_BASE} (held-out items use "
        f"{data.HELDOUT_BASE} + i and are never trained on)",
        f"- Command: `{meta['command']}`",
        f"- Steps: {meta['steps']} base + {meta['sr_steps']} SR, batch {batch} ({sr_examples}), "
        f"wall time {meta['minutes']:.1f} min (training loop, "
        f"this 2-core machine, {_threads(torch.get_num_threads())})",
        f"- Final running losses: base {meta['base_loss']:.4f}"
        + (
            f" (denoising + {model.config.silhouette_weight:g} × silhouette BCE)"
            if model.config.silhouette_weight
            else ""
        )
        + f", SR {meta['sr_loss']:.4f}",
        f"- Parameters: {params / 1e6:.2f} M; weights file {weights.stat().st_size / 1e6:.1f} MB "
        "(EMA weights, float32)",
        f"- SR vs bilinear on {int(check['items'])} validation items, from the ground truth's "
        f"own low-res version: masked-region PSNR SR {check['psnr_sr']:.2f} dB, bilinear "
        f"{check['psnr_bilinear']:.2f} dB"
        + (
            f"; judged after paste-back, object right SR {check['object_sr']:.3f}, bilinear "
            f"{check['object_bilinear']:.3f}, all-correct SR {check['all_correct_sr']:.3f}, "
            f"bilinear {check['all_correct_bilinear']:.3f} (object right by one only: SR "
            f"{check.get('object_sr_only', 0):.0f} items, bilinear "
            f"{check.get('object_bilinear_only', 0):.0f})"
            if "object_sr" in check
            else ""
        )
        + f" — {sr_line}.",
        "",
        EVAL_MARKER,
    ]
    path.write_text(
        "\n".join(lines)
        + (kept if kept else "\n\n(No evaluation yet: run `python -m inference.evaluate`.)\n")
    )


_FLAGS = {  # TrainConfig's on/off switches and their help
    "micro": "tiny 16×16 configuration",
    "sr_only": "train the SR stage alone",
    "cross_attention": "base stage: caption tokens in a softmax of their own (default: joint)",
    "text_bag": "the pooled caption also carries the mean of its word embeddings",
    "bf16": "bfloat16 autocast in training",
    "layout": "base stage: a silhouette input, drawn first by the silhouette head when sampling",
    "layout_decoder": "with --layout: draw it with a layout decoder instead of the head",
}


def parse_args(argv: list[str]) -> TrainConfig:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    defaults = TrainConfig()
    p.add_argument("--name", default=defaults.name)
    p.add_argument("--policy", choices=masking.POLICIES, default=defaults.policy)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--batch", type=int, default=defaults.batch)
    p.add_argument("--sr-batch", type=int, default=defaults.sr_batch)
    p.add_argument(
        "--sr-crop", type=int, default=defaults.sr_crop, help="SR training crop side (0: whole)"
    )
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--lr-decay", choices=LR_DECAYS, default=defaults.lr_decay)
    p.add_argument("--lr-floor", type=float, default=defaults.lr_floor)
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--max-minutes", type=float, default=defaults.max_minutes)
    p.add_argument("--sr-every", type=int, default=defaults.sr_every)
    p.add_argument("--save-minutes", type=float, default=defaults.save_minutes)
    p.add_argument("--sr-check", type=int, default=defaults.sr_check)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument(
        "--base-resolution", type=int, default=0, help="base stage side, e.g. 64 (0: 32)"
    )
    p.add_argument("--base-channels", default="", help="base U-Net widths, e.g. 32,64,96")
    p.add_argument(
        "--base-shift", type=float, default=1.0, help="base stage time shift toward noise (1: none)"
    )
    p.add_argument("--sr-channels", default="", help="SR U-Net widths, e.g. 16,32,64")
    for dest, help_ in _FLAGS.items():
        p.add_argument("--" + dest.replace("_", "-"), action="store_true", help=help_)
    p.add_argument(
        "--silhouette-weight",
        type=float,
        default=0.0,
        help="base stage: weight of an auxiliary loss on the captioned object's silhouette",
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--snapshots", default="", help="steps at which to also save EMA weights")
    p.add_argument("--out", default=defaults.out)
    p.add_argument("--state-dir", default=defaults.state_dir)
    a = vars(p.parse_args(argv))
    torch.set_num_threads(a.pop("threads"))
    for key in ("base_channels", "sr_channels", "snapshots"):  # comma-separated integers
        a[key] = tuple(int(c) for c in a[key].split(",") if c)
    return TrainConfig(**a, command="python -m inference.train " + shlex.join(argv))


def main(argv: list[str] | None = None) -> None:
    try:
        path = train(parse_args(sys.argv[1:] if argv is None else argv))
    except ValueError as e:  # a configuration the stages cannot take: say so, no traceback
        raise SystemExit(f"inference.train: {e}") from None
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
