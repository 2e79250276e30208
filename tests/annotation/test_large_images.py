"""1024×1024 benchmarks: the rater's input, staff thumbnails and model input.

Resized derivatives are made once per item (at import, or on first use for items imported
before them) and served from storage: no request resizes an image.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from annotation.models import Benchmark, BenchmarkItem, Edit, Study
from annotation.services import benchmarks

pytestmark = pytest.mark.django_db

RELEASE = Path(__file__).resolve().parents[2] / "fixtures" / "editbench-release-mini"


def _png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _no_more_resizing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("an image was resized during a request")

    monkeypatch.setattr(benchmarks, "derivative_png", refuse)


@pytest.fixture
def release_items(tmp_path: Path) -> list[BenchmarkItem]:
    shutil.copytree(RELEASE, tmp_path / "release")
    call_command(
        "import_benchmark", str(tmp_path / "release"), "--no-progress", stdout=io.StringIO()
    )
    return list(BenchmarkItem.objects.filter(benchmark__name="release"))


def test_a_1024_item_is_shown_to_raters_from_its_stored_512_derivative(
    make_study: Callable[..., Study],
    release_items: list[BenchmarkItem],
    rater_a: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = make_study(
        benchmark=Benchmark.objects.get(name="release"),
        items=release_items[:1],
        prompt_types=["full_image"],
        task_pairwise=False,
    )
    # The models edited the full-size input, and left every unmasked pixel as it was.
    for edit in Edit.objects.filter(item__in=release_items[:1]):
        with edit.image.open("rb") as handle, edit.item.image.open("rb") as source:
            pixels, original = np.asarray(Image.open(handle)), np.asarray(Image.open(source))
        with edit.item.mask.open("rb") as handle:
            keep = np.asarray(Image.open(handle)) == 0
        assert pixels.shape == (1024, 1024, 3)
        assert (pixels[keep] == original[keep]).all()
    client = Client()
    client.force_login(rater_a)
    client.get(f"/s/{study.slug}/")
    task = client.get(f"/s/{study.slug}/task/").context["task"]
    assert (task["width"], task["height"]) == (1024, 1024)
    _no_more_resizing(monkeypatch)
    url = reverse("rater-image", args=[study.slug, task["assignment"], "input"])
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert _png_size(first.content) == (512, 512)


def test_staff_thumbnails_are_stored_once_per_item_even_for_older_items(
    make_study: Callable[..., Study], admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_study(launch=False)
    item = BenchmarkItem.objects.first()
    assert item is not None and not item.thumbnail  # made by the factory, as before derivatives
    client = Client()
    client.force_login(admin_user)
    url = reverse("item-overlay", args=[item.pk])
    first = client.get(url)
    item.refresh_from_db()
    assert item.thumbnail and item.display
    _no_more_resizing(monkeypatch)
    second = client.get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content


def test_a_1024_thumbnail_is_256_pixels(release_items: list[BenchmarkItem]) -> None:
    with release_items[0].thumbnail.open("rb") as handle:
        assert _png_size(handle.read()) == (256, 256)
