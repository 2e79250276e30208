"""The questions raters answer, built from an item's structured target (ARCHITECTURE.md §4).

Single-image questions are yes/no; a judgment is *correct* when every answer is
yes. Side-by-side questions ask for left / right / no preference. Question
texts never mention a model.
"""

from __future__ import annotations

from typing import Any

import inflect

YES_NO = ("yes", "no")
PAIR_CHOICES = ("left", "right", "none")

_ENGLISH = inflect.engine()

# How a size or shape value reads, with its reference point: what the shipped benchmark's
# categories mean (fixtures/editbench-mini/README.md: the square root of the object's box area
# is 9 %, 14 % or 21.5 % of the image side; tall and wide stretch the natural aspect 1.8x).
# The start page lists these too, so the questions and the instructions cannot disagree.
VALUE_REFERENCES: dict[tuple[str, str], str] = {
    ("material", "plain"): "plain (one colour, no pattern)",
    ("size", "small"): "small (roughly 1/10 of the image's width across)",
    ("size", "medium"): "medium-sized (roughly 1/7 of the image's width across)",
    ("size", "large"): "large (roughly 1/5 of the image's width across)",
    ("shape", "tall"): "tall (stretched to about twice {its} usual height)",
    ("shape", "wide"): "wide (stretched to about twice {its} usual width)",
}


def _value_phrase(attribute: str, value: Any, *, many: bool = False) -> str:
    """An attribute value as it reads after "Is it …?", with its reference point if any."""
    text = VALUE_REFERENCES.get((attribute, str(value)), str(value))
    return text.replace("{its}", "their" if many else "its")


class _Noun:
    """The target's noun in English: "an arrow", "three crosses", "two letters B"."""

    def __init__(self, target: dict[str, Any]) -> None:
        self.word = str(target.get("object") or "object").strip()
        self.count = int(target.get("count", 1))

    @property
    def plural(self) -> str:
        # The head of "letter B" or "word CAT" is the first word (the label stays as it is);
        # otherwise the last word is ("wine glass" -> "wine glasses").
        words = self.word.split(" ")
        head = 0 if len(words) > 1 and words[-1].isupper() else len(words) - 1
        words[head] = _ENGLISH.plural_noun(words[head])
        return " ".join(words)

    @property
    def many(self) -> bool:
        return self.count > 1

    def indefinite(self) -> str:
        return str(_ENGLISH.a(self.word))

    def definite(self) -> str:
        return f"the {self.plural if self.many else self.word}"

    def counted(self) -> str:
        return f"{_ENGLISH.number_to_words(str(self.count))} {self.plural}"


def _question(qid: str, text: str) -> dict[str, Any]:
    return {"id": qid, "kind": "yes_no", "text": text}


def _present(noun: _Noun) -> dict[str, Any]:
    if noun.many:
        return _question("object", f"Are there {noun.plural} in the outlined region?")
    return _question("object", f"Is there {noun.indefinite()} in the outlined region?")


def _count_question(noun: _Noun) -> dict[str, Any]:
    return _question("count", f"Are there exactly {noun.counted()} in the outlined region?")


def _about(noun: _Noun, qid: str, value: str, *, itself: bool = False) -> dict[str, Any]:
    """ "Is the arrow red?", "Are the crosses themselves red?" """
    verb = "Are" if noun.many else "Is"
    emphasis = (" themselves" if noun.many else " itself") if itself else ""
    return _question(qid, f"{verb} {noun.definite()}{emphasis} {value}?")


def single_questions(target: dict[str, Any], prompt_type: str) -> list[dict[str, Any]]:
    """The yes/no checks for one edit shown with a prompt of ``prompt_type``.

    - ``full_image``: one question, does the image match the caption.
    - ``mask_simple``: the object is there; the tested attribute is rendered; and it
      is bound to that object (not to something else in the scene).
    - ``mask_rich``: the object, then one check per attribute the prompt names.

    The texts agree with the target in number ("an arrow", "three crosses … are they
    yellow?"); size and shape values carry their reference point (``VALUE_REFERENCES``).
    """
    noun = _Noun(target)
    if prompt_type == "full_image":
        return [_question("match", "Does the image match the caption?")]
    attributes: dict[str, Any] = dict(target.get("attributes", {}))
    if prompt_type == "mask_simple":
        tested = str(target.get("tested_attribute", ""))
        binding = target.get("binding") or {}
        questions = [_present(noun)]
        if tested == "count":
            questions.append(_count_question(noun))
        elif tested in attributes:
            value = _value_phrase(tested, attributes[tested], many=noun.many)
            questions.append(_question("attribute", f"Is anything in the outlined region {value}?"))
            bound = _Noun({"object": binding.get("object") or noun.word, "count": noun.count})
            questions.append(_about(bound, "binding", value, itself=True))
        return questions
    if prompt_type == "mask_rich":
        questions = [_present(noun)]
        if noun.many:
            questions.append(_count_question(noun))
        for attribute, value in attributes.items():
            if attribute == "shape" and value == "regular":
                continue  # the Mask-Rich prompt does not name a regular shape
            value = _value_phrase(attribute, value, many=noun.many)
            questions.append(_about(noun, f"attr_{attribute}", value))
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
