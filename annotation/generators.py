"""Turning an EditModel row into a callable that edits a batch of items.

A generator is built once per process and cached (Celery workers load each
model once and reuse it for every batch). Generators know nothing of the
database: they take images, masks and prompts and return images.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from inference import baselines


@dataclass(frozen=True)
class GenerationInput:
    image: Image.Image  # RGB, the item's input image
    mask: npt.NDArray[np.bool_]  # H×W, True = edit
    prompt: str
    seed: int
    reference: Image.Image | None = None


@dataclass(frozen=True)
class GeneratedEdit:
    image: Image.Image
    steps: int | None = None
    guidance: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.convert("RGB").save(out, format="PNG")
        return out.getvalue()


Generator = Callable[[list[GenerationInput]], list[GeneratedEdit]]


class GenerationRefused(RuntimeError):
    """An error no retry can fix (a bad answer, a missing setting): the job fails at once."""


class GeneratorUnavailable(GenerationRefused):
    """The model cannot generate here (unknown preset, missing checkpoint or pipeline folder,
    external model)."""


@dataclass(frozen=True)
class Endpoint:
    """An http model's endpoint, as stored on the EditModel (the secret itself never is)."""

    url: str
    auth_env: str = ""
    timeout_s: float = 120.0
    concurrency: int = 4


def _reference(batch: list[GenerationInput]) -> list[GeneratedEdit]:
    out = []
    for job in batch:
        if job.reference is None:
            raise GeneratorUnavailable("the item has no reference image")
        composite = np.asarray(job.image.convert("RGB")).copy()
        composite[job.mask] = np.asarray(job.reference.convert("RGB"))[job.mask]
        out.append(GeneratedEdit(Image.fromarray(composite, mode="RGB")))
    return out


def _baseline(preset: str) -> Generator:
    if preset == "identity":
        return lambda batch: [GeneratedEdit(baselines.identity(j.image, j.mask)) for j in batch]
    if preset == "blur_fill":
        return lambda batch: [GeneratedEdit(baselines.blur_fill(j.image, j.mask)) for j in batch]
    if preset == "reference":
        return _reference
    raise GeneratorUnavailable(
        f"unknown baseline preset {preset!r}; known: identity, blur_fill, reference"
    )


def _cascade(checkpoint: str, parameters: dict[str, Any]) -> Generator:
    # Imported here, not for a circle (inference never imports annotation) but for weight:
    # the pipeline loads torch, which only the processes that run a cascade should pay for.
    from inference import pipeline

    loaded = pipeline.load(checkpoint)

    def generate(batch: list[GenerationInput]) -> list[GeneratedEdit]:
        results = pipeline.inpaint(
            [j.image for j in batch],
            [j.mask for j in batch],
            [j.prompt for j in batch],
            model=loaded,
            guidance=parameters.get("guidance", "oscillate"),
            steps=int(parameters.get("steps", 20)),
            seed=[j.seed for j in batch],
        )
        return [
            GeneratedEdit(
                r.image,
                steps=r.metadata.get("steps"),
                guidance={"schedule": r.metadata.get("guidance")},
                metadata=r.metadata,
            )
            for r in results
        ]

    return generate


def _diffusers(folder: str, parameters: dict[str, Any]) -> Generator:
    from inference.external import diffusers_model

    try:
        settings = diffusers_model.DiffusersSettings.from_parameters(parameters)
    except ValueError as exc:
        raise GeneratorUnavailable(f"diffusers model: parameters {exc}") from None
    try:
        pipe = diffusers_model.load(folder, settings)
    except FileNotFoundError as exc:
        raise GeneratorUnavailable(str(exc)) from None

    def generate(batch: list[GenerationInput]) -> list[GeneratedEdit]:
        images = diffusers_model.inpaint(
            pipe,
            settings,
            [j.image for j in batch],
            [j.mask for j in batch],
            [j.prompt for j in batch],
            [j.seed for j in batch],
        )
        facts = {"scheduler": settings.scheduler, "resolution": settings.resolution}
        return [
            GeneratedEdit(
                image,
                steps=settings.steps,
                guidance={"scale": settings.guidance},
                metadata=facts,
            )
            for image in images
        ]

    return generate


def _http(endpoint: Endpoint, parameters: dict[str, Any]) -> Generator:
    from inference.external import http_model
    from inference.external.diffusers_model import paste_back

    client = http_model.HttpModel(
        http_model.HttpSettings(
            url=endpoint.url,
            auth_env=endpoint.auth_env,
            timeout_s=endpoint.timeout_s,
            concurrency=endpoint.concurrency,
            parameters=parameters,
        )
    )

    def generate(batch: list[GenerationInput]) -> list[GeneratedEdit]:
        try:
            results = client.edit_batch(
                [j.image for j in batch],
                [j.mask for j in batch],
                [j.prompt for j in batch],
                [j.seed for j in batch],
            )
        except http_model.AnswerRefused as exc:
            raise GenerationRefused(str(exc)) from None
        # Pasted back like every other kind, so no model shows itself by the pixels it keeps.
        return [
            GeneratedEdit(paste_back(r.image, j.image, j.mask), metadata=r.metadata)
            for r, j in zip(results, batch, strict=True)
        ]

    return generate


@lru_cache(maxsize=8)
def _build(
    kind: str, preset: str, checkpoint: str, parameters_json: str, endpoint: Endpoint | None
) -> Generator:
    # lru_cache keeps what was built (a loaded pipeline stays loaded for the process) but
    # not what raised, so a pipeline folder that appears later is picked up.
    parameters = json.loads(parameters_json)
    if kind == "baseline":
        return _baseline(preset)
    if kind == "cascade":
        return _cascade(checkpoint, parameters)
    if kind == "diffusers":
        return _diffusers(checkpoint, parameters)
    if kind == "http" and endpoint is not None:
        return _http(endpoint, parameters)
    raise GeneratorUnavailable(f"a model of kind {kind!r} has no generator; upload its outputs")


def generator_for(
    *,
    kind: str,
    preset: str,
    checkpoint: str,
    parameters: dict[str, Any],
    endpoint: Endpoint | None = None,
) -> Generator:
    """The cached generator of a model configuration (built on first use in this process).

    Raises GeneratorUnavailable when the model cannot run here (the job fails with its text).
    """
    return _build(kind, preset, checkpoint, json.dumps(parameters, sort_keys=True), endpoint)
