"""The question wording, for every target in the shipped benchmark (issue #16): articles,
plurals and counts agree with the target, size and shape carry their reference point, and the
EditBench protocol (which questions, their ids) is unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annotation.questions import VALUE_REFERENCES, pairwise_questions, single_questions

MANIFEST = Path(__file__).resolve().parents[2] / "fixtures" / "editbench-mini" / "manifest.jsonl"
ROWS = [json.loads(line) for line in MANIFEST.read_text().splitlines()]

# Every noun of the benchmark with its article, written out by hand (the independent reference).
ARTICLES = {
    "arrow": "an",
    "circle": "a",
    "crescent": "a",
    "cross": "a",
    "diamond": "a",
    "heart": "a",
    "hexagon": "a",
    "letter A": "a",
    "letter B": "a",
    "letter E": "a",
    "letter K": "a",
    "letter R": "a",
    "letter S": "a",
    "square": "a",
    "star": "a",
    "triangle": "a",
    "word BOX": "a",
    "word CAT": "a",
    "word MAP": "a",
    "word SUN": "a",
}


def texts(row: dict[str, Any], prompt_type: str) -> dict[str, str]:
    return {q["id"]: q["text"] for q in single_questions(row["target"], prompt_type)}


def test_the_benchmark_has_no_noun_without_a_written_article() -> None:
    assert {row["target"]["object"] for row in ROWS} == set(ARTICLES)


@pytest.mark.parametrize("prompt_type", ["mask_simple", "mask_rich"])
def test_a_single_object_takes_its_article(prompt_type: str) -> None:
    for row in ROWS:
        target = row["target"]
        if target["count"] != 1:
            continue
        noun = target["object"]
        assert texts(row, prompt_type)["object"] == (
            f"Is there {ARTICLES[noun]} {noun} in the outlined region?"
        )


def test_counted_objects_read_as_the_benchmarks_own_caption() -> None:
    # The generator's Mask-Simple caption of a count item is the count and the plural
    # ("three crosses", "two letters B"): the questions must say the same.
    counted = [row for row in ROWS if row["target"]["tested_attribute"] == "count"]
    assert counted and all(row["target"]["count"] > 1 for row in counted)
    for row in counted:
        phrase = row["prompt_mask_simple"]
        plural = phrase.split(" ", 1)[1]
        simple = texts(row, "mask_simple")
        assert simple == {
            "object": f"Are there {plural} in the outlined region?",
            "count": f"Are there exactly {phrase} in the outlined region?",
        }
        rich = texts(row, "mask_rich")
        assert rich["count"] == simple["count"]
        for qid, text in rich.items():
            if qid.startswith("attr_"):
                assert text.startswith(f"Are the {plural} "), text


def test_no_question_has_a_wrong_article_or_number() -> None:
    for row in ROWS:
        for prompt_type in ("mask_simple", "mask_rich"):
            for text in texts(row, prompt_type).values():
                assert " a arrow" not in text and " a a" not in text
                assert "(or several)" not in text
                if row["target"]["count"] > 1:
                    assert not text.startswith("Is the "), text


def test_size_and_shape_questions_name_their_reference_point() -> None:
    for row in ROWS:
        attributes = row["target"]["attributes"]
        rich = texts(row, "mask_rich")
        assert "(roughly 1/" in rich["attr_size"]
        assert rich["attr_size"].endswith(" of the image's width across)?")
        if attributes["shape"] == "regular":
            assert "attr_shape" not in rich  # the Mask-Rich caption names no regular shape
        else:
            own = "their" if row["target"]["count"] > 1 else "its"
            assert f"twice {own} usual" in rich["attr_shape"]


def test_the_examples_of_the_issue_read_right() -> None:
    arrow = next(r for r in ROWS if r["target"]["object"] == "arrow" and r["target"]["count"] == 1)
    assert texts(arrow, "mask_rich")["object"] == "Is there an arrow in the outlined region?"
    crosses = next(
        r for r in ROWS if r["target"]["object"] == "cross" and r["target"]["count"] == 3
    )
    rich = texts(crosses, "mask_rich")
    assert rich["count"] == "Are there exactly three crosses in the outlined region?"
    assert rich["attr_color"] == f"Are the crosses {crosses['target']['attributes']['color']}?"


def test_the_protocol_is_unchanged() -> None:
    for row in ROWS:
        target = row["target"]
        simple = [q["id"] for q in single_questions(target, "mask_simple")]
        tested = target["tested_attribute"]
        assert simple == (
            ["object", "count"] if tested == "count" else ["object", "attribute", "binding"]
        )
        rich = [q["id"] for q in single_questions(target, "mask_rich")]
        named = [
            a for a, v in target["attributes"].items() if not (a == "shape" and v == "regular")
        ]
        assert rich == [
            "object",
            *(["count"] if target["count"] > 1 else []),
            *(f"attr_{a}" for a in named),
        ]
        assert [q["id"] for q in single_questions(target, "full_image")] == ["match"]
    assert [q["id"] for q in pairwise_questions()] == ["alignment", "realism"]


def test_every_reference_point_is_one_the_benchmark_uses() -> None:
    used = {(a, str(v)) for row in ROWS for a, v in row["target"]["attributes"].items()}
    assert set(VALUE_REFERENCES) <= used
