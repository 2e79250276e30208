"""A local diffusers inpainting pipeline as a batch editor.

The folder is whatever ``save_pretrained`` wrote (``model_index.json`` and one folder per
component); it is loaded with ``AutoPipelineForInpainting.from_pretrained(path,
local_files_only=True)`` and the hub is never contacted. Inputs of any size are brought to
the model's square resolution, and the result is brought back to the input's size and pasted
through the mask, so every unmasked pixel is the input's exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

# Scheduler names accepted in a model's parameters → diffusers class names.
SCHEDULERS: dict[str, str] = {
    "default": "",  # the one saved in the folder
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "lms": "LMSDiscreteScheduler",
}
DTYPES = ("float32", "float16", "bfloat16")
KEYS = ("steps", "guidance", "scheduler", "resolution", "dtype", "device", "negative_prompt")


@dataclass(frozen=True)
class DiffusersSettings:
    steps: int = 30  # denoising steps
    guidance: float = 7.5  # classifier-free guidance scale (1 = off)
    scheduler: str = "default"  # a key of SCHEDULERS
    resolution: int = 512  # the square side the pipeline runs at, a multiple of 8
    dtype: str = "float32"  # weights and activations: one of DTYPES
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "mps"
    negative_prompt: str = ""  # sent with every prompt; empty = none

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> DiffusersSettings:
        """Validate a model's ``parameters``; ValueError names every bad key."""
        problems = [f"unknown key {k!r}" for k in parameters if k not in KEYS]
        values = {k: v for k, v in parameters.items() if k in KEYS}
        checks = {
            "steps": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1000,
            "guidance": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 0,
            "scheduler": lambda v: v in SCHEDULERS,
            "resolution": lambda v: isinstance(v, int) and 8 <= v <= 4096 and v % 8 == 0,
            "dtype": lambda v: v in DTYPES,
            "device": lambda v: isinstance(v, str) and v.split(":")[0] in ("cpu", "cuda", "mps"),
            "negative_prompt": lambda v: isinstance(v, str),
        }
        expected = {
            "steps": "an integer from 1 to 1000",
            "guidance": "a number >= 0",
            "scheduler": f"one of {', '.join(SCHEDULERS)}",
            "resolution": "an integer from 8 to 4096, a multiple of 8",
            "dtype": f"one of {', '.join(DTYPES)}",
            "device": "cpu, cuda, cuda:N or mps",
            "negative_prompt": "a string",
        }
        for key, value in values.items():
            if not checks[key](value):
                problems.append(f"{key!r} must be {expected[key]}, not {value!r}")
        if problems:
            raise ValueError("; ".join(problems))
        if "guidance" in values:
            values["guidance"] = float(values["guidance"])
        return cls(**values)


def pipeline_folder_problem(path: str) -> str | None:
    """Why ``path`` is not a pipeline folder on this machine, or None when it is one."""
    folder = Path(path)
    if not folder.is_dir():
        return f"the pipeline folder {path} does not exist on this machine ({os.uname().nodename})"
    if not (folder / "model_index.json").is_file():
        return f"the pipeline folder {path} has no model_index.json (not a save_pretrained folder)"
    return None


def load(path: str, settings: DiffusersSettings) -> Any:
    """The pipeline in ``path`` on ``settings.device``; FileNotFoundError when it is absent."""
    problem = pipeline_folder_problem(path)
    if problem:
        raise FileNotFoundError(problem)
    # Imported here: diffusers is heavy, and only processes running such a model pay for it.
    import diffusers
    import torch

    # local_files_only: the hub is never contacted, even when the folder is incomplete.
    pipe = diffusers.AutoPipelineForInpainting.from_pretrained(  # type: ignore[no-untyped-call]
        path, local_files_only=True, dtype=getattr(torch, settings.dtype)
    )
    if settings.scheduler != "default":
        scheduler_class = getattr(diffusers, SCHEDULERS[settings.scheduler])
        pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config)
    pipe = pipe.to(settings.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def paste_back(edited: Image.Image, image: Image.Image, mask: npt.NDArray[np.bool_]) -> Image.Image:
    """``edited`` at the input's size, pasted into ``image`` through ``mask``."""
    if edited.size != image.size:
        edited = edited.resize(image.size, Image.Resampling.BICUBIC)
    out = np.asarray(image.convert("RGB")).copy()
    out[mask] = np.asarray(edited.convert("RGB"))[mask]
    return Image.fromarray(out, mode="RGB")


def inpaint(
    pipe: Any,
    settings: DiffusersSettings,
    images: list[Image.Image],
    masks: list[npt.NDArray[np.bool_]],
    prompts: list[str],
    seeds: list[int],
) -> list[Image.Image]:
    """One batched pipeline call; the results have the inputs' sizes and unmasked pixels."""
    if not len(images) == len(masks) == len(prompts) == len(seeds):
        raise ValueError("images, masks, prompts and seeds must have the same length")
    for image, mask in zip(images, masks, strict=True):
        if mask.shape != (image.height, image.width):
            raise ValueError(f"a mask of {mask.shape[::-1]} for an image of {image.size}")
    import torch

    side = settings.resolution
    small_images = [i.convert("RGB").resize((side, side), Image.Resampling.BICUBIC) for i in images]
    small_masks = [
        Image.fromarray(m.astype(np.uint8) * 255).resize((side, side), Image.Resampling.NEAREST)
        for m in masks
    ]
    # The generator lives on the CPU so a seed gives the same noise on every device.
    generators = [torch.Generator("cpu").manual_seed(int(s) % 2**63) for s in seeds]
    result = pipe(
        prompt=prompts,
        negative_prompt=[settings.negative_prompt] * len(prompts)
        if settings.negative_prompt
        else None,
        image=small_images,
        mask_image=small_masks,
        height=side,
        width=side,
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance,
        generator=generators,
        output_type="pil",
    )
    return [
        paste_back(edited, image, mask)
        for edited, image, mask in zip(result.images, images, masks, strict=True)
    ]
