"""Training mask policies: object masks cover their object; random masks ignore objects."""

from __future__ import annotations

import numpy as np
import pytest

from inference import data, masking, world


def _rendered(seed: int) -> world.Rendered:
    return world.render(world.sample_scene(seed), canvas=64)


def test_an_object_mask_covers_its_object_with_a_margin() -> None:
    rng = np.random.default_rng(0)
    policy = masking.MaskPolicy("object", random_fraction=0.0)
    for seed in range(20):
        r = _rendered(seed)
        mask, obj = masking.sample_mask(policy, r, rng)
        assert obj is not None
        assert mask[obj.mask].all()
        assert mask.sum() > obj.mask.sum()


def test_the_object_policy_mixes_in_a_minority_of_random_masks() -> None:
    rng = np.random.default_rng(1)
    policy = masking.MaskPolicy("object")
    r = _rendered(3)
    kinds = [masking.sample_mask(policy, r, rng)[1] is None for _ in range(400)]
    assert 0.1 < np.mean(kinds) < 0.3


def test_the_random_policy_never_uses_an_object() -> None:
    rng = np.random.default_rng(2)
    r = _rendered(4)
    for _ in range(50):
        mask, obj = masking.sample_mask(masking.MaskPolicy("random"), r, rng)
        assert obj is None and mask.any() and mask.shape == (64, 64)


def test_masks_are_deterministic_in_the_generator() -> None:
    r = _rendered(5)
    a = masking.sample_mask(masking.MaskPolicy("object"), r, np.random.default_rng(9))[0]
    b = masking.sample_mask(masking.MaskPolicy("object"), r, np.random.default_rng(9))[0]
    assert np.array_equal(a, b)


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="mask policy"):
        masking.MaskPolicy("boxes")


def test_a_caption_describes_the_masked_object() -> None:
    rng = np.random.default_rng(3)
    spec = world.sample_scene(11)
    r = world.render(spec, canvas=64)
    distractor = r.objects[1]
    caption = data.object_caption(spec, distractor.spec, rng)
    assert distractor.spec.noun.split()[0] in caption


def test_heldout_inputs_match_the_ground_truth_outside_the_mask() -> None:
    for i in range(10):
        item = data.heldout_item(i)
        assert np.array_equal(item.image[~item.mask], item.truth[~item.mask])
        assert item.spec.seed >= data.HELDOUT_BASE
        assert item.original.target != item.spec.target
