"""The questions raters answer, built from an item's structured target (ARCHITECTURE.md §4).

Single-image questions are yes/no; a judgment is *correct* when every answer is
yes. Side-by-side questions ask for left / right / no preference. Question
texts never mention a model.
"""

from __future__ import annotations

from typing import Any

YES_NO = ("yes", "no")
PAIR_CHOICES = ("left", "right", "none")

# How an attribute value reads in "Is it …?" questions.
_ATTRIBUTE_PHRASES = {
    "color": "{value}",
    "material": "{value}",
    "size": "{value}",
    "shape": "{value}",
}
_SIZE_WORDS = {"medium": "medium-sized"}


def _value_phrase(attribute: str, value: Any) -> str:
    text = str(value)
    if attribute == "size":
        text = _SIZE_WORDS.get(text, text)
    return _ATTRIBUTE_PHRASES.get(attribute, "{value}").format(value=text)


def _noun(target: dict[str, Any]) -> str:
    return str(target.get("object", "object"))


def _count_question(target: dict[str, Any]) -> dict[str, Any]:
    count = int(target.get("count", 1))
    return {
        "id": "count",
        "kind": "yes_no",
        "text": f"Are there exactly {count} of them in the outlined region?",
    }


def single_questions(target: dict[str, Any], prompt_type: str) -> list[dict[str, Any]]:
    """The yes/no checks for one edit shown with a prompt of ``prompt_type``.

    - ``full_image``: one question, does the image match the caption.
    - ``mask_simple``: the object is there; the tested attribute is rendered; and it
      is bound to that object (not to something else in the scene).
    - ``mask_rich``: the object, then one check per attribute the prompt names.
    """
    noun = _noun(target)
    if prompt_type == "full_image":
        return [{"id": "match", "kind": "yes_no", "text": "Does the image match the caption?"}]
    present = {
        "id": "object",
        "kind": "yes_no",
        "text": f"Is there a {noun} (or several) in the outlined region?",
    }
    attributes: dict[str, Any] = dict(target.get("attributes", {}))
    if prompt_type == "mask_simple":
        tested = str(target.get("tested_attribute", ""))
        binding = target.get("binding") or {}
        questions = [present]
        if tested == "count":
            questions.append(_count_question(target))
        elif tested in attributes:
            value = _value_phrase(tested, attributes[tested])
            questions.append(
                {
                    "id": "attribute",
                    "kind": "yes_no",
                    "text": f"Is anything in the outlined region {value}?",
                }
            )
            bound_to = binding.get("object", noun)
            questions.append(
                {
                    "id": "binding",
                    "kind": "yes_no",
                    "text": f"Is the {bound_to} itself {value}?",
                }
            )
        return questions
    if prompt_type == "mask_rich":
        questions = [present]
        if int(target.get("count", 1)) > 1:
            questions.append(_count_question(target))
        for attribute, value in attributes.items():
            if attribute == "shape" and value == "regular":
                continue  # the Mask-Rich prompt does not name a regular shape
            questions.append(
                {
                    "id": f"attr_{attribute}",
                    "kind": "yes_no",
                    "text": f"Is the {noun} {_value_phrase(attribute, value)}?",
                }
            )
        return questions
    raise ValueError(f"unknown prompt type {prompt_type!r}")


def pairwise_questions() -> list[dict[str, Any]]:
    """The side-by-side questions (Mask-Rich prompts)."""
    return [
        {
            "id": "alignment",
            "kind": "pair",
            "text": "Which image matches the caption better?",
        },
        {"id": "realism", "kind": "pair", "text": "Which image looks more realistic?"},
    ]


def validate_answers(questions: list[dict[str, Any]], answers: Any) -> dict[str, str]:
    """Check that ``answers`` answers every question with an allowed value.

    Raises ValueError naming the first problem; returns the cleaned answers.
    """
    if not isinstance(answers, dict):
        raise ValueError("answers must be an object of question id: answer")
    cleaned: dict[str, str] = {}
    for question in questions:
        qid = question["id"]
        allowed = YES_NO if question["kind"] == "yes_no" else PAIR_CHOICES
        value = answers.get(qid)
        if value not in allowed:
            raise ValueError(f"question {qid!r} needs one of: {', '.join(allowed)}")
        cleaned[qid] = str(value)
    extra = set(answers) - {q["id"] for q in questions}
    if extra:
        raise ValueError(f"unknown question id(s): {', '.join(sorted(extra))}")
    return cleaned


def single_correct(answers: dict[str, str]) -> bool:
    """A single-image judgment is correct when every check is answered yes."""
    return all(value == "yes" for value in answers.values())
