"""Network blocks and the U-Net used by both stages of the cascade.

One U-Net class serves both stages; a config says which. Every stage sees

- the noisy input ``x_t`` at its own resolution,
- the *full-resolution* masked image and mask (4 channels at the canvas size), brought down to
  the stage's resolution by a learned strided convolution (:class:`MaskConditioner`) and
  concatenated channel-wise with ``x_t``, as in Imagen Editor,
- for the super-resolution stage, the bilinear upsample of the low-resolution image (3 channels,
  concatenated too),
- the time step, and the caption: its pooled state joins the time embedding, its token states are
  attended to by every attention block (self- and cross-attention in one softmax),
- the global context of the edit window (:class:`Context`): the whole image downsampled, with the
  mask blanked, the mask and the window's place, and the window's box as image fractions; a small
  convolutional encoder turns it into a vector that joins the time embedding too, so scene
  context (and the window's scale) reaches a stage that sees only the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class UNetConfig:
    resolution: int = 32  # side of x_t in pixels
    canvas: int = 64  # side of the full-resolution masked image the stage is conditioned on
    in_channels: int = 3  # channels of x_t (an RGB image, or an RGB residual)
    extra_channels: int = 0  # channels concatenated with x_t (3 for the SR stage's upsample)
    cond_channels: int = 16  # output channels of the strided convolution over image + mask
    channels: tuple[int, ...] = (32, 64, 96)  # width at each resolution, halving the side
    attention: tuple[int, ...] = (8,)  # resolutions (sides) that get an attention block
    heads: int = 4  # attention heads (every width in `channels` must divide by it)
    text_width: int = 96  # width of the text encoder's token states
    emb_dim: int = 128  # width of the time (+ pooled text) embedding
    groups: int = 8  # GroupNorm groups (every width must divide by it)
    dropout: float = 0.0  # dropout inside residual blocks
    context: int = 0  # side of the global context map (0: the stage takes no context)
    context_channels: int = 5  # channels of the context map (window.CONTEXT_CHANNELS)
    context_width: int = 32  # width of the context encoder's convolutions
    # How an attention block reads the caption: False, one softmax over [pixels; tokens] (the
    # tokens start with a share of about L / (HW + L) of the attention); True, a softmax over
    # the tokens alone beside the pixels' own, so the caption has full weight from the start.
    cross_attention: bool = False

    def validate(self) -> None:
        stride = self.canvas // self.resolution
        if self.canvas % self.resolution or stride & (stride - 1):
            raise ValueError(
                f"canvas {self.canvas} must be a power-of-two multiple of resolution "
                f"{self.resolution}"
            )
        if self.resolution % 2 ** (len(self.channels) - 1):
            raise ValueError(f"resolution {self.resolution} cannot halve {len(self.channels)}x")
        for c in self.channels:
            if c % self.groups or c % self.heads:
                raise ValueError(f"width {c} must divide by groups {self.groups} and heads")
        if self.context and (self.context < 8 or self.context % 8):
            raise ValueError(f"context side {self.context} must be a multiple of 8 (0: none)")


@dataclass(frozen=True)
class Context:
    """The global context of a batch of edit windows (see :mod:`inference.window`)."""

    map: torch.Tensor  # (B, context_channels, G, G): masked image, mask, window indicator
    where: torch.Tensor  # (B, 4): the window's x0, y0, x1, y1 as fractions of the image

    def twice(self) -> Context:
        """The context of [cond; uncond] rows (the same windows twice)."""
        return Context(torch.cat([self.map, self.map]), torch.cat([self.where, self.where]))

    def rows(self, sl: slice) -> Context:
        return Context(self.map[sl], self.where[sl])

    def to(self, device: torch.device) -> Context:
        return Context(self.map.to(device), self.where.to(device))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of continuous times ``t`` (B,) in [0, 1] → (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the embedding as a per-channel scale and shift."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)  # type: ignore[arg-type]
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, cout, H, W)
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        out: torch.Tensor = self.skip(x) + h
        return out


class AttentionBlock(nn.Module):
    """Multi-head attention of every pixel over [all pixels; caption tokens] in one softmax, or
    (``cross``) over the pixels and, in a softmax of its own, over the caption tokens."""

    def __init__(
        self, channels: int, text_width: int, heads: int, groups: int, cross: bool = False
    ) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.text_kv = nn.Linear(text_width, 2 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.cross_out: nn.Linear | None = None
        if cross:
            self.cross_q = nn.Linear(channels, channels)
            self.cross_out = nn.Linear(channels, channels)
            nn.init.zeros_(self.cross_out.weight)
            nn.init.zeros_(self.cross_out.bias)

    def _split(self, z: torch.Tensor) -> torch.Tensor:
        b, n, c = z.shape  # (B, N, C) → (B, heads, N, C/heads)
        return z.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, text: torch.Tensor, text_pad: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        q, k, v = self.qkv(tokens).chunk(3, dim=2)
        tk, tv = self.text_kv(text).chunk(2, dim=2)  # (B, L, C) each
        if self.cross_out is not None:
            return self._separate(x, tokens, q, k, v, tk, tv, text_pad)
        k, v = torch.cat([k, tk], dim=1), torch.cat([v, tv], dim=1)  # (B, HW+L, C)
        keep = torch.cat([text_pad.new_ones(b, h * w), ~text_pad], dim=1)  # (B, HW+L)
        y = F.scaled_dot_product_attention(
            self._split(q), self._split(k), self._split(v), attn_mask=keep[:, None, None, :]
        )  # (B, heads, HW, C/heads)
        y = self.out(y.transpose(1, 2).reshape(b, h * w, c))
        out: torch.Tensor = x + y.transpose(1, 2).reshape(b, c, h, w)
        return out

    def _separate(
        self,
        x: torch.Tensor,
        tokens: torch.Tensor,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        tk: torch.Tensor,
        tv: torch.Tensor,
        text_pad: torch.Tensor,
    ) -> torch.Tensor:
        assert self.cross_out is not None
        b, c, h, w = x.shape
        split = self._split
        pixels = F.scaled_dot_product_attention(split(q), split(k), split(v))
        keep = (~text_pad)[:, None, None, :]  # (B, 1, 1, L): <cls> is never padding
        words = F.scaled_dot_product_attention(
            split(self.cross_q(tokens)), split(tk), split(tv), attn_mask=keep
        )  # (B, heads, HW, C/heads)
        y = self.out(pixels.transpose(1, 2).reshape(b, h * w, c))
        y = y + self.cross_out(words.transpose(1, 2).reshape(b, h * w, c))
        out: torch.Tensor = x + y.transpose(1, 2).reshape(b, c, h, w)
        return out


class MaskConditioner(nn.Module):
    """Learned strided convolution: masked image + mask at the canvas → the stage's resolution."""

    def __init__(self, canvas: int, resolution: int, cout: int) -> None:
        super().__init__()
        self.canvas = canvas
        stride = canvas // resolution
        # kernel 2·stride with padding stride/2 sees each output pixel's footprint and its halo;
        # stride 1 (same resolution) is a plain 3×3 convolution.
        kernel, pad = (3, 1) if stride == 1 else (2 * stride, stride // 2)
        self.conv = nn.Conv2d(4, cout, kernel, stride=stride, padding=pad)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        # cond: (B, 4, canvas, canvas) = masked RGB in [-1, 1] (0 under the mask) + mask in {0, 1}
        return F.silu(self.conv(cond))  # (B, cout, resolution, resolution)


class ContextEncoder(nn.Module):
    """Global context → a vector added to the time embedding: three stride-2 convolutions and a
    mean over the map, beside Fourier features of the window's box."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        w = cfg.context_width
        self.side, self.channels = cfg.context, cfg.context_channels
        self.convs = nn.Sequential(
            nn.Conv2d(cfg.context_channels, w, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1),
            nn.SiLU(),
        )
        self.freqs = 8  # Fourier features per box coordinate
        self.out = nn.Linear(2 * w + 4 * 2 * self.freqs, cfg.emb_dim)

    def forward(self, ctx: Context) -> torch.Tensor:
        g = self.side
        if ctx.map.shape[1:] != (self.channels, g, g) or ctx.where.shape[1:] != (4,):
            raise ValueError(
                f"context must be (B, {self.channels}, {g}, {g}) and (B, 4), got "
                f"{tuple(ctx.map.shape)} and {tuple(ctx.where.shape)}"
            )
        pooled = self.convs(ctx.map).mean(dim=(2, 3))  # (B, 2w)
        scale = 2.0 ** torch.arange(self.freqs, device=ctx.where.device) * math.pi
        angles = ctx.where[:, :, None] * scale  # (B, 4, freqs)
        box = torch.cat([torch.sin(angles), torch.cos(angles)], dim=2).flatten(1)  # (B, 8·freqs)
        out: torch.Tensor = self.out(torch.cat([pooled, box], dim=1))
        return out  # (B, emb_dim)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)  # (B, C, H/2, W/2)
        return out


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return out  # (B, C, 2H, 2W)


class Level(nn.Module):
    """One resolution of the U-Net: a residual block, optionally followed by attention."""

    def __init__(self, cin: int, cout: int, cfg: UNetConfig, attend: bool) -> None:
        super().__init__()
        self.res = ResBlock(cin, cout, cfg.emb_dim, cfg.groups, cfg.dropout)
        self.attn = (
            AttentionBlock(cout, cfg.text_width, cfg.heads, cfg.groups, cfg.cross_attention)
            if attend
            else None
        )

    def forward(
        self, x: torch.Tensor, emb: torch.Tensor, text: torch.Tensor, text_pad: torch.Tensor
    ) -> torch.Tensor:
        x = self.res(x, emb)
        return x if self.attn is None else self.attn(x, text, text_pad)


class UNet(nn.Module):
    """The denoiser of one stage; predicts v (the v-parameterisation) at its resolution."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.cond = MaskConditioner(cfg.canvas, cfg.resolution, cfg.cond_channels)
        self.time = nn.Sequential(
            nn.Linear(cfg.emb_dim, cfg.emb_dim), nn.SiLU(), nn.Linear(cfg.emb_dim, cfg.emb_dim)
        )
        self.pooled = nn.Linear(cfg.text_width, cfg.emb_dim)
        self.context = ContextEncoder(cfg) if cfg.context else None
        cin = cfg.in_channels + cfg.extra_channels + cfg.cond_channels
        self.stem = nn.Conv2d(cin, cfg.channels[0], 3, padding=1)
        sides = [cfg.resolution // 2**i for i in range(len(cfg.channels))]
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        prev = cfg.channels[0]
        for i, (ch, side) in enumerate(zip(cfg.channels, sides, strict=True)):
            self.down.append(Level(prev, ch, cfg, side in cfg.attention))
            last = i == len(cfg.channels) - 1
            self.pool.append(nn.Identity() if last else Downsample(ch))
            prev = ch
        self.mid = Level(prev, prev, cfg, True)
        self.up = nn.ModuleList()
        self.unpool = nn.ModuleList()
        for i in reversed(range(len(cfg.channels))):
            ch, side = cfg.channels[i], sides[i]
            self.up.append(Level(prev + ch, ch, cfg, side in cfg.attention))
            self.unpool.append(Upsample(ch) if i > 0 else nn.Identity())
            prev = ch
        final = nn.Conv2d(prev, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(final.weight)  # the untrained network predicts v = 0
        nn.init.zeros_(final.bias)  # type: ignore[arg-type]
        self.head = nn.Sequential(
            nn.GroupNorm(cfg.groups, prev),
            nn.SiLU(),
            final,
        )

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor,
        text: torch.Tensor,
        text_pad: torch.Tensor,
        pooled: torch.Tensor,
        extra: torch.Tensor | None = None,
        context: Context | None = None,
    ) -> torch.Tensor:
        """v prediction (B, in_channels, R, R): the head over :meth:`features`."""
        out: torch.Tensor = self.head(
            self.features(x_t, t, cond, text, text_pad, pooled, extra, context)
        )
        return out

    def features(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor,
        text: torch.Tensor,
        text_pad: torch.Tensor,
        pooled: torch.Tensor,
        extra: torch.Tensor | None = None,
        context: Context | None = None,
    ) -> torch.Tensor:
        """The last level's feature map (B, channels[0], R, R), before the v head.

        x_t: (B, in_channels, R, R); t: (B,) in [0, 1]; cond: (B, 4, canvas, canvas);
        text: (B, L, text_width); text_pad: (B, L) True at padding; pooled: (B, text_width);
        extra: (B, extra_channels, R, R) or None when extra_channels == 0; context: the
        windows' global context, required when the config has ``context`` > 0.
        """
        r, c = self.cfg.resolution, self.cfg.canvas
        # A stage at the canvas resolution also takes training crops (any side < r that its
        # levels can halve), with the condition and extra input cropped alike.
        s = x_t.shape[-1]
        if s != r and (c != r or s > r or s % 2 ** (len(self.cfg.channels) - 1)):
            s = r
        if x_t.shape[1:] != (self.cfg.in_channels, s, s):
            raise ValueError(f"x_t must be (B, {self.cfg.in_channels}, {r}, {r}), got {x_t.shape}")
        side = c if s == r else s
        if cond.shape[1:] != (4, side, side):
            raise ValueError(f"cond must be (B, 4, {side}, {side}), got {tuple(cond.shape)}")
        parts = [x_t, self.cond(cond)]
        if self.cfg.extra_channels:
            if extra is None or extra.shape[1:] != (self.cfg.extra_channels, s, s):
                raise ValueError(f"extra must be (B, {self.cfg.extra_channels}, {s}, {s})")
            parts.insert(1, extra)
        emb = self.time(timestep_embedding(t, self.cfg.emb_dim)) + self.pooled(pooled)  # (B, E)
        if self.context is not None:
            if context is None:
                raise ValueError("this stage takes the windows' global context; none was given")
            emb = emb + self.context(context)
        h = self.stem(torch.cat(parts, dim=1))  # (B, C0, R, R)
        skips = []
        for level, pool in zip(self.down, self.pool, strict=True):
            h = level(h, emb, text, text_pad)
            skips.append(h)
            h = pool(h)
        h = self.mid(h, emb, text, text_pad)  # (B, C_last, R/2^(n-1), …)
        for level, unpool in zip(self.up, self.unpool, strict=True):
            h = level(torch.cat([h, skips.pop()], dim=1), emb, text, text_pad)
            h = unpool(h)
        feats: torch.Tensor = h
        return feats
