"""factory_boy factories for the domain models, with tiny real PNG files."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from annotation import models


def png_bytes(
    width: int = 16, height: int = 16, *, color: tuple[int, int, int] = (90, 140, 200)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def mask_bytes(width: int = 16, height: int = 16) -> bytes:
    values = np.zeros((height, width), dtype=np.uint8)
    values[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 255
    out = io.BytesIO()
    Image.fromarray(values, mode="L").save(out, format="PNG")
    return out.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")


class BenchmarkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Benchmark

    name = factory.Sequence(lambda n: f"bench-{n}")
    version = "1"


class BenchmarkItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.BenchmarkItem

    benchmark = factory.SubFactory(BenchmarkFactory)
    external_id = factory.Sequence(lambda n: f"item-{n:04d}")
    image = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="i.png"))
    mask = factory.LazyFunction(lambda: ContentFile(mask_bytes(), name="m.png"))
    source = "generated"
    prompt_mask_simple = "a red circle"
    prompt_mask_rich = "a small red striped circle"
    prompt_full_image = "a photo of a room with a small red striped circle"
    object_type = "common"
    attribute_type = "color"
    scene = "indoor"
    style = "realistic"
    target: Any = factory.LazyFunction(lambda: {"object": "circle", "attributes": {"color": "red"}})
    fingerprint = "0" * 64


class EditModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.EditModel

    name = factory.Sequence(lambda n: f"model-{n}")
    kind = "external"


class EditFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Edit

    item = factory.SubFactory(BenchmarkItemFactory)
    model = factory.SubFactory(EditModelFactory)
    prompt_type = "mask_simple"
    seed = 0
    image = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="e.png"))


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Study

    name = factory.Sequence(lambda n: f"Study {n}")
    slug = factory.Sequence(lambda n: f"study-{n}")
    owner = factory.SubFactory(UserFactory)
    benchmark = factory.SubFactory(BenchmarkFactory)
    prompt_types = factory.LazyFunction(lambda: ["mask_simple"])


class StudyUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StudyUnit

    study = factory.SubFactory(StudyFactory)
    kind = "single"
    prompt_type = "mask_simple"
    edit_a = factory.SubFactory(EditFactory)


class RaterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Rater

    platform = "internal"
    user = factory.SubFactory(UserFactory)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Assignment

    rater = factory.SubFactory(RaterFactory)
    unit = factory.SubFactory(StudyUnitFactory)
    study = factory.LazyAttribute(lambda o: o.unit.study)
    lease_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))


class JudgmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Judgment

    assignment = factory.SubFactory(AssignmentFactory)
    answers = factory.LazyFunction(lambda: {"object": "yes"})
    time_on_task_ms = 2500
    client_submission_id = factory.Faker("uuid4")
