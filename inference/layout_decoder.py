"""A layout decoder: the caption and the mask → which pixels of the edit window the object covers.

The base stage's layout input (:attr:`inference.cascade.CascadeConfig.layout`) can come from the
silhouette head on the base U-Net, or from this small network of its own, which reads the
caption's token states with a few learned queries (an attention pooling, so the noun has its own
softmax weight rather than a share of ``<cls>``), turns them into a coarse shape code at 8×8,
and brings the code up to the layout's side with convolutions that also see the mask (where the
object must go, and its box's aspect). It is trained by binary cross-entropy on the world's
object silhouettes, on every example that has one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CODE = 8  # side of the shape code
QUERIES = 4  # learned queries over the caption's tokens


class LayoutDecoder(nn.Module):
    def __init__(self, text_width: int, side: int, width: int = 32, code_channels: int = 16):
        super().__init__()
        if side < CODE or side % CODE:
            raise ValueError(f"layout side {side} must be a multiple of {CODE}")
        self.side, self.code_channels = side, code_channels
        self.queries = nn.Parameter(torch.randn(QUERIES, text_width) / text_width**0.5)
        self.key = nn.Linear(text_width, text_width)
        self.code = nn.Linear(QUERIES * text_width, code_channels * CODE * CODE)
        self.convs = nn.Sequential(
            nn.Conv2d(code_channels + 1, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, 1, 3, padding=1),
        )

    def forward(self, states: torch.Tensor, pad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1, side, side) from token states (B, L, W), their padding (B, L) (True =
        padding) and the window's mask (B, 1, C, C) at any side divisible by ``side``."""
        b = states.shape[0]
        scores = torch.einsum("qw,blw->bql", self.queries, self.key(states))
        scores = scores.masked_fill(pad[:, None, :], float("-inf"))  # <cls> is never padding
        pooled = torch.einsum("bql,blw->bqw", scores.softmax(-1), states).flatten(1)
        code = self.code(pooled).view(b, self.code_channels, CODE, CODE)
        size = (self.side, self.side)
        code = F.interpolate(code, size=size, mode="bilinear", align_corners=False)
        m = F.max_pool2d(mask, mask.shape[-1] // self.side)  # (B, 1, side, side)
        logits: torch.Tensor = self.convs(torch.cat([code, m], dim=1))
        return logits
