"""The automatic judge (inference/judge.py) applied to stored edits.

It answers a unit's questions the way the protocol defines them, from the
judge's per-attribute verdicts. Used for the automatic metrics beside the human
ones and by the simulated raters; never counted as a human rater.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from annotation.models import Edit
from inference.judge import Verdict, judge


def _verdict(edit: Edit) -> Verdict:
    with edit.image.open("rb") as handle:
        image = Image.open(handle).convert("RGB")
    with edit.item.mask.open("rb") as handle:
        mask = np.asarray(Image.open(handle).convert("L")) > 0
    return judge(image, mask, edit.item.target)


def verdicts(edit: Edit) -> dict[str, bool] | None:
    """The judge's per-attribute verdicts, or None where it cannot judge the item
    (a natural photo, a non-square image, a target without attributes)."""
    item = edit.item
    target = item.target or {}
    if item.source != "generated" or item.width != item.height or "attributes" not in target:
        return None
    cached = (edit.metadata or {}).get("judge")
    if isinstance(cached, dict):
        return {str(k): bool(v) for k, v in cached.items()}
    try:
        result = _verdict(edit)
    except (ValueError, KeyError):
        return None
    correct = {str(k): bool(v) for k, v in result.correct.items()}
    # Kept with the edit (the only cache, shared by every process): the verdict of
    # a stored image never changes, and judging takes a noticeable fraction of a second.
    metadata = {**(edit.metadata or {}), "judge": correct}
    Edit.objects.filter(pk=edit.pk).update(metadata=metadata)
    edit.metadata = metadata
    return correct


def answer(
    questions: list[dict[str, Any]], correct: dict[str, bool], tested: str
) -> dict[str, str]:
    """The yes/no answers the verdicts give to a single unit's questions."""

    def yes(ok: bool) -> str:
        return "yes" if ok else "no"

    out = {}
    for q in questions:
        qid = q["id"]
        if qid == "match":
            out[qid] = yes(all(correct.values()))
        elif qid == "object":
            out[qid] = yes(correct.get("object", False))
        elif qid == "attribute":
            out[qid] = yes(correct.get(tested, False))
        elif qid == "binding":
            out[qid] = yes(correct.get(tested, False) and correct.get("object", False))
        elif qid == "count":
            out[qid] = yes(correct.get("count", False))
        elif qid.startswith("attr_"):
            out[qid] = yes(correct.get(qid.removeprefix("attr_"), False))
    return out


def score(correct: dict[str, bool]) -> int:
    """How many attributes the edit gets right (for side-by-side preferences)."""
    return sum(1 for ok in correct.values() if ok)
