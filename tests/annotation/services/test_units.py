"""A launched study's units: one per edit and question set, one per model pair, gold mixed in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from annotation.models import Study

pytestmark = pytest.mark.django_db


def test_launch_builds_single_units_per_edit_and_pairwise_units_per_model_pair(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    units = study.units.filter(is_gold=False)
    singles = units.filter(kind="single")
    pairs = units.filter(kind="pairwise")
    assert singles.count() == 4 * 3 * 2  # items × models × prompt types
    assert pairs.count() == 4 * 3  # items × pairs of 3 models
    assert set(pairs.values_list("prompt_type", flat=True)) == {"mask_rich"}
    assert Counter(singles.values_list("prompt_type", flat=True)) == {
        "mask_simple": 12,
        "full_image": 12,
    }
    unit = singles.filter(prompt_type="mask_simple").first()
    assert unit is not None
    assert [q["id"] for q in unit.questions] == ["object", "attribute", "binding"]
    assert study.status == "live"


def test_gold_units_are_mixed_in_at_the_study_rate(make_study: Callable[..., Study]) -> None:
    study = make_study(gold_rate=0.2)
    regular = study.units.filter(is_gold=False).count()
    gold = study.units.filter(is_gold=True)
    assert gold.count() == round(regular * 0.2 / 0.8)
    single_gold = gold.filter(kind="single").first()
    assert single_gold is not None and single_gold.gold_answer == {"object": "no"}
    pair_gold = gold.filter(kind="pairwise").first()
    assert pair_gold is not None and pair_gold.gold_answer == {"alignment": "a"}
    assert pair_gold.edit_a.model.preset == "reference"
    assert pair_gold.edit_b is not None and pair_gold.edit_b.model.preset == "blur_fill"
