"""The diffusers kind: a tiny randomly initialised inpainting pipeline saved to a folder,
loaded offline, run by the services and by a real worker on a real Redis broker."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from celery import Celery
from django.core.files.base import ContentFile
from PIL import Image

from annotation.models import Edit, EditModel, GenerationJob
from annotation.services.benchmarks import edit_model_ensure
from annotation.services.errors import ServiceError
from annotation.services.generation import generation_request, jobs_run
from annotation.tasks import generate_edits
from inference.external import diffusers_model
from tests.annotation import factories as f
from tests.annotation.tiny_diffusers import build_tiny_pipeline
from tests.annotation.worker import QUEUE, TASK, kill, publisher, start_worker, wait_for

__all__ = ["publisher"]
PARAMETERS = {"steps": 2, "guidance": 3.0, "resolution": 32, "scheduler": "ddim"}


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "pipeline")


def noisy_item(seed: int, size: int = 48) -> f.BenchmarkItemFactory:
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return f.BenchmarkItemFactory(
        image=ContentFile(out.getvalue(), name="i.png"),
        mask=ContentFile(f.mask_bytes(size, size), name="m.png"),
        prompt_mask_simple="a red circle",
    )


def assert_pasted_back(edit: Edit) -> None:
    with edit.image.open("rb") as out, edit.item.image.open("rb") as src:
        a, b = np.asarray(Image.open(out)), np.asarray(Image.open(src).convert("RGB"))
    with edit.item.mask.open("rb") as m:
        mask = np.asarray(Image.open(m)) > 0
    assert a.shape == b.shape
    assert (a[~mask] == b[~mask]).all()
    assert (a[mask] != b[mask]).any(), "the masked region was not edited"


@pytest.mark.django_db
def test_a_diffusers_model_edits_a_batch_keeping_the_unmasked_pixels(
    pipeline_folder: Path,
) -> None:
    model = edit_model_ensure(
        name="tiny sd", kind="diffusers", checkpoint=str(pipeline_folder), parameters=PARAMETERS
    )
    report = generation_request(
        items=[noisy_item(0), noisy_item(1, size=40)],
        models=[model],
        prompt_types=["mask_simple"],
        enqueue=False,
    )
    assert len(report.batches) == 1 and len(report.batches[0]) == 2
    assert len(jobs_run(job_ids=report.batches[0])) == 2
    for edit in Edit.objects.select_related("item"):
        assert_pasted_back(edit)
        assert edit.steps == 2 and edit.guidance == {"scale": 3.0}


def test_the_same_seed_gives_the_same_edit(pipeline_folder: Path) -> None:
    settings = diffusers_model.DiffusersSettings.from_parameters(PARAMETERS)
    pipe = diffusers_model.load(str(pipeline_folder), settings)
    image = Image.new("RGB", (32, 32), (10, 200, 30))
    mask = np.zeros((32, 32), dtype=bool)
    mask[8:24, 8:24] = True
    a, b, c = diffusers_model.inpaint(
        pipe, settings, [image] * 3, [mask] * 3, ["a vase"] * 3, [5, 5, 6]
    )
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


@pytest.mark.django_db
def test_a_missing_pipeline_folder_fails_the_job_at_once_with_a_clear_message(
    tmp_path: Path,
) -> None:
    model = edit_model_ensure(
        name="gone", kind="diffusers", checkpoint=str(tmp_path / "nowhere"), parameters={}
    )
    generation_request(
        items=[noisy_item(0)], models=[model], prompt_types=["mask_simple"], enqueue=False
    )
    job = GenerationJob.objects.get()
    generate_edits.apply(args=[[job.pk]])  # the task returns; nothing crashes
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 1)  # no retry can make the folder appear
    assert re.fullmatch(
        rf"the pipeline folder {re.escape(str(tmp_path / 'nowhere'))} does not exist "
        r"on this machine \(.+\)",
        job.error,
    )
    assert Edit.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"steps": 0}, "parameters 'steps' must be an integer from 1 to 1000"),
        ({"resolution": 500}, "parameters 'resolution' must be an integer from 8 to 4096"),
        ({"dtype": "float8"}, "parameters 'dtype' must be one of float32, float16, bfloat16"),
        ({"scheduler": "magic"}, "parameters 'scheduler' must be one of default, ddim"),
        ({"device": "tpu"}, "parameters 'device' must be cpu, cuda, cuda:N or mps"),
        ({"strength": 1}, "parameters unknown key 'strength'"),
    ],
)
def test_bad_diffusers_parameters_are_refused_when_the_model_is_defined(
    parameters: dict[str, object], message: str
) -> None:
    with pytest.raises(ServiceError, match=re.escape(message)):
        edit_model_ensure(name="x", kind="diffusers", checkpoint="/models/x", parameters=parameters)
    assert EditModel.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_stores_a_diffusers_edit_once_and_a_second_delivery_creates_nothing(
    pipeline_folder: Path, publisher: Celery, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    model = EditModel.objects.create(
        name="tiny sd", kind="diffusers", checkpoint=str(pipeline_folder), parameters=PARAMETERS
    )
    report = generation_request(
        items=[noisy_item(3)], models=[model], prompt_types=["mask_simple"], enqueue=False
    )
    batch = report.batches[0]
    # A sentinel job queued behind each delivery: one pool process takes messages in order,
    # so when the sentinel is done the delivery before it has been handled.
    blur = EditModel.objects.create(name="blur", kind="baseline", preset="blur_fill")
    sentinels = generation_request(
        items=[noisy_item(4)], models=[blur], prompt_types=["mask_simple"], enqueue=False
    ).batches[0]
    worker = start_worker(log, GENERATION_CLAIM_TIMEOUT="600", GENERATION_BATCH_SIZE="1")
    try:
        publisher.send_task(TASK, args=[batch], queue=QUEUE)
        wait_for(lambda: Edit.objects.filter(model=model).exists(), 180, "the edit", log)
        edit = Edit.objects.select_related("item").get(model=model)
        with edit.image.open("rb") as handle:
            file_before = handle.read()
        publisher.send_task(TASK, args=[batch], queue=QUEUE)  # the same message again
        publisher.send_task(TASK, args=[sentinels[:1]], queue=QUEUE)
        wait_for(lambda: Edit.objects.filter(model=blur).exists(), 60, "the sentinel", log)
    finally:
        kill(worker)
    assert Edit.objects.filter(model=model).count() == 1
    job = GenerationJob.objects.get(model=model)
    assert (job.status, job.attempts) == ("done", 1)
    edit.refresh_from_db()
    with edit.image.open("rb") as handle:
        assert handle.read() == file_before
    assert_pasted_back(edit)
    assert len(list((tmp_path / "media" / "edits").iterdir())) == 2  # the edit, the sentinel
