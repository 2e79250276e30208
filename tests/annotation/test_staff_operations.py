"""Running a study from the staff pages: downloads, approvals, the rater page, the gallery,
sign-in, the offline API docs, and that none of it opens for anyone but staff."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import Assignment, Edit, Rater, Study
from annotation.services.assignments import assignment_next
from annotation.services.raters import rater_for_participant
from tests.annotation.rating import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def staff_urls(study: Study) -> list[tuple[str, str]]:
    """(method, url) of every staff page and download."""
    rater = Assignment.objects.filter(study=study).values_list("rater_id", flat=True).first()
    item = study.items.order_by("pk").first()
    edit = Edit.objects.order_by("pk").first()
    assert rater is not None and item is not None and edit is not None
    gets = [
        reverse("staff-home"),
        reverse("study-new"),
        reverse("study-edit", args=[study.pk]),
        reverse("items-preview") + "?benchmark=mini@1",
        reverse("edit-image", args=[edit.pk]),
        reverse("study-dashboard", args=[study.pk]),
        reverse("study-dashboard", args=[study.pk]) + "?fragment=live",
        reverse("study-report", args=[study.pk]),
        reverse("study-rater", args=[study.pk, rater]),
        reverse("study-approvals", args=[study.pk]),
        reverse("study-gallery", args=[study.pk]),
        reverse("study-gallery-item", args=[study.pk, item.pk]),
        *(
            reverse("study-download", args=[study.pk, output])
            for output in ("json", "html", "csv", "raw-csv", "raw-jsonl")
        ),
    ]
    posts = [
        reverse("study-new"),
        reverse("study-edit", args=[study.pk]),
        reverse("study-approvals", args=[study.pk]),
        *(reverse("study-action", args=[study.pk, a]) for a in ("launch", "pause", "close")),
    ]
    return [("get", u) for u in gets] + [("post", u) for u in posts]


def test_no_staff_page_or_download_opens_for_a_rater_or_an_anonymous_visitor(
    simulated: Study, rater_a: User, staff: Client
) -> None:
    rater = Client()
    rater.force_login(rater_a)
    anonymous = Client()
    status = simulated.status
    for method, url in staff_urls(simulated):
        assert getattr(rater, method)(url).status_code == 404, url
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
        if method == "get":
            # 200, or the redirect of a live study's edit page back to its dashboard.
            assert staff.get(url).status_code in (200, 302), url
    simulated.refresh_from_db()
    assert simulated.status == status  # none of the refused posts changed anything


def test_every_export_downloads_with_its_content_type(staff: Client, simulated: Study) -> None:
    def get(output: str, **params: str) -> bytes:
        url = reverse("study-download", args=[simulated.pk, output])
        response = staff.get(url, {"simulated": "1", **params})
        assert response.status_code == 200
        assert response["Content-Type"].startswith(expected[output])
        assert simulated.slug in response["Content-Disposition"]
        return bytes(response.content)

    expected = {
        "json": "application/json",
        "html": "text/html",
        "csv": "application/zip",
        "raw-csv": "text/csv",
        "raw-jsonl": "application/jsonl",
    }
    assert json.loads(get("json"))["format"] == "editbench-studio-report/1"
    assert b"<html" in get("html")
    names = zipfile.ZipFile(io.BytesIO(get("csv"))).namelist()
    assert names and all(n.endswith(".csv") for n in names)
    rows = list(csv.DictReader(io.StringIO(get("raw-csv", kind="pairwise").decode())))
    assert rows and {"question", "choice", "rater"} <= set(rows[0])
    assert all(r["rater"].startswith("r-") for r in rows)  # pseudonyms, not rater ids
    lines = get("raw-jsonl", kind="single").decode().splitlines()
    assert lines and "correct" in json.loads(lines[0])
    bad = staff.get(reverse("study-download", args=[simulated.pk, "raw-csv"]), {"kind": "x"})
    assert bad.status_code == 400 and b"kind" in bad.content


def test_the_dashboard_and_the_report_link_every_export(staff: Client, simulated: Study) -> None:
    for page in (
        reverse("study-dashboard", args=[simulated.pk]),
        reverse("study-report", args=[simulated.pk]),
    ):
        html = staff.get(page).content.decode()
        for output in ("json", "html", "csv", "raw-csv", "raw-jsonl"):
            assert reverse("study-download", args=[simulated.pk, output]) in html, (page, output)


def test_the_api_serves_the_same_exports(admin_user: User, simulated: Study) -> None:
    api = APIClient()
    api.force_authenticate(admin_user)
    url = f"/api/v1/studies/{simulated.pk}/report/"
    for output, content_type in (
        ("csv", "application/zip"),
        ("raw-csv", "text/csv"),
        ("raw-jsonl", "application/jsonl"),
        ("html", "text/html"),
        ("json", "application/json"),
    ):
        response = api.get(url, {"output": output, "include_simulated": "1", "resamples": 100})
        assert response.status_code == 200, output
        assert response["Content-Type"].startswith(content_type)
    bad = api.get(url, {"output": "pdf"})
    assert bad.status_code == 400 and "output" in bad.json()


def test_the_approvals_file_follows_each_platforms_bulk_format(
    staff: Client, make_study: Callable[..., Study]
) -> None:
    study = make_study(platform="prolific", completion_code="OK-1")
    good = rater_for_participant(platform="prolific", participant_id="PID-GOOD")
    bad = rater_for_participant(platform="prolific", participant_id="PID-BAD")
    for rater in (good, bad):
        assignment = assignment_next(rater=rater, study=study)
        assert assignment is not None
        submit(rater, assignment)
    Rater.objects.filter(pk=bad.pk).update(excluded=True, exclusion_reason="min_gold_accuracy")
    export = "Participant id,Status\nPID-GOOD,AWAITING REVIEW\nPID-BAD,AWAITING REVIEW\nPID-NEW,\n"
    url = reverse("study-approvals", args=[study.pk])
    upload = io.BytesIO(export.encode())
    upload.name = "prolific.csv"
    response = staff.post(url, {"platform": "prolific", "export": upload})
    assert response["Content-Type"].startswith("text/csv")
    rows = {r["participant_id"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["PID-GOOD"]["decision"] == "approve" and rows["PID-GOOD"]["tasks_submitted"] == "1"
    assert rows["PID-BAD"]["decision"] == "reject"
    assert "min_gold_accuracy" in rows["PID-BAD"]["reason"]
    assert rows["PID-NEW"]["decision"] == "" and "check by hand" in rows["PID-NEW"]["reason"]

    worker = rater_for_participant(platform="mturk", participant_id="A1WORKER")
    assignment = assignment_next(rater=worker, study=study)
    assert assignment is not None
    submit(worker, assignment)
    batch = io.BytesIO(b"HITId,AssignmentId,WorkerId,Approve,Reject\nH1,AS1,A1WORKER,,\n")
    batch.name = "batch.csv"
    response = staff.post(url, {"platform": "mturk", "export": batch})
    (row,) = csv.DictReader(io.StringIO(response.content.decode()))
    assert (row["AssignmentId"], row["Approve"], row["Reject"]) == ("AS1", "x", "")

    wrong = io.BytesIO(b"name\nx\n")
    wrong.name = "wrong.csv"
    refused = staff.post(url, {"platform": "mturk", "export": wrong})
    assert refused.status_code == 400
    assert "export: no workerid column" in refused.content.decode()


def gold_answers(assignment: Assignment, *, right: bool) -> dict[str, str]:
    """Raw answers (yes/no, left/right) that pass a gold unit (``right``) or fail it."""
    unit = assignment.unit
    expected = unit.gold_answer or {}
    answers = {}
    for q in unit.questions:
        if unit.kind == "single":
            value = expected.get(q["id"], "yes")
            answers[q["id"]] = value if right else {"yes": "no", "no": "yes"}[value]
        else:
            a_side = "left" if assignment.a_on_left else "right"
            b_side = "right" if assignment.a_on_left else "left"
            answers[q["id"]] = a_side if right else b_side
    return answers


def test_the_rater_page_shows_answers_times_and_gold_misses(
    staff: Client, make_study: Callable[..., Study]
) -> None:
    study = make_study(gold_rate=0.5, raters_per_unit=1)
    rater = rater_for_participant(platform="prolific", participant_id="P-1")
    missed = 0
    while (assignment := assignment_next(rater=rater, study=study)) is not None:
        # Every gold unit answered right but the first one.
        wrong = assignment.unit.is_gold and not missed
        missed += wrong
        answers = gold_answers(assignment, right=not wrong)
        submit(rater, assignment, answers=answers, time_on_task_ms=7000 if wrong else 3000)
    assert missed == 1
    page = staff.get(reverse("study-rater", args=[study.pk, rater.pk]))
    assert page.status_code == 200
    assert len(page.context["rows"]) == Assignment.objects.filter(rater=rater).count()
    assert len(page.context["gold_misses"]) == 1
    html = page.content.decode()
    assert 'id="gold-misses"' in html and "/staff/edits/" in html and "overlay.png" in html
    assert page.context["median_seconds"] == 3.0
    # Side-by-side answers are named by model for staff (every one here chose edit A).
    pairs = [r for r in page.context["rows"] if r["unit"].kind == "pairwise" and not r["gold"]]
    assert pairs
    for row in pairs:
        model_a = row["unit"].edit_a.model.name
        assert row["answers"] == {"alignment": model_a, "realism": model_a}


def test_the_gallery_shows_every_models_edit_of_an_item(
    staff: Client, make_study: Callable[..., Study], rater_a: User
) -> None:
    study = make_study()
    item = study.items.order_by("pk").first()
    assert item is not None
    page = staff.get(reverse("study-gallery-item", args=[study.pk, item.pk]))
    assert page.context["models"] == [
        "Secret Model Alpha",
        "Secret Model Beta",
        "Secret Model Gamma",
    ]
    assert all(all(row["edits"]) for row in page.context["rows"])
    edit = page.context["rows"][0]["edits"][0]
    image = staff.get(reverse("edit-image", args=[edit.pk]))
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")


def test_the_admin_add_button_opens_the_wizard(staff: Client) -> None:
    response = staff.get("/admin/annotation/study/add/")
    assert response.status_code == 302 and response["Location"] == reverse("study-new")
    assert (
        reverse("admin:annotation_study_add")
        in staff.get("/admin/annotation/study/").content.decode()
    )


def test_an_internal_rater_signs_in_and_sees_the_live_studies(
    make_study: Callable[..., Study], rater_a: User
) -> None:
    study = make_study()
    make_study(launch=False, name="Draft study")
    client = Client()
    login = client.get("/rate/")
    assert login.status_code == 302 and login["Location"] == "/accounts/login/?next=/rate/"
    form = client.get(login["Location"])
    assert form.status_code == 200 and b'id="sign-in"' in form.content
    wrong = client.post("/accounts/login/", {"username": "rater-a", "password": "no"})
    assert b'id="login-errors"' in wrong.content
    signed_in = client.post(
        "/accounts/login/", {"username": "rater-a", "password": "pw", "next": "/rate/"}
    )
    assert signed_in["Location"] == "/rate/"
    page = client.get("/rate/").content.decode()
    assert reverse("crowd-entry", args=[study.slug]) in page and "Draft study" not in page
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/rate/").status_code == 302


def test_the_api_docs_are_served_from_the_app(staff: Client) -> None:
    for url in ("/api/docs/", "/api/redoc/"):
        html = staff.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html, url
        assert "cdn" not in html.lower(), url
        asset = html.split('src="', 1)[1].split('"', 1)[0]
        response = staff.get(asset)
        assert response.status_code == 200, asset


def test_a_study_without_judgments_still_downloads_and_estimates(
    staff: Client, make_study: Callable[..., Study]
) -> None:
    study = make_study(launch=False)
    for output in ("json", "html", "csv", "raw-csv", "raw-jsonl"):
        response = staff.get(reverse("study-download", args=[study.pk, output]))
        assert response.status_code == 200, (output, response.content)
    page = staff.get(reverse("study-dashboard", args=[study.pk]))
    assert page.status_code == 200 and page.context["coverage"] == []
    assert page.context["estimate"]["units"] == 4 * (3 * 2 + 3)


def test_the_dashboard_warns_when_its_figures_include_simulated_raters(
    staff: Client, simulated: Study
) -> None:
    url = reverse("study-dashboard", args=[simulated.pk])
    with_them = staff.get(url, {"simulated": "1"}).content.decode()
    assert 'id="simulated-banner"' in with_them and 'role="alert"' in with_them
    assert "not a human evaluation" in with_them
    assert "95% interval (items × raters)" in with_them
    assert 'id="simulated-banner"' not in staff.get(url).content.decode()
