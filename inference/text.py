"""Tokenizer and text encoder for captions of our world.

The tokenizer is word-level over a vocabulary built once from the world's captions. Words it never
saw map to ``<unk>`` and are *reported* (``Tokenized.unknown``), never silently dropped. Every
sequence starts with ``<cls>``; the unconditional input of classifier-free guidance is the sequence
holding ``<cls>`` alone, so the encoder always has at least one token to attend to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from inference import world

PAD, UNK, CLS = "<pad>", "<unk>", "<cls>"
SPECIALS: tuple[str, ...] = (PAD, UNK, CLS)

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def words(caption: str) -> list[str]:
    """Lower-cased words of a caption; punctuation separates words and is dropped."""
    return _WORD.findall(caption.lower())


def world_vocabulary(scenes: int = 3000) -> list[str]:
    """Every word the world's captions use, sorted (specials first).

    Captions of ``scenes`` sampled scenes (seeds ``0..scenes-1``, every attribute type) plus the
    phrases of every colour, material, size, shape and noun, so that rare combinations are covered.
    """
    seen: set[str] = set()
    for seed in range(scenes):
        spec = world.sample_scene(seed)
        for attribute in world.ATTRIBUTE_TYPES:
            if attribute == "shape" and spec.target.shape == "regular":
                continue
            c = world.captions(spec, attribute_type=attribute)
            seen.update(words(f"{c.mask_simple} {c.mask_rich} {c.full_image}"))
    for group in (world.COLORS, world.MATERIALS, world.SIZES, world.SHAPES):
        seen.update(words(" ".join(group)))
    for noun in world.NOUNS["common"] + world.NOUNS["rare"] + world.NOUNS["text"]:
        seen.update(words(noun))
    seen.update(("one", "two", "three", "medium-sized", "a", "an"))
    return [*SPECIALS, *sorted(seen - set(SPECIALS))]


@dataclass(frozen=True)
class Tokenized:
    """A batch of token ids with its padding mask and the unknown words of each caption."""

    ids: torch.Tensor  # (B, L) int64, PAD-padded, ids[:, 0] == CLS
    pad: torch.Tensor  # (B, L) bool, True where padding
    unknown: tuple[tuple[str, ...], ...]  # per caption, the words mapped to <unk>, in order


class Tokenizer:
    """Word-level tokenizer with a fixed vocabulary and maximum length."""

    def __init__(self, vocabulary: Sequence[str], max_len: int) -> None:
        if list(vocabulary[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"vocabulary must start with {SPECIALS}")
        if max_len < 2:
            raise ValueError(f"max_len must be at least 2, got {max_len}")
        self.vocabulary = list(vocabulary)
        self.max_len = max_len
        self.index = {w: i for i, w in enumerate(self.vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, captions: Iterable[str]) -> Tokenized:
        """Token ids of each caption, truncated to ``max_len`` (truncation is reported too)."""
        rows: list[list[int]] = []
        unknown: list[tuple[str, ...]] = []
        for caption in captions:
            if not isinstance(caption, str):
                raise ValueError(f"a caption must be a str, got {type(caption).__name__}")
            ws = words(caption)
            unk = [w for w in ws if w not in self.index]
            kept = ws[: self.max_len - 1]
            if len(ws) > len(kept):
                unk.append(f"<truncated after {len(kept)} words>")
            rows.append([self.index[CLS]] + [self.index.get(w, self.index[UNK]) for w in kept])
            unknown.append(tuple(unk))
        if not rows:
            raise ValueError("no captions to encode")
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.index[PAD], dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return Tokenized(ids=ids, pad=ids == self.index[PAD], unknown=tuple(unknown))


@dataclass
class TextConfig:
    vocab_size: int = 128  # number of token ids (set from the tokenizer's vocabulary)
    max_len: int = 40  # longest token sequence, <cls> included
    width: int = 96  # embedding width of every token
    layers: int = 2  # transformer layers
    heads: int = 4  # attention heads per layer (width must divide by it)
    dropout: float = 0.0  # dropout inside the transformer layers
    # The pooled summary also carries the mean of the caption's raw word embeddings (<cls> and
    # padding left out), so that every word, the noun included, reaches it linearly whatever the
    # transformer attends to; off for checkpoints from before it.
    bag: bool = False


class TextEncoder(nn.Module):
    """Token embeddings + learned positions + a small pre-norm transformer encoder."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        if config.width % config.heads:
            raise ValueError(f"width {config.width} must divide by heads {config.heads}")
        self.config = config
        self.token = nn.Embedding(config.vocab_size, config.width)
        self.position = nn.Parameter(torch.zeros(config.max_len, config.width))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            config.width,
            config.heads,
            dim_feedforward=4 * config.width,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)

    def forward(self, ids: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states (B, L, W) and a pooled summary (B, W) taken at <cls>."""
        if ids.dim() != 2 or ids.shape[1] > self.config.max_len:
            raise ValueError(f"ids must be (B, L<={self.config.max_len}), got {tuple(ids.shape)}")
        words = self.token(ids)  # (B, L, W)
        x = words * math.sqrt(self.config.width) + self.position[: ids.shape[1]]
        x = self.norm(self.layers(x, src_key_padding_mask=pad))  # (B, L, W)
        pooled = x[:, 0]
        if self.config.bag:
            keep = (~pad).float()
            keep[:, 0] = 0.0  # <cls> is there in every caption, the null one included
            count = keep.sum(1, keepdim=True).clamp(min=1.0)
            pooled = pooled + (words * keep[..., None]).sum(1) / count  # (B, W)
        return x, pooled


def null_like(tokens: Tokenized, tokenizer: Tokenizer) -> Tokenized:
    """The unconditional input: <cls> alone, padded to the shape of ``tokens``."""
    ids = torch.full_like(tokens.ids, tokenizer.index[PAD])
    ids[:, 0] = tokenizer.index[CLS]
    return Tokenized(ids=ids, pad=ids == tokenizer.index[PAD], unknown=tokens.unknown)


def drop_captions(tokens: Tokenized, keep: torch.Tensor, tokenizer: Tokenizer) -> Tokenized:
    """Replace captions where ``keep`` (B,) is False by the unconditional input (CFG training)."""
    null = null_like(tokens, tokenizer)
    ids = torch.where(keep[:, None], tokens.ids, null.ids)
    return Tokenized(ids=ids, pad=ids == tokenizer.index[PAD], unknown=tokens.unknown)
