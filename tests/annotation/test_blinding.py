"""Blinding: nothing a rater is sent (pages, JSON, images, headers) reveals a model."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from annotation.models import Assignment, Edit, EditModel, Study
from annotation.services.generation import jobs_run
from annotation.services.studies import study_generate, study_launch
from annotation.services.uploads import external_outputs_upload
from tests.annotation.rating import post_json, prolific, submit, yes_answers

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def model_secrets() -> list[str]:
    secrets: list[str] = []
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
    return secrets


def test_nothing_a_rater_sees_reveals_a_model(
    make_study: Callable[..., Study], baselines: list[EditModel]
) -> None:
    study = make_study(gold_rate=0.2, platform="prolific", completion_code="CODE")
    secrets = model_secrets()
    client = Client()
    seen: list[str] = []

    def record(response: Any) -> None:
        seen.append(response.content.decode("latin-1"))
        seen.append(repr(sorted(response.headers.items())))

    record(prolific(client, study))
    # The start page, the practice and their images (the benchmark's own, never a model's).
    record(client.get(f"/s/{study.slug}/start/"))
    practice = client.get(f"/s/{study.slug}/practice/")
    record(practice)
    for practice_task in practice.context["practice_tasks"]:
        for image in [practice_task["input"], practice_task["mask"], *practice_task["outputs"]]:
            response = client.get(image)
            assert response.status_code == 200
            seen.append(image)
            seen.append(repr(sorted(response.headers.items())))
    page = client.get(f"/s/{study.slug}/task/")
    record(page)
    url = reverse("rater-submit", args=[study.slug])
    for _ in range(study.units.count()):
        task = page.context["task"] if page is not None else None
        if task is None:
            break
        for image in [task["input"], task["mask"], *task["outputs"]]:
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


LEAKS = ("SecretDiffusion", "deadbeefcafe", "secret_ckpt_v2", "SecretSoftware", "SecretJpegTool")


def _exif(software: str) -> bytes:
    exif = Image.Exif()
    exif[0x0131] = software  # Software
    return exif.tobytes()


def leaky_outputs(study: Study) -> dict[str, bytes]:
    """Outputs as generation tools write them: the model named in the file's metadata."""
    kinds = ["text", "itxt", "exif", "jpeg"]
    files: dict[str, bytes] = {}
    wanted = [(i, p) for i in study.items.order_by("pk") for p in study.prompt_types]
    for n, (item, prompt) in enumerate(wanted):
        image = Image.new("RGB", (item.width, item.height), (30 + 20 * n, 90, 160))
        out = io.BytesIO()
        kind = kinds[n % len(kinds)]
        if kind == "jpeg":  # a JPEG with EXIF, named .png
            image.save(out, format="JPEG", exif=_exif("SecretJpegTool 2.1"))
        else:
            info = PngInfo()
            if kind == "text":
                info.add_text(
                    "parameters",
                    "Steps: 30, Model: SecretDiffusion-XL, Model hash: deadbeefcafe, Seed: 1234",
                )
            elif kind == "itxt":
                info.add_itxt("workflow", '{"ckpt_name": "secret_ckpt_v2.safetensors"}')
            extra = {"exif": _exif("SecretSoftware 1.0")} if kind == "exif" else {}
            image.save(out, format="PNG", pnginfo=info, **extra)
        data = out.getvalue()
        assert any(leak.encode() in data for leak in LEAKS)  # the file does carry a secret
        files[f"{item.external_id}__{prompt}.png"] = data
    return files


def test_an_uploaded_outputs_metadata_never_reaches_a_rater(
    make_study: Callable[..., Study], baselines: list[EditModel]
) -> None:
    theirs = EditModel.objects.create(name="their model", kind="external")
    study = make_study(launch=False, models=[baselines[0], theirs], task_pairwise=False)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in leaky_outputs(study).items():
            z.writestr(name, data)
    archive.seek(0)
    report = external_outputs_upload(model=theirs, benchmark=study.benchmark, archive=archive)
    assert report.ok, [r.message for r in report.files if not r.ok]
    for edit in Edit.objects.filter(model=theirs):  # storage holds no secret either
        data = edit.image.read()
        assert data.startswith(b"\x89PNG") and not any(leak.encode() in data for leak in LEAKS)
    for batch in study_generate(study=study, enqueue=False).batches:
        jobs_run(job_ids=batch)
    study = study_launch(study=study)
    client = Client()
    prolific(client, study)
    received: list[bytes] = []
    for _ in range(study.units.count()):
        page = client.get(f"/s/{study.slug}/task/")
        task = page.context["task"] if page.status_code == 200 else None
        if task is None:
            break
        for image in [task["input"], *task["outputs"]]:
            response = client.get(image)
            assert response.status_code == 200 and response["Content-Type"] == "image/png"
            received.append(b"".join(response) if response.streaming else response.content)
        assignment = Assignment.objects.get(pk=task["assignment"])
        submit(assignment.rater, assignment)
    assert len(received) >= 2 * Edit.objects.filter(model=theirs).count()
    for data in received:
        assert data.startswith(b"\x89PNG")
        assert not any(leak.encode() in data for leak in LEAKS)
        assert b"tEXt" not in data and b"iTXt" not in data and b"eXIf" not in data
