"""Study lifecycle services: create, update while draft, generate, launch, pause, close;
create_study from a spec file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Benchmark, BenchmarkItem, Edit, EditModel, Study, StudyUnit
from annotation.services.errors import ServiceError
from annotation.services.studies import (
    StudySpec,
    study_close,
    study_generate,
    study_launch,
    study_pause,
    study_update,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def test_launch_is_refused_while_edits_are_missing(make_study: Callable[..., Study]) -> None:
    study = make_study(launch=False)
    with pytest.raises(ServiceError, match="edits are still missing") as caught:
        study_launch(study=study)
    assert caught.value.code == "conflict"
    assert study.units.count() == 0


def test_generate_asks_for_every_missing_edit_and_launch_then_succeeds(
    make_study: Callable[..., Study], django_capture_on_commit_callbacks: Any
) -> None:
    study = make_study(launch=False)
    with django_capture_on_commit_callbacks(execute=True):
        study_generate(study=study)
    study.refresh_from_db()
    assert study.status == "generating"
    # mask_simple + full_image for single, mask_rich for pairs: 4 items × 3 models × 3.
    assert Edit.objects.count() == 36
    assert study_launch(study=study).status == "live"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"name": " "}, "name: a study needs a name"),
        ({"items": []}, "items: the selection matches no item"),
        ({"models": []}, "models: choose at least one model"),
        ({"prompt_types": ["mask_simple", "caption"]}, "prompt_types: unknown caption"),
        ({"raters_per_unit": 0}, "raters_per_unit: must be between 1 and 100"),
        ({"gold_rate": 1.0}, "gold_rate: must be at least 0 and below 1"),
        ({"lease_minutes": 0}, "lease_minutes: must be between 1 and 1440"),
        ({"platform": "prolific"}, "completion_code: a Prolific study needs its completion code"),
        ({"quality_rules": {"min_gold_accuracy": 2}}, "quality_rules: min_gold_accuracy must be"),
        ({"quality_rules": {"vibes": 1}}, "quality_rules: unknown rule 'vibes'"),
    ],
)
def test_an_invalid_spec_is_refused_and_nothing_is_created(
    make_study: Callable[..., Study], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        make_study(launch=False, **change)
    assert any(message in p for p in caught.value.problems), caught.value.problems
    assert Study.objects.count() == 0


def test_pairwise_needs_two_models(
    make_study: Callable[..., Study], baselines: list[EditModel]
) -> None:
    with pytest.raises(ServiceError, match="needs at least two models"):
        make_study(launch=False, models=baselines[:1])


def test_a_prolific_study_gets_its_completion_url(make_study: Callable[..., Study]) -> None:
    study = make_study(launch=False, platform="prolific", completion_code="C0DE42")
    assert study.completion_url == "https://app.prolific.com/submissions/complete?cc=C0DE42"


def test_only_a_draft_can_be_changed(
    make_study: Callable[..., Study], bench: Benchmark, baselines: list[EditModel]
) -> None:
    study = make_study()
    spec = StudySpec(
        name="renamed",
        benchmark=bench,
        items=list(bench.items.all()),
        models=baselines,
        prompt_types=["mask_rich"],
    )
    with pytest.raises(ServiceError, match="cannot change a study that is live") as caught:
        study_update(study=study, spec=spec)
    assert caught.value.code == "conflict"
    draft = make_study(launch=False, name="Draft")
    assert study_update(study=draft, spec=spec).name == "renamed"


def test_pause_resume_and_close_follow_the_lifecycle(make_study: Callable[..., Study]) -> None:
    study = make_study()
    units = study.units.count()
    assert study_pause(study=study).status == "paused"
    assert study_launch(study=study).status == "live"
    assert study.units.count() == units  # resuming builds nothing new
    assert study_close(study=study).status == "closed"
    for transition in (study_pause, study_launch, study_close, study_generate):
        with pytest.raises(ServiceError) as caught:
            transition(study=study)
        assert caught.value.code == "conflict"


def test_the_demo_study_spec_builds_the_editbench_design(admin_user: User, tmp_path: Path) -> None:
    call_command("import_benchmark", str(ROOT / "fixtures/editbench-mini"), "--no-progress")
    spec = yaml.safe_load((ROOT / "fixtures/demo-study.yaml").read_text())
    call_command("create_study", str(ROOT / "fixtures/demo-study.yaml"))
    study = Study.objects.get(slug=spec["slug"])
    models = list(study.edit_models.all())
    items = list(study.items.all())
    # Stand-in edits (the real ones come from the workers): launch needs them all.
    image = items[0].image
    Edit.objects.bulk_create(
        Edit(item=i, model=m, prompt_type=p, seed=0, image=image.name)
        for i in items
        for m in models
        for p in ("mask_simple", "mask_rich", "full_image")
    )
    study_launch(study=study)
    units = StudyUnit.objects.filter(study=study, is_gold=False)
    n_items, n_models = len(items), len(models)
    assert n_models == len(spec["models"])
    by_kind_prompt = Counter(units.values_list("kind", "prompt_type"))
    for prompt_type in spec["prompt_types"]:
        assert by_kind_prompt[("single", prompt_type)] == n_items * n_models
    assert by_kind_prompt[("pairwise", "mask_rich")] == n_items * n_models * (n_models - 1) // 2
    pairs = Counter(
        tuple(sorted((u.edit_a.model.name, u.edit_b.model.name)))
        for u in units.filter(kind="pairwise").select_related("edit_a__model", "edit_b__model")
        if u.edit_b is not None
    )
    assert len(pairs) == n_models * (n_models - 1) // 2
    assert set(pairs.values()) == {n_items}


def test_create_study_lists_every_problem_and_creates_nothing(
    admin_user: User, bench: Benchmark, tmp_path: Path
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "benchmark": "nope",
                "models": ["Ghost"],
                "tasks": ["single", "triple"],
                "gold_rate": 3,
            }
        )
    )
    with pytest.raises(CommandError) as caught:
        call_command("create_study", str(spec))
    text = str(caught.value)
    assert "benchmark: no benchmark named 'nope'" in text
    assert "models: no model named 'Ghost'" in text
    assert "tasks[1]:" in text and "gold_rate:" in text
    assert Study.objects.count() == 0


def test_create_study_defines_inline_models(
    admin_user: User, bench: Benchmark, tmp_path: Path
) -> None:
    spec = tmp_path / "ok.json"
    spec.write_text(
        '{"name": "Inline", "benchmark": "mini", "items": {"object_type": ["common"]},'
        ' "models": [{"name": "blur", "kind": "baseline", "preset": "blur_fill"},'
        ' {"name": "id", "kind": "baseline", "preset": "identity"}],'
        ' "tasks": ["single", "pairwise"], "prompt_types": ["mask_rich"]}'
    )
    call_command("create_study", str(spec))
    study = Study.objects.get(name="Inline")
    assert study.items.count() == BenchmarkItem.objects.filter(object_type="common").count()
    assert sorted(study.edit_models.values_list("name", flat=True)) == ["blur", "id"]


def test_a_prompt_type_the_items_lack_is_refused(
    make_study: Callable[..., Study], bench: Benchmark
) -> None:
    bench.items.filter(external_id="eb-0002").update(prompt_mask_rich="")
    with pytest.raises(ServiceError, match="1 chosen item\\(s\\) have no mask_rich prompt"):
        make_study(launch=False, prompt_types=["mask_simple", "mask_rich"])
    assert not Study.objects.exists()
