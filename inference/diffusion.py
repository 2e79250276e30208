"""Noise schedule, v-prediction loss, guidance schedules and the DDIM sampler.

Continuous time ``t`` in [0, 1] with the cosine (variance-preserving) schedule
``alpha = cos(πt/2)``, ``sigma = sin(πt/2)``; the network predicts ``v = alpha·eps − sigma·x0``,
from which ``x0 = alpha·x_t − sigma·v`` and ``eps = sigma·x_t + alpha·v``. v-prediction stays well
defined at ``t = 1`` (pure noise), where x0-from-eps would divide by zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

# A denoiser for sampling: (x_t, t, guidance weight) → guided v, all batched.
Denoiser = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def alpha_sigma(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal and noise scales at times ``t`` (any shape)."""
    return torch.cos(0.5 * math.pi * t), torch.sin(0.5 * math.pi * t)


def shift_time(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Times ``t`` moved toward the noise by ``shift``: the time whose signal-to-noise ratio is
    that of ``t`` divided by ``shift``² (``tan(πt'/2) = shift·tan(πt/2)``); 0 and 1 stay put.

    A stage trained on uniform shifted times spends more of its examples at high noise, where
    an image's layout is decided; images made of a few flat regions keep their outlines
    visible through much of the unshifted schedule, so uniform times teach little there.
    Sampling walks the same shifted times.
    """
    if shift <= 0:
        raise ValueError(f"the time shift must be positive, got {shift}")
    if shift == 1.0:
        return t
    half = 0.5 * math.pi * t
    moved = (torch.atan2(shift * torch.sin(half), torch.cos(half)) / (0.5 * math.pi)).clamp(0, 1)
    return torch.where(t >= 1, torch.ones_like(t), moved)  # exactly pure noise at t = 1


def _bc(s: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return s.reshape(-1, *([1] * (like.dim() - 1)))  # (B,) → (B, 1, 1, 1)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Noisy ``x_t`` of clean ``x0`` (B, C, H, W) at times ``t`` (B,)."""
    a, s = alpha_sigma(t)
    return _bc(a, x0) * x0 + _bc(s, x0) * noise


def v_target(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    a, s = alpha_sigma(t)
    return _bc(a, x0) * noise - _bc(s, x0) * x0


def x0_from_v(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    a, s = alpha_sigma(t)
    return _bc(a, x_t) * x_t - _bc(s, x_t) * v


def eps_from_v(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    a, s = alpha_sigma(t)
    return _bc(s, x_t) * x_t + _bc(a, x_t) * v


def v_loss(v_pred: torch.Tensor, v_true: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean squared error; ``weight`` (B, 1, H, W) sets how much each pixel counts."""
    if weight.shape[0] != v_pred.shape[0] or weight.shape[2:] != v_pred.shape[2:]:
        raise ValueError(f"weight {tuple(weight.shape)} does not match {tuple(v_pred.shape)}")
    se = (v_pred - v_true).pow(2).mean(dim=1, keepdim=True)  # (B, 1, H, W)
    return (se * weight).sum() / weight.sum().clamp_min(1e-8)


def dynamic_threshold(x0: torch.Tensor, percentile: float = 0.995) -> torch.Tensor:
    """Imagen's dynamic thresholding: clip each sample at its ``percentile`` of |x0| (at least 1)
    and rescale by it, so that saturated pixels under high guidance come back into [-1, 1]."""
    if not 0.0 < percentile <= 1.0:
        raise ValueError(f"percentile must be in (0, 1], got {percentile}")
    flat = x0.reshape(x0.shape[0], -1).abs()
    s = torch.quantile(flat, percentile, dim=1).clamp_min(1.0)  # (B,)
    s = _bc(s, x0)
    return x0.clamp(-s, s) / s


@dataclass(frozen=True)
class GuidanceSchedule:
    """Classifier-free guidance weight per sampling step.

    ``constant``: ``weight`` at every step. ``oscillate`` (Imagen Editor): ``forced`` steps at
    ``high``, then alternating ``low``, ``high``, ``low``, … to the end.
    """

    kind: str  # "constant" or "oscillate"
    weight: float = 5.0  # the constant weight (kind == "constant")
    high: float = 30.0  # the high weight of oscillation (paper: 30)
    low: float = 1.0  # the low weight of oscillation (1 = conditional only)
    forced: int = 2  # leading steps forced to the high weight

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "oscillate"):
            raise ValueError(f"guidance kind must be 'constant' or 'oscillate', got {self.kind!r}")
        if min(self.weight, self.high, self.low) < 0 or self.forced < 0:
            raise ValueError(f"guidance weights and forced steps must be >= 0: {self}")

    def weights(self, steps: int) -> list[float]:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if self.kind == "constant":
            return [self.weight] * steps
        return [
            self.high if i < self.forced or (i - self.forced) % 2 == 1 else self.low
            for i in range(steps)
        ]

    def describe(self) -> str:
        if self.kind == "constant":
            return f"constant:{self.weight:g}"
        return f"oscillate:{self.high:g}:{self.low:g}:{self.forced}"

    @classmethod
    def parse(cls, spec: str | float | GuidanceSchedule) -> GuidanceSchedule:
        """From ``"constant"``, ``"constant:7.5"``, a number, ``"oscillate"`` or
        ``"oscillate:HIGH:LOW:FORCED"``."""
        if isinstance(spec, GuidanceSchedule):
            return spec
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            return cls("constant", weight=float(spec))
        if not isinstance(spec, str):
            raise ValueError(f"guidance must be a schedule, a number or a string, got {spec!r}")
        kind, *args = spec.split(":")
        try:
            if kind == "constant" and len(args) <= 1:
                return cls("constant", weight=float(args[0]) if args else 5.0)
            if kind == "oscillate" and len(args) <= 3:
                high = float(args[0]) if args else 30.0
                low = float(args[1]) if len(args) > 1 else 1.0
                forced = int(args[2]) if len(args) > 2 else 2
                return cls("oscillate", high=high, low=low, forced=forced)
        except ValueError as exc:
            raise ValueError(f"bad guidance {spec!r}: {exc}") from None
        raise ValueError(
            f"bad guidance {spec!r}; expected 'constant[:W]' or 'oscillate[:HIGH:LOW:FORCED]'"
        )


def guided(v_cond: torch.Tensor, v_uncond: torch.Tensor, weight: float) -> torch.Tensor:
    """Classifier-free guidance: ``v_u + w·(v_c − v_u)`` (w = 1 is the conditional model)."""
    return v_uncond + weight * (v_cond - v_uncond)


def ddim_sample(
    denoise: Denoiser,
    noise: torch.Tensor,
    steps: int,
    schedule: GuidanceSchedule,
    *,
    offset: torch.Tensor | None = None,
    threshold: float | None = 0.995,
    shift: float = 1.0,
) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) from ``noise`` (B, C, H, W) at t = 1 down to t = 0.

    ``offset`` is added to the x0 prediction before dynamic thresholding and removed after it:
    the SR stage predicts a residual over a bilinear upsample, and it is the *image* that must
    stay within [-1, 1]. ``threshold=None`` turns thresholding off. ``shift``: the stage's
    time shift (:func:`shift_time`), so that sampling walks the times it was trained on.
    """
    weights = schedule.weights(steps)
    times = shift_time(torch.linspace(1.0, 0.0, steps + 1, device=noise.device), shift)
    x = noise
    base = torch.zeros_like(noise) if offset is None else offset
    x0 = x
    for i in range(steps):
        t = times[i].expand(noise.shape[0])
        v = denoise(x, t, weights[i])
        x0 = x0_from_v(x, t, v)
        if threshold is not None:
            x0 = dynamic_threshold(x0 + base, threshold) - base
        eps = eps_from_v(x, t, v) if threshold is None else _eps_from_x0(x, t, x0)
        a_next, s_next = alpha_sigma(times[i + 1].expand(noise.shape[0]))
        x = _bc(a_next, x) * x0 + _bc(s_next, x) * eps
    return x0


def _eps_from_x0(x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    # After thresholding x0, eps must be recomputed from it so that the step stays consistent;
    # sigma is at least sin(π/2 · 1/steps) > 0 at every step we take.
    a, s = alpha_sigma(t)
    return (x_t - _bc(a, x_t) * x0) / _bc(s, x_t).clamp_min(1e-6)
