"""The synthetic scene world: objects, attributes, scenes, captions and edit masks.

A scene is a backdrop (``indoor``: wall and floor with a table or a window; ``outdoor``: sky and
ground with hills or trees) drawn in one of two styles (``realistic``: smooth gradients and soft
shadows; ``painting``: directional brush-stroke texture and slightly posterized colours), plus
one *target* object and one to three *distractors*. Every object has a type (``common`` shape,
``rare`` shape or ``text``), a colour, a material (surface pattern), a size, a shape modifier
(aspect-ratio stretch) and a count (copies side by side).

Everything is a pure function of a :class:`SceneSpec`: positions are stored as fractions of the
canvas, so one spec renders the same scene at any square canvas size, and every random choice made
while drawing comes from a ``numpy.random.Generator`` seeded from ``spec.seed``. The same spec
therefore gives byte-identical pixels on every call.

Geometry contract (what the benchmark and the mask policies rely on):

- Boxes are ``(x0, y0, x1, y1)`` in pixels with exclusive ends, so ``mask[y0:y1, x0:x1]`` holds
  every pixel of the object and each edge row/column of the box holds at least one of them.
- :func:`edit_mask` contains the target's region (the box around all of its copies, dilated by
  ``MASK_MARGIN`` of the canvas) and stays within ``MASK_MARGIN + MASK_SPREAD`` of it. Distractors
  are placed outside that zone, so the edit mask never touches them.
- Rendering with and without the target differs only inside the target's region dilated by less
  than ``MASK_MARGIN`` (the object and its soft shadow), hence only inside the edit mask.
"""

from __future__ import annotations

from inference.world.captions import captions, target_dict
from inference.world.draw import edit_mask, render
from inference.world.layout import sample_scene
from inference.world.specs import (
    ATTRIBUTE_TYPES,
    BACKDROPS,
    COLOR_RGB,
    COLORS,
    COMMON_NOUNS,
    COUNTS,
    MASK_MARGIN,
    MASK_SPREAD,
    MATERIALS,
    NOUNS,
    OBJECT_TYPES,
    RARE_NOUNS,
    SCENES,
    SHAPES,
    SIZES,
    STYLES,
    TEXT_NOUNS,
    Captions,
    ObjectRender,
    ObjectSpec,
    Rendered,
    SceneSpec,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "BACKDROPS",
    "COLORS",
    "COLOR_RGB",
    "COMMON_NOUNS",
    "COUNTS",
    "MASK_MARGIN",
    "MASK_SPREAD",
    "MATERIALS",
    "NOUNS",
    "OBJECT_TYPES",
    "RARE_NOUNS",
    "SCENES",
    "SHAPES",
    "SIZES",
    "STYLES",
    "TEXT_NOUNS",
    "Captions",
    "ObjectRender",
    "ObjectSpec",
    "Rendered",
    "SceneSpec",
    "captions",
    "edit_mask",
    "render",
    "sample_scene",
    "target_dict",
]
