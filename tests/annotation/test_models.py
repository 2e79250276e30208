"""The database itself refuses rows that break the data model's invariants."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction

from annotation.models import Benchmark, BenchmarkItem, EditModel, Rater, Study, StudyUnit
from tests.annotation import factories as f

pytestmark = pytest.mark.django_db


def _refused(fn: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()  # type: ignore[operator]


def test_an_external_id_is_unique_within_a_benchmark() -> None:
    item = f.BenchmarkItemFactory(external_id="eb-0001")
    _refused(lambda: f.BenchmarkItemFactory(benchmark=item.benchmark, external_id="eb-0001"))


def test_the_same_external_id_is_allowed_in_another_benchmark() -> None:
    f.BenchmarkItemFactory(external_id="eb-0001")
    other = f.BenchmarkItemFactory(external_id="eb-0001")
    assert BenchmarkItem.objects.filter(external_id=other.external_id).count() == 2


def test_a_benchmark_name_and_version_are_unique_together() -> None:
    Benchmark.objects.create(name="b", version="1")
    Benchmark.objects.create(name="b", version="2")
    _refused(lambda: Benchmark.objects.create(name="b", version="1"))


@pytest.mark.parametrize(
    "field,value",
    [
        ("object_type", "animal"),
        ("attribute_type", "texture"),
        ("scene", "underwater"),
        ("style", "sketch"),
        ("source", "scraped"),
    ],
)
def test_an_item_category_outside_the_vocabulary_is_refused(field: str, value: str) -> None:
    item = f.BenchmarkItemFactory()
    _refused(lambda: BenchmarkItem.objects.filter(pk=item.pk).update(**{field: value}))


def test_there_is_one_edit_per_item_model_prompt_type_and_seed() -> None:
    edit = f.EditFactory(seed=3)
    _refused(
        lambda: f.EditFactory(
            item=edit.item, model=edit.model, prompt_type=edit.prompt_type, seed=3
        )
    )
    assert f.EditFactory(item=edit.item, model=edit.model, prompt_type=edit.prompt_type, seed=4)


def test_an_edit_prompt_type_outside_the_three_styles_is_refused() -> None:
    _refused(lambda: f.EditFactory(prompt_type="caption"))


def test_there_is_one_assignment_per_rater_and_unit() -> None:
    assignment = f.AssignmentFactory()
    _refused(lambda: f.AssignmentFactory(rater=assignment.rater, unit=assignment.unit))


def test_an_assignment_status_outside_the_lifecycle_is_refused() -> None:
    _refused(lambda: f.AssignmentFactory(status="lost"))


def test_a_submitted_assignment_needs_a_submission_time() -> None:
    _refused(lambda: f.AssignmentFactory(status="submitted", submitted_at=None))


def test_there_is_one_original_judgment_per_assignment() -> None:
    judgment = f.JudgmentFactory()
    _refused(lambda: f.JudgmentFactory(assignment=judgment.assignment))


def test_a_correction_supersedes_the_original_instead_of_replacing_it() -> None:
    original = f.JudgmentFactory()
    correction = f.JudgmentFactory(assignment=original.assignment, supersedes=original)
    assert original.superseded_by == correction
    # A judgment is superseded at most once.
    _refused(lambda: f.JudgmentFactory(assignment=original.assignment, supersedes=original))


def test_a_client_submission_id_is_recorded_once() -> None:
    submission = uuid.uuid4()
    f.JudgmentFactory(client_submission_id=submission)
    _refused(lambda: f.JudgmentFactory(client_submission_id=submission))


def test_a_study_needs_at_least_one_task_kind() -> None:
    _refused(lambda: f.StudyFactory(task_single=False, task_pairwise=False))


@pytest.mark.parametrize(
    "field,value",
    [
        ("raters_per_unit", 0),
        ("gold_rate", 1.0),
        ("gold_rate", -0.1),
        ("lease_minutes", 0),
        ("status", "archived"),
        ("platform", "upwork"),
    ],
)
def test_a_study_setting_out_of_range_is_refused(field: str, value: object) -> None:
    study = f.StudyFactory()
    _refused(lambda: Study.objects.filter(pk=study.pk).update(**{field: value}))


def test_a_single_unit_has_exactly_one_edit() -> None:
    edit = f.EditFactory()
    _refused(lambda: f.StudyUnitFactory(kind="single", edit_a=edit, edit_b=f.EditFactory()))


def test_a_pairwise_unit_has_two_different_edits() -> None:
    edit = f.EditFactory()
    _refused(lambda: f.StudyUnitFactory(kind="pairwise", edit_a=edit, edit_b=None))
    _refused(lambda: f.StudyUnitFactory(kind="pairwise", edit_a=edit, edit_b=edit))
    unit = f.StudyUnitFactory(kind="pairwise", edit_a=edit, edit_b=f.EditFactory(item=edit.item))
    assert StudyUnit.objects.filter(pk=unit.pk).exists()


def test_a_gold_unit_carries_its_known_answer() -> None:
    _refused(lambda: f.StudyUnitFactory(is_gold=True, gold_answer=None))


def test_a_rater_is_either_a_user_or_a_hashed_participant() -> None:
    user = f.UserFactory()
    _refused(lambda: Rater.objects.create(platform="internal", user=None))
    _refused(lambda: Rater.objects.create(platform="prolific", user=user, participant_hash="ab"))
    _refused(lambda: Rater.objects.create(platform="prolific"))
    assert Rater.objects.create(platform="prolific", participant_hash="ab" * 32)


def test_a_participant_has_one_identity_per_platform() -> None:
    Rater.objects.create(platform="prolific", participant_hash="cd" * 32)
    _refused(lambda: Rater.objects.create(platform="prolific", participant_hash="cd" * 32))


def test_a_cascade_model_names_its_checkpoint() -> None:
    _refused(lambda: EditModel.objects.create(name="m", kind="cascade", checkpoint=""))
    _refused(lambda: EditModel.objects.create(name="n", kind="diffusion"))
    assert EditModel.objects.create(name="o", kind="cascade", checkpoint="editor-im.pt")
