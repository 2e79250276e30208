"""The public entry point: ``inpaint(image, mask, prompt, *, model, …)``.

Accepts PIL images or arrays of any size, one item or a list of items. For each input the cascade
works on the edit window (:mod:`inference.window`: a square around the mask, cut at the input's
resolution and brought to the model's canvas, with the whole image as global context); the result
is resized back to the window and pasted through the mask, so every pixel outside the mask is the
input's, exactly, at any input size.

    from inference import pipeline
    model = pipeline.load("editor-im")
    result = pipeline.inpaint(image, mask, "a red circle", model=model, seed=0)
    result.image, result.metadata["unknown_words"]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from inference import cascade, data, diffusion, text, window

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
SR_STEPS = cascade.Sampling.sr_steps  # default DDIM steps of the SR stage

ImageLike = Image.Image | npt.NDArray[Any]
MaskLike = Image.Image | npt.NDArray[Any]
BoolArray = npt.NDArray[np.bool_]
UInt8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class LoadedModel:
    """A cascade ready to sample, with what its checkpoint says about it."""

    name: str  # checkpoint name ("editor-im")
    path: Path  # the checkpoint file
    cascade: cascade.Cascade  # in eval mode, on `device`
    meta: dict[str, Any] = field(repr=False)  # training metadata (steps, policy, use_sr, …)
    device: torch.device  # where it runs

    @property
    def use_sr(self) -> bool:
        """Whether the SR stage beat bilinear upsampling on held-out items (else bilinear)."""
        return bool(self.meta.get("use_sr", True))


@dataclass(frozen=True)
class InpaintResult:
    image: Image.Image  # RGB, the input's size
    metadata: dict[str, Any]  # model, seed, steps, guidance, upsampler, unknown_words, seconds…


def resolve(checkpoint: str | Path) -> Path:
    """A checkpoint path from a path, a file name in ``inference/checkpoints`` or a bare name."""
    path = Path(checkpoint)
    for candidate in (path, CHECKPOINTS / path, CHECKPOINTS / f"{path}.pt"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no checkpoint {str(checkpoint)!r} (looked in {CHECKPOINTS})")


def _device(device: str | torch.device) -> torch.device:
    try:
        d = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}") from None
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    if d.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return d


def load(checkpoint: str | Path, *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a checkpoint (cached per path and device)."""
    return _load(resolve(checkpoint).resolve(), str(_device(device)))


@lru_cache(maxsize=8)
def _load(path: Path, device: str) -> LoadedModel:
    model, meta = cascade.load_checkpoint(path, device=device)
    return LoadedModel(path.stem, path, model, meta, torch.device(device))


# --- Input checks ----------------------------------------------------------------------------


def _image_array(image: object, index: int) -> UInt8Array:
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            raise ValueError(f"image {index}: mode must be RGB, got {image.mode!r}")
        return np.asarray(image, dtype=np.uint8)
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image {index}: expected a PIL image or an array, got {type(image)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image {index}: array must be H×W×3 (RGB), got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image {index}: array dtype must be uint8, got {image.dtype}")
    if min(image.shape[:2]) < 1:
        raise ValueError(f"image {index}: empty image of shape {image.shape}")
    return image


def _mask_array(mask: object, shape: tuple[int, int], index: int) -> BoolArray:
    if isinstance(mask, Image.Image):
        if mask.mode not in ("1", "L"):
            raise ValueError(f"mask {index}: mode must be '1' or 'L', got {mask.mode!r}")
        arr = np.asarray(mask)
    elif isinstance(mask, np.ndarray):
        arr = mask
    else:
        raise ValueError(f"mask {index}: expected a PIL image or an array, got {type(mask)}")
    if arr.shape != shape:
        raise ValueError(f"mask {index}: shape {arr.shape} differs from the image's {shape} (H, W)")
    if arr.dtype != np.bool_:
        values = np.unique(arr)
        if not (set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255}):
            shown = values[:6].tolist()
            raise ValueError(f"mask {index}: not binary; values {shown} (want 0/1 or 0/255)")
        arr = arr > 0
    if not arr.any():
        raise ValueError(f"mask {index}: empty mask, nothing to edit")
    return np.asarray(arr, dtype=np.bool_)


def _prompt(prompt: object, index: int) -> str:
    if not isinstance(prompt, str):
        raise ValueError(f"prompt {index}: must be a str, got {type(prompt).__name__}")
    return prompt


# --- The entry point -------------------------------------------------------------------------


@overload
def inpaint(
    image: ImageLike,
    mask: MaskLike,
    prompt: str,
    *,
    model: LoadedModel | str,
    guidance: str | float | diffusion.GuidanceSchedule = ...,
    steps: int = ...,
    seed: int | Sequence[int] = ...,
    batch: int = ...,
    sr_steps: int = ...,
    device: str | torch.device | None = ...,
) -> InpaintResult: ...


@overload
def inpaint(
    image: Sequence[ImageLike],
    mask: Sequence[MaskLike],
    prompt: Sequence[str],
    *,
    model: LoadedModel | str,
    guidance: str | float | diffusion.GuidanceSchedule = ...,
    steps: int = ...,
    seed: int | Sequence[int] = ...,
    batch: int = ...,
    sr_steps: int = ...,
    device: str | torch.device | None = ...,
) -> list[InpaintResult]: ...


def inpaint(
    image: ImageLike | Sequence[ImageLike],
    mask: MaskLike | Sequence[MaskLike],
    prompt: str | Sequence[str],
    *,
    model: LoadedModel | str,
    guidance: str | float | diffusion.GuidanceSchedule = "oscillate",
    steps: int = 20,
    seed: int | Sequence[int] = 0,
    batch: int = 8,
    sr_steps: int = SR_STEPS,
    device: str | torch.device | None = None,
) -> InpaintResult | list[InpaintResult]:
    """Fill ``mask`` of ``image`` following ``prompt``.

    One item (an image, a mask, a str) gives one :class:`InpaintResult`; lists of equal length
    give a list, computed ``batch`` items at a time. ``seed`` is an int (item i of a list uses
    ``seed + i``) or one seed per item; an item's result depends only on its own inputs and seed.
    ``guidance`` is ``"oscillate"`` (Imagen Editor: 30 and 1 after 2 forced high steps),
    ``"constant:W"``, a number, a ``"oscillate:HIGH:LOW:FORCED"`` string, or a
    :class:`~inference.diffusion.GuidanceSchedule`. ``device`` defaults to the model's.

    Raises ``ValueError`` naming the problem for: a non-RGB image, a mask that is not binary,
    empty, or of another size than its image, lists of different lengths, a non-str prompt,
    steps < 1, batch < 1, an unknown guidance spec, or CUDA asked for where there is none.
    Words the text encoder never saw are kept as ``<unk>`` and listed in
    ``metadata["unknown_words"]``.
    """
    single = not isinstance(image, list | tuple)
    images = [image] if single else list(image)  # type: ignore[arg-type]
    masks = [mask] if single else list(mask)  # type: ignore[arg-type]
    if single or isinstance(prompt, str):
        prompts: list[object] = [prompt]
    else:
        prompts = list(prompt)
    if not (len(images) == len(masks) == len(prompts)) or not images:
        raise ValueError(
            f"need as many images, masks and prompts (at least one), got "
            f"{len(images)}, {len(masks)} and {len(prompts)}"
        )
    seeds = _seeds(seed, len(images))
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if isinstance(sr_steps, bool) or not isinstance(sr_steps, int) or sr_steps < 1:
        raise ValueError(f"sr_steps must be an int >= 1, got {sr_steps!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an int >= 1, got {batch!r}")
    schedule = diffusion.GuidanceSchedule.parse(guidance)
    arrays = [_image_array(im, i) for i, im in enumerate(images)]
    bools = [
        _mask_array(m, a.shape[:2], i) for i, (m, a) in enumerate(zip(masks, arrays, strict=True))
    ]
    texts = [_prompt(p, i) for i, p in enumerate(prompts)]
    loaded = load(model) if isinstance(model, str) else model
    run_on = loaded.device if device is None else _device(device)
    net = loaded.cascade.to(run_on)
    sampling = cascade.Sampling(
        steps=steps, guidance=schedule, sr_steps=sr_steps, use_sr=loaded.use_sr
    )
    results: list[InpaintResult] = []
    for start in range(0, len(arrays), batch):
        chunk = range(start, min(len(arrays), start + batch))
        results += _run(
            net, loaded, [arrays[i] for i in chunk], [bools[i] for i in chunk],
            [texts[i] for i in chunk], [seeds[i] for i in chunk], sampling, run_on,
        )  # fmt: skip
    return results[0] if single else results


def _seeds(seed: int | Sequence[int], n: int) -> list[int]:
    if isinstance(seed, int):
        seeds = [seed + i for i in range(n)]  # a bool seed is refused just below
    else:
        seeds = list(seed)
        if len(seeds) != n:
            raise ValueError(f"got {len(seeds)} seeds for {n} items")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"seeds must be non-negative ints, got {s!r}")
    return seeds


def _run(
    net: cascade.Cascade,
    loaded: LoadedModel,
    arrays: list[UInt8Array],
    masks: list[BoolArray],
    prompts: list[str],
    seeds: list[int],
    sampling: cascade.Sampling,
    device: torch.device,
) -> list[InpaintResult]:
    started = time.perf_counter()
    canvas, side = net.config.canvas, net.config.context
    # The same windows and context as training cuts (data.window_example).
    examples = [
        data.window_example(a, m, p, canvas=canvas, context=side)
        for a, m, p in zip(arrays, masks, prompts, strict=True)
    ]
    images, cmask, context = data.to_tensors(examples)  # (B, 3, C, C), (B, 1, C, C), context
    images, cmask, context = images.to(device), cmask.to(device), context.to(device)
    tokens: text.Tokenized = net.tokenizer.encode(prompts)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    out = net.sample(images, cmask, tokens, gens, sampling, context)  # (B, 3, C, C)
    pixels = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    pixels_np = pixels.cpu().numpy()
    seconds = (time.perf_counter() - started) / len(arrays)
    results = []
    for i, (a, m) in enumerate(zip(arrays, masks, strict=True)):
        edited = window.paste(pixels_np[i], a, m, examples[i].box)
        meta = {
            "model": loaded.name,
            "seed": seeds[i],
            "steps": sampling.steps,
            "sr_steps": sampling.sr_steps if sampling.use_sr else 0,
            "guidance": sampling.guidance.describe(),
            "guidance_weights": sampling.guidance.weights(sampling.steps),
            "upsampler": "sr" if sampling.use_sr else "bilinear",
            "canvas": canvas,
            "window": examples[i].box.as_list(),
            "input_size": [int(a.shape[1]), int(a.shape[0])],
            "unknown_words": list(tokens.unknown[i]),
            "device": str(device),
            "seconds": round(seconds, 4),
        }
        results.append(InpaintResult(Image.fromarray(edited), meta))
    return results
