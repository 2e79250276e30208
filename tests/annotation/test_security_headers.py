"""The surface's hardening: a Content-Security-Policy on every page, body limits per endpoint
answered with 413, staff sessions that end at logout (issue #13 item 8)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from annotation.middleware import body_limit
from annotation.models import Study
from tests.annotation.rating import prolific

pytestmark = pytest.mark.django_db


def test_every_kind_of_page_carries_the_policy(
    make_study: Callable[..., Study], admin_user: User
) -> None:
    study = make_study()
    staff = Client()
    staff.force_login(admin_user)
    rater = Client()
    prolific(rater, study)
    answers = [
        staff.get("/"),
        staff.get(f"/studies/{study.pk}/"),
        staff.get(f"/studies/{study.pk}/report/"),
        staff.get("/admin/"),
        rater.get(f"/s/{study.slug}/task/"),
        rater.get(f"/s/{study.slug}/done/"),
    ]
    for response in answers:
        assert response.status_code == 200, response
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize(
    ("path", "setting"),
    [
        ("/s/some-study/api/submit", "RATER_REQUEST_MAX_BYTES"),
        ("/api/v1/models/3/outputs/", "OUTPUTS_UPLOAD_MAX_BYTES"),
        ("/admin/annotation/editmodel/3/upload/", "OUTPUTS_UPLOAD_MAX_BYTES"),
        ("/api/v1/studies/3/platform-export/", "EXPORT_UPLOAD_MAX_BYTES"),
        ("/api/v1/studies/", "REQUEST_MAX_BYTES"),
    ],
)
def test_each_endpoint_has_its_body_limit(path: str, setting: str) -> None:
    assert body_limit(path)[1] == setting


def test_a_body_over_the_limit_is_a_413_that_says_the_limit(
    admin_user: User, settings: object
) -> None:
    settings.REQUEST_MAX_BYTES = 1000  # type: ignore[attr-defined]
    staff = Client()
    staff.force_login(admin_user)
    response = staff.post("/api/v1/studies/", "x" * 5000, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "The request body is 5 KB; this endpoint accepts at most 1 KB."
    )
    rater = Client().post("/s/x/api/submit", "y" * 70_000, content_type="application/json")
    assert rater.status_code == 413 and "at most 64 KB" in rater.json()["detail"]


def test_a_copied_staff_session_cookie_is_dead_after_logout(admin_user: User) -> None:
    staff = Client()
    assert staff.login(username="admin-cast", password="pw")
    cookie = staff.cookies["sessionid"].value
    assert staff.get("/admin/").status_code == 200
    staff.post("/admin/logout/")
    thief = Client()
    thief.cookies["sessionid"] = cookie
    response = thief.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
