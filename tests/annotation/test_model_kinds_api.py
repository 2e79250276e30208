"""The diffusers and http kinds at the edges: the models API, inline models in a study spec,
the admin form, and the model card for staff. (What raters receive of an http model's edit:
test_http_model.py, metadata in the answer's PNG never stored.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.admin import EditModelForm
from annotation.models import Benchmark, EditModel, Study

pytestmark = pytest.mark.django_db

HTTP_MODEL = {
    "name": "Their SDXL endpoint",
    "kind": "http",
    "endpoint_url": "https://models.example.org/inpaint",
    "auth_env": "THEIR_MODEL_TOKEN",
    "timeout_s": 30,
    "concurrency": 2,
    "parameters": {"strength": 0.9},
    "source": "https://example.org/their-model",
    "licence": "CreativeML OpenRAIL-M",
}
DIFFUSERS_MODEL = {
    "name": "SD 2 inpainting",
    "kind": "diffusers",
    "checkpoint": "/srv/models/sd2-inpainting",
    "parameters": {"steps": 25, "guidance": 7.5, "scheduler": "dpm++", "resolution": 512},
    "source": "stabilityai/stable-diffusion-2-inpainting",
    "licence": "openrail++",
}


@pytest.fixture
def staff(admin_user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


@pytest.mark.parametrize("definition", [HTTP_MODEL, DIFFUSERS_MODEL])
def test_both_kinds_are_created_through_the_api_with_their_model_card(
    staff: APIClient, definition: dict[str, Any]
) -> None:
    response = staff.post("/api/v1/models/", definition, format="json")
    assert response.status_code == 201, response.json()
    body = staff.get(f"/api/v1/models/{response.json()['id']}/").json()
    assert {k: body[k] for k in definition} == definition


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint_url": ""}, "endpoint_url"),
        ({"auth_env": "Bearer sk-live-abc"}, "auth_env"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"parameters": "fast"}, "parameters"),
    ],
)
def test_a_bad_http_model_is_a_400_naming_the_field(
    staff: APIClient, change: dict[str, Any], field: str
) -> None:
    response = staff.post("/api/v1/models/", {**HTTP_MODEL, **change}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert EditModel.objects.count() == 0


def test_bad_diffusers_parameters_are_a_400_naming_the_parameter(staff: APIClient) -> None:
    bad = {**DIFFUSERS_MODEL, "parameters": {"steps": 25, "dtype": "int8"}}
    response = staff.post("/api/v1/models/", bad, format="json")
    assert response.status_code == 400
    assert "'dtype' must be one of float32, float16, bfloat16" in response.json()["parameters"][0]


def spec(bench: Benchmark, models: list[Any]) -> dict[str, Any]:
    return {
        "name": "Real models",
        "benchmark": bench.name,
        "models": models,
        "prompt_types": ["mask_simple"],
        "tasks": ["single"],
        "gold_rate": 0,
    }


def test_a_spec_defines_both_kinds_inline(staff: APIClient, bench: Benchmark) -> None:
    response = staff.post(
        "/api/v1/studies/", spec(bench, [HTTP_MODEL, DIFFUSERS_MODEL]), format="json"
    )
    assert response.status_code == 201, response.json()
    assert EditModel.objects.get(kind="http").endpoint_url == HTTP_MODEL["endpoint_url"]
    assert EditModel.objects.get(kind="diffusers").parameters["scheduler"] == "dpm++"


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({**DIFFUSERS_MODEL, "checkpoint": ["x"]}, "checkpoint must be a string, not list"),
        ({**HTTP_MODEL, "endpoint_url": "not a url"}, "endpoint_url an http model needs"),
        ({**HTTP_MODEL, "token": "abc"}, "token is not a model field"),
        ({**HTTP_MODEL, "name": "x" * 150}, "name is 150 characters; at most 100"),
    ],
)
def test_an_inline_model_is_validated_and_nothing_is_created(
    staff: APIClient, bench: Benchmark, model: dict[str, Any], message: str
) -> None:
    response = staff.post("/api/v1/studies/", spec(bench, [model]), format="json")
    assert response.status_code == 400
    assert message in str(response.json()["models"])
    assert (EditModel.objects.count(), Study.objects.count()) == (0, 0)


def test_the_admin_form_holds_a_model_to_the_same_rules() -> None:
    form = EditModelForm(data={**HTTP_MODEL, "parameters": "{}", "auth_env": "sk live"})
    assert not form.is_valid()
    assert "auth_env" in form.errors
    good = EditModelForm(
        data={**DIFFUSERS_MODEL, "parameters": '{"steps": 4}', "timeout_s": 60, "concurrency": 1}
    )
    assert good.is_valid(), good.errors


def test_the_admin_shows_the_model_card_to_staff(admin_user: User) -> None:
    model = EditModel.objects.create(**{**HTTP_MODEL, "name": "Secret Model Endpoint"})
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/annotation/editmodel/{model.pk}/change/").content.decode()
    assert "CreativeML OpenRAIL-M" in page and "THEIR_MODEL_TOKEN" in page


@pytest.mark.parametrize(
    "change",
    [{"parameters": {"note": "a\u0000b"}}, {"description": "a\u0000b"}, {"source": "\u0000"}],
)
def test_a_nul_character_in_a_model_is_a_400_naming_the_field(
    staff: APIClient, change: dict[str, Any]
) -> None:
    response = staff.post("/api/v1/models/", {**HTTP_MODEL, **change}, format="json")
    assert response.status_code == 400
    assert set(change) <= set(response.json())
    assert EditModel.objects.count() == 0


def test_the_admin_list_shows_why_a_model_cannot_generate(admin_user: User, tmp_path: Any) -> None:
    from annotation.services.generation import generation_request
    from annotation.tasks import generate_edits
    from tests.annotation import factories as f

    model = EditModel.objects.create(
        name="SD missing", kind="diffusers", checkpoint=str(tmp_path / "no-such-folder")
    )
    batch = generation_request(
        items=[f.BenchmarkItemFactory()],
        models=[model],
        prompt_types=["mask_simple"],
        enqueue=False,
    ).batches[0]
    generate_edits.apply(args=[batch])
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/annotation/editmodel/").content.decode()
    assert f"the pipeline folder {tmp_path / 'no-such-folder'} does not exist" in page
