"""The start page's worked examples and the practice tasks, built from the study's benchmark.

Each example is one benchmark item shown with a right edit (the item's reference image) and a
wrong one (a blurred fill of the region; for side-by-side, the two against each other), with
the answers a careful rater gives and why. Practice tasks are the same examples answered by
the rater with feedback: they exist only in the page, so they lease no unit and record no
judgment. Items outside the study are preferred, so no practice item is one the rater judges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from annotation.models import BenchmarkItem, Study
from annotation.questions import pairwise_questions, single_questions

# What a practice image URL may name: the item's input, its mask outline, the right edit
# (the reference) and the wrong one (a blurred fill of the region).
PRACTICE_IMAGES = ("input", "mask", "reference", "blurred")
PAIRWISE = "pairwise"
_MAX_EXAMPLES = 4


@dataclass(frozen=True)
class Example:
    """One question type of the study, shown on one item."""

    item: BenchmarkItem
    kind: str  # a prompt type (a single-image task) or "pairwise"

    @property
    def prompt_type(self) -> str:
        return "mask_rich" if self.kind == PAIRWISE else self.kind

    @property
    def prompt(self) -> str:
        return self.item.prompt(self.prompt_type)

    @property
    def noun(self) -> str:
        return str(self.item.target.get("object", "object"))


def _kinds(study: Study) -> list[str]:
    kinds = list(study.prompt_types) if study.task_single else []
    if study.task_pairwise:
        kinds.append(PAIRWISE)
    return kinds or ["mask_simple"]


def practice_items(*, study: Study, count: int) -> list[BenchmarkItem]:
    """Up to ``count`` items of the study's benchmark with a reference image, those outside
    the study first, in a fixed order (so the page and the image URLs agree)."""
    with_reference = BenchmarkItem.objects.filter(benchmark_id=study.benchmark_id).exclude(
        reference=""
    )
    outside = list(with_reference.exclude(studies=study).order_by("pk")[:count])
    inside = list(with_reference.filter(studies=study).order_by("pk")[: count - len(outside)])
    return outside + inside


def practice_examples(*, study: Study) -> list[Example]:
    """One example per question type the study asks (Mask-Simple, Mask-Rich, Full-Image,
    side-by-side), each on its own item; fewer when the benchmark has fewer references."""
    kinds = _kinds(study)[:_MAX_EXAMPLES]
    items = practice_items(study=study, count=len(kinds))
    return [Example(item=item, kind=kind) for item, kind in zip(items, kinds, strict=False)]


def _wrong_expected(question: dict[str, Any], target: dict[str, Any]) -> str | None:
    # A blur of the surroundings can take on a colour of the scene, so "is anything in the
    # region red?" has no one right answer there; every other check is about the missing object.
    if question["id"] == "attribute" and target.get("tested_attribute") == "color":
        return None
    return "no"


def _answers(example: Example, *, right: bool) -> list[dict[str, Any]]:
    """The questions of an example with the expected answer to each (None: either is fine)."""
    if example.kind == PAIRWISE:
        # The reference is shown on the right, the blurred fill on the left.
        return [{**q, "expected": "right"} for q in pairwise_questions()]
    target = example.item.target
    questions = single_questions(target, example.kind)
    if right:
        return [{**q, "expected": "yes"} for q in questions]
    return [{**q, "expected": _wrong_expected(q, target)} for q in questions]


def _why(example: Example, *, right: bool) -> str:
    caption = f"“{example.prompt}”"
    if example.kind == PAIRWISE:
        return (
            f"The right image shows {caption} in the region; the left one only blurs it. "
            "So the right one matches the caption better and looks more realistic."
        )
    if example.kind == "full_image":
        if right:
            return f"The whole picture is what the caption {caption} describes: yes."
        return (
            f"The caption {caption} names a {example.noun} in the outlined region, "
            "and the region is only a blur: no."
        )
    if right:
        return f"The region shows {caption}, so every answer is yes."
    return (
        f"The region is only a blur of its surroundings: there is no {example.noun}, "
        "so every question about it is answered no."
    )


ImageUrl = Callable[[int, str], str]


def practice_tasks(*, study: Study, image_url: ImageUrl) -> list[dict[str, Any]]:
    """2–4 practice tasks in the task page's format, each with its expected answers and an
    explanation: the examples, alternately with the right and the wrong edit (a study with
    one question type practises both)."""
    examples = practice_examples(study=study)
    plan = [(i, e, i % 2 == 0) for i, e in enumerate(examples)]
    if len(plan) == 1:
        plan.append((0, examples[0], False))
    tasks = []
    for n, (index, example, right) in enumerate(plan):
        url = partial(image_url, index)
        pairwise = example.kind == PAIRWISE
        shown = ["blurred", "reference"] if pairwise else ["reference" if right else "blurred"]
        tasks.append(
            {
                "assignment": f"practice-{n + 1}",
                "kind": PAIRWISE if pairwise else "single",
                "prompt": example.prompt,
                "prompt_type": example.prompt_type,
                "questions": _answers(example, right=right or pairwise),
                "why": _why(example, right=right),
                "input": url("input"),
                "mask": url("mask"),
                "outputs": [url(which) for which in shown],
                "width": example.item.width,
                "height": example.item.height,
            }
        )
    return tasks


def example_blocks(*, study: Study, image_url: ImageUrl) -> list[dict[str, Any]]:
    """The start page's worked examples: per question type, the input, a right and a wrong
    edit (for side-by-side, the pair) with the right answers and why."""
    blocks = []
    for index, example in enumerate(practice_examples(study=study)):
        pairwise = example.kind == PAIRWISE
        blocks.append(
            {
                "kind": example.kind,
                "prompt": example.prompt,
                "input": image_url(index, "input"),
                "mask": image_url(index, "mask"),
                "right": image_url(index, "reference"),
                "wrong": image_url(index, "blurred"),
                "width": example.item.width,
                "height": example.item.height,
                "right_answers": _answers(example, right=True),
                "wrong_answers": [] if pairwise else _answers(example, right=False),
                "right_why": _why(example, right=True),
                "wrong_why": "" if pairwise else _why(example, right=False),
            }
        )
    return blocks


def practice_item(*, study: Study, index: int) -> BenchmarkItem | None:
    """The item behind practice image ``index`` (as numbered by :func:`practice_examples`)."""
    examples = practice_examples(study=study)
    return examples[index].item if 0 <= index < len(examples) else None
