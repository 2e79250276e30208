"""Precision targets: raising the judgments a cell's units are to get while it is open.

A study with a target (``Study.target_half_width`` for single-image accuracy per model ×
prompt type, optionally × object type; ``Study.pairwise_target`` for each side-by-side
comparison) launches with ``k_min`` judgments wanted per unit (``StudyUnit.wanted``). Each
pass of :func:`adaptive_refresh` computes every cell's two-way 95% interval (the report's,
``analysis.crossed``) from the judgments so far and, for every cell whose current round is
handed out and that is still open (``analysis.adaptive``), raises its units' ``wanted`` by
one, never above K (``raters_per_unit``, the ceiling K_max) nor past the judgment budget.
Under the budget the cells with the largest expected half-width reduction per judgment go
first. A "decide" comparison is looked at once per complete round (every unit's first r
counted judgments) and stops once that round's two-way interval at ``decide_alpha`` split
over the rounds excludes one half (``selectors.adaptive.look_alpha``).

The pass runs behind the study's row lock (one at a time per study; leases go on meanwhile)
when a rater finds no open unit, and from the beat (``tasks.adaptive_refresh_studies``).
What it found is kept in ``Study.adaptive_state`` for the dashboard and the report.
Judgments of excluded raters do not count; simulated ones do (the allocation reacts to a
simulated run as to a real one).
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analysis.adaptive import RUNNING
from annotation.models import Study, StudyUnit, study_is_adaptive
from annotation.selectors.adaptive import adaptive_look, adaptive_state

#: What :func:`adaptive_refresh` answers when another pass holds the study (``wait=False``).
BUSY: dict[str, Any] = {"busy": True, "raised_units": 0}


def adaptive_refresh(*, study: Study, wait: bool = True) -> dict[str, Any]:
    """One allocation pass (see module); returns the new ``adaptive_state`` ({} without
    targets). Raises the wanted judgments of open cells whose round is handed out.

    ``wait=False``: when another pass is running, return :data:`BUSY` at once instead of
    queueing behind it (raters at the end of a round would otherwise each run one in turn).
    """
    if not study_is_adaptive(study):
        return {}
    with transaction.atomic():
        # NO KEY UPDATE: passes run one at a time per study, while leases (whose insert
        # takes KEY SHARE on the study through its foreign key) go on.
        found = Study.objects.select_for_update(no_key=True, skip_locked=not wait)
        locked = found.filter(pk=study.pk).first()
        if locked is None:
            return dict(BUSY)
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
        done = not look.raise_units and all(c["status"] != RUNNING for c in state["cells"])
        Study.objects.filter(pk=locked.pk).update(
            adaptive_state=state, adaptive_refreshed_at=timezone.now(), adaptive_done=done
        )
    study.adaptive_done = done
    study.adaptive_state = state
    return state


#: Seconds between the passes a serving process runs ahead of need (``adaptive_refresh_due``).
PASS_EVERY_SECONDS = 10.0
_last_pass: dict[int, float] = {}


def adaptive_refresh_due(*, study: Study) -> None:
    """A pass now if this process has run none for the study in :data:`PASS_EVERY_SECONDS`:
    rounds open while raters are still busy with the last units of the one before (a pass
    raises a cell once nearly all of its round is handed out), so the pool of open units does
    not run dry at a round's end. Never waits for another process's pass."""
    now = time.monotonic()
    if now - _last_pass.get(study.pk, -math.inf) < PASS_EVERY_SECONDS:
        return
    _last_pass[study.pk] = now
    # Any process's pass counts: the study row as loaded for this request says when.
    last = study.adaptive_refreshed_at
    if last is not None and (timezone.now() - last).total_seconds() < PASS_EVERY_SECONDS:
        return
    adaptive_refresh(study=study, wait=False)


def adaptive_pass_wait(*, study: Study) -> None:
    """Return once no allocation pass holds the study (the one running has committed)."""
    with transaction.atomic():
        Study.objects.select_for_update(no_key=True).filter(pk=study.pk).values_list("pk").first()


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
