"""Simulated raters: the automatic judge plus noise, through the same services as people."""

from __future__ import annotations

import random
import uuid

from tqdm import tqdm

from annotation import autojudge
from annotation.models import Assignment, Rater, Study, StudyUnit
from annotation.services.assignments import assignment_next
from annotation.services.errors import ServiceError
from annotation.services.judgments import judgment_submit
from annotation.services.raters import rater_for_participant


def _simulated_answers(assignment: Assignment, rng: random.Random, noise: float) -> dict[str, str]:
    unit = assignment.unit
    if unit.kind == StudyUnit.Kind.SINGLE:
        correct = autojudge.verdicts(unit.edit_a)
        tested = str(unit.edit_a.item.target.get("tested_attribute", ""))
        answers = (
            autojudge.answer(unit.questions, correct, tested)
            if correct is not None
            else {q["id"]: rng.choice(("yes", "no")) for q in unit.questions}
        )
        flip = {"yes": "no", "no": "yes"}
        return {k: flip[v] if rng.random() < noise else v for k, v in answers.items()}
    assert unit.edit_b is not None
    scores = [autojudge.verdicts(e) for e in (unit.edit_a, unit.edit_b)]
    a, b = (autojudge.score(s) if s is not None else 0 for s in scores)
    winner = "a" if a > b else "b" if b > a else "none"
    left_is_a = assignment.a_on_left
    side = {"a": "left" if left_is_a else "right", "b": "right" if left_is_a else "left"}
    side_answers: dict[str, str] = {}
    for question in ("alignment", "realism"):
        # Realism has no automatic judge; a simulated rater leans towards the better match.
        choice = winner if question == "alignment" or rng.random() < 0.6 else "none"
        if rng.random() < noise:
            choice = rng.choice(("a", "b", "none"))
        side_answers[question] = side.get(choice, "none")
    return side_answers


def raters_simulate(
    *, study: Study, raters: int, noise: float, seed: int = 0, progress: bool = False
) -> int:
    """Simulated raters work through the study with the same services as people.

    Each answers from the automatic judge's verdicts, each answer flipped with
    probability ``noise``. Their raters and judgments are marked simulated, and
    reports leave them out unless asked. Returns the number of judgments made.
    """
    if not 0 <= noise <= 1:
        raise ServiceError("noise must be between 0 and 1")
    if raters < 1:
        raise ServiceError("at least one simulated rater")
    rng = random.Random(seed)
    made = 0
    total = study.units.filter(is_gold=False).count() * study.raters_per_unit
    with tqdm(total=total, unit="judgment", desc="simulating", disable=not progress) as bar:
        for n in range(raters):
            rater = rater_for_participant(
                platform=Rater.Platform.SIMULATED, participant_id=f"sim-{study.pk}-{seed}-{n}"
            )
            while (assignment := assignment_next(rater=rater, study=study)) is not None:
                judgment_submit(
                    rater=rater,
                    assignment_id=assignment.pk,
                    answers=_simulated_answers(assignment, rng, noise),
                    time_on_task_ms=int(rng.uniform(2500, 9000)),
                    client_submission_id=uuid.UUID(int=rng.getrandbits(128)),
                )
                made += 1
                bar.update(1)
    return made
