"""The automatic judge on the world's own renders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inference import data, judge, world

ITEMS = range(0, 40)


def test_it_is_right_on_ground_truth_renders_of_heldout_scenes() -> None:
    wrong = []
    for i in ITEMS:
        item = data.heldout_item(i, canvas=64)
        verdict = judge.judge(item.truth, item.mask, item.target)
        if not verdict.all_correct:
            wrong.append((i, verdict.correct))
    assert len(wrong) <= 1, wrong


def test_it_notices_a_wrong_colour_and_a_missing_object() -> None:
    item = data.heldout_item(2, canvas=64)
    # The input shows another object of another colour under the mask.
    verdict = judge.judge(item.image, item.mask, item.target)
    assert not verdict.correct["color"]
    empty = world.render(item.spec, canvas=64, with_target=False).image
    assert not judge.judge(empty, item.mask, item.target).simple_correct


def test_it_reads_the_count_of_copies() -> None:
    spec = world.sample_scene(data.HELDOUT_BASE + 5, attribute_type="count")
    target = world.target_dict(spec)
    img, mask = world.render(spec, canvas=64).image, world.edit_mask(spec, canvas=64)
    assert judge.judge(img, mask, target).correct["count"]
    fewer = dataclasses.replace(spec, target=dataclasses.replace(spec.target, count=1))
    assert not judge.judge(world.render(fewer, canvas=64).image, mask, target).correct["count"]


def test_it_rejects_a_mask_of_another_size() -> None:
    item = data.heldout_item(0, canvas=64)
    with pytest.raises(ValueError, match="mask must be"):
        judge.judge(item.truth, np.ones((32, 32), dtype=bool), item.target)


def test_it_rejects_an_empty_mask() -> None:
    item = data.heldout_item(0, canvas=64)
    with pytest.raises(ValueError, match="empty"):
        judge.judge(item.truth, np.zeros((64, 64), dtype=bool), item.target)
