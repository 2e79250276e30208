"""Staff's preview of a study as its raters see it: tasks in the task page's format, built
from the study's edits (before launch) or units (after), leasing and recording nothing."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from annotation.models import BenchmarkItem, Edit, Study, StudyUnit
from annotation.questions import pairwise_questions, single_questions

EditUrl = Callable[[Edit], str]
ItemUrl = Callable[[BenchmarkItem, str], str]


def _task(
    n: int,
    *,
    item: BenchmarkItem,
    prompt_type: str,
    questions: list[dict[str, Any]],
    edits: list[Edit],
    edit_url: EditUrl,
    item_url: ItemUrl,
) -> dict[str, Any]:
    return {
        "assignment": f"preview-{n}",
        "kind": "pairwise" if len(edits) == 2 else "single",
        "prompt": item.prompt(prompt_type),
        "prompt_type": prompt_type,
        "questions": questions,
        "input": item_url(item, "input"),
        "mask": item_url(item, "mask"),
        "outputs": [edit_url(e) for e in edits],
        "width": item.width,
        "height": item.height,
    }


def preview_unit_task(
    *, study: Study, unit_id: int, edit_url: EditUrl, item_url: ItemUrl
) -> dict[str, Any] | None:
    """One unit of the study as a rater sees it (edit A on the left), or None."""
    unit = (
        StudyUnit.objects.filter(study=study, pk=unit_id)
        .select_related("edit_a__item", "edit_b")
        .first()
    )
    if unit is None:
        return None
    edits = [unit.edit_a] + ([unit.edit_b] if unit.edit_b is not None else [])
    return _task(
        0,
        item=unit.edit_a.item,
        prompt_type=unit.prompt_type,
        questions=unit.questions,
        edits=edits,
        edit_url=edit_url,
        item_url=item_url,
    )


def preview_sample_tasks(
    *, study: Study, edit_url: EditUrl, item_url: ItemUrl, seed: int = 0
) -> list[dict[str, Any]]:
    """A sample of each task kind the study asks: a single task per prompt type, and a
    side-by-side pair (Mask-Rich), from edits that exist already."""
    rng = random.Random(seed)
    edits = list(
        Edit.objects.filter(
            item__in=study.items.all(), model__in=study.edit_models.all(), seed=0
        ).select_related("item")
    )
    rng.shuffle(edits)
    tasks: list[dict[str, Any]] = []
    if study.task_single:
        for prompt_type in study.prompt_types:
            edit = next((e for e in edits if e.prompt_type == prompt_type), None)
            if edit is not None:
                questions = single_questions(edit.item.target, prompt_type)
                tasks.append(
                    _task(
                        len(tasks),
                        item=edit.item,
                        prompt_type=prompt_type,
                        questions=questions,
                        edits=[edit],
                        edit_url=edit_url,
                        item_url=item_url,
                    )
                )
    if study.task_pairwise:
        by_item: dict[int, list[Edit]] = {}
        for edit in edits:
            if edit.prompt_type == "mask_rich":
                by_item.setdefault(edit.item_id, []).append(edit)
        pair = next((pair[:2] for pair in by_item.values() if len(pair) >= 2), None)
        if pair is not None:
            tasks.append(
                _task(
                    len(tasks),
                    item=pair[0].item,
                    prompt_type="mask_rich",
                    questions=pairwise_questions(),
                    edits=pair,
                    edit_url=edit_url,
                    item_url=item_url,
                )
            )
    return tasks
