"""The two stages together: text encoder, base U-Net (32×32 by default, 64×64 in
the shipped checkpoints), super-resolution U-Net (→ 128×128).

Both stages work on the *edit window* (:mod:`inference.window`): the square of the input around
the mask, brought to the canvas (128×128 by default), so the target object fills a useful share of
the base stage. Each stage is conditioned on the window at the canvas size through its learned
strided convolution, and on the window's global context (the whole image downsampled and where
the window lies in it).

Tensors here are float32 in [-1, 1] (images) or {0, 1} (masks), NCHW, at the canvas size.
:func:`inference.pipeline.inpaint` is the public entry point that turns PIL images or arrays of
any size into windows, these tensors and back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from inference import diffusion, layout_decoder, text
from inference.unet import Context, UNet, UNetConfig

LAYOUT_CHANNELS = 2  # the base stage's layout input: silhouette share, and a given plane
LAYOUT_THRESHOLD = 0.5  # a sampled layout is the silhouette head's probability above this
LAYOUT_GIVEN = 0.5  # in training, share of the examples with a silhouette that get it as input
CHECKPOINT_FORMAT = "editbench-cascade/2"  # /2: edit windows and global context
RETIRED_FORMATS = ("editbench-cascade/1",)  # whole-image 64×64 cascades, no longer loadable


def _base_default() -> UNetConfig:
    return UNetConfig(
        resolution=32, canvas=128, channels=(32, 64, 96), attention=(16, 8), context=32
    )


def _sr_default() -> UNetConfig:
    # No attention at 128/64/32 (too many tokens for a CPU): the SR stage sharpens and draws the
    # surface pattern; the caption reaches it through the pooled embedding.
    return UNetConfig(
        resolution=128, canvas=128, extra_channels=3, cond_channels=8, channels=(16, 32, 64),
        attention=(), context=32,
    )  # fmt: skip


@dataclass
class CascadeConfig:
    canvas: int = 128  # side of the edit window as every stage is conditioned on it
    context: int = 32  # side of the global context map (the whole image downsampled)
    text: text.TextConfig = field(default_factory=text.TextConfig)  # caption encoder
    base: UNetConfig = field(default_factory=_base_default)  # low-resolution stage
    sr: UNetConfig = field(default_factory=_sr_default)  # super-resolution stage
    outside_weight: float = 0.25  # loss weight of pixels outside the mask (inside: 1)
    sr_noise: float = 0.08  # largest std of Gaussian noise added to the SR stage's low-res input
    sr_scale: float = 3.0  # the SR residual is diffused ×this, so that it is not lost in the noise
    # Time shift of the base stage (diffusion.shift_time), in training and sampling alike;
    # checkpoints from before it have none, which is 1 (no shift).
    base_shift: float = 1.0
    # Weight of the base stage's auxiliary silhouette loss (0: none, and for older checkpoints):
    # a 1×1 head on the base U-Net's last features predicts which pixels of the clean window the
    # captioned object covers (the world's own object masks stand in for a segmenter, as its
    # boxes stand in for the paper's detector); sampling uses it only with ``layout``.
    silhouette_weight: float = 0.0
    # The base stage also takes a silhouette of the object as input (2 extra channels: its share
    # of each pixel, and a plane saying one is given; training gives the true one to some of the
    # examples that have one). Sampling draws it first, from the silhouette head at t = 1 with
    # none given, thresholded at LAYOUT_THRESHOLD: a layout step before the painting.
    layout: bool = False
    # With ``layout``: the layout comes from a decoder of its own (inference.layout_decoder),
    # trained by the silhouette loss in the head's place, not from the head on the base U-Net.
    layout_decoder: bool = False

    def validate(self) -> None:
        for name, stage in (("base", self.base), ("sr", self.sr)):
            if stage.canvas != self.canvas:
                raise ValueError(f"{name} stage canvas {stage.canvas} != canvas {self.canvas}")
            if stage.text_width != self.text.width:
                raise ValueError(f"{name} text_width {stage.text_width} != {self.text.width}")
            if stage.context != self.context:
                raise ValueError(f"{name} context {stage.context} != context {self.context}")
        if self.sr.resolution != self.canvas or self.sr.extra_channels != 3:
            raise ValueError("the SR stage must work at the canvas size with 3 extra channels")
        if self.base.resolution >= self.canvas:
            raise ValueError(f"base resolution {self.base.resolution} must be below the canvas")
        if not 0 < self.base_shift <= 100:
            raise ValueError(f"base_shift must be in (0, 100], got {self.base_shift}")
        if not 0 <= self.silhouette_weight <= 100:
            raise ValueError(f"silhouette_weight must be in [0, 100], got {self.silhouette_weight}")
        if self.layout and not self.silhouette_weight:
            raise ValueError("layout needs the silhouette head (silhouette_weight > 0)")
        if self.layout_decoder and not self.layout:
            raise ValueError("layout_decoder needs layout")
        if self.base.extra_channels != (LAYOUT_CHANNELS if self.layout else 0):
            raise ValueError(
                f"the base stage takes {LAYOUT_CHANNELS if self.layout else 0} extra channels "
                f"({'with' if self.layout else 'without'} layout), not {self.base.extra_channels}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CascadeConfig:
        def unet(u: dict[str, Any]) -> UNetConfig:
            return UNetConfig(
                **{**u, "channels": tuple(u["channels"]), "attention": tuple(u["attention"])}
            )

        rest = {k: v for k, v in d.items() if k not in ("text", "base", "sr")}
        return cls(
            text=text.TextConfig(**d["text"]), base=unet(d["base"]), sr=unet(d["sr"]), **rest
        )


def layout_note(config: CascadeConfig) -> str:
    """A sentence for the model card on the layout step (empty without one)."""
    if not config.layout:
        return ""
    source = (
        "a layout decoder of its own (`inference/layout_decoder.py`: caption tokens and mask)"
        if config.layout_decoder
        else "its silhouette head, at t = 1 with no silhouette given,"
    )
    return (
        f" The base stage draws a layout first: {source} "
        f"marks the pixels the object covers (probability > {LAYOUT_THRESHOLD:g}); "
        "the painting steps take that silhouette as input (trained on the true one for "
        f"{LAYOUT_GIVEN:.0%} of the examples that have one)."
    )


def conditioning(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The stages' condition (B, 4, H, W): the image with the mask blanked to 0, and the mask."""
    return torch.cat([images * (1 - masks), masks], dim=1)


def downsample(
    images: torch.Tensor, masks: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-averaged images and max-pooled masks at ``size`` (a low-res pixel is known only if
    every full-res pixel under it is)."""
    factor = images.shape[-1] // size
    return F.avg_pool2d(images, factor), F.max_pool2d(masks, factor)


def upsample(low: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)


def random_crops(
    tensors: tuple[torch.Tensor, ...], side: int, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """The same random ``side``×``side`` square of every tensor (B, ·, C, C), drawn per item
    (uniform offsets from ``generator``)."""
    b, c = tensors[0].shape[0], tensors[0].shape[-1]
    if not 0 < side <= c:
        raise ValueError(f"crop side must be in 1..{c}, got {side}")
    offsets = torch.randint(0, c - side + 1, (b, 2), generator=generator).tolist()
    return tuple(
        torch.stack([t[i, :, y : y + side, x : x + side] for i, (y, x) in enumerate(offsets)])
        for t in tensors
    )


@dataclass
class Sampling:
    steps: int = 20  # DDIM steps of the base stage
    guidance: diffusion.GuidanceSchedule = field(
        default_factory=lambda: diffusion.GuidanceSchedule("oscillate")
    )  # base-stage classifier-free guidance
    sr_steps: int = 4  # DDIM steps of the SR stage (few: the last stage must stay cheap)
    sr_guidance: float = 1.0  # constant guidance weight of the SR stage (1 = conditional only)
    use_sr: bool = True  # False: bilinear upsampling instead of the SR stage
    threshold: float | None = 0.995  # dynamic-thresholding percentile (None: off)


class Cascade(nn.Module):
    def __init__(self, config: CascadeConfig, tokenizer: text.Tokenizer) -> None:
        super().__init__()
        config.validate()
        if config.text.vocab_size != len(tokenizer):
            raise ValueError(f"text vocab_size {config.text.vocab_size} != {len(tokenizer)} words")
        self.config = config
        self.tokenizer = tokenizer
        self.text = text.TextEncoder(config.text)
        self.base = UNet(config.base)
        self.sr = UNet(config.sr)
        self.silhouette: nn.Conv2d | None = None
        self.decoder: layout_decoder.LayoutDecoder | None = None
        if config.layout_decoder:
            self.decoder = layout_decoder.LayoutDecoder(config.text.width, config.base.resolution)
        elif config.silhouette_weight > 0:
            self.silhouette = nn.Conv2d(config.base.channels[0], 1, 1)

    # --- training -----------------------------------------------------------------------------

    def base_loss(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        tokens: text.Tokenized,
        generator: torch.Generator,
        context: Context,
        silhouettes: tuple[torch.Tensor, torch.Tensor] | None = None,
        given: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """v-prediction loss of the base stage on a batch of windows at the canvas size.

        ``silhouettes``: (B, 1, C, C) share of each canvas pixel that the captioned object covers
        and (B,) bool, which examples have one; with ``silhouette_weight`` > 0 the loss adds that
        weight × the silhouette head's binary cross-entropy on those examples. With ``layout``,
        ``given`` (B,) bool says which examples get their silhouette as input (the head is not
        trained on those: it would copy it)."""
        r = self.config.base.resolution
        x0, m = downsample(images, masks, r)  # (B, 3, r, r), (B, 1, r, r)
        b = images.shape[0]
        target = torch.zeros(b, 1, r, r, device=images.device)
        if silhouettes is not None:
            target = F.avg_pool2d(silhouettes[0], silhouettes[0].shape[-1] // r)  # (B, 1, r, r)
        shown = torch.zeros(b, dtype=torch.bool) if given is None else given.cpu()
        extra = self.layout_input(target, shown.to(images.device))
        shift = self.config.base_shift
        loss, h = self._loss(
            self.base, x0, m, images, masks, tokens, generator, extra, context, shift
        )
        if silhouettes is None or (self.silhouette is None and self.decoder is None):
            return loss
        valid = silhouettes[1]
        if self.decoder is not None:  # it never sees the given silhouette: every row teaches it
            logits = self.decoder(*self.text(tokens.ids, tokens.pad)[:1], tokens.pad, masks)
        else:
            assert self.silhouette is not None
            logits = self.silhouette(h)
            valid = valid & ~shown.to(valid.device)
        bce = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none").mean(
            dim=(1, 2, 3)
        )  # (B,)
        aux = (bce * valid).sum() / valid.sum().clamp_min(1)
        return loss + self.config.silhouette_weight * aux

    def sr_loss(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        tokens: text.Tokenized,
        generator: torch.Generator,
        context: Context,
        crop: int = 0,
    ) -> torch.Tensor:
        """v-prediction loss of the SR stage: the residual of the window over a bilinear upsample
        of its (noise-augmented) low-resolution version.

        ``crop`` > 0 (below the canvas) trains on a random ``crop``×``crop`` square of each
        window, as Imagen trains its super-resolution stages on crops: the SR U-Net is
        convolutional at one resolution (its caption and context arrive as vectors), so it
        samples whole windows while a training example costs (crop / canvas)² of one."""
        low, _ = downsample(images, masks, self.config.base.resolution)
        level = _draw(torch.rand, (images.shape[0], 1, 1, 1), generator, images.device)
        noise = _draw(torch.randn, low.shape, generator, low.device)
        low = low + level * self.config.sr_noise * noise
        up = upsample(low, self.config.canvas)  # (B, 3, C, C)
        residual = (images - up) * self.config.sr_scale  # (B, 3, C, C)
        if crop and crop < self.config.canvas:
            residual, masks, images, up = random_crops(
                (residual, masks, images, up), crop, generator
            )
        return self._loss(self.sr, residual, masks, images, masks, tokens, generator, up, context)[
            0
        ]

    def _loss(
        self,
        net: UNet,
        x0: torch.Tensor,
        m: torch.Tensor,
        images: torch.Tensor,
        masks: torch.Tensor,
        tokens: text.Tokenized,
        generator: torch.Generator,
        extra: torch.Tensor | None,
        context: Context,
        shift: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The v loss and the stage's last features (for the silhouette head)."""
        b = x0.shape[0]
        t = diffusion.shift_time(_draw(torch.rand, (b,), generator, x0.device), shift)
        noise = _draw(torch.randn, x0.shape, generator, x0.device)
        states, pooled = self.text(tokens.ids, tokens.pad)
        x_t = diffusion.q_sample(x0, t, noise)
        cond = conditioning(images, masks)
        h = net.features(x_t, t, cond, states, tokens.pad, pooled, extra, context)
        v = net.head(h)
        weight = self.config.outside_weight + (1 - self.config.outside_weight) * m
        return diffusion.v_loss(v, diffusion.v_target(x0, t, noise), weight), h

    def layout_input(self, share: torch.Tensor, given: torch.Tensor) -> torch.Tensor | None:
        """The base stage's layout channels (B, 2, r, r) from silhouette shares (B, 1, r, r)
        and (B,) bool, which rows give theirs (None when the stage takes no layout)."""
        if not self.config.layout:
            return None
        plane = given.to(share.dtype)[:, None, None, None].expand_as(share)
        return torch.cat([share * plane, plane], dim=1)

    # --- sampling -----------------------------------------------------------------------------

    def draw_layout(
        self,
        noise: torch.Tensor,
        cond: torch.Tensor,
        states: torch.Tensor,
        pad: torch.Tensor,
        pooled: torch.Tensor,
        context: Context,
        inside: torch.Tensor,
    ) -> torch.Tensor | None:
        """The layout step: the silhouette head at t = 1 (x_t = the sampling noise, caption
        rows, no silhouette given), thresholded and kept inside the base-resolution mask
        ``inside`` (B, 1, r, r); None when the stage takes no layout."""
        if not self.config.layout:
            return None
        b, r = noise.shape[0], noise.shape[-1]
        if self.decoder is not None:
            logits = self.decoder(states[:b], pad[:b], inside)
        else:
            assert self.silhouette is not None
            none = self.layout_input(noise.new_zeros(b, 1, r, r), torch.zeros(b, dtype=torch.bool))
            t = noise.new_ones(b)
            h = self.base.features(noise, t, cond, states[:b], pad[:b], pooled[:b], none, context)
            logits = self.silhouette(h)
        share = (torch.sigmoid(logits) > LAYOUT_THRESHOLD).to(noise.dtype) * inside
        # An empty layout is no layout: training never shows a given silhouette without an object.
        return self.layout_input(share, share.flatten(1).sum(1).cpu() > 0)

    @torch.no_grad()
    def sample(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        tokens: text.Tokenized,
        generators: list[torch.Generator],
        sampling: Sampling,
        context: Context,
    ) -> torch.Tensor:
        """Inpainted windows (B, 3, C, C) in [-1, 1]; pixels outside ``masks`` equal ``images``.

        Noise for item i comes from ``generators[i]`` on the CPU, so an item's result does not
        depend on the device or on the other items of the batch.
        """
        self._check(images, masks, tokens, generators, context)
        r = self.config.base.resolution
        cond, states, pad, pooled = self._context(images, masks, tokens)
        known, m = downsample(images, masks, r)
        noise = _noise(generators, r, images.device)
        drawn = self.draw_layout(noise, cond, states, pad, pooled, context, m)
        base = self._denoiser(self.base, cond, states, pad, pooled, drawn, context)
        low = diffusion.ddim_sample(
            base,
            noise,
            sampling.steps,
            sampling.guidance,
            threshold=sampling.threshold,
            shift=self.config.base_shift,
        )
        low = torch.where(m > 0, low.clamp(-1, 1), known)  # paste back at the base resolution
        if not sampling.use_sr:
            up = upsample(low, self.config.canvas)
            return torch.where(masks > 0, up.clamp(-1, 1), images)
        return self.super_resolve(low, images, masks, tokens, generators, sampling, context)

    @torch.no_grad()
    def super_resolve(
        self,
        low: torch.Tensor,
        images: torch.Tensor,
        masks: torch.Tensor,
        tokens: text.Tokenized,
        generators: list[torch.Generator],
        sampling: Sampling | None,
        context: Context,
    ) -> torch.Tensor:
        """The SR stage alone: ``low`` (B, 3, r, r) → (B, 3, C, C), pasted back at the canvas."""
        self._check(images, masks, tokens, generators, context)
        sampling = sampling or Sampling()
        c = self.config.canvas
        cond, states, pad, pooled = self._context(images, masks, tokens)
        up = upsample(low, c)  # (B, 3, C, C)
        noise = _noise(generators, c, images.device)
        sr = self._denoiser(self.sr, cond, states, pad, pooled, up, context)
        schedule = diffusion.GuidanceSchedule("constant", weight=sampling.sr_guidance)
        # No dynamic thresholding here: the residual lives in [-2·scale, 2·scale], and the SR
        # stage runs without strong guidance, so nothing saturates; the image is clamped below.
        residual = diffusion.ddim_sample(sr, noise, sampling.sr_steps, schedule, threshold=None)
        residual = residual / self.config.sr_scale
        return torch.where(masks > 0, (up + residual).clamp(-1, 1), images)

    def _check(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        tokens: text.Tokenized,
        generators: list[torch.Generator],
        context: Context,
    ) -> None:
        b, c, g = images.shape[0], self.config.canvas, self.config.context
        if images.shape[1:] != (3, c, c) or masks.shape != (b, 1, c, c):
            raise ValueError(
                f"images must be (B, 3, {c}, {c}) and masks (B, 1, {c}, {c}), got "
                f"{tuple(images.shape)} and {tuple(masks.shape)}"
            )
        if context.map.shape[0] != b or context.map.shape[2:] != (g, g):
            raise ValueError(f"context map must be ({b}, 5, {g}, {g}), got {context.map.shape}")
        if len(generators) != b or tokens.ids.shape[0] != b:
            raise ValueError(
                f"need {b} generators and captions, got {len(generators)} and {tokens.ids.shape[0]}"
            )

    def _context(
        self, images: torch.Tensor, masks: torch.Tensor, tokens: text.Tokenized
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Condition (B, 4, C, C) and caption states for [cond; uncond] (2B rows)."""
        device = images.device
        null = text.null_like(tokens, self.tokenizer)
        ids = torch.cat([tokens.ids, null.ids]).to(device)
        pad = torch.cat([tokens.pad, null.pad]).to(device)
        states, pooled = self.text(ids, pad)  # (2B, L, W), (2B, W): cond first, uncond second
        return conditioning(images, masks), states, pad, pooled

    def _denoiser(
        self,
        net: UNet,
        cond: torch.Tensor,
        states: torch.Tensor,
        pad: torch.Tensor,
        pooled: torch.Tensor,
        extra: torch.Tensor | None,
        context: Context,
    ) -> diffusion.Denoiser:
        b = cond.shape[0]
        both = context.twice()

        def denoise(x: torch.Tensor, t: torch.Tensor, weight: float) -> torch.Tensor:
            if weight == 1.0:  # the unconditional half would be multiplied by zero
                v_cond: torch.Tensor = net(
                    x, t, cond, states[:b], pad[:b], pooled[:b], extra, context
                )
                return v_cond
            # cond and uncond in one batch: the first b rows see the caption, the rest <cls> only;
            # both halves see the same window and context (only the caption is dropped).
            v = net(
                _twice(x),
                _twice(t),
                _twice(cond),
                states,
                pad,
                pooled,
                None if extra is None else _twice(extra),
                both,
            )
            return diffusion.guided(v[:b], v[b:], weight)

        return denoise


def _twice(z: torch.Tensor) -> torch.Tensor:
    return torch.cat([z, z])


def save_checkpoint(path: str | Path, model: Cascade, meta: dict[str, Any]) -> None:
    """Weights, config, vocabulary and metadata in one file (weights stored as float32)."""
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": model.config.to_dict(),
            "vocabulary": model.tokenizer.vocabulary,
            "state": {k: v.detach().cpu().float() for k, v in model.state_dict().items()},
            "meta": meta,
        },
        path,
    )


def load_checkpoint(
    path: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[Cascade, dict[str, Any]]:
    """A cascade in eval mode on ``device`` and the checkpoint's metadata."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    found = blob.get("format") if isinstance(blob, dict) else None
    if found in RETIRED_FORMATS:
        raise ValueError(
            f"{path} is a {found} checkpoint (whole-image 64×64 cascade), which is no longer "
            f"supported: retrain it with `make train` (format {CHECKPOINT_FORMAT})"
        )
    if found != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a cascade checkpoint (format {CHECKPOINT_FORMAT})")
    config = CascadeConfig.from_dict(blob["config"])
    model = Cascade(config, text.Tokenizer(blob["vocabulary"], config.text.max_len))
    model.load_state_dict(blob["state"])
    return model.to(device).eval(), dict(blob["meta"])


def _draw(
    fn: Any, shape: tuple[int, ...] | torch.Size, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Random numbers drawn from a CPU generator (so a seed means the same draws on any device),
    then moved to ``device``."""
    return fn(shape, generator=generator).to(device)  # type: ignore[no-any-return]


def _noise(generators: list[torch.Generator], side: int, device: torch.device) -> torch.Tensor:
    """(B, 3, side, side) standard normal noise, item i from generators[i], drawn on the CPU."""
    return torch.stack([torch.randn(3, side, side, generator=g) for g in generators]).to(device)
