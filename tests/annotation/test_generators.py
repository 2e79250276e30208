"""Generators: what a model configuration does to a batch of inputs."""

from __future__ import annotations

import numpy as np
from PIL import Image

from annotation import generators


def test_the_reference_baseline_pastes_the_reference_into_the_mask() -> None:
    image = Image.new("RGB", (8, 8), (0, 0, 0))
    reference = Image.new("RGB", (8, 8), (255, 255, 255))
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:4, 2:4] = True
    gen = generators.generator_for(
        kind="baseline", preset="reference", checkpoint="", parameters={}
    )
    out = np.asarray(gen([generators.GenerationInput(image, mask, "p", 0, reference)])[0].image)
    assert (out[mask] == 255).all() and (out[~mask] == 0).all()
