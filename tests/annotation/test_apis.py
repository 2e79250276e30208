"""REST API: happy paths, 400 naming the field, 401/403 permissions, 409 transitions."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Benchmark, EditModel, Study
from annotation.services.runner import study_runner_wait
from tests.annotation import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user: User) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=admin_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def non_staff(rater_a: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(rater_a)
    return client


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "name": "API study",
        "benchmark": "mini",
        "models": ["Secret Model Alpha", "Secret Model Beta"],
        "prompt_types": ["mask_simple"],
        "tasks": ["single", "pairwise"],
        "raters_per_unit": 2,
        "gold_rate": 0,
        **changes,
    }


ENDPOINTS = [
    ("get", "/api/v1/benchmarks/"),
    ("get", "/api/v1/models/"),
    ("post", "/api/v1/models/"),
    ("get", "/api/v1/studies/"),
    ("post", "/api/v1/studies/"),
]


@pytest.mark.parametrize("method,url", ENDPOINTS)
def test_anonymous_requests_get_401(method: str, url: str, bench: Benchmark) -> None:
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize("method,url", ENDPOINTS)
def test_non_staff_users_get_403(non_staff: APIClient, method: str, url: str) -> None:
    assert getattr(non_staff, method)(url, {}, format="json").status_code == 403


def test_study_actions_are_staff_only(
    non_staff: APIClient, make_study: Callable[..., Study]
) -> None:
    study = make_study(launch=False)
    for action in ("generate", "launch", "pause", "close"):
        assert non_staff.post(f"/api/v1/studies/{study.pk}/{action}/").status_code == 403
    assert non_staff.get(f"/api/v1/studies/{study.pk}/progress/").status_code == 403
    assert APIClient().get(f"/api/v1/studies/{study.pk}/").status_code == 401


def test_benchmarks_and_their_items_are_listed(staff: APIClient, bench: Benchmark) -> None:
    listing = staff.get("/api/v1/benchmarks/").json()
    assert listing["results"][0]["name"] == "mini" and listing["results"][0]["items"] == 4
    items = staff.get(f"/api/v1/benchmarks/{bench.pk}/items/").json()
    assert [i["external_id"] for i in items["results"]] == [f"eb-{i:04d}" for i in range(1, 5)]


def test_a_model_is_created(staff: APIClient) -> None:
    response = staff.post(
        "/api/v1/models/", {"name": "SD inpaint", "kind": "external"}, format="json"
    )
    assert response.status_code == 201
    assert EditModel.objects.get(name="SD inpaint").kind == "external"


def test_a_bad_model_names_the_field(staff: APIClient) -> None:
    response = staff.post("/api/v1/models/", {"name": "x", "kind": "magic"}, format="json")
    assert response.status_code == 400 and "kind" in response.json()
    response = staff.post("/api/v1/models/", {"name": "y", "kind": "cascade"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"checkpoint": ["a cascade model needs a checkpoint"]}


@pytest.mark.django_db(transaction=True)
def test_a_study_is_created_launched_paused_and_closed(
    staff: APIClient, bench: Benchmark, baselines: list[EditModel]
) -> None:
    created = staff.post("/api/v1/studies/", spec(), format="json")
    assert created.status_code == 201, created.json()
    study_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    generated = staff.post(f"/api/v1/studies/{study_id}/generate/")
    assert generated.status_code == 202 and generated.json()["status"] == "generating"
    # No broker here: the app's background runner generates; the answer came first.
    assert study_runner_wait(study=Study.objects.get(pk=study_id), timeout=120)
    progress = staff.get(f"/api/v1/studies/{study_id}/progress/").json()
    assert progress["missing_edits"] == {} and progress["jobs"]["done"] == 4 * 2 * 2
    launched = staff.post(f"/api/v1/studies/{study_id}/launch/")
    assert launched.status_code == 200 and launched.json()["units"] == 4 * 2 + 4
    assert staff.post(f"/api/v1/studies/{study_id}/pause/").json()["status"] == "paused"
    assert staff.post(f"/api/v1/studies/{study_id}/close/").json()["status"] == "closed"
    edits = staff.get(f"/api/v1/studies/{study_id}/edits/").json()
    assert edits["count"] == 16


@pytest.mark.parametrize(
    "change,field",
    [
        ({"name": ""}, "name"),
        ({"benchmark": "unknown"}, "benchmark"),
        ({"models": ["Nobody"]}, "models"),
        ({"prompt_types": ["caption"]}, "prompt_types"),
        ({"tasks": []}, "tasks"),
        ({"raters_per_unit": 0}, "raters_per_unit"),
        ({"gold_rate": 1.5}, "gold_rate"),
        ({"items": {"colour": ["red"]}}, "items"),
        ({"items": {"id": ["eb-9999"]}}, "items"),
        ({"completion_url": "not a url"}, "completion_url"),
    ],
)
def test_an_invalid_study_is_a_400_naming_the_field(
    staff: APIClient,
    bench: Benchmark,
    baselines: list[EditModel],
    change: dict[str, Any],
    field: str,
) -> None:
    response = staff.post("/api/v1/studies/", spec(**change), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Study.objects.count() == 0


def test_a_domain_rule_violation_is_a_400_with_the_message(
    staff: APIClient, bench: Benchmark, baselines: list[EditModel]
) -> None:
    response = staff.post("/api/v1/studies/", spec(models=["Secret Model Alpha"]), format="json")
    assert response.status_code == 400
    assert "side-by-side comparison needs at least two models" in response.json()["detail"]


def test_illegal_transitions_are_409(staff: APIClient, make_study: Callable[..., Study]) -> None:
    draft = make_study(launch=False)
    assert staff.post(f"/api/v1/studies/{draft.pk}/pause/").status_code == 409
    assert staff.post(f"/api/v1/studies/{draft.pk}/close/").status_code == 409
    response = staff.post(f"/api/v1/studies/{draft.pk}/launch/")
    assert response.status_code == 409 and "edits are still missing" in response.json()["detail"]
    live = make_study(name="Live")
    assert staff.put(f"/api/v1/studies/{live.pk}/", spec(), format="json").status_code == 409
    assert staff.post(f"/api/v1/studies/{live.pk}/generate/").status_code == 409


def test_a_draft_study_is_updated_with_a_full_spec(
    staff: APIClient, make_study: Callable[..., Study]
) -> None:
    draft = make_study(launch=False)
    response = staff.put(f"/api/v1/studies/{draft.pk}/", spec(name="Renamed"), format="json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"


def test_external_outputs_are_uploaded_through_the_api(staff: APIClient, bench: Benchmark) -> None:
    model = EditModel.objects.create(name="theirs", kind="external")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("eb-0001__mask_rich.png", f.png_bytes())
    buffer.seek(0)
    buffer.name = "out.zip"
    response = staff.post(
        f"/api/v1/models/{model.pk}/outputs/",
        {"benchmark": bench.pk, "archive": buffer},
        format="multipart",
    )
    assert response.status_code == 200 and response.json()["created"] == 1
    ours = EditModel.objects.create(name="ours", kind="baseline", preset="identity")
    buffer.seek(0)
    response = staff.post(
        f"/api/v1/models/{ours.pk}/outputs/",
        {"benchmark": bench.pk, "archive": buffer},
        format="multipart",
    )
    assert response.status_code == 409


def _api_routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    routes = []
    for p in patterns:
        if isinstance(p, URLResolver):
            routes += _api_routes(p.url_patterns, prefix + str(p.pattern))
        else:
            routes.append(prefix + str(p.pattern))
    return routes


def test_the_openapi_schema_validates_and_lists_every_api_route(admin_user: User) -> None:
    from drf_spectacular.validation import validate_schema

    client = Client()
    client.force_login(admin_user)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    paths = set(schema["paths"])
    routes = [r for r in _api_routes(get_resolver().url_patterns) if r.startswith("api/v1/")]
    documented = 0
    for route in routes:
        if "format" in route or route in ("api/v1/^$", "api/v1/"):
            continue  # the router's format-suffix variants and its root view
        documented += 1
        stem = route.replace("(?P<pk>[^/.]+)", "{id}").replace("^", "").replace("$", "")
        assert "/" + stem in paths, f"{stem} missing from the schema"
    assert documented >= 10
    assert client.get("/api/docs/").status_code == 200
