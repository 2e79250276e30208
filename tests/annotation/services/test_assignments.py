"""Handing out tasks: never the same unit twice, at most K raters, the emptiest first, leases,
the slot counter, pair sides, the per-rater cap, gold units, excluded raters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from annotation.models import SHUFFLE_KEYS, Assignment, Rater, Study, StudyUnit
from annotation.services import assignments
from annotation.services.assignments import assignment_next, assignments_expire
from annotation.services.errors import ServiceError
from annotation.services.judgments import assignment_report_broken
from annotation.services.raters import rater_for_participant
from tests.annotation.rating import holding, slots, submit

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def test_a_rater_never_gets_the_same_unit_twice(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="p1")
    seen = []
    while (a := assignment_next(rater=rater, study=study)) is not None:
        seen.append(a.unit_id)
        submit(rater, a)
    assert len(seen) == len(set(seen)) == study.units.count()


def test_no_unit_gets_more_than_k_raters(make_study: Callable[..., Study]) -> None:
    study = make_study(raters_per_unit=2)
    for n in range(5):
        rater = rater_for_participant(platform="prolific", participant_id=f"p{n}")
        while (a := assignment_next(rater=rater, study=study)) is not None:
            submit(rater, a)
    counts = Counter(
        Assignment.objects.filter(study=study, status="submitted").values_list("unit", flat=True)
    )
    assert set(counts.values()) == {2}
    assert len(counts) == study.units.count()


def test_units_with_the_fewest_judgments_come_first(make_study: Callable[..., Study]) -> None:
    study = make_study(raters_per_unit=3)
    first = rater_for_participant(platform="prolific", participant_id="first")
    for _ in range(study.units.count()):
        a = assignment_next(rater=first, study=study)
        assert a is not None
        submit(first, a)
    second = rater_for_participant(platform="prolific", participant_id="second")
    a = assignment_next(rater=second, study=study)
    assert a is not None
    # Everything has one judgment now; the second rater may take any of them.
    assert a.unit.assignments.filter(status="submitted").count() == 1


def test_an_expired_lease_frees_its_slot(make_study: Callable[..., Study]) -> None:
    study = make_study(raters_per_unit=1)
    slow = rater_for_participant(platform="prolific", participant_id="slow")
    held = [assignment_next(rater=slow, study=study, exclude=[]) for _ in range(1)]
    assert held[0] is not None
    Assignment.objects.filter(pk=held[0].pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    other = rater_for_participant(platform="prolific", participant_id="other")
    taken = set()
    while (a := assignment_next(rater=other, study=study)) is not None:
        taken.add(a.unit_id)
        submit(other, a)
    assert held[0].unit_id in taken
    with pytest.raises(ServiceError, match="ran out") as caught:
        submit(slow, held[0])
    assert caught.value.code == "conflict"


def test_a_reload_returns_the_task_already_leased(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="r")
    first = assignment_next(rater=rater, study=study)
    again = assignment_next(rater=rater, study=study)
    assert first is not None and again is not None and first.pk == again.pk
    prefetched = assignment_next(rater=rater, study=study, exclude=[first.pk])
    assert prefetched is not None and prefetched.pk != first.pk


def test_pair_sides_are_balanced_over_a_unit_s_raters(make_study: Callable[..., Study]) -> None:
    study = make_study(raters_per_unit=4, task_single=False)
    for n in range(4):
        rater = rater_for_participant(platform="prolific", participant_id=f"s{n}")
        while (a := assignment_next(rater=rater, study=study)) is not None:
            submit(rater, a)
    for unit in study.units.filter(kind="pairwise"):
        sides = Counter(unit.assignments.values_list("a_on_left", flat=True))
        assert sides[True] == sides[False] == 2


def test_the_per_participant_cap_ends_the_session(make_study: Callable[..., Study]) -> None:
    study = make_study(max_tasks_per_rater=3)
    rater = rater_for_participant(platform="prolific", participant_id="capped")
    done = 0
    while (a := assignment_next(rater=rater, study=study)) is not None:
        submit(rater, a)
        done += 1
    assert done == 3


def test_gold_units_are_served_and_scored(make_study: Callable[..., Study]) -> None:
    study = make_study(gold_rate=0.5, raters_per_unit=1)
    rater = rater_for_participant(platform="prolific", participant_id="gold")
    kinds = Counter()
    while (a := assignment_next(rater=rater, study=study)) is not None:
        kinds[a.unit.is_gold] += 1
        submit(rater, a)
    assert kinds[True] >= 1 and kinds[False] >= 1


def test_the_slot_counter_follows_leases_submits_reports_and_expiry(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(raters_per_unit=2)
    raters = [rater_for_participant(platform="prolific", participant_id=f"c{n}") for n in range(3)]
    leased = []
    for r in raters:
        a = assignment_next(rater=r, study=study)
        assert a is not None
        leased.append(a)
    assert slots(study) == holding(study) and sum(slots(study).values()) == 3
    submit(raters[0], leased[0])
    assert slots(study) == holding(study) and sum(slots(study).values()) == 3
    assignment_report_broken(rater=raters[1], assignment_id=leased[1].pk, note="blank")
    assert slots(study) == holding(study) and sum(slots(study).values()) == 2
    Assignment.objects.filter(pk=leased[2].pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert assignments_expire() == 1
    assert slots(study) == holding(study) and sum(slots(study).values()) == 1
    assert assignments_expire() == 0  # nothing counted twice


def test_the_emptiest_units_by_the_counter_come_first(make_study: Callable[..., Study]) -> None:
    study = make_study(raters_per_unit=3)
    units = list(study.units.order_by("pk"))
    # Every unit but the last looks fuller: the next rater must get the last one.
    StudyUnit.objects.filter(pk__in=[u.pk for u in units[:-1]]).update(slots_taken=1)
    rater = rater_for_participant(platform="prolific", participant_id="emptiest")
    a = assignment_next(rater=rater, study=study)
    assert a is not None and a.unit_id == units[-1].pk


def test_ties_between_equally_full_units_are_broken_at_random(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(raters_per_unit=3)
    rater = rater_for_participant(platform="prolific", participant_id="ties")
    first_units = set()
    for _ in range(20):
        with transaction.atomic():
            a = assignment_next(rater=rater, study=study)
            assert a is not None
            first_units.add(a.unit_id)
            transaction.set_rollback(True)  # the same empty study every time
    # 20 draws over the study's equally empty units: one fixed choice would give 1.
    assert len(first_units) >= 5


def test_a_random_start_past_every_open_unit_wraps_around(
    make_study: Callable[..., Study], monkeypatch: pytest.MonkeyPatch
) -> None:
    study = make_study(raters_per_unit=1)
    StudyUnit.objects.filter(study=study).update(shuffle=SHUFFLE_KEYS - 2)
    monkeypatch.setattr(assignments, "shuffle_key", lambda: SHUFFLE_KEYS - 1)
    rater = rater_for_participant(platform="prolific", participant_id="wrap")
    seen = []
    while (a := assignment_next(rater=rater, study=study)) is not None:
        seen.append(a.unit_id)
        submit(rater, a)
    assert sorted(seen) == sorted(study.units.values_list("pk", flat=True))


def test_an_excluded_rater_gets_no_task_not_even_the_one_held(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="excluded")
    held = assignment_next(rater=rater, study=study)
    assert held is not None
    Rater.objects.filter(pk=rater.pk).update(excluded=True, exclusion_reason="gold accuracy")
    assert assignment_next(rater=Rater.objects.get(pk=rater.pk), study=study) is None
    assert Assignment.objects.filter(rater=rater).count() == 1


def test_a_rater_holds_at_most_two_live_leases_whatever_they_exclude(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="hoarder")
    on_screen = assignment_next(rater=rater, study=study)
    assert on_screen is not None
    preloaded = assignment_next(rater=rater, study=study, exclude=[on_screen.pk])
    assert preloaded is not None and preloaded.pk != on_screen.pk
    # A third, excluding both: nothing, however often asked.
    for _ in range(3):
        assert (
            assignment_next(rater=rater, study=study, exclude=[on_screen.pk, preloaded.pk]) is None
        )
    assert Assignment.objects.filter(rater=rater, status="leased").count() == 2
    submit(rater, on_screen)  # the page's rhythm goes on as before
    following = assignment_next(rater=rater, study=study, exclude=[preloaded.pk])
    assert following is not None and following.pk not in (on_screen.pk, preloaded.pk)
