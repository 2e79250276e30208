"""Training mask policies.

- ``object`` (Imagen Editor's object masking): most masks are an object's box from the world's
  render, dilated by a random margin (the world's boxes stand in for the paper's object detector),
  sometimes rounded into an ellipse around the box; a minority are random boxes or brush strokes.
- ``random`` (the IM-RM ablation): random boxes and brush strokes only.

Every mask is a boolean H×W array (True = region to fill), drawn from the ``numpy`` generator
passed in, so a seeded run makes the same masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from inference import world

BoolArray = npt.NDArray[np.bool_]
POLICIES: tuple[str, ...] = ("object", "random")


@dataclass(frozen=True)
class MaskPolicy:
    kind: str  # "object" or "random"
    random_fraction: float = 0.2  # share of random box/stroke masks under the object policy
    target_share: float = 0.6  # under object masks, how often the scene's target is the object
    margin: tuple[float, float] = (0.03, 0.11)  # dilation of an object box, canvas fractions

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"mask policy must be one of {POLICIES}, got {self.kind!r}")
        if not 0.0 <= self.random_fraction <= 1.0 or not 0.0 <= self.target_share <= 1.0:
            raise ValueError(f"fractions must lie in [0, 1]: {self}")


def dilated_box_mask(
    box: tuple[int, int, int, int],
    canvas: int,
    rng: np.random.Generator,
    margin: tuple[float, float],
) -> BoolArray:
    """The box grown by a random margin on each side; a third of the time an ellipse around it."""
    x0, y0, x1, y1 = box
    m = rng.uniform(margin[0], margin[1], size=4) * canvas
    ax0, ay0 = max(0, int(x0 - m[0])), max(0, int(y0 - m[1]))
    ax1, ay1 = min(canvas, int(np.ceil(x1 + m[2]))), min(canvas, int(np.ceil(y1 + m[3])))
    mask = np.zeros((canvas, canvas), dtype=bool)
    if rng.random() < 1 / 3:
        # An ellipse through the dilated box's corners covers the box and rounds the outline.
        yy, xx = np.mgrid[0:canvas, 0:canvas] + 0.5
        cx, cy = (ax0 + ax1) / 2, (ay0 + ay1) / 2
        rx, ry = max(1.0, (ax1 - ax0) / 2 * 1.3), max(1.0, (ay1 - ay0) / 2 * 1.3)
        mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        mask[y0:y1, x0:x1] = True
    else:
        mask[ay0:ay1, ax0:ax1] = True
    return mask


def random_box_mask(canvas: int, rng: np.random.Generator) -> BoolArray:
    """An axis-aligned box covering between about 4% and 40% of the canvas."""
    w, h = (rng.uniform(0.2, 0.65, size=2) * canvas).astype(int)
    x0, y0 = int(rng.integers(0, canvas - w + 1)), int(rng.integers(0, canvas - h + 1))
    mask = np.zeros((canvas, canvas), dtype=bool)
    mask[y0 : y0 + h, x0 : x0 + w] = True
    return mask


def brush_mask(canvas: int, rng: np.random.Generator) -> BoolArray:
    """One to three thick random polylines (free-form brush strokes)."""
    image = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        points = [tuple(rng.uniform(0, canvas, size=2))]
        for _ in range(int(rng.integers(2, 6))):
            angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.35) * canvas
            px, py = points[-1]
            points.append((px + length * np.cos(angle), py + length * np.sin(angle)))
        width = max(2, int(rng.uniform(0.06, 0.16) * canvas))
        draw.line([(float(x), float(y)) for x, y in points], fill=255, width=width, joint="curve")
    return np.asarray(image) > 0


def random_mask(canvas: int, rng: np.random.Generator) -> BoolArray:
    mask = random_box_mask(canvas, rng) if rng.random() < 0.5 else brush_mask(canvas, rng)
    if not mask.any():  # a stroke drawn entirely off-canvas: fall back to a box
        mask = random_box_mask(canvas, rng)
    return mask


def sample_mask(
    policy: MaskPolicy, rendered: world.Rendered, rng: np.random.Generator
) -> tuple[BoolArray, world.ObjectRender | None]:
    """A training mask for ``rendered`` and the object it was made from (None for random)."""
    canvas = rendered.image.shape[0]
    if policy.kind == "random" or rng.random() < policy.random_fraction:
        return random_mask(canvas, rng), None
    drawn = rendered.objects
    if rng.random() < policy.target_share and drawn[0].is_target:
        obj = drawn[0]
    else:
        obj = drawn[int(rng.integers(len(drawn)))]
    return dilated_box_mask(obj.box, canvas, rng, policy.margin), obj
