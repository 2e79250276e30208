"""Leases follow intent (issue #16): opening the link takes nothing, the task on screen holds
the study's lease minutes, and the preloaded one only PRELOAD_LEASE_MINUTES until it goes on
screen, when it gets the full lease minutes. On both rater paths (``task_path``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, Study
from annotation.services.assignments import PRELOAD_LEASE_MINUTES
from tests.annotation.rating import answer, arrive, holding, post_json, prolific, slots

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]

LEASE_MINUTES = 20


def expires(task: dict[str, object]) -> datetime:
    return Assignment.objects.get(pk=task["assignment"]).lease_expires_at


def minutes_left(task: dict[str, object]) -> float:
    return (expires(task) - timezone.now()).total_seconds() / 60


@pytest.fixture
def study(make_study: Callable[..., Study]) -> Study:
    return make_study(lease_minutes=LEASE_MINUTES, raters_per_unit=1)


def test_opening_the_link_and_the_start_page_leases_nothing(study: Study) -> None:
    client = Client()
    assert prolific(client, study)["Location"] == f"/s/{study.slug}/start/"
    assert client.get(f"/s/{study.slug}/start/").status_code == 200
    assert client.get(f"/s/{study.slug}/practice/").status_code == 200
    assert Assignment.objects.count() == 0


def test_the_preload_is_leased_briefly_and_the_task_on_screen_for_the_lease_minutes(
    study: Study,
) -> None:
    on_screen, preloaded = arrive(Client(), study, pid="p-brief")
    assert LEASE_MINUTES - 1 < minutes_left(on_screen) <= LEASE_MINUTES
    assert PRELOAD_LEASE_MINUTES - 1 < minutes_left(preloaded) <= PRELOAD_LEASE_MINUTES
    assert Assignment.objects.count() == 2


def test_the_preloaded_task_gets_the_full_lease_when_it_goes_on_screen(study: Study) -> None:
    client = Client()
    on_screen, preloaded = arrive(client, study, pid="p-shown")
    reply = answer(client, study, on_screen, next={"exclude": [preloaded["assignment"]]}).json()
    assert reply["recorded"] is True
    assert LEASE_MINUTES - 1 < minutes_left(preloaded) <= LEASE_MINUTES
    assert PRELOAD_LEASE_MINUTES - 1 < minutes_left(reply["next"]) <= PRELOAD_LEASE_MINUTES


def test_a_lapsed_preload_not_yet_marked_expired_is_renewed_when_it_goes_on_screen(
    study: Study,
) -> None:
    client = Client()
    on_screen, preloaded = arrive(client, study, pid="p-lapsed")
    Assignment.objects.filter(pk=preloaded["assignment"]).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    answer(client, study, on_screen, next={"exclude": [preloaded["assignment"]]})
    lease = Assignment.objects.get(pk=preloaded["assignment"])
    assert lease.status == "leased" and minutes_left(preloaded) > LEASE_MINUTES - 1
    # It never stopped holding its slot, so the counters still agree with the leases.
    assert slots(study) == holding(study)
    reply = answer(client, study, preloaded)
    assert reply.status_code == 200 and reply.json()["recorded"] is True


def test_a_preload_request_renews_only_the_raters_own_leases(study: Study) -> None:
    other, _ = arrive(Client(), study, pid="p-other")
    Assignment.objects.filter(pk=other["assignment"]).update(
        lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    before = expires(other)
    client = Client()
    prolific(client, study, pid="p-mine")
    post_json(client, reverse("rater-next", args=[study.slug]), {"exclude": [other["assignment"]]})
    assert expires(other) == before
