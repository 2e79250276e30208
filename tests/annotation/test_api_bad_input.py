"""Input that once made the API answer 500: now each is a 400 naming the field, and
nothing is stored (found by schemathesis and by hand, issue #13 item 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import EditModel, Study
from tests.annotation.test_apis import spec as api_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user: User, baselines: list[EditModel], bench: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


def spec(**changes: Any) -> dict[str, Any]:
    return api_spec(**{"tasks": ["single"], **changes})


INLINE = {"name": "inline model", "kind": "baseline", "preset": "identity"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "a\x00b"}, "name", "NUL character"),
        ({"instructions": "x\x00"}, "instructions", "NUL character"),
        ({"completion_code": "\x00"}, "completion_code", "NUL character"),
        ({"items": {"object_type\x00": ["common"]}}, "items", "NUL character"),
        ({"quality_rules": {"min\x00": 1.0}}, "quality_rules", "NUL character"),
        ({"models": [{**INLINE, "description": "\x00"}]}, "models", "NUL character"),
        ({"max_tasks_per_rater": 100_000_000_000}, "max_tasks_per_rater", "less than or equal"),
        ({"models": [{**INLINE, "name": "m" * 150}]}, "models", "at most 100"),
        ({"models": ["m" * 150]}, "models", "1 to 100 characters"),
        ({"completion_url": "https://x.org/" + "a" * 290}, "completion_url", "no more than 200"),
        ({"models": [{**INLINE, "checkpoint": ["x"]}]}, "models", "checkpoint"),
        ({"models": [{**INLINE, "kind": "quantum"}]}, "models", "kind"),
        ({"models": [{**INLINE, "parameters": "fast"}]}, "models", "parameters"),
    ],
)
def test_a_bad_study_spec_is_a_400_naming_the_field(
    staff: APIClient, changes: dict[str, Any], field: str, message: str
) -> None:
    models_before = EditModel.objects.count()
    response = staff.post("/api/v1/studies/", spec(**changes), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body, body
    assert message in str(body[field])
    assert Study.objects.count() == 0 and EditModel.objects.count() == models_before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m", "kind": "external", "parameters": {"seed": "\x00"}}, "parameters"),
        ({"name": "m", "kind": "external", "parameters": {"\x00": 1}}, "parameters"),
        ({"name": "m", "kind": "external", "parameters": None}, "parameters"),
        ({"name": "m" * 150, "kind": "external"}, "name"),
        ({"name": "m", "kind": "external", "checkpoint": "c" * 501}, "checkpoint"),
    ],
)
def test_a_bad_model_is_a_400_naming_the_field(
    staff: APIClient, body: dict[str, Any], field: str
) -> None:
    before = EditModel.objects.count()
    response = staff.post("/api/v1/models/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert EditModel.objects.count() == before


def test_a_slug_with_spaces_is_stored_trimmed_and_its_pages_work(
    staff: APIClient, admin_user: User
) -> None:
    response = staff.post("/api/v1/studies/", spec(slug="  spaced-slug  "), format="json")
    assert response.status_code == 201, response.content
    study = Study.objects.get()
    assert study.slug == "spaced-slug" == response.json()["slug"]
    browser = Client()
    browser.force_login(admin_user)
    assert browser.get(f"/studies/{study.pk}/").status_code == 200


def test_the_report_of_a_study_no_rater_has_entered_is_served(
    staff: APIClient, make_study: Callable[..., Study], admin_user: User
) -> None:
    study = make_study()
    for output in ("json", "html"):
        response = staff.get(f"/api/v1/studies/{study.pk}/report/", {"output": output})
        assert response.status_code == 200, response.content[:500]
    browser = Client()
    browser.force_login(admin_user)
    assert browser.get(f"/studies/{study.pk}/report/").status_code == 200


def test_the_benchmark_reads_back_as_it_is_written(staff: APIClient) -> None:
    created = staff.post("/api/v1/studies/", spec(benchmark="mini@1"), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["benchmark"] == "mini@1"
    again = staff.post(
        "/api/v1/studies/", spec(name="again", benchmark=created.json()["benchmark"]), format="json"
    )
    assert again.status_code == 201, again.content


@pytest.mark.parametrize(
    ("field", "value"), [("timeout_s", -3.5), ("timeout_s", 0), ("concurrency", 0)]
)
def test_a_limit_out_of_range_is_a_400_for_every_kind(
    staff: APIClient, field: str, value: float
) -> None:
    # Found by schemathesis: the database's check constraint answered first, with a 500.
    body = {"name": "m", "kind": "external", field: value}
    response = staff.post("/api/v1/models/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not EditModel.objects.filter(name="m").exists()
