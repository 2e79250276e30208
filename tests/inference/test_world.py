"""The scene world: determinism, geometry, masks, styles, captions and argument checks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pytest

from inference import world
from inference.world import ObjectSpec, SceneSpec

SEEDS = range(24)


@dataclass(frozen=True)
class Case:
    spec: SceneSpec
    with_target: world.Rendered
    without_target: world.Rendered
    mask: np.ndarray


@lru_cache(maxsize=4)
def cases(canvas: int) -> tuple[Case, ...]:
    """Rendered scenes for SEEDS, one per category cell sweep (rendered once per session)."""
    out = []
    for seed in SEEDS:
        spec = world.sample_scene(
            seed,
            object_type=world.OBJECT_TYPES[seed % 3],
            attribute_type=world.ATTRIBUTE_TYPES[seed % 5],
            scene=world.SCENES[seed % 2],
            style=world.STYLES[(seed // 2) % 2],
        )
        out.append(
            Case(
                spec,
                world.render(spec, canvas=canvas),
                world.render(spec, canvas=canvas, with_target=False),
                world.edit_mask(spec, canvas=canvas),
            )
        )
    return tuple(out)


def scene_with(target: ObjectSpec, *, seed: int = 3, style: str = "realistic") -> SceneSpec:
    """A scene holding only ``target``, centred."""
    base = world.sample_scene(seed, scene="indoor", style=style)
    return replace(
        base, target=target, target_center=(0.5, 0.5), distractors=(), distractor_centers=()
    )


def enclosing(boxes: tuple[tuple[int, int, int, int], ...]) -> tuple[int, int, int, int]:
    xs0, ys0, xs1, ys1 = zip(*boxes, strict=True)
    return min(xs0), min(ys0), max(xs1), max(ys1)


def obj(noun: str = "circle", **attributes: object) -> ObjectSpec:
    object_type = "text" if " " in noun else ("common" if noun in world.COMMON_NOUNS else "rare")
    fields: dict[str, object] = {
        "color": "red",
        "material": "plain",
        "size": "medium",
        "shape": "regular",
        "count": 1,
    }
    fields.update(attributes)
    return ObjectSpec(noun=noun, object_type=object_type, **fields)  # type: ignore[arg-type]


# --- Determinism -----------------------------------------------------------------------------


def test_the_same_seed_gives_identical_specs_pixels_masks_and_captions() -> None:
    for seed in (0, 7, 123456789):
        a, b = world.sample_scene(seed), world.sample_scene(seed)
        assert a == b
        assert world.render(a).image.tobytes() == world.render(b).image.tobytes()
        assert np.array_equal(world.edit_mask(a), world.edit_mask(b))
        assert world.captions(a) == world.captions(b)


def test_different_seeds_give_different_scenes() -> None:
    specs = [world.sample_scene(seed) for seed in range(10)]
    images = {world.render(spec, canvas=64).image.tobytes() for spec in specs}
    assert len(images) == 10
    assert len({world.captions(spec).full_image for spec in specs}) == 10


def test_naming_the_value_a_seed_would_draw_leaves_the_scene_unchanged() -> None:
    free = world.sample_scene(11)
    pinned = world.sample_scene(
        11,
        object_type=free.target.object_type,
        attribute_type=free.attribute_type,
        scene=free.scene,
        style=free.style,
    )
    assert pinned == free


def test_named_categories_are_the_categories_of_the_scene() -> None:
    for object_type in world.OBJECT_TYPES:
        for attribute_type in world.ATTRIBUTE_TYPES:
            spec = world.sample_scene(
                5, object_type=object_type, attribute_type=attribute_type, scene="outdoor"
            )
            assert spec.target.object_type == object_type
            assert spec.target.noun in world.NOUNS[object_type]
            assert spec.attribute_type == attribute_type
            assert spec.scene == "outdoor"
            assert spec.backdrop in world.BACKDROPS["outdoor"]


def test_a_scene_has_one_to_three_distractors_none_sharing_the_target_noun() -> None:
    counts = set()
    for seed in range(60):
        spec = world.sample_scene(seed)
        counts.add(len(spec.distractors))
        assert all(d.noun != spec.target.noun for d in spec.distractors)
    assert counts == {1, 2, 3}


def test_the_tested_shape_is_stretched_and_the_tested_count_is_several() -> None:
    for seed in range(30):
        assert world.sample_scene(seed, attribute_type="shape").target.shape in ("tall", "wide")
        assert world.sample_scene(seed, attribute_type="count").target.count in (2, 3)
        assert world.sample_scene(seed, attribute_type="color").target.count == 1


# --- Rendering and geometry ------------------------------------------------------------------


@pytest.mark.parametrize("canvas", [32, 64, 256])
def test_it_renders_at_any_square_canvas_size(canvas: int) -> None:
    rendered = world.render(world.sample_scene(4), canvas=canvas)
    assert rendered.image.shape == (canvas, canvas, 3)
    assert rendered.image.dtype == np.uint8
    for o in rendered.objects:
        assert o.mask.shape == (canvas, canvas)
        assert o.mask.dtype == np.bool_
        assert o.mask.any()


def test_the_same_scene_looks_the_same_at_different_canvas_sizes() -> None:
    spec = world.sample_scene(9)
    big = world.render(spec, canvas=256).target.box
    small = world.render(spec, canvas=64).target.box
    # Positions are canvas fractions: the target sits in the same place up to rounding.
    assert all(abs(b / 256 - s / 64) < 0.04 for b, s in zip(big, small, strict=True))


def test_boxes_are_tight_around_their_masks() -> None:
    for case in cases(256):
        for o in case.with_target.objects:
            x0, y0, x1, y1 = o.box
            inside = np.zeros_like(o.mask)
            inside[y0:y1, x0:x1] = True
            assert not (o.mask & ~inside).any()
            crop = o.mask[y0:y1, x0:x1]
            assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
            assert len(o.copy_boxes) == o.spec.count
            assert enclosing(o.copy_boxes) == o.box


def test_copies_stand_apart_and_objects_never_overlap() -> None:
    for case in cases(256):
        objects = case.with_target.objects
        total = sum(o.mask.sum() for o in objects)
        assert np.logical_or.reduce([o.mask for o in objects]).sum() == total
        for o in objects:
            for a, b in zip(o.copy_boxes, o.copy_boxes[1:], strict=False):
                assert a[2] <= b[0] or a[3] <= b[1]  # next copy to the right or below


def test_the_target_is_drawn_first_and_reported_even_when_left_out() -> None:
    for case in cases(256)[:6]:
        assert case.with_target.objects[0].is_target
        assert case.with_target.objects[0] is case.with_target.target
        assert not any(o.is_target for o in case.without_target.objects)
        assert len(case.without_target.objects) == len(case.spec.distractors)
        assert np.array_equal(case.without_target.target_mask, case.with_target.target_mask)


def test_leaving_the_target_out_shows_background_where_it_was() -> None:
    for case in cases(256):
        target = case.with_target.target_mask
        changed = (case.with_target.image != case.without_target.image).any(axis=-1)
        assert changed[target].mean() > 0.5
        # ... and nothing changes outside the edit mask (shadow included).
        assert not changed[~case.mask].any()


def test_sizes_are_clearly_ordered_for_every_kind_of_object() -> None:
    for noun in ("circle", "heart", "letter K", "word CAT"):
        areas = []
        for size in world.SIZES:
            box = world.render(scene_with(obj(noun, size=size))).target.box
            areas.append((box[2] - box[0]) * (box[3] - box[1]))
        assert areas[1] > 1.8 * areas[0]
        assert areas[2] > 1.8 * areas[1]


def test_tall_and_wide_stretch_any_object_including_text() -> None:
    for noun in ("square", "star", "letter A", "word SUN"):
        aspects = {}
        for shape in world.SHAPES:
            x0, y0, x1, y1 = world.render(scene_with(obj(noun, shape=shape))).target.box
            aspects[shape] = (x1 - x0) / (y1 - y0)
        assert aspects["tall"] < aspects["regular"] / 1.5
        assert aspects["wide"] > aspects["regular"] * 1.5


def test_count_draws_that_many_copies_of_the_same_object() -> None:
    for noun in ("triangle", "cross", "letter E"):
        for count in world.COUNTS:
            target = world.render(scene_with(obj(noun, count=count))).target
            assert len(target.copy_boxes) == count
            sizes = {(b[2] - b[0], b[3] - b[1]) for b in target.copy_boxes}
            assert len(sizes) == 1  # identical copies


def test_every_colour_is_drawn_in_its_own_colour() -> None:
    for name, rgb in world.COLOR_RGB.items():
        rendered = world.render(scene_with(obj("square", color=name, size="large")))
        pixels = rendered.image[rendered.target_mask].astype(float)
        assert np.abs(pixels.mean(axis=0) - rgb).max() < 20
    names = list(world.COLOR_RGB)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert math.dist(world.COLOR_RGB[a], world.COLOR_RGB[b]) > 60


def test_materials_pattern_the_object_in_a_second_shade() -> None:
    for material in world.MATERIALS:
        target = obj("square", material=material, size="large")
        rendered = world.render(scene_with(target, style="painting"))
        pixels = rendered.image[rendered.target_mask]
        # The most common shade covers everything for plain, clearly not for patterns.
        _, counts = np.unique(pixels // 48, axis=0, return_counts=True)
        share = counts.max() / counts.sum()
        if material == "plain":
            assert share > 0.9
        else:
            assert share < 0.85


def test_text_objects_are_letter_shaped_not_filled_boxes() -> None:
    for noun in ("letter A", "word BOX"):
        target = world.render(scene_with(obj(noun, size="large"))).target
        x0, y0, x1, y1 = target.box
        fill = target.mask[y0:y1, x0:x1].mean()
        assert 0.2 < fill < 0.8


def test_the_painting_style_is_posterized_and_the_realistic_style_is_smooth() -> None:
    spec = world.sample_scene(2, style="painting")
    painted = world.render(spec).image
    photo = world.render(replace(spec, style="realistic")).image
    assert set(np.unique(painted)) <= set(range(0, 256, 16)) | {255}
    assert len(np.unique(photo)) > 2 * len(np.unique(painted))


def test_outdoor_scenes_have_a_sky_and_indoor_scenes_a_wall() -> None:
    for seed in range(6):
        for scene in world.SCENES:
            image = world.render(world.sample_scene(seed, scene=scene), canvas=64).image
            top = np.median(image[1].astype(int), axis=0)
            blueness = top[2] - top[0]
            assert (blueness > 60) == (scene == "outdoor")


# --- Edit mask -------------------------------------------------------------------------------


def test_every_target_pixel_lies_inside_the_edit_mask() -> None:
    for case in cases(256):
        assert not (case.with_target.target_mask & ~case.mask).any()
    for seed in range(100, 160):
        spec = world.sample_scene(seed)
        for canvas in (32, 64):
            target = world.render(spec, canvas=canvas).target_mask
            assert not (target & ~world.edit_mask(spec, canvas=canvas)).any()


def test_the_edit_mask_covers_the_dilated_region_of_all_copies() -> None:
    margin = int(world.MASK_MARGIN * 256 / math.sqrt(2))
    for case in cases(256):
        x0, y0, x1, y1 = enclosing(case.with_target.target.copy_boxes)
        region = case.mask[max(0, y0 - margin) : y1 + margin, max(0, x0 - margin) : x1 + margin]
        assert region.all()


def test_the_edit_mask_is_binary_non_empty_and_not_the_whole_image() -> None:
    for case in cases(256):
        assert case.mask.dtype == np.bool_
        assert case.mask.shape == (256, 256)
        assert 0 < case.mask.mean() < 0.9


def test_the_edit_mask_does_not_follow_the_target_silhouette() -> None:
    ious = []
    for case in cases(256):
        target = case.with_target.target_mask
        ious.append((target & case.mask).sum() / (target | case.mask).sum())
        # Its outline is not the box either: the mask is no filled rectangle.
        ys, xs = np.nonzero(case.mask)
        box_area = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
        assert case.mask.sum() < 0.97 * box_area
    assert max(ious) < 0.6
    assert float(np.median(ious)) < 0.35


def test_the_edit_mask_stays_clear_of_distractors() -> None:
    for case in cases(256):
        for o in case.with_target.objects[1:]:
            assert not (o.mask & case.mask).any()


def test_the_edit_mask_outline_depends_on_the_seed() -> None:
    spec = world.sample_scene(21)
    other = replace(spec, seed=22)
    assert np.array_equal(world.edit_mask(spec), world.edit_mask(replace(spec)))
    assert not np.array_equal(world.edit_mask(spec), world.edit_mask(other))


# --- Captions and the structured target ------------------------------------------------------


@pytest.mark.parametrize(
    ("noun", "count", "expected"),
    [
        ("heart", 2, "two hearts"),
        ("cross", 3, "three crosses"),
        ("letter A", 3, "three letters A"),
        ("word CAT", 2, "two words CAT"),
        ("circle", 1, "one circle"),
    ],
)
def test_count_captions_use_english_plurals(noun: str, count: int, expected: str) -> None:
    spec = replace(scene_with(obj(noun, count=count)), attribute_type="count")
    assert world.captions(spec).mask_simple == expected
    first_word = world.captions(spec).mask_rich.split()[0]
    assert first_word == ("a" if count == 1 else expected.split()[0])


@pytest.mark.parametrize(
    ("attribute_type", "attributes", "expected"),
    [
        ("color", {"color": "red"}, "a red circle"),
        ("color", {"color": "orange"}, "an orange circle"),
        ("material", {"material": "striped"}, "a striped circle"),
        ("size", {"size": "small"}, "a small circle"),
        ("size", {"size": "medium"}, "a medium-sized circle"),
        ("shape", {"shape": "tall"}, "a tall circle"),
    ],
)
def test_mask_simple_names_the_object_and_the_tested_attribute(
    attribute_type: str, attributes: dict[str, object], expected: str
) -> None:
    spec = replace(scene_with(obj("circle", **attributes)), attribute_type=attribute_type)
    assert world.captions(spec).mask_simple == expected


def test_mask_rich_names_every_attribute_in_english_order() -> None:
    spec = scene_with(obj("star", color="blue", material="dotted", size="large", shape="wide"))
    assert world.captions(spec).mask_rich == "a large wide dotted blue star"
    regular = scene_with(obj("letter A", color="white", material="plain", size="small"))
    # A regular shape is the unmarked default and is not named.
    assert world.captions(regular).mask_rich == "a small plain white letter A"


def test_captions_of_sampled_scenes_name_what_they_test() -> None:
    size_words = {"small": "small", "medium": "medium-sized", "large": "large"}
    number_words = {2: "two ", 3: "three "}
    for seed in range(40):
        spec = world.sample_scene(seed, attribute_type=world.ATTRIBUTE_TYPES[seed % 5])
        t = spec.target
        caps = world.captions(spec)
        words = {
            "color": t.color,
            "material": t.material,
            "size": size_words[t.size],
            "shape": t.shape,
            "count": number_words.get(t.count, ""),
        }
        assert words[spec.attribute_type] in caps.mask_simple
        assert t.noun.split()[-1] in caps.mask_simple
        for attribute, word in words.items():
            if attribute == "shape" and t.shape == "regular":
                continue
            assert word in caps.mask_rich, (attribute, caps.mask_rich)
        assert caps.mask_rich in caps.full_image


def test_the_full_image_caption_names_style_place_and_every_object() -> None:
    spec = world.sample_scene(8, style="painting", scene="outdoor")
    caption = world.captions(spec).full_image
    assert caption.startswith("a painting of ")
    assert ("hills" in caption) == (spec.backdrop == "hills")
    assert ("trees" in caption) == (spec.backdrop == "trees")
    for d in spec.distractors:
        assert d.color in caption
        assert d.noun.split()[-1] in caption
    assert world.captions(replace(spec, style="realistic")).full_image.startswith("a photo of ")


def test_the_target_dict_is_json_and_binds_the_tested_value_to_the_object() -> None:
    spec = replace(scene_with(obj("heart", color="pink", material="checkered")), seed=3)
    d = world.target_dict(spec, "color")
    assert json.loads(json.dumps(d)) == d
    assert d == {
        "object": "heart",
        "object_type": "rare",
        "count": 1,
        "attributes": {
            "color": "pink",
            "material": "checkered",
            "size": "medium",
            "shape": "regular",
        },
        "tested_attribute": "color",
        "binding": {"attribute": "color", "value": "pink", "object": "heart"},
    }
    counted = world.target_dict(replace(scene_with(obj("star", count=3)), attribute_type="count"))
    assert counted["binding"] == {"attribute": "count", "value": 3, "object": "star"}


# --- Argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"object_type": "animal"}, "animal"),
        ({"attribute_type": "texture"}, "texture"),
        ({"scene": "underwater"}, "underwater"),
        ({"style": "sketch"}, "sketch"),
    ],
)
def test_sample_scene_rejects_unknown_categories_by_name(kwargs: dict[str, str], bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        world.sample_scene(1, **kwargs)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_sample_scene_rejects_a_seed_that_is_not_a_non_negative_int(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        world.sample_scene(seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("canvas", [8, 0, 64.0])
def test_render_and_edit_mask_reject_a_bad_canvas(canvas: object) -> None:
    spec = world.sample_scene(1)
    with pytest.raises(ValueError, match=repr(canvas)):
        world.render(spec, canvas=canvas)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=repr(canvas)):
        world.edit_mask(spec, canvas=canvas)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "bad"),
    [("color", "teal"), ("material", "furry"), ("size", "huge"), ("shape", "round"), ("count", 4)],
)
def test_object_spec_rejects_unknown_attribute_values(field: str, bad: object) -> None:
    with pytest.raises(ValueError, match=repr(bad)):
        obj("circle", **{field: bad})


def test_object_spec_rejects_a_noun_of_another_object_type() -> None:
    with pytest.raises(ValueError, match="'heart'"):
        ObjectSpec("heart", "common", "red", "plain", "small", "regular", 1)


def test_captions_reject_an_attribute_they_cannot_name() -> None:
    spec = scene_with(obj("circle", shape="regular"))
    with pytest.raises(ValueError, match="regular"):
        world.captions(spec, attribute_type="shape")
    with pytest.raises(ValueError, match="smell"):
        world.captions(spec, attribute_type="smell")
    with pytest.raises(ValueError, match="smell"):
        world.target_dict(spec, "smell")


def test_scene_spec_rejects_centres_off_the_canvas() -> None:
    spec = world.sample_scene(1)
    with pytest.raises(ValueError, match=r"1\.5"):
        replace(spec, target_center=(1.5, 0.5))
