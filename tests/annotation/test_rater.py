"""The rater experience: crowd entry, assignment, submission, permissions, blinding, quality."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, EditModel, Judgment, Rater, Study, StudyUnit
from annotation.services.assignments import assignment_next, assignments_expire
from annotation.services.errors import ServiceError
from annotation.services.judgments import assignment_report_broken, judgment_submit
from annotation.services.raters import rater_for_participant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def yes_answers(assignment: Assignment) -> dict[str, str]:
    return {
        q["id"]: ("yes" if q["kind"] == "yes_no" else "left") for q in assignment.unit.questions
    }


def submit(rater: Rater, assignment: Assignment, **kw: Any) -> Any:
    return judgment_submit(
        rater=rater,
        assignment_id=assignment.pk,
        answers=kw.get("answers", yes_answers(assignment)),
        time_on_task_ms=kw.get("time_on_task_ms", 4000),
        client_submission_id=kw.get("client_submission_id", uuid.uuid4()),
    )


def prolific(client: Client, study: Study, pid: str = "5f1e2d3c4b5a") -> Any:
    return client.get(
        f"/s/{study.slug}/", {"PROLIFIC_PID": pid, "STUDY_ID": "st1", "SESSION_ID": "se1"}
    )


def post_json(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


# --- assignment ------------------------------------------------------------------------------


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


# --- submission ------------------------------------------------------------------------------


def test_a_double_submit_records_one_judgment(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="dbl")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    submission = uuid.uuid4()
    first = submit(rater, a, client_submission_id=submission)
    second = submit(rater, a, client_submission_id=submission)
    assert first.created and not second.created
    assert first.judgment.pk == second.judgment.pk
    assert Judgment.objects.filter(assignment=a).count() == 1


def test_a_second_submission_with_a_new_id_is_refused(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="again")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    submit(rater, a)
    with pytest.raises(ServiceError, match="already submitted"):
        submit(rater, a)


def test_a_submission_id_already_used_for_another_task_is_refused_and_records_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="reuse")
    first = assignment_next(rater=rater, study=study)
    assert first is not None
    submission = uuid.uuid4()
    submit(rater, first, client_submission_id=submission)
    second = assignment_next(rater=rater, study=study)
    assert second is not None
    with pytest.raises(ServiceError, match="already used for another task") as refused:
        submit(rater, second, client_submission_id=submission)
    assert refused.value.http_status == 409
    second.refresh_from_db()
    assert second.status == "leased" and not second.judgments.exists()


@pytest.mark.parametrize(
    "answers,message",
    [
        ({}, "needs one of: yes, no"),
        ("yes", "answers must be an object"),
        ({"object": "maybe"}, "needs one of"),
    ],
)
def test_incomplete_or_invalid_answers_are_refused(
    make_study: Callable[..., Study], answers: Any, message: str
) -> None:
    study = make_study(task_pairwise=False)
    rater = rater_for_participant(platform="prolific", participant_id="bad")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    with pytest.raises(ServiceError, match=message):
        submit(rater, a, answers=answers)
    assert Judgment.objects.count() == 0


def test_a_single_judgment_is_correct_only_when_every_check_is_yes(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(task_pairwise=False, prompt_types=["mask_simple"])
    rater = rater_for_participant(platform="prolific", participant_id="c")
    a = assignment_next(rater=rater, study=study)
    b = assignment_next(rater=rater, study=study, exclude=[a.pk] if a else [])
    assert a is not None and b is not None
    assert submit(rater, a).judgment.correct is True
    answers = {**yes_answers(b), "binding": "no"}
    assert submit(rater, b, answers=answers).judgment.correct is False


def test_a_pair_judgment_records_what_the_sides_meant(make_study: Callable[..., Study]) -> None:
    study = make_study(task_single=False)
    rater = rater_for_participant(platform="prolific", participant_id="pair")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    j = submit(rater, a, answers={"alignment": "left", "realism": "none"}).judgment
    assert j.answers["alignment_choice"] == ("a" if a.a_on_left else "b")
    assert j.answers["realism_choice"] == "none"


def test_a_paused_study_accepts_leased_work_but_hands_out_none(
    make_study: Callable[..., Study],
) -> None:
    from annotation.services.studies import study_pause

    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="pz")
    a = assignment_next(rater=rater, study=study)
    assert a is not None
    study = study_pause(study=study)
    assert submit(rater, a).created
    with pytest.raises(ServiceError, match="not live"):
        assignment_next(rater=rater, study=study)


def test_quality_rules_flag_a_straight_liner_and_keep_the_judgments(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(quality_rules={"max_same_answer_share": 0.9}, raters_per_unit=3)
    rater = rater_for_participant(platform="prolific", participant_id="lazy")
    while (a := assignment_next(rater=rater, study=study)) is not None:
        submit(rater, a)
    rater.refresh_from_db()
    assert rater.excluded and "straight-lining" in rater.exclusion_reason
    assert Judgment.objects.filter(assignment__rater=rater).count() >= 10


def test_rater_quality_reads_gold_accuracy_and_median_time_and_excludes_by_them(
    make_study: Callable[..., Study],
) -> None:
    import statistics

    from annotation.selectors.raters import rater_quality

    study = make_study(gold_rate=0.5, raters_per_unit=1, task_pairwise=False, quality_rules={})
    rater = rater_for_participant(platform="prolific", participant_id="golden")
    gold_seen = gold_right = 0
    times: list[int] = []
    while gold_seen < 4 and (a := assignment_next(rater=rater, study=study)) is not None:
        answers = yes_answers(a)
        if a.unit.is_gold:
            gold_seen += 1
            (question, expected), *_ = a.unit.gold_answer.items()
            right = gold_seen % 2 == 1  # right on the 1st and 3rd gold unit only
            answers[question] = expected if right else ("yes" if expected == "no" else "no")
            gold_right += right
        times.append(1000 + 700 * len(times))
        submit(rater, a, answers=answers, time_on_task_ms=times[-1])
    assert gold_seen == 4
    quality = rater_quality(rater=rater, study=study)
    assert quality["judgments"] == len(times)
    assert quality["gold_answers"] == 4 and quality["gold_accuracy"] == gold_right / 4 == 0.5
    assert quality["median_seconds"] == statistics.median(times) / 1000
    # The same figures decide exclusion once the study has a rule on them.
    from annotation.services.raters import rater_apply_quality_rules

    study.quality_rules = {"min_gold_accuracy": 0.6}
    assert rater_apply_quality_rules(rater=rater, study=study)
    rater.refresh_from_db()
    assert rater.excluded and "min_gold_accuracy" in rater.exclusion_reason
    assert Judgment.objects.filter(assignment__rater=rater).count() == len(times)


# --- crowd entry and pages --------------------------------------------------------------------


def test_a_prolific_participant_is_stored_only_as_a_hash(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client()
    response = prolific(client, study, pid="5f1e2d3c4b5a6978")
    assert response.status_code == 302 and response["Location"] == f"/s/{study.slug}/task/"
    rater = Rater.objects.get(platform="prolific")
    assert rater.participant_hash and "5f1e2d3c4b5a6978" not in rater.participant_hash
    with connection.cursor() as cursor:
        for table in ("annotation_rater", "django_session"):
            cursor.execute(f"SELECT * FROM {table}")
            assert "5f1e2d3c4b5a6978" not in repr(cursor.fetchall())


def test_a_returning_participant_resumes_with_the_same_identity(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    first, later = Client(), Client()
    prolific(first, study, pid="same-person")
    page = first.get(f"/s/{study.slug}/task/")
    task = json.loads(page.context["task"] and json.dumps(page.context["task"]))
    prolific(later, study, pid="same-person")
    again = later.get(f"/s/{study.slug}/task/")
    assert Rater.objects.filter(platform="prolific").count() == 1
    assert again.context["task"]["assignment"] == task["assignment"]


def test_the_mturk_preview_shows_instructions_and_assigns_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    response = Client().get(
        f"/s/{study.slug}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "h"}
    )
    assert response.status_code == 200
    assert b"Accept the HIT to start" in response.content
    assert Rater.objects.count() == 0 and Assignment.objects.count() == 0


def test_the_mturk_end_page_posts_back_to_mturk(make_study: Callable[..., Study]) -> None:
    study = make_study(max_tasks_per_rater=1)
    client = Client()
    client.get(
        f"/s/{study.slug}/",
        {
            "workerId": "W1",
            "assignmentId": "A77",
            "hitId": "H",
            "turkSubmitTo": "https://www.mturk.com",
        },
    )
    page = client.get(f"/s/{study.slug}/task/")
    task = page.context["task"]
    assignment = Assignment.objects.get(pk=task["assignment"])
    post_json(
        client,
        reverse("rater-submit", args=[study.slug]),
        {
            "assignment": assignment.pk,
            "answers": yes_answers(assignment),
            "time_on_task_ms": 3000,
            "client_submission_id": str(uuid.uuid4()),
        },
    )
    assert client.get(f"/s/{study.slug}/task/")["Location"] == f"/s/{study.slug}/done/"
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert 'action="https://www.mturk.com/mturk/externalSubmit"' in done
    assert 'name="assignmentId" value="A77"' in done


def test_the_mturk_end_page_never_posts_to_another_host(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client()
    client.get(
        f"/s/{study.slug}/",
        {"workerId": "W2", "assignmentId": "A", "turkSubmitTo": "https://evil.example"},
    )
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert "evil.example" not in done and "mturk-form" not in done


def test_the_prolific_end_page_shows_the_code_and_the_way_back(
    make_study: Callable[..., Study],
) -> None:
    study = make_study(platform="prolific", completion_code="C0DE42")
    client = Client()
    prolific(client, study)
    done = client.get(f"/s/{study.slug}/done/").content.decode()
    assert "C0DE42" in done
    assert 'href="https://app.prolific.com/submissions/complete?cc=C0DE42"' in done


def test_an_internal_rater_logs_in_and_sees_live_studies(
    make_study: Callable[..., Study], rater_a: User
) -> None:
    study = make_study()
    client = Client()
    assert client.get(f"/s/{study.slug}/")["Location"].startswith("/accounts/login/") or (
        "login" in client.get(f"/s/{study.slug}/")["Location"]
    )
    client.force_login(rater_a)
    assert study.name.encode() in client.get("/rate/").content
    assert client.get(f"/s/{study.slug}/").status_code == 302
    assert client.get(f"/s/{study.slug}/task/").status_code == 200
    assert Rater.objects.get(user=rater_a).platform == "internal"


def test_a_draft_study_has_no_crowd_page(make_study: Callable[..., Study]) -> None:
    study = make_study(launch=False)
    assert prolific(Client(), study).status_code == 404


# --- permissions (fixed cast: admin, rater A, rater B, anonymous) ----------------------------


def test_rater_b_can_neither_see_nor_submit_rater_a_s_assignment(
    make_study: Callable[..., Study], rater_a: User, rater_b: User
) -> None:
    study = make_study()
    a_client, b_client = Client(), Client()
    a_client.force_login(rater_a)
    b_client.force_login(rater_b)
    a_client.get(f"/s/{study.slug}/")
    task = a_client.get(f"/s/{study.slug}/task/").context["task"]
    assignment = Assignment.objects.get(pk=task["assignment"])
    b_client.get(f"/s/{study.slug}/")
    for which in ("input", "single", "left", "right"):
        url = reverse("rater-image", args=[study.slug, assignment.pk, which])
        assert b_client.get(url).status_code == 404
    response = post_json(
        b_client,
        reverse("rater-submit", args=[study.slug]),
        {
            "assignment": assignment.pk,
            "answers": yes_answers(assignment),
            "time_on_task_ms": 1000,
            "client_submission_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 404
    assert Judgment.objects.count() == 0
    # Rater A can.
    response = post_json(
        a_client,
        reverse("rater-submit", args=[study.slug]),
        {
            "assignment": assignment.pk,
            "answers": yes_answers(assignment),
            "time_on_task_ms": 1000,
            "client_submission_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 200 and Judgment.objects.count() == 1


def test_anonymous_visitors_get_nothing(make_study: Callable[..., Study]) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="x")
    assignment = assignment_next(rater=rater, study=study)
    assert assignment is not None
    anon = Client()
    assert anon.get(f"/s/{study.slug}/task/").status_code == 302
    image = reverse("rater-image", args=[study.slug, assignment.pk, "input"])
    assert anon.get(image).status_code == 404
    submit_url = reverse("rater-submit", args=[study.slug])
    assert post_json(anon, submit_url, {"assignment": assignment.pk}).status_code == 403
    assert post_json(anon, reverse("rater-next", args=[study.slug]), {}).status_code == 403
    assert anon.get(f"/studies/{study.pk}/").status_code == 404


def test_the_dashboard_is_for_staff_only(
    make_study: Callable[..., Study], admin_user: User, rater_a: User
) -> None:
    study = make_study()
    client = Client()
    client.force_login(rater_a)
    assert client.get(f"/studies/{study.pk}/").status_code == 404
    client.force_login(admin_user)
    page = client.get(f"/studies/{study.pk}/").content.decode()
    assert f"/s/{study.slug}/" in page and "Secret Model Alpha" in page


def test_cross_site_submissions_are_refused(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client(enforce_csrf_checks=True)
    prolific(client, study)
    response = post_json(client, reverse("rater-next", args=[study.slug]), {})
    assert response.status_code == 403


# --- blinding ---------------------------------------------------------------------------------


def test_nothing_a_rater_sees_reveals_a_model(
    make_study: Callable[..., Study], baselines: list[EditModel]
) -> None:
    study = make_study(gold_rate=0.2, platform="prolific", completion_code="CODE")
    secrets = []
    # Names and checkpoints identify a model; a preset is a plain word such as
    # "reference" (as in "preference"), so only the distinctive ones are listed below.
    for model in EditModel.objects.all():
        secrets += [model.name, model.checkpoint or model.name]
    secrets += [
        "Secret",
        "Alpha",
        "Beta",
        "Gamma",
        "gamma-ckpt",
        "identity",
        "blur_fill",
        "Gold:",
        "model_id",
        "edit_a",
        "edit_b",
    ]
    client = Client()
    seen: list[str] = []

    def record(response: Any) -> None:
        seen.append(response.content.decode("latin-1"))
        seen.append(repr(sorted(response.headers.items())))

    record(prolific(client, study))
    page = client.get(f"/s/{study.slug}/task/")
    record(page)
    url = reverse("rater-submit", args=[study.slug])
    for _ in range(study.units.count()):
        task = page.context["task"] if page is not None else None
        if task is None:
            break
        for image in [task["input"], *task["outputs"]]:
            response = client.get(image)
            assert response.status_code == 200
            seen.append(image)
            seen.append(repr(sorted(response.headers.items())))
        assignment = Assignment.objects.get(pk=task["assignment"])
        preload = post_json(
            client, reverse("rater-next", args=[study.slug]), {"exclude": [task["assignment"]]}
        )
        record(preload)
        preloaded = preload.json()["task"]
        # As the page sends it: the answers, and a request for the task after the preloaded one.
        submitted = post_json(
            client,
            url,
            {
                "assignment": assignment.pk,
                "answers": yes_answers(assignment),
                "time_on_task_ms": 2000,
                "client_submission_id": str(uuid.uuid4()),
                "next": {"exclude": [preloaded["assignment"]] if preloaded else []},
            },
        )
        record(submitted)
        assert "next" in submitted.json()
        page = client.get(f"/s/{study.slug}/task/")
        if page.status_code != 200:
            break
        record(page)
    record(client.get(f"/s/{study.slug}/done/"))
    text = "\n".join(seen)
    for secret in secrets:
        assert secret not in text, f"{secret!r} leaked to a rater"
    ids = {str(pk) for pk in EditModel.objects.values_list("pk", flat=True)}
    assert not any(f"model={i}" in text or f"/models/{i}" in text for i in ids)


def _slots(study: Study) -> dict[int, int]:
    return dict(StudyUnit.objects.filter(study=study).values_list("pk", "slots_taken"))


def _holding(study: Study) -> dict[int, int]:
    counts = Counter(
        Assignment.objects.filter(study=study, status__in=["leased", "submitted"]).values_list(
            "unit", flat=True
        )
    )
    return {pk: counts.get(pk, 0) for pk in study.units.values_list("pk", flat=True)}


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
    assert _slots(study) == _holding(study) and sum(_slots(study).values()) == 3
    submit(raters[0], leased[0])
    assert _slots(study) == _holding(study) and sum(_slots(study).values()) == 3
    assignment_report_broken(rater=raters[1], assignment_id=leased[1].pk, note="blank")
    assert _slots(study) == _holding(study) and sum(_slots(study).values()) == 2
    Assignment.objects.filter(pk=leased[2].pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert assignments_expire() == 1
    assert _slots(study) == _holding(study) and sum(_slots(study).values()) == 1
    assert assignments_expire() == 0  # nothing counted twice


def test_the_emptiest_units_by_the_counter_come_first(make_study: Callable[..., Study]) -> None:
    study = make_study(raters_per_unit=3)
    units = list(study.units.order_by("pk"))
    # Every unit but the last looks fuller: the next rater must get the last one.
    StudyUnit.objects.filter(pk__in=[u.pk for u in units[:-1]]).update(slots_taken=1)
    rater = rater_for_participant(platform="prolific", participant_id="emptiest")
    a = assignment_next(rater=rater, study=study)
    assert a is not None and a.unit_id == units[-1].pk


def test_the_migration_counts_the_slots_of_existing_assignments(
    make_study: Callable[..., Study],
) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("annotation.migrations.0002_unit_slots_taken")
    study = make_study(raters_per_unit=2)
    for n in range(2):
        rater = rater_for_participant(platform="prolific", participant_id=f"m{n}")
        for _ in range(3):
            a = assignment_next(rater=rater, study=study, exclude=[])
            assert a is not None
            submit(rater, a)
    assignment_next(rater=rater, study=study)  # one more, left leased
    expected = _slots(study)
    StudyUnit.objects.filter(study=study).update(slots_taken=0)
    migration.count_existing(apps, None)
    assert _slots(study) == expected == _holding(study)


def test_ties_between_equally_full_units_are_broken_at_random(
    make_study: Callable[..., Study],
) -> None:
    from django.db import transaction

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


def test_the_shuffle_migration_gives_every_existing_unit_its_own_key(
    make_study: Callable[..., Study],
) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("annotation.migrations.0003_unit_shuffle")
    study = make_study()
    StudyUnit.objects.filter(study=study).update(shuffle=0)  # what adding the field leaves
    migration.shuffle_existing(apps, None)
    keys = list(study.units.values_list("shuffle", flat=True))
    assert len(set(keys)) == len(keys) > 10


def _page_task(client: Client, study: Study) -> dict[str, Any]:
    task: dict[str, Any] = client.get(f"/s/{study.slug}/task/").context["task"]
    return task


def _arrive(client: Client, study: Study, pid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A participant arrives: the task on screen, and the following one preloaded."""
    prolific(client, study, pid=pid)
    on_screen = _page_task(client, study)
    preloaded = post_json(
        client, reverse("rater-next", args=[study.slug]), {"exclude": [on_screen["assignment"]]}
    ).json()["task"]
    return on_screen, preloaded


def _answer_body(task: dict[str, Any], **extra: Any) -> dict[str, Any]:
    assignment = Assignment.objects.get(pk=task["assignment"])
    return {
        "assignment": assignment.pk,
        "answers": yes_answers(assignment),
        "time_on_task_ms": 2500,
        "client_submission_id": str(uuid.uuid4()),
        **extra,
    }


def _answer(client: Client, study: Study, task: dict[str, Any], **extra: Any) -> Any:
    body = _answer_body(task, **extra)
    return post_json(client, reverse("rater-submit", args=[study.slug]), body)


def test_one_request_records_the_answers_and_leases_the_task_after_the_preloaded_one(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    on_screen, preloaded = _arrive(client, study, pid="one-trip")
    response = _answer(client, study, on_screen, next={"exclude": [preloaded["assignment"]]})
    assert response.status_code == 200
    body = response.json()
    assert body["recorded"] is True and body["progress"]["done"] == 1
    following = body["next"]
    assert following["assignment"] not in (on_screen["assignment"], preloaded["assignment"])
    assert set(following) == set(preloaded)  # the same payload as the next endpoint's
    rater = Assignment.objects.get(pk=on_screen["assignment"]).rater
    assert set(
        Assignment.objects.filter(rater=rater, status="leased").values_list("pk", flat=True)
    ) == {preloaded["assignment"], following["assignment"]}
    assert Judgment.objects.filter(assignment_id=on_screen["assignment"]).count() == 1


def test_without_next_the_submit_answer_has_no_task_and_leases_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="no-next")
    response = _answer(client, study, _page_task(client, study))
    assert response.status_code == 200 and "next" not in response.json()
    assert not Assignment.objects.filter(status="leased").exists()


def test_a_paused_study_records_the_answers_and_offers_no_next_task(
    make_study: Callable[..., Study],
) -> None:
    from annotation.services.studies import study_pause

    study = make_study()
    client = Client()
    prolific(client, study, pid="pause-next")
    task = _page_task(client, study)
    study_pause(study=study)
    response = _answer(client, study, task, next={"exclude": []})
    assert response.status_code == 200
    assert response.json()["recorded"] is True and response.json()["next"] is None
    assert Judgment.objects.filter(assignment_id=task["assignment"]).count() == 1


# --- the task page's statements ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_task_request_takes_five_statements_on_the_sql_path(
    make_study: Callable[..., Study], task_path: str, django_assert_max_num_queries: Any
) -> None:
    study = make_study()
    client = Client()
    on_screen, preloaded = _arrive(client, study, pid="statements")
    # One task request first, so each statement has been prepared on this connection.
    following = _answer(client, study, on_screen, next={"exclude": [preloaded["assignment"]]})
    on_screen, preloaded = preloaded, following.json()["next"]
    # SQL: the study, the assignment's read and write, the progress count, the next lease.
    # ORM: reads, locks, writes and BEGIN/COMMIT pairs of both steps (15; a pair's side count
    # and the pick's wrap-around or fuller level add one each).
    body = _answer_body(on_screen, next={"exclude": [preloaded["assignment"]]})
    with django_assert_max_num_queries({"sql": 5, "orm": 19}[task_path]):
        response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code == 200 and response.json()["recorded"] is True
    assert response.json()["next"]["assignment"] not in (
        on_screen["assignment"],
        preloaded["assignment"],
    )


def test_a_random_start_past_every_open_unit_wraps_around(
    make_study: Callable[..., Study], monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotation.models import SHUFFLE_KEYS
    from annotation.services import assignments

    study = make_study(raters_per_unit=1)
    StudyUnit.objects.filter(study=study).update(shuffle=SHUFFLE_KEYS - 2)
    monkeypatch.setattr(assignments, "shuffle_key", lambda: SHUFFLE_KEYS - 1)
    rater = rater_for_participant(platform="prolific", participant_id="wrap")
    seen = []
    while (a := assignment_next(rater=rater, study=study)) is not None:
        seen.append(a.unit_id)
        submit(rater, a)
    assert sorted(seen) == sorted(study.units.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_the_task_calls_work_again_on_a_new_database_connection(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    rater = rater_for_participant(platform="prolific", participant_id="reconnect")
    for _ in range(3):
        a = assignment_next(rater=rater, study=study)
        assert a is not None and submit(rater, a).created
        # A new session has none of the statements the last one prepared.
        connection.close()
    assert Judgment.objects.filter(assignment__rater=rater).count() == 3


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


def test_a_session_whose_rater_was_deleted_gets_no_task_and_records_nothing(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="deleted")
    Rater.objects.all().delete()
    response = post_json(client, reverse("rater-next", args=[study.slug]), {"exclude": []})
    assert response.status_code == 403
    other = rater_for_participant(platform="prolific", participant_id="other")
    task = assignment_next(rater=other, study=study)
    assert task is not None
    body = {
        "assignment": task.pk,
        "answers": yes_answers(task),
        "time_on_task_ms": 2500,
        "client_submission_id": str(uuid.uuid4()),
    }
    response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code == 404
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("bad_id", [10**20, -1, "12abc", None])
def test_out_of_range_or_malformed_ids_are_a_clear_refusal_not_a_server_error(
    make_study: Callable[..., Study], bad_id: Any
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="huge-ids")
    task = _page_task(client, study)
    body = _answer_body(task, next={"exclude": [bad_id]})
    response = post_json(client, reverse("rater-next", args=[study.slug]), {"exclude": [bad_id]})
    assert response.status_code == 200 and response.json()["task"] is not None
    response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code == 200 and response.json()["next"] is not None
    body = _answer_body(task, assignment=bad_id)
    response = post_json(client, reverse("rater-submit", args=[study.slug]), body)
    assert response.status_code in (400, 404)
    assert Judgment.objects.count() == 1
