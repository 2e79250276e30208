"""Simulated raters: they fill every slot through the services, marked, and bad settings are
refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from annotation.models import Judgment, Rater, Study
from annotation.services.errors import ServiceError
from annotation.services.simulation import raters_simulate

pytestmark = pytest.mark.django_db


def test_simulated_raters_fill_every_slot_and_are_marked(simulated: Study) -> None:
    regular = simulated.units.filter(is_gold=False).count()
    judgments = Judgment.objects.filter(assignment__unit__is_gold=False)
    assert judgments.count() == regular * 2
    assert all(judgments.values_list("simulated", flat=True))
    assert set(Rater.objects.values_list("platform", flat=True)) == {"simulated"}


def test_bad_simulation_settings_are_refused(make_study: Callable[..., Study]) -> None:
    study = make_study()
    with pytest.raises(ServiceError, match="noise"):
        raters_simulate(study=study, raters=1, noise=1.5)
