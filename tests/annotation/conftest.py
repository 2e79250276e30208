"""Fixtures for study and rater tests: a fixed cast of users and ready-made studies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile

from annotation.models import Benchmark, BenchmarkItem, EditModel, Study
from annotation.services.generation import generation_request, jobs_run
from annotation.services.simulation import raters_simulate
from annotation.services.studies import StudySpec, study_create, study_launch
from tests.annotation import factories as f

TARGET = {
    "object": "circle",
    "object_type": "common",
    "count": 1,
    "attributes": {"color": "red", "material": "striped", "size": "small", "shape": "regular"},
    "tested_attribute": "color",
    "binding": {"attribute": "color", "value": "red", "object": "circle"},
}


@pytest.fixture
def admin_user(db: Any) -> User:
    return User.objects.create_superuser("admin-cast", "admin@example.org", "pw")


@pytest.fixture
def rater_a(db: Any) -> User:
    return User.objects.create_user("rater-a", "a@example.org", "pw")


@pytest.fixture
def rater_b(db: Any) -> User:
    return User.objects.create_user("rater-b", "b@example.org", "pw")


@pytest.fixture
def bench(db: Any) -> Benchmark:
    benchmark = f.BenchmarkFactory(name="mini")
    for i in range(1, 5):
        f.BenchmarkItemFactory(
            benchmark=benchmark,
            external_id=f"eb-{i:04d}",
            target=TARGET,
            object_type=["common", "rare"][i % 2],
            reference=ContentFile(f.png_bytes(color=(200, 20, 20)), name="r.png"),
        )
    return benchmark


@pytest.fixture
def baselines(db: Any) -> list[EditModel]:
    return [
        EditModel.objects.create(name="Secret Model Alpha", kind="baseline", preset="identity"),
        EditModel.objects.create(name="Secret Model Beta", kind="baseline", preset="blur_fill"),
        EditModel.objects.create(
            name="Secret Model Gamma",
            kind="baseline",
            preset="reference",
            checkpoint="gamma-ckpt-v3.pt",
        ),
    ]


def generate_all(study: Study) -> None:
    report = generation_request(
        items=study.items.all(),
        models=study.edit_models.all(),
        prompt_types=["mask_simple", "mask_rich", "full_image"],
        enqueue=False,
    )
    for batch in report.batches:
        jobs_run(job_ids=batch)


@pytest.fixture
def make_study(
    admin_user: User, bench: Benchmark, baselines: list[EditModel]
) -> Callable[..., Study]:
    def make(*, launch: bool = True, **overrides: Any) -> Study:
        options: dict[str, Any] = {
            "name": "Colour study",
            "benchmark": bench,
            "items": list(BenchmarkItem.objects.filter(benchmark=bench)),
            "models": baselines,
            "prompt_types": ["mask_simple", "full_image"],
            "task_single": True,
            "task_pairwise": True,
            "raters_per_unit": 2,
            "gold_rate": 0.0,
            **overrides,
        }
        study = study_create(owner=admin_user, spec=StudySpec(**options))
        if launch:
            generate_all(study)
            study = study_launch(study=study)
        return study

    return make


@pytest.fixture
def simulated(make_study: Callable[..., Study]) -> Study:
    """A live study that simulated raters have filled (K=2, a tenth gold)."""
    study = make_study(raters_per_unit=2, gold_rate=0.1)
    raters_simulate(study=study, raters=3, noise=0.1, seed=1)
    return study


# The task page's calls run hand-written SQL first on PostgreSQL
# (annotation/services/task_sql.py) and the ORM code for everything else; on PostgreSQL the
# rater tests run on both, on SQLite the ORM code is all there is.
TASK_PATHS = (
    ["sql", "orm"]
    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    else ["orm"]
)


@pytest.fixture(params=TASK_PATHS)
def task_path(request: Any, settings: Any) -> str:
    settings.RATER_SQL_PATH = request.param == "sql"
    return str(request.param)
