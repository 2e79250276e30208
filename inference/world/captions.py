"""The three EditBench prompt styles of a scene's target, and its structured target."""

from __future__ import annotations

from collections.abc import Sequence

from inference.world.specs import (
    _BACKDROP_PHRASES,
    _NUMBER_WORDS,
    _SIZE_WORDS,
    ATTRIBUTE_TYPES,
    Captions,
    ObjectSpec,
    SceneSpec,
    _check_choice,
)

# --- Captions --------------------------------------------------------------------------------


def _plural(noun: str) -> str:
    head, _, rest = noun.partition(" ")
    head = head + "es" if head.endswith(("s", "x", "z", "ch", "sh")) else head + "s"
    return f"{head} {rest}".strip()


def _noun_phrase(obj: ObjectSpec, adjectives: Sequence[str]) -> str:
    """Count, adjectives and noun in English: "a small red star", "three hearts"."""
    words = [a for a in adjectives if a]
    if obj.count == 1:
        phrase = " ".join([*words, obj.noun])
        article = "an" if phrase[0] in "aeiou" else "a"
        return f"{article} {phrase}"
    return " ".join([_NUMBER_WORDS[obj.count], *words, _plural(obj.noun)])


def _shape_word(shape: str) -> str:
    # "regular" is the unmarked default: "a regular circle" is not how anyone speaks.
    return "" if shape == "regular" else shape


def _rich_phrase(obj: ObjectSpec) -> str:
    # English adjective order: size, shape, pattern, colour.
    return _noun_phrase(
        obj, (_SIZE_WORDS[obj.size], _shape_word(obj.shape), obj.material, obj.color)
    )


def _tested(spec: SceneSpec, attribute_type: str | None) -> str:
    attribute = spec.attribute_type if attribute_type is None else attribute_type
    _check_choice("attribute_type", attribute, ATTRIBUTE_TYPES)
    if attribute == "shape" and spec.target.shape == "regular":
        raise ValueError("attribute_type 'shape' needs a tall or wide target, got 'regular'")
    return attribute


def captions(spec: SceneSpec, *, attribute_type: str | None = None) -> Captions:
    """The three prompt styles for the target of ``spec``.

    ``attribute_type`` defaults to ``spec.attribute_type``. Mask-Simple names the object and that
    one attribute ("a red circle", "three hearts"); Mask-Rich names every attribute except a
    ``regular`` shape, which is the unmarked default; Full-Image describes the whole scene.
    """
    attribute = _tested(spec, attribute_type)
    target = spec.target
    simple_word = {
        "color": target.color,
        "material": target.material,
        "size": _SIZE_WORDS[target.size],
        "shape": _shape_word(target.shape),
        "count": "",
    }[attribute]
    if attribute == "count" and target.count == 1:
        simple = f"one {target.noun}"
    else:
        simple = _noun_phrase(target, (simple_word,))
    others = [
        _noun_phrase(d, ("" if d.material == "plain" else d.material, d.color))
        for d in spec.distractors
    ]
    parts = ["a photo of" if spec.style == "realistic" else "a painting of", _rich_phrase(target)]
    if others:
        listed = others[0] if len(others) == 1 else f"{', '.join(others[:-1])} and {others[-1]}"
        parts += ["next to", listed]
    parts.append(_BACKDROP_PHRASES[spec.backdrop])
    full = " ".join(parts)
    return Captions(mask_simple=simple, mask_rich=_rich_phrase(target), full_image=full)


def target_dict(spec: SceneSpec, attribute_type: str | None = None) -> dict[str, object]:
    """The structured, JSON-able target of an item: what raters and the judge check.

    ``binding`` names the object the tested attribute must be on (a red circle, not a white circle
    on a red table). For ``count`` the bound value is the number of copies.
    """
    attribute = _tested(spec, attribute_type)
    t = spec.target
    attributes = {"color": t.color, "material": t.material, "size": t.size, "shape": t.shape}
    value: object = t.count if attribute == "count" else attributes[attribute]
    return {
        "object": t.noun,
        "object_type": t.object_type,
        "count": t.count,
        "attributes": attributes,
        "tested_attribute": attribute,
        "binding": {"attribute": attribute, "value": value, "object": t.noun},
    }
