"""The http kind against a real model server process on loopback (tests/annotation/
http_model_server.py, the reference server with misbehaving routes)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from annotation.models import Edit, EditModel, GenerationJob
from annotation.services.benchmarks import edit_model_ensure
from annotation.services.errors import ServiceError
from annotation.services.generation import generation_request, jobs_run
from annotation.tasks import generate_edits
from tests.annotation import factories as f
from tests.annotation.http_model_server import LEAKED_NAME
from tests.annotation.worker import ROOT

pytestmark = pytest.mark.django_db
TOKEN = "Bearer test-token-from-the-environment"
ENV = "EB_TEST_MODEL_TOKEN"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.annotation.http_model_server", "--token", TOKEN],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "listening on http://127.0.0.1:PORT/"
    assert line.startswith("listening on http://127.0.0.1:"), line
    yield line.split()[-1].rstrip("/")
    process.kill()
    process.wait(timeout=10)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)


def stats(server: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server}/stats", timeout=5) as answer:
        return dict(json.load(answer))


def noisy_item(seed: int, size: int = 32) -> Any:
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return f.BenchmarkItemFactory(
        image=ContentFile(out.getvalue(), name="i.png"),
        mask=ContentFile(f.mask_bytes(size, size), name="m.png"),
    )


def http_model(url: str, **fields: Any) -> EditModel:
    definition: dict[str, Any] = {"kind": "http", "endpoint_url": url, "auth_env": ENV}
    return edit_model_ensure(name=f"m{EditModel.objects.count()}", **{**definition, **fields})


def run(model: EditModel, n_items: int = 1, seed: int = 0) -> list[GenerationJob]:
    report = generation_request(
        items=[noisy_item(seed + i) for i in range(n_items)],
        models=[model],
        prompt_types=["mask_simple"],
        seeds=[seed],
        enqueue=False,
    )
    for batch in report.batches:
        generate_edits.apply(args=[batch])
    return list(GenerationJob.objects.filter(model=model).order_by("pk"))


def assert_pasted_back(edit: Edit) -> None:
    with edit.image.open("rb") as out, edit.item.image.open("rb") as src:
        a, b = np.asarray(Image.open(out)), np.asarray(Image.open(src).convert("RGB"))
    with edit.item.mask.open("rb") as m:
        mask = np.asarray(Image.open(m)) > 0
    assert (a[~mask] == b[~mask]).all() and (a[mask] != b[mask]).any()


@pytest.mark.parametrize("route", ["/", "/json"])
def test_an_http_model_edits_through_the_server_with_a_png_or_json_answer(
    server: str, route: str
) -> None:
    model = http_model(f"{server}{route}")
    jobs = run(model, n_items=3)
    assert [j.status for j in jobs] == ["done"] * 3
    for edit in Edit.objects.select_related("item"):
        assert_pasted_back(edit)
    if route == "/json":
        assert {e.metadata["server"] for e in Edit.objects.all()} == {"reference"}


def test_a_500_is_retried_and_then_succeeds(server: str) -> None:
    before = stats(server)["hits"].get("/flaky", 0)
    jobs = run(http_model(f"{server}/flaky"), seed=11)
    assert (jobs[0].status, jobs[0].attempts) == ("done", 1)  # retried inside one attempt
    assert stats(server)["hits"]["/flaky"] - before == 2
    assert Edit.objects.count() == 1


def test_a_timeout_fails_the_job_after_its_attempts_with_the_message(
    server: str, settings: Any
) -> None:
    settings.GENERATION_MAX_ATTEMPTS = 2
    jobs = run(http_model(f"{server}/slow", timeout_s=0.5))
    assert (jobs[0].status, jobs[0].attempts) == ("failed", 2)
    assert jobs[0].error == f"EndpointUnavailable: {server}/slow timed out after 0.5 s (3 tries)"
    assert Edit.objects.count() == 0


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("/wrong-size", "{url} answered a 40x32 image for a 32x32 input"),
        ("/not-image", "the answer is not an image (Content-Type text/html)"),
    ],
)
def test_an_unusable_answer_fails_the_job_at_once_with_the_message(
    server: str, route: str, message: str
) -> None:
    jobs = run(http_model(f"{server}{route}"))
    assert (jobs[0].status, jobs[0].attempts) == ("failed", 1)  # no retry can fix it
    assert jobs[0].error == message.format(url=f"{server}{route}")
    assert Edit.objects.count() == 0


def test_the_auth_header_comes_from_the_environment_variable_named_on_the_model(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = http_model(f"{server}/")
    assert TOKEN not in json.dumps(list(EditModel.objects.values()), default=str)
    monkeypatch.setenv(ENV, "Bearer wrong")
    assert run(model, seed=1)[0].error.startswith(f"{server}/ answered 401 Unauthorized")
    monkeypatch.delenv(ENV)
    GenerationJob.objects.all().delete()
    assert run(model, seed=2)[0].error == f"the environment variable {ENV} (auth) is not set"
    monkeypatch.setenv(ENV, TOKEN)
    GenerationJob.objects.all().delete()
    assert run(model, seed=3)[0].status == "done"


def test_no_more_requests_are_in_flight_than_the_model_s_concurrency(server: str) -> None:
    model = http_model(f"{server}/busy", concurrency=2)
    report = generation_request(
        items=[noisy_item(i) for i in range(4)],
        models=[model],
        prompt_types=["mask_simple"],
        enqueue=False,
    )
    assert len(jobs_run(job_ids=report.batches[0])) == 4
    assert stats(server)["max_in_flight"]["/busy"] <= 2


def test_metadata_in_the_answer_s_png_never_reaches_the_stored_edit(server: str) -> None:
    run(http_model(f"{server}/leaky"))
    with Edit.objects.get().image.open("rb") as handle:
        stored = handle.read()
    assert LEAKED_NAME.encode() not in stored and b"tEXt" not in stored


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"endpoint_url": "ftp://x"}, "endpoint_url an http model needs an http(s) URL"),
        ({"auth_env": "Bearer abc"}, "auth_env is the NAME of an environment variable"),
        ({"timeout_s": 0}, "timeout_s must be a number of seconds"),
        ({"concurrency": 0}, "concurrency must be an integer from 1 to 64"),
    ],
)
def test_a_bad_http_definition_is_refused_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        http_model("http://127.0.0.1:9/", **fields)
    assert EditModel.objects.count() == 0
