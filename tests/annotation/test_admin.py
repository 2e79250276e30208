"""The admin lists every model, and items show image, mask-overlay and reference thumbnails."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from PIL import Image

from annotation import models
from annotation.services.runner import study_runner_wait
from tests.annotation import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "pw"))
    return client


def test_every_model_has_an_admin_page(admin_client_: Client) -> None:
    for model in (
        models.Benchmark,
        models.BenchmarkItem,
        models.EditModel,
        models.GenerationJob,
        models.Edit,
        models.Study,
        models.StudyUnit,
        models.Rater,
        models.Assignment,
        models.Judgment,
    ):
        url = reverse(f"admin:annotation_{model._meta.model_name}_changelist")
        assert admin_client_.get(url).status_code == 200, url


def test_the_item_list_shows_image_overlay_and_reference_thumbnails(admin_client_: Client) -> None:
    item = f.BenchmarkItemFactory(external_id="eb-0042")
    page = admin_client_.get(reverse("admin:annotation_benchmarkitem_changelist")).content.decode()
    assert "eb-0042" in page
    assert item.image.url in page
    assert reverse("item-overlay", args=[item.pk]) in page


def test_the_edit_list_shows_edit_thumbnails(admin_client_: Client) -> None:
    edit = f.EditFactory()
    page = admin_client_.get(reverse("admin:annotation_edit_changelist")).content.decode()
    assert edit.image.url in page


def test_the_mask_overlay_tints_the_masked_region_only(admin_client_: Client) -> None:
    item = f.BenchmarkItemFactory()
    response = admin_client_.get(reverse("item-overlay", args=[item.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    overlay = Image.open(io.BytesIO(response.content)).convert("RGB")
    assert overlay.getpixel((0, 0)) == (90, 140, 200)  # outside: untouched
    inside = overlay.getpixel((8, 8))
    assert inside[0] > 90 and inside[2] < 200  # inside: tinted towards red


def test_the_overlay_is_hidden_from_anyone_but_staff() -> None:
    item = f.BenchmarkItemFactory()
    url = reverse("item-overlay", args=[item.pk])
    assert Client().get(url).status_code == 404
    rater = Client()
    rater.force_login(f.UserFactory())
    assert rater.get(url).status_code == 404


def test_benchmark_items_cannot_be_added_or_edited_in_the_admin(admin_client_: Client) -> None:
    item = f.BenchmarkItemFactory()
    assert admin_client_.get(reverse("admin:annotation_benchmarkitem_add")).status_code == 403
    response = admin_client_.post(
        reverse("admin:annotation_benchmarkitem_change", args=[item.pk]), {"scene": "outdoor"}
    )
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.scene == "indoor"


def test_an_admin_uploads_external_outputs_and_sees_a_per_file_report(
    admin_client_: Client,
) -> None:
    import zipfile

    item = f.BenchmarkItemFactory(external_id="eb-0001")
    model = models.EditModel.objects.create(name="theirs", kind="external")
    url = reverse("admin:annotation_editmodel_upload", args=[model.pk])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("eb-0001__mask_simple.png", f.png_bytes())
        z.writestr("eb-0404__mask_simple.png", f.png_bytes())
    buffer.seek(0)
    buffer.name = "outputs.zip"
    page = admin_client_.post(url, {"benchmark": item.benchmark.pk, "archive": buffer})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Nothing was stored" in text
    assert "unknown item id &#x27;eb-0404&#x27; in this benchmark" in text
    assert models.Edit.objects.count() == 0


def test_failed_jobs_are_retried_from_the_admin(admin_client_: Client) -> None:
    model = models.EditModel.objects.create(name="blur", kind="baseline", preset="blur_fill")
    job = models.GenerationJob.objects.create(
        item=f.BenchmarkItemFactory(),
        model=model,
        prompt_type="mask_simple",
        status="failed",
        error="boom",
    )
    url = reverse("admin:annotation_generationjob_changelist")
    admin_client_.post(url, {"action": "retry_failed", "_selected_action": [job.pk]})
    job.refresh_from_db()
    # In-process (no broker): the retried job ran at once.
    assert job.status in {"queued", "done"} and job.error == ""


@pytest.mark.django_db(transaction=True)
def test_study_transitions_run_from_the_admin(admin_client_: Client) -> None:
    study = f.StudyFactory()
    url = reverse("admin:annotation_study_changelist")
    response = admin_client_.post(
        url, {"action": "pause", "_selected_action": [study.pk]}, follow=True
    )
    assert "cannot pause a study that is draft" in response.content.decode()
    study.refresh_from_db()
    assert study.status == "draft"
    admin_client_.post(url, {"action": "generate", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == "generating"
    assert study_runner_wait(study=study, timeout=60)
