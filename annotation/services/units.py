"""What raters judge: a launched study's units, gold units with known answers included."""

from __future__ import annotations

import itertools
import random

from annotation.models import (
    BenchmarkItem,
    Edit,
    EditModel,
    Study,
    StudyUnit,
    unit_wanted_at_launch,
)
from annotation.questions import pairwise_questions, single_questions
from annotation.services.generation import generation_request, jobs_run

GOLD_MODELS = {
    "identity": "Gold: unedited input",
    "reference": "Gold: reference image",
    "blur_fill": "Gold: blurred fill",
}


def _gold_model(preset: str) -> EditModel:
    model, _ = EditModel.objects.get_or_create(
        name=GOLD_MODELS[preset],
        defaults={
            "kind": EditModel.Kind.BASELINE,
            "preset": preset,
            "description": "Built by EditBench Studio for gold units; never analysed.",
        },
    )
    return model


def _gold_edits(preset: str, items: list[BenchmarkItem], prompt_type: str) -> dict[int, Edit]:
    model = _gold_model(preset)
    report = generation_request(
        items=items, models=[model], prompt_types=[prompt_type], enqueue=False
    )
    for batch in report.batches:
        jobs_run(job_ids=batch)
    edits = Edit.objects.filter(item__in=items, model=model, prompt_type=prompt_type, seed=0)
    return {e.item_id: e for e in edits}


def units_build(*, study: Study, rng: random.Random) -> int:
    """Create the study's units from its edits (every one must exist); returns how many."""
    edits = {
        (e.item_id, e.model_id, e.prompt_type): e
        for e in Edit.objects.filter(
            item__in=study.items.all(), model__in=study.edit_models.all(), seed=0
        )
    }
    items = list(study.items.order_by("pk"))
    models = list(study.edit_models.order_by("pk"))
    units: list[StudyUnit] = []
    if study.task_single:
        for item in items:
            for model in models:
                for prompt_type in study.prompt_types:
                    units.append(
                        StudyUnit(
                            study=study,
                            kind=StudyUnit.Kind.SINGLE,
                            prompt_type=prompt_type,
                            edit_a=edits[(item.pk, model.pk, prompt_type)],
                            questions=single_questions(item.target, prompt_type),
                        )
                    )
    if study.task_pairwise:
        for item in items:
            for a, b in itertools.combinations(models, 2):
                units.append(
                    StudyUnit(
                        study=study,
                        kind=StudyUnit.Kind.PAIRWISE,
                        prompt_type="mask_rich",
                        edit_a=edits[(item.pk, a.pk, "mask_rich")],
                        edit_b=edits[(item.pk, b.pk, "mask_rich")],
                        questions=pairwise_questions(),
                    )
                )
    regular = len(units)
    if study.gold_rate > 0:
        units += _gold_units(study, items, regular, rng)
    wanted = unit_wanted_at_launch(study)
    for unit in units:
        unit.wanted = wanted
    StudyUnit.objects.bulk_create(units)
    return len(units)


def _gold_units(
    study: Study, items: list[BenchmarkItem], regular: int, rng: random.Random
) -> list[StudyUnit]:
    """Units with a known answer, at ``gold_rate`` of all units, looking like any other.

    Single: the unedited input asked about the requested object, which the
    outlined region of an input does not show (answer: no object). Pair: the
    reference image against a blurred fill (the reference matches the caption).
    """
    wanted = max(1, round(regular * study.gold_rate / (1 - study.gold_rate)))
    kinds = (["single"] if study.task_single else []) + (
        ["pairwise"] if study.task_pairwise else []
    )
    per_kind = {
        k: wanted // len(kinds) + (1 if i < wanted % len(kinds) else 0) for i, k in enumerate(kinds)
    }
    units: list[StudyUnit] = []
    if per_kind.get("single"):
        units += _gold_single_units(study, [rng.choice(items) for _ in range(per_kind["single"])])
    with_reference = [i for i in items if i.reference]
    if per_kind.get("pairwise") and with_reference:
        chosen = [rng.choice(with_reference) for _ in range(per_kind["pairwise"])]
        units += _gold_pair_units(study, chosen)
    return units


def _gold_single_units(study: Study, chosen: list[BenchmarkItem]) -> list[StudyUnit]:
    """The unedited input of each chosen item, asked whether the requested object is there."""
    prompt_type = "mask_simple" if "mask_simple" in study.prompt_types else study.prompt_types[0]
    inputs = _gold_edits("identity", sorted(set(chosen), key=lambda i: i.pk), prompt_type)
    units = []
    for item in chosen:
        questions = single_questions(item.target, prompt_type)
        answer = {"object": "no"} if questions[0]["id"] == "object" else {"match": "no"}
        units.append(
            StudyUnit(
                study=study,
                kind=StudyUnit.Kind.SINGLE,
                prompt_type=prompt_type,
                edit_a=inputs[item.pk],
                questions=questions,
                is_gold=True,
                gold_answer=answer,
            )
        )
    return units


def _gold_pair_units(study: Study, chosen: list[BenchmarkItem]) -> list[StudyUnit]:
    """Each chosen item's reference image against a blurred fill (the reference wins)."""
    unique = sorted(set(chosen), key=lambda i: i.pk)
    references = _gold_edits("reference", unique, "mask_rich")
    fills = _gold_edits("blur_fill", unique, "mask_rich")
    return [
        StudyUnit(
            study=study,
            kind=StudyUnit.Kind.PAIRWISE,
            prompt_type="mask_rich",
            edit_a=references[item.pk],
            edit_b=fills[item.pk],
            questions=pairwise_questions(),
            is_gold=True,
            gold_answer={"alignment": "a"},
        )
        for item in chosen
    ]
