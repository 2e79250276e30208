"""The start page, the practice and their images (issue #16), without a browser."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from annotation.models import Assignment, BenchmarkItem, Judgment, Study
from tests.annotation.rating import prolific

pytestmark = pytest.mark.django_db


def pixels(response: object) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(response.content)))  # type: ignore[attr-defined]


def test_the_start_page_needs_a_rater_and_its_images_are_not_for_others(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    anonymous = Client()
    assert anonymous.get(f"/s/{study.slug}/start/")["Location"] == f"/s/{study.slug}/"
    assert anonymous.get(f"/s/{study.slug}/practice/")["Location"] == f"/s/{study.slug}/"
    assert anonymous.get(f"/s/{study.slug}/practice/0/input.png").status_code == 404


def test_the_start_page_shows_the_studys_texts_or_the_defaults(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study)
    page = client.get(f"/s/{study.slug}/start/").content.decode()
    assert "Thank you for taking part" in page and "Taking part is voluntary" in page
    assert "desktop-only" not in page
    Study.objects.filter(pk=study.pk).update(
        welcome_text="Hello <raters>", consent_text="We keep nothing.", desktop_only=True
    )
    page = client.get(f"/s/{study.slug}/start/").content.decode()
    assert "Hello &lt;raters&gt;" in page and "We keep nothing." in page
    assert 'class="start desktop-only"' in page
    assert "roughly 1/10 of the image&#x27;s width across" in page  # the definitions


def test_the_practice_images_are_the_items_pixels_outline_and_fills(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study)
    base = f"/s/{study.slug}/practice/0"
    item = BenchmarkItem.objects.filter(studies=study).order_by("pk").first()
    assert item is not None
    with item.image.open("rb") as f:
        original = np.asarray(Image.open(f).convert("RGB"))
    assert (pixels(client.get(f"{base}/input.png")) == original).all()
    outline = pixels(client.get(f"{base}/mask.png"))
    assert outline.shape[2] == 4
    colours = {tuple(p) for p in outline.reshape(-1, 4) if p[3]}
    assert colours == {(0, 0, 0, 255), (255, 255, 255, 255)}  # two tones, nothing else drawn
    assert client.get(f"{base}/reference.png").status_code == 200
    with item.mask.open("rb") as f:
        region = np.asarray(Image.open(f).convert("L")) > 0
    blurred = pixels(client.get(f"{base}/blurred.png"))
    assert (blurred[~region] == original[~region]).all()
    for bad in ("/s/{slug}/practice/0/model.png", "/s/{slug}/practice/99/input.png"):
        assert client.get(bad.format(slug=study.slug)).status_code == 404


def test_finishing_the_practice_starts_the_tasks_and_a_return_skips_the_start(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    client = Client()
    prolific(client, study, pid="starter")
    practice = client.get(f"/s/{study.slug}/practice/")
    tasks = practice.context["practice_tasks"]
    assert 2 <= len(tasks) <= 4
    assert all(
        q["expected"] in ("yes", "no", "left", "right", None) for t in tasks for q in t["questions"]
    )
    assert Assignment.objects.count() == 0 and Judgment.objects.count() == 0
    begun = client.post(f"/s/{study.slug}/start/")
    assert begun["Location"] == f"/s/{study.slug}/task/"
    assert client.get(f"/s/{study.slug}/start/")["Location"] == f"/s/{study.slug}/task/"
    client.get(f"/s/{study.slug}/task/")
    elsewhere = Client()  # the same participant in a new browser: has taken a task already
    prolific(elsewhere, study, pid="starter")
    assert elsewhere.get(f"/s/{study.slug}/start/")["Location"] == f"/s/{study.slug}/task/"


def test_a_paused_study_says_so_on_the_start_page(make_study: Callable[..., Study]) -> None:
    study = make_study()
    client = Client()
    prolific(client, study)
    Study.objects.filter(pk=study.pk).update(status="paused")
    assert "paused" in client.get(f"/s/{study.slug}/start/").content.decode()
