"""The data migrations: counters and keys for rows that existed before their fields."""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from annotation.models import Edit, EditModel, Study, StudyUnit
from annotation.services.assignments import assignment_next
from annotation.services.raters import rater_for_participant
from tests.annotation.rating import holding, slots, submit

# On PostgreSQL every test here runs on both rater paths (task_path: the prepared statements
# first, and the ORM code alone); on SQLite on the ORM code.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("task_path")]


def test_the_migration_counts_the_slots_of_existing_assignments(
    make_study: Callable[..., Study],
) -> None:
    migration = importlib.import_module("annotation.migrations.0002_unit_slots_taken")
    study = make_study(raters_per_unit=2)
    for n in range(2):
        rater = rater_for_participant(platform="prolific", participant_id=f"m{n}")
        for _ in range(3):
            a = assignment_next(rater=rater, study=study, exclude=[])
            assert a is not None
            submit(rater, a)
    assignment_next(rater=rater, study=study)  # one more, left leased
    expected = slots(study)
    StudyUnit.objects.filter(study=study).update(slots_taken=0)
    migration.count_existing(apps, None)
    assert slots(study) == expected == holding(study)


def test_the_shuffle_migration_gives_every_existing_unit_its_own_key(
    make_study: Callable[..., Study],
) -> None:
    migration = importlib.import_module("annotation.migrations.0003_unit_shuffle")
    study = make_study()
    StudyUnit.objects.filter(study=study).update(shuffle=0)  # what adding the field leaves
    migration.shuffle_existing(apps, None)
    keys = list(study.units.values_list("shuffle", flat=True))
    assert len(set(keys)) == len(keys) > 10


def test_the_reencode_migration_strips_the_metadata_of_outputs_stored_before_it(
    make_study: Callable[..., Study],
) -> None:
    migration = importlib.import_module("annotation.migrations.0004_reencode_external_outputs")
    study = make_study(launch=False)
    theirs = EditModel.objects.create(name="their model", kind="external")
    item = study.items.first()
    info = PngInfo()
    info.add_text("parameters", "Model: SecretDiffusion-XL")
    out = io.BytesIO()
    Image.new("RGB", (item.width, item.height), (10, 20, 30)).save(out, "PNG", pnginfo=info)
    edit = Edit(item=item, model=theirs, prompt_type="mask_simple", seed=0)
    edit.image.save("e.png", ContentFile(out.getvalue()), save=True)  # as stored before
    ours = Edit.objects.exclude(model=theirs).first()
    before = ours.image.read() if ours is not None else b""
    migration.reencode(apps, None)
    edit.refresh_from_db()
    data = edit.image.read()
    assert b"SecretDiffusion" not in data and b"tEXt" not in data
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (10, 20, 30)
    if ours is not None:  # edits of other kinds are left alone
        ours.refresh_from_db()
        assert ours.image.read() == before
