"""Precision targets: raising the judgments a cell's units are to get while it is open.

A study with a target (``Study.target_half_width`` for single-image accuracy per model ×
prompt type, optionally × object type; ``Study.pairwise_target`` for each side-by-side
comparison) launches with ``k_min`` judgments wanted per unit (``StudyUnit.wanted``). Each
pass of :func:`adaptive_refresh` computes every cell's two-way 95% interval (the report's,
``analysis.crossed``) from the judgments so far and, for every cell whose current round is
handed out and that is still open (``analysis.adaptive``), raises its units' ``wanted`` by
one, never above K (``raters_per_unit``, the ceiling K_max) nor past the judgment budget.
Under the budget the cells with the largest expected half-width reduction per judgment go
first. A "decide" comparison stops once the item-clustered confidence sequence
(``analysis.sequential``) at ``decide_alpha`` excludes one half.

The pass runs behind the study's row lock (one at a time per study; leases go on meanwhile)
when a rater finds no open unit, and from the beat (``tasks.adaptive_refresh_studies``).
What it found is kept in ``Study.adaptive_state`` for the dashboard and the report.
Judgments of excluded raters do not count; simulated ones do (the allocation reacts to a
simulated run as to a real one).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from annotation.models import Study, StudyUnit, study_is_adaptive
from annotation.selectors.adaptive import adaptive_look, adaptive_state


def adaptive_refresh(*, study: Study) -> dict[str, Any]:
    """One allocation pass (see module); returns the new ``adaptive_state`` ({} without
    targets). Raises the wanted judgments of open cells whose round is handed out."""
    if not study_is_adaptive(study):
        return {}
    with transaction.atomic():
        # NO KEY UPDATE: passes run one at a time per study, while leases (whose insert
        # takes KEY SHARE on the study through its foreign key) go on.
        locked = Study.objects.select_for_update(no_key=True).get(pk=study.pk)
        look = adaptive_look(study=locked)
        if look.raise_units:
            # Units locked in key order, as every other multi-unit change does (no deadlock).
            ordered = StudyUnit.objects.select_for_update(no_key=True)
            list(ordered.filter(pk__in=look.raise_units).order_by("pk").values_list("pk"))
            StudyUnit.objects.filter(
                pk__in=look.raise_units, wanted__lt=locked.raters_per_unit
            ).update(wanted=F("wanted") + 1)
        state = adaptive_state(locked, look)
        state["raised_units"] = len(look.raise_units)
        Study.objects.filter(pk=locked.pk).update(adaptive_state=state)
    study.adaptive_state = state
    return state


def adaptive_refresh_live() -> int:
    """An allocation pass for every live study with targets (the beat's); returns how many."""
    studies = [
        study
        for study in Study.objects.filter(status=Study.Status.LIVE)
        if study_is_adaptive(study)
    ]
    for study in studies:
        adaptive_refresh(study=study)
    return len(studies)
