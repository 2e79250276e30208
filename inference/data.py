"""Training batches and held-out evaluation items, both drawn from the world.

Seeds split the world in two: training draws scene seeds below ``HELDOUT_BASE``; held-out item
``i`` uses seed ``HELDOUT_BASE + i``. Training never sees a held-out seed.

A training example is the edit window (:mod:`inference.window`) of a rendered scene around a mask
from a :class:`~inference.masking.MaskPolicy`, cut exactly as the pipeline cuts it at sampling
time, with its global context and a caption of what the mask covers: the masked object's
Mask-Simple or Mask-Rich phrase (or, sometimes, the whole-scene caption); for a random mask, the
phrase of an object lying mostly inside it, otherwise the whole-scene caption. A random box over
bare wall is thus paired with a caption that does not describe it, which is exactly why the paper
found random masks weaken text alignment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from inference import masking, window, world
from inference.unet import Context

HELDOUT_BASE = 2**31  # held-out item i has world seed HELDOUT_BASE + i; training stays below
VALIDATION_START = 1_000_000  # validation items (settings, SR check): held-out indices from here on
RENDER_SIZE = 256  # side of training scenes and held-out items: the shipped benchmark's
FULL_CAPTION_SHARE = 0.15  # share of object-mask examples captioned with the whole-scene caption
MOSTLY_INSIDE = 0.6  # a random mask "covers" an object holding this share of its pixels

BoolArray = npt.NDArray[np.bool_]
UInt8Array = npt.NDArray[np.uint8]


def valid_attributes(obj: world.ObjectSpec) -> list[str]:
    """Attribute types a Mask-Simple caption can test on ``obj`` (shape needs a stretch)."""
    return [a for a in world.ATTRIBUTE_TYPES if not (a == "shape" and obj.shape == "regular")]


def object_caption(spec: world.SceneSpec, obj: world.ObjectSpec, rng: np.random.Generator) -> str:
    """A Mask-Simple or Mask-Rich caption of one object of ``spec`` (target or distractor)."""
    if obj != spec.target:
        where = spec.distractor_centers[spec.distractors.index(obj)]
        spec = dataclasses.replace(spec, target=obj, target_center=where)
    attribute = valid_attributes(obj)[int(rng.integers(len(valid_attributes(obj))))]
    c = world.captions(spec, attribute_type=attribute)
    return c.mask_rich if rng.random() < 0.5 else c.mask_simple


def caption_for_mask(
    spec: world.SceneSpec,
    rendered: world.Rendered,
    mask: BoolArray,
    obj: world.ObjectRender | None,
    rng: np.random.Generator,
) -> tuple[str, world.ObjectRender | None]:
    """The caption of a training mask and the object it describes (None: the whole scene)."""
    if obj is None:
        shares = [(o.mask & mask).sum() / max(1, o.mask.sum()) for o in rendered.objects]
        best = int(np.argmax(shares))
        if shares[best] >= MOSTLY_INSIDE:
            obj = rendered.objects[best]
    if obj is None or rng.random() < FULL_CAPTION_SHARE:
        return world.captions(spec).full_image, None
    return object_caption(spec, obj.spec, rng), obj


@dataclass
class Example:
    image: UInt8Array  # canvas×canvas×3: the edit window
    mask: BoolArray  # canvas×canvas, True = fill
    caption: str
    context_map: npt.NDArray[np.float32]  # G×G×5: window.context's map
    where: npt.NDArray[np.float32]  # (4,): the window's box as image fractions
    box: window.Box  # the window in the scene's pixels
    # canvas×canvas: share of each pixel that the captioned object covers (training examples
    # whose caption describes one object; None otherwise)
    silhouette: npt.NDArray[np.float32] | None = None


def window_example(
    image: UInt8Array,
    mask: BoolArray,
    caption: str,
    *,
    canvas: int,
    context: int,
    silhouette: BoolArray | None = None,
) -> Example:
    """The example of one scene, mask and caption: its edit window at ``canvas`` and context
    (and, given the captioned object's pixels, their share of each window pixel)."""
    box = window.edit_window(mask)
    win, win_mask = window.cut(image, mask, box, canvas)
    context_map, where = window.context(image, mask, box, context)
    share = None
    if silhouette is not None:
        crop = silhouette[box.y0 : box.y1, box.x0 : box.x1].astype(np.float32)
        resized = Image.fromarray(crop).resize((canvas, canvas), Image.Resampling.BOX)
        share = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    return Example(win, win_mask, caption, context_map, where, box, share)


class ScenePool:
    """A pool of rendered training scenes, refreshed a few at a time.

    Rendering costs a few milliseconds a scene; a pool lets each step draw a fresh mask and
    caption over already-rendered scenes while new scenes keep flowing in.
    """

    def __init__(
        self,
        size: int,
        canvas: int,
        rng: np.random.Generator,
        *,
        context: int,
        render_size: int = RENDER_SIZE,
    ) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.canvas, self.context, self.render_size = canvas, context, render_size
        self.rng = rng
        self.scenes = [self._new() for _ in range(size)]

    def _new(self) -> tuple[world.SceneSpec, world.Rendered]:
        spec = world.sample_scene(int(self.rng.integers(0, HELDOUT_BASE)))
        return spec, world.render(spec, canvas=self.render_size)

    def refresh(self, count: int) -> None:
        for _ in range(count):
            self.scenes[int(self.rng.integers(len(self.scenes)))] = self._new()

    def examples(self, count: int, policy: masking.MaskPolicy) -> list[Example]:
        out = []
        for _ in range(count):
            spec, rendered = self.scenes[int(self.rng.integers(len(self.scenes)))]
            mask, obj = masking.sample_mask(policy, rendered, self.rng)
            caption, described = caption_for_mask(spec, rendered, mask, obj, self.rng)
            out.append(
                window_example(
                    rendered.image,
                    mask,
                    caption,
                    canvas=self.canvas,
                    context=self.context,
                    silhouette=None if described is None else described.mask,
                )
            )
        return out


def to_tensors(examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor, Context]:
    """Windows (B, 3, C, C) in [-1, 1], masks (B, 1, C, C) in {0, 1} and their context,
    float32."""
    images = np.stack([e.image for e in examples]).astype(np.float32) / 127.5 - 1.0
    masks = np.stack([e.mask for e in examples]).astype(np.float32)
    maps = torch.from_numpy(np.stack([e.context_map for e in examples])).permute(0, 3, 1, 2)
    where = torch.from_numpy(np.stack([e.where for e in examples]))
    return (
        torch.from_numpy(images).permute(0, 3, 1, 2),
        torch.from_numpy(masks)[:, None],
        Context(maps.contiguous(), where),
    )


def silhouettes(examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples' silhouette shares (B, 1, C, C), zero where there is none, and (B,) bool:
    which examples have one."""
    c = examples[0].image.shape[0]
    blank = np.zeros((c, c), dtype=np.float32)
    shares = np.stack([blank if e.silhouette is None else e.silhouette for e in examples])
    valid = torch.tensor([e.silhouette is not None for e in examples])
    return torch.from_numpy(shares)[:, None], valid


# --- Held-out evaluation items ---------------------------------------------------------------


@dataclass(frozen=True)
class HeldOutItem:
    seed: int
    spec: world.SceneSpec  # the scene the prompt asks for (its render is the ground truth)
    original: world.SceneSpec  # what was there: the same scene with another target
    image: UInt8Array  # input: render of `original`
    mask: BoolArray  # world.edit_mask of `spec`
    truth: UInt8Array  # render of `spec`
    captions: world.Captions  # prompts of `spec`
    target: dict[str, object]  # world.target_dict of `spec`


def _replacement(obj: world.ObjectSpec, rng: np.random.Generator) -> world.ObjectSpec:
    """Another object occupying the same box: a different colour and, for shapes, another noun.

    Common and rare shapes all fill the same square cell per copy, so swapping among them keeps
    the object inside the region of ``obj``; text keeps its noun (words differ in width).
    """
    color = [c for c in world.COLORS if c != obj.color][int(rng.integers(len(world.COLORS) - 1))]
    if obj.object_type == "text":
        return dataclasses.replace(obj, color=color)
    shapes = [(t, n) for t in ("common", "rare") for n in world.NOUNS[t] if n != obj.noun]
    kind, noun = shapes[int(rng.integers(len(shapes)))]
    return dataclasses.replace(obj, color=color, noun=noun, object_type=kind)


def validation_item(index: int, *, canvas: int = RENDER_SIZE) -> HeldOutItem:
    """Validation item ``index``: drawn like the held-out items, from seeds that the evaluation's
    held-out items (the first few thousand) never use, for choosing settings without peeking."""
    return heldout_item(VALIDATION_START + index, canvas=canvas)


def heldout_item(index: int, *, canvas: int = RENDER_SIZE) -> HeldOutItem:
    """Held-out item ``index``: an input whose masked object differs from what the prompt asks.

    The input and the ground truth agree outside the mask (the world guarantees that renders
    differing only in the target differ only inside its edit mask).
    """
    if index < 0:
        raise ValueError(f"held-out index must be >= 0, got {index}")
    seed = HELDOUT_BASE + index
    spec = world.sample_scene(seed)
    rng = np.random.default_rng([seed, 7])
    original = dataclasses.replace(spec, target=_replacement(spec.target, rng))
    return HeldOutItem(
        seed=seed,
        spec=spec,
        original=original,
        image=world.render(original, canvas=canvas).image,
        mask=world.edit_mask(spec, canvas=canvas),
        truth=world.render(spec, canvas=canvas).image,
        captions=world.captions(spec),
        target=world.target_dict(spec),
    )
