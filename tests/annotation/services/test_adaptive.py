"""Precision targets on the platform: units start at K_min, open cells get more, met cells
stop, K_max and the budget hold, and 50 concurrent raters never over-assign."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from analysis.crossed import crossed_parts, groups_frame
from annotation.models import Assignment, Judgment, Study, StudyUnit
from annotation.selectors.reports import study_report
from annotation.services.adaptive import adaptive_refresh
from annotation.services.assignments import assignment_next
from annotation.services.errors import ServiceError
from annotation.services.raters import rater_for_participant
from tests.annotation import factories as f
from tests.annotation.conftest import TARGET
from tests.annotation.rating import prolific_id, submit

pytestmark = pytest.mark.django_db

ALPHA, BETA = "Secret Model Alpha", "Secret Model Beta"


def _answers(assignment: Assignment, *, correct: bool) -> dict[str, str]:
    yes = "yes" if correct else "no"
    return {q["id"]: (yes if q["kind"] == "yes_no" else "left") for q in assignment.unit.questions}


def _rate_everything_open(study: Study, answer: Callable[[Assignment, int], bool]) -> int:
    """New raters take every open unit until none is left; returns the judgments made."""
    made = 0
    for n in range(50):
        rater = rater_for_participant(platform="prolific", participant_id=prolific_id(f"r{n}"))
        while (a := assignment_next(rater=rater, study=study)) is not None:
            submit(rater, a, answers=_answers(a, correct=answer(a, n)))
            made += 1
    return made


def _rate_round(study: Study, answer: Callable[[Assignment, int], bool]) -> None:
    """Every open unit judged once, each by a new rater taking one task (none of them finds
    nothing open, so no allocation pass runs)."""
    wanted = sum(
        StudyUnit.objects.filter(study=study, is_gold=False).values_list("wanted", flat=True)
    )
    for n in range(wanted):
        rater = rater_for_participant(platform="prolific", participant_id=prolific_id(f"o{n}"))
        a = assignment_next(rater=rater, study=study)
        assert a is not None
        submit(rater, a, answers=_answers(a, correct=answer(a, n)))


def _alpha_always_beta_by_rater(a: Assignment, n: int) -> bool:
    return a.unit.edit_a.model.name == ALPHA or n % 2 == 0


def _half_width(study: Study, model: str) -> float:
    """The cell's two-way half-width computed here from the judgments (analysis.crossed)."""
    rows = list(
        Judgment.objects.filter(
            assignment__study=study, assignment__unit__edit_a__model__name=model
        ).values_list("correct", "assignment__unit__edit_a__item_id", "assignment__rater_id")
    )
    values, items, raters = (np.array(c) for c in zip(*rows, strict=True))
    row = groups_frame(crossed_parts(values.astype(float), items, raters)).iloc[0]
    return float(row["high"] - row["low"]) / 2


def _wanted(study: Study) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for model, wanted in StudyUnit.objects.filter(study=study, is_gold=False).values_list(
        "edit_a__model__name", "wanted"
    ):
        out.setdefault(model, set()).add(wanted)
    return out


def adaptive_study(make_study: Callable[..., Study], **overrides: Any) -> Study:
    options: dict[str, Any] = {
        "task_pairwise": False,
        "prompt_types": ["mask_simple"],
        "raters_per_unit": 4,
        "target_half_width": 0.2,
        "k_min": 1,
        **overrides,
    }
    return make_study(**options)


def test_units_start_at_k_min_under_a_target_and_at_k_without(
    make_study: Callable[..., Study],
) -> None:
    assert _wanted(adaptive_study(make_study, k_min=2)) == {
        ALPHA: {2},
        BETA: {2},
        "Secret Model Gamma": {2},
    }
    fixed = make_study(task_pairwise=False, raters_per_unit=3)
    assert set(StudyUnit.objects.filter(study=fixed).values_list("wanted", flat=True)) == {3}


def test_the_wider_cell_gets_another_round_and_the_met_one_stops(
    make_study: Callable[..., Study],
) -> None:
    study = adaptive_study(make_study, k_min=3)
    # The first rounds (K_min = 3) rated: Alpha always right, Beta right for every other rater. Put
    # the target between the two cells' widths (computed here) and run a pass.
    _rate_round(study, _alpha_always_beta_by_rater)
    alpha, beta = _half_width(study, ALPHA), _half_width(study, BETA)
    assert alpha < beta
    Study.objects.filter(pk=study.pk).update(target_half_width=(alpha + beta) / 2)
    study.refresh_from_db()
    state = adaptive_refresh(study=study)
    wanted = _wanted(study)
    assert wanted[ALPHA] == {3} and wanted[BETA] == {4}
    status = {row["cell"]: row["status"] for row in state["cells"]}
    assert status[f"{ALPHA} · mask_simple"] == "target met"
    assert status[f"{BETA} · mask_simple"] == "running"
    # A second pass before Beta's new round is handed out raises nothing.
    assert adaptive_refresh(study=study)["raised_units"] == 0
    assert _wanted(study)[BETA] == {4}


def test_k_max_and_never_twice_hold_to_the_end(make_study: Callable[..., Study]) -> None:
    study = adaptive_study(make_study, target_half_width=0.01)  # never met at 4 items
    made = _rate_everything_open(study, _alpha_always_beta_by_rater)
    units = StudyUnit.objects.filter(study=study, is_gold=False).count()
    assert made == units * 4  # every cell ran to K_max = 4, not beyond
    per_unit = Counter(Assignment.objects.filter(study=study).values_list("unit", flat=True))
    assert set(per_unit.values()) == {4}
    pairs = list(Assignment.objects.filter(study=study).values_list("rater", "unit"))
    assert len(set(pairs)) == len(pairs)
    state = adaptive_refresh(study=study)
    assert {row["status"] for row in state["cells"]} == {"K_max reached"}


def test_the_budget_caps_the_judgments_handed_out(make_study: Callable[..., Study]) -> None:
    # 3 models × 4 items = 12 units; K_min 1 uses 12, the budget leaves room for one round
    # of one cell (4 units) more.
    study = adaptive_study(make_study, target_half_width=0.01, judgment_budget=16)
    made = _rate_everything_open(study, _alpha_always_beta_by_rater)
    assert made == 16
    state = adaptive_refresh(study=study)
    assert state["budget_reached"] is True
    assert "budget reached" in {row["status"] for row in state["cells"]}


def test_targets_are_checked_with_a_message_naming_the_field(
    make_study: Callable[..., Study],
) -> None:
    for overrides, field in (
        ({"target_half_width": 0.7}, "target_half_width"),
        ({"k_min": 5}, "k_min"),
        ({"pairwise_target": "half-width"}, "pairwise_half_width"),
        ({"judgment_budget": 0}, "judgment_budget"),
    ):
        with pytest.raises(ServiceError) as caught:
            adaptive_study(make_study, launch=False, task_pairwise=True, **overrides)
        assert any(str(p).startswith(f"{field}:") for p in caught.value.problems), field


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("task_path")
def test_fifty_concurrent_raters_respect_k_max_never_twice_and_the_cap(
    make_study: Callable[..., Study],
) -> None:
    study = adaptive_study(
        make_study, target_half_width=0.01, raters_per_unit=3, max_tasks_per_rater=2
    )
    units = StudyUnit.objects.filter(study=study, is_gold=False).count()
    start = threading.Barrier(50)
    errors: list[BaseException] = []

    done = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + 120

    def rate(n: int) -> None:
        try:
            rater = rater_for_participant(platform="prolific", participant_id=prolific_id(f"c{n}"))
            start.wait(timeout=60)
            # Nothing for a moment can be a round changing hands, every open unit leased to
            # someone else, or the rater's cap: every rater keeps asking until every judgment
            # is in (the cap must hold however often they ask); the deadline bounds a stall.
            while done[0] < units * 3 and time.monotonic() < deadline:
                a = assignment_next(rater=rater, study=study)
                if a is None:
                    time.sleep(0.05)
                    continue
                submit(rater, a, answers=_answers(a, correct=n % 2 == 0))
                with lock:
                    done[0] += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rate, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    submitted = Counter(
        Assignment.objects.filter(study=study, status="submitted").values_list("unit", flat=True)
    )
    assert max(submitted.values()) <= 3
    assert sum(submitted.values()) == units * 3
    pairs = list(Assignment.objects.filter(study=study).values_list("rater", "unit"))
    assert len(set(pairs)) == len(pairs)
    per_rater = Counter(rater for rater, _ in pairs)
    assert max(per_rater.values()) <= 2  # the cap per rater
    assert len(per_rater) >= units * 3 // 2  # so the 36 judgments took 18 or more raters


def test_the_dashboard_and_the_report_show_what_the_allocation_did(
    make_study: Callable[..., Study], admin_user: Any
) -> None:
    study = adaptive_study(make_study, target_half_width=0.01)
    _rate_everything_open(study, _alpha_always_beta_by_rater)
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("study-dashboard", args=[study.pk])).content.decode()
    assert 'id="adaptive-cells"' in page
    assert page.count('data-status="K_max reached"') == 3  # one row per model's cell
    assert "decision interval (round)" in page
    text = study_report(study=study, n_resamples=50).methods_text
    assert "allocated adaptively to precision targets" in text
    assert "Of the 3 cells: 3 K_max reached." in text
    fixed = make_study(task_pairwise=False, raters_per_unit=1)
    page = client.get(reverse("study-dashboard", args=[fixed.pk])).content.decode()
    assert 'id="adaptive-cells"' not in page


def _side_of(a: Assignment, winner: str) -> str:
    """The side (left / right) the winner's edit is shown on."""
    unit = a.unit
    assert unit.edit_b is not None
    a_wins = unit.edit_a.model.name == winner
    return "left" if a_wins == a.a_on_left else "right"


def _decide_study(make_study: Callable[..., Study], bench: Any) -> Study:
    # 40 items, so that a comparison of 40 units can be decided at alpha / 3 at all.
    for i in range(5, 41):
        f.BenchmarkItemFactory(
            benchmark=bench,
            external_id=f"eb-{i:04d}",
            target=TARGET,
            object_type="common",
            reference=ContentFile(f.png_bytes(color=(200, 20, 20)), name="r.png"),
        )
    return make_study(
        task_single=False,
        task_pairwise=True,
        items=list(bench.items.all()),
        raters_per_unit=3,
        pairwise_target="decide",
        k_min=1,
    )


def _alpha_wins_else_coin(a: Assignment, n: int) -> dict[str, str]:
    names = {a.unit.edit_a.model.name, a.unit.edit_b.model.name}  # type: ignore[union-attr]
    # Alpha always wins (decided); Beta against Gamma is a coin flip (never decided).
    coin = "left" if n % 2 else "right"
    side = _side_of(a, ALPHA) if ALPHA in names else coin
    return {q["id"]: side for q in a.unit.questions}


def test_a_decided_comparison_stops_and_an_undecided_one_goes_on(
    make_study: Callable[..., Study], bench: Any
) -> None:
    study = _decide_study(make_study, bench)
    answer = _alpha_wins_else_coin

    for n in range(400):
        rater = rater_for_participant(platform="prolific", participant_id=prolific_id(f"p{n}"))
        a = assignment_next(rater=rater, study=study)
        if a is None:
            break
        submit(rater, a, answers=answer(a, n))
    state = adaptive_refresh(study=study)
    status = {row["cell"]: row["status"] for row in state["cells"]}
    assert status[f"{ALPHA} vs {BETA} · mask_rich"] == "decided"
    assert status[f"{BETA} vs Secret Model Gamma · mask_rich"] == "K_max reached"
    per_pair = Counter(
        (u.edit_a.model.name, u.edit_b.model.name, u.wanted)  # type: ignore[union-attr]
        for u in StudyUnit.objects.filter(study=study).select_related(
            "edit_a__model", "edit_b__model"
        )
    )
    assert {(a, b, w) for a, b, w in per_pair} == {
        (ALPHA, BETA, 1),
        (ALPHA, "Secret Model Gamma", 1),
        (BETA, "Secret Model Gamma", 3),
    }


def test_a_comparison_is_only_looked_at_when_its_round_is_complete(
    make_study: Callable[..., Study], bench: Any
) -> None:
    # Alpha wins 39 of its 40 units against Beta in round 1, but one unit's round-1 lease is
    # still out: no look yet (the union bound counts one look per round); once it is in, the
    # round's look decides.
    study = _decide_study(make_study, bench)
    held: tuple[Any, Assignment] | None = None
    for n in range(120):
        rater = rater_for_participant(platform="prolific", participant_id=prolific_id(f"p{n}"))
        a = assignment_next(rater=rater, study=study)
        if a is None:
            break
        names = {a.unit.edit_a.model.name, a.unit.edit_b.model.name}  # type: ignore[union-attr]
        if held is None and names == {ALPHA, BETA}:
            held = (rater, a)
            continue
        submit(rater, a, answers=_alpha_wins_else_coin(a, n))
    assert held is not None

    def alpha_beta() -> dict[str, Any]:
        state = adaptive_refresh(study=study)
        return next(c for c in state["cells"] if c["cell"] == f"{ALPHA} vs {BETA} · mask_rich")

    before = alpha_beta()
    assert before["status"] == "running"
    assert all(q["n"] == 39 and q["look_round"] is None for q in before["questions"])
    assert all(q["low"] > 0.5 for q in before["questions"])  # the 95% interval excludes 0.5
    submit(held[0], held[1], answers=_alpha_wins_else_coin(held[1], 0))
    after = alpha_beta()
    assert after["status"] == "decided"
    assert all(q["look_round"] == 1 and q["look_low"] > 0.5 for q in after["questions"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("task_path")
def test_a_rater_arriving_during_another_pass_waits_for_it_and_gets_the_new_round(
    make_study: Callable[..., Study],
) -> None:
    # Round 1 done (K_min 1); while another request holds the study as a pass does and
    # opens round 2 (K = 2), a rater who finds nothing open waits for it instead of queueing
    # a pass of their own (which would find nothing left to raise) and gets a round-2 task.
    study = adaptive_study(make_study, target_half_width=0.01, raters_per_unit=2)
    _rate_round(study, _alpha_always_beta_by_rater)
    holding = threading.Event()
    errors: list[BaseException] = []

    def other_pass() -> None:
        try:
            with transaction.atomic():
                Study.objects.select_for_update(no_key=True).get(pk=study.pk)
                StudyUnit.objects.filter(study=study).update(wanted=2)
                holding.set()
                threading.Event().wait(0.8)
        except BaseException as exc:
            errors.append(exc)
            holding.set()
        finally:
            connection.close()

    holder = threading.Thread(target=other_pass)
    holder.start()
    assert holding.wait(timeout=30)
    newcomer = rater_for_participant(platform="prolific", participant_id=prolific_id("late"))
    got = assignment_next(rater=newcomer, study=study)
    holder.join(timeout=30)
    assert not errors, errors
    assert got is not None
