"""Handing out tasks: the next unit for a rater, leases and their expiry (ARCHITECTURE.md §5).

On PostgreSQL the common case runs as one prepared statement first (task_sql); the ORM code
here decides every case and is all there is on SQLite.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from annotation.models import (
    STUDY_STATUS_HANDING_OUT_TASKS,
    Assignment,
    Rater,
    Study,
    StudyUnit,
    emptiest_level,
    expired_lease,
    live_assignment,
    live_lease,
    live_leases_full,
    pair_a_on_left,
    rater_cap_reached,
    rater_takes_tasks,
    shuffle_key,
    study_caps_raters,
    study_is_adaptive,
    units_open,
    units_unseen,
)
from annotation.selectors.raters import rater_task_count
from annotation.services import task_sql
from annotation.services.adaptive import (
    adaptive_pass_wait,
    adaptive_refresh,
    adaptive_refresh_due,
)
from annotation.services.errors import ServiceError


def assignments_expire(*, study: Study | None = None) -> int:
    """Mark leases past their expiry as expired and give their units the slots back.

    Run periodically (a beat task) and, for one study, when a rater finds no unit left.
    Leases another request holds locked (being submitted or reported) are left for the
    next run. Returns how many leases expired.
    """
    with transaction.atomic():
        expiring = Assignment.objects.select_for_update(skip_locked=True).filter(expired_lease())
        if study is not None:
            expiring = expiring.filter(study=study)
        rows = list(expiring.values_list("pk", "unit_id"))
        if not rows:
            return 0
        Assignment.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=Assignment.Status.EXPIRED
        )
        # Units in key order, so two concurrent runs cannot deadlock on them.
        for unit_id, n in sorted(Counter(unit for _, unit in rows).items()):
            slots_taken_add(unit_id, -n)
    return len(rows)


def slots_taken_add(unit_id: int, n: int) -> None:
    """Change a unit's slot counter; only under the unit's row lock (see StudyUnit)."""
    StudyUnit.objects.filter(pk=unit_id).update(slots_taken=F("slots_taken") + n)


# A preloaded task (leased while another is on screen) is held this long at most, so a page
# opened and left takes a unit from others only briefly; it gets the study's lease minutes when
# it goes on screen (see ``assignment_next``).
PRELOAD_LEASE_MINUTES = 3


def lease_minutes(study: Study, *, preload: bool) -> int:
    """How long a new lease lasts: the study's lease minutes, or less for a preload."""
    return min(study.lease_minutes, PRELOAD_LEASE_MINUTES) if preload else study.lease_minutes


def _renew_on_screen(rater: Rater, study: Study, on_screen: list[int]) -> None:
    """Give the rater's leases on screen the study's full lease minutes from now. A lease past
    its expiry but not yet marked expired still holds its slot, so it can be renewed too."""
    if on_screen:
        Assignment.objects.filter(
            pk__in=on_screen, rater=rater, study=study, status=Assignment.Status.LEASED
        ).update(lease_expires_at=timezone.now() + timedelta(minutes=study.lease_minutes))


def _lease(rater: Rater, study: Study, unit_id: int, kind: str, minutes: int) -> Assignment:
    """Create the assignment for a locked unit, balancing left/right over its raters."""
    a_on_left = True
    if kind == StudyUnit.Kind.PAIRWISE:
        sides = Assignment.objects.filter(live_assignment(), unit_id=unit_id).aggregate(
            left=Count("pk", filter=Q(a_on_left=True)),
            right=Count("pk", filter=Q(a_on_left=False)),
        )
        balanced = pair_a_on_left(left=sides["left"], right=sides["right"])
        a_on_left = secrets.randbelow(2) == 0 if balanced is None else balanced
    assignment = Assignment.objects.create(
        rater=rater,
        unit_id=unit_id,
        study=study,
        a_on_left=a_on_left,
        lease_expires_at=timezone.now() + timedelta(minutes=minutes),
    )
    slots_taken_add(unit_id, 1)
    return assignment


@dataclass(frozen=True)
class _Pick:
    assignment: Assignment | None
    # True when candidates existed but were taken or locked by concurrent requests:
    # "nothing this time" is then not "nothing left", and the caller tries again.
    contended: bool = False


def _from_random_start(units: QuerySet[StudyUnit]) -> list[QuerySet[StudyUnit]]:
    """``units`` in their fixed random order (``StudyUnit.shuffle``) from a random key on,
    wrapping around: two index range scans that together meet every unit once."""
    start = shuffle_key()
    return [
        units.filter(shuffle__gte=start).order_by("shuffle"),
        units.filter(shuffle__lt=start).order_by("shuffle"),
    ]


def _leases_full(rater: Rater, study: Study) -> bool:
    """Whether the rater holds all the live leases they may; under the rater's row lock, so
    one identity's concurrent requests count one after another (the cap holds under a race)."""
    Rater.objects.select_for_update().filter(pk=rater.pk).values_list("pk").first()
    held = Assignment.objects.filter(live_lease(), rater=rater, study=study).count()
    return live_leases_full(held)


def _pick_unit(rater: Rater, study: Study, *, gold: bool, wait: bool, minutes: int) -> _Pick:
    if _leases_full(rater, study):
        return _Pick(None)
    units = units_unseen(rater=rater, study=study, gold=gold)
    if gold:
        # Gold units are not limited to K raters: every rater should meet some.
        ways = _from_random_start(units)
    else:
        # The emptiest units first, by the slot counter, random among them; every step is a
        # short scan of one index, however large the study.
        units = units_open(units, study=study)
        # The emptiest level is a subquery of the same statement (evaluated once by it).
        level = emptiest_level(units)
        fuller = units.filter(slots_taken__gt=level).order_by("slots_taken", "shuffle")
        ways = [*_from_random_start(units.filter(slots_taken=level)), fuller]
    # Each way finds and locks one unit in one statement. Normally rows another request
    # holds are skipped, so concurrent raters spread over different units instead of
    # queueing on one; when that keeps finding nothing, the caller asks to wait for the
    # locks instead. A row that changed while this waited for it is checked against the
    # filter again by PostgreSQL, so the counter read under the lock is current: every
    # change to it happens under the same lock, and it decides.
    for way in ways:
        locked = way.select_for_update(skip_locked=not wait)
        for pk, kind, slots_taken, wanted in locked.values_list(
            "pk", "kind", "slots_taken", "wanted"
        )[:1]:
            if gold or slots_taken < wanted:  # (SQLite has no re-check)
                return _Pick(_lease(rater, study, pk, kind, minutes))
    # Nothing unlocked: "nothing left" only if nothing is open at all.
    return _Pick(None, contended=units.exists())


# Attempts before a rater is told there is nothing for them while other requests
# keep taking the candidates first; the later attempts wait for row locks.
_PICK_ATTEMPTS = 8
_PICK_SKIP_LOCKED_ATTEMPTS = 3


def _pick_with_retries(
    rater: Rater, study: Study, *, gold: bool, minutes: int
) -> Assignment | None:
    expired = False
    for attempt in range(_PICK_ATTEMPTS):
        # Each attempt is its own transaction: locks taken on units that turned
        # out full are released, and the next candidate query sees fresh counts.
        with transaction.atomic():
            wait = attempt >= _PICK_SKIP_LOCKED_ATTEMPTS
            pick = _pick_unit(rater, study, gold=gold, wait=wait, minutes=minutes)
        if pick.assignment is not None:
            return pick.assignment
        if not pick.contended:
            # Nothing open by the counters. Leases past their expiry still count there
            # until they are marked (a beat task does it; the embedded demo runs none), so
            # mark this study's now and look once more before saying nothing is left.
            if gold or expired or not assignments_expire(study=study):
                return None
            expired = True
    return None


def _lease_by_sql(
    *, rater: Rater, study: Study, exclude: list[int], want_gold: bool, preload: bool
) -> Assignment | None:
    """The common case in one statement (task_sql): the held lease, or a new one at the
    emptiest level; None leaves the decision to the ORM code."""
    now = timezone.now()
    # Gold first when drawn; each from a random key on, then (the wrap-around) from the first.
    tries = [(g, s) for g in ((True, False) if want_gold else (False,)) for s in (shuffle_key(), 0)]
    return task_sql.lease_next(
        rater_id=rater.pk,
        study=study,
        exclude=exclude,
        renew=exclude if preload else [],
        minutes=lease_minutes(study, preload=preload),
        tries=tries,
        now=now,
    )


def assignment_next(
    *, rater: Rater, study: Study, exclude: Iterable[int] = (), preload: bool = False
) -> Assignment | None:
    """The rater's next task in the study, or None when there is none for them.

    A live lease the rater already holds (other than ``exclude``) comes back first,
    so a reload never loses or duplicates work. Otherwise a unit the rater has not
    seen, with the fewest submitted + live assignments below K, random among ties;
    gold units are mixed in at the study's gold rate. None means no unit is left
    for this rater, not that concurrent requests happened to take the candidates.

    ``preload``: the task is wanted to preload while the ``exclude`` ones are on screen. A new
    lease then lasts ``PRELOAD_LEASE_MINUTES`` at most, and the rater's leases in ``exclude``
    are renewed to the study's lease minutes from now: a lease's minutes count from when its
    task goes on screen, and a page opened and left holds its preload only briefly.
    """
    if study.status != STUDY_STATUS_HANDING_OUT_TASKS:
        raise ServiceError(f"the study is {study.status}, not live", code="conflict")
    exclude = list(exclude)
    if study_is_adaptive(study):
        adaptive_refresh_due(study=study)
    want_gold = study.gold_rate > 0 and random.random() < study.gold_rate
    if task_sql.enabled():
        # Anything the statement does not take falls through to the ORM code below,
        # which decides every case.
        leased = _lease_by_sql(
            rater=rater, study=study, exclude=exclude, want_gold=want_gold, preload=preload
        )
        if leased is not None:
            return leased
    if preload:
        _renew_on_screen(rater, study, exclude)
    if not rater_takes_tasks(rater):
        return None
    held = (
        Assignment.objects.filter(live_lease(), rater=rater, study=study)
        .exclude(pk__in=exclude)
        .order_by("leased_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if held is not None:
        return _for_task_page(held)
    # Counted only when there is a cap: one statement fewer for every other study.
    if study_caps_raters(study) and rater_cap_reached(
        study=study, tasks=rater_task_count(rater=rater, study=study)
    ):
        return None
    minutes = lease_minutes(study, preload=preload)
    assignment = _pick_with_retries(rater, study, gold=True, minutes=minutes) if want_gold else None
    if assignment is None:
        assignment = _pick_with_retries(rater, study, gold=False, minutes=minutes)
    if assignment is None and study_is_adaptive(study) and _next_round(study):
        assignment = _pick_with_retries(rater, study, gold=False, minutes=minutes)
    return None if assignment is None else _for_task_page(assignment.pk)


def _next_round(study: Study) -> bool:
    """Under precision targets nothing open may mean a round is over: an allocation pass
    opens the next round of every open cell. True when the rater should look once more:
    the pass raised something, or another rater's pass was running (waited for, not run
    again: at a round's end many raters arrive at once)."""
    if study.adaptive_done:
        return False  # the last pass found every cell stopped: nothing more to open
    outcome = adaptive_refresh(study=study, wait=False)
    if outcome.get("busy"):
        adaptive_pass_wait(study=study)
        return True
    return bool(outcome.get("raised_units"))


def _for_task_page(assignment_id: int) -> Assignment:
    """The assignment with what its task payload shows, in one query. The lookups that
    choose an assignment read ids only: joins cost planning time on every request."""
    return Assignment.objects.select_related("unit__edit_a__item").get(pk=assignment_id)
