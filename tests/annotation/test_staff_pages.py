"""The staff pages: the wizard (validation per field, nothing half-created), the estimate,
editing a draft, the dashboard's actions, and who may open what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from annotation.models import Benchmark, EditModel, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def wizard_data(bench: Benchmark, **overrides: Any) -> dict[str, Any]:
    """A valid wizard post: the common-object items, two models, single + pairwise, K = 3."""
    data: dict[str, Any] = {
        "benchmark": f"{bench.name}@{bench.version}",
        "items_object_type": ["common"],
        "models": ["Secret Model Alpha", "Secret Model Beta"],
        "prompt_types": ["mask_simple", "mask_rich"],
        "tasks": ["single", "pairwise"],
        "raters_per_unit": "3",
        "gold_rate": "0.1",
        "lease_minutes": "30",
        "max_tasks_per_rater": "10",
        "platform": "none",
        "name": "Wizard study",
        "step": "create",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_wizard_creates_the_draft_study_it_describes(
    staff: Client, bench: Benchmark, baselines: list[EditModel]
) -> None:
    response = staff.post(reverse("study-new"), wizard_data(bench))
    study = Study.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("study-dashboard", args=[study.pk])
    assert study.status == "draft" and study.name == "Wizard study"
    assert sorted(study.items.values_list("object_type", flat=True)) == ["common", "common"]
    assert sorted(study.edit_models.values_list("name", flat=True)) == [
        "Secret Model Alpha",
        "Secret Model Beta",
    ]
    assert study.task_single and study.task_pairwise and study.raters_per_unit == 3
    assert study.prompt_types == ["mask_simple", "mask_rich"]
    assert study.max_tasks_per_rater == 10


def test_the_wizard_sets_precision_targets(
    staff: Client, bench: Benchmark, baselines: list[EditModel]
) -> None:
    data = wizard_data(
        bench,
        target_half_width="0.1",
        target_by_category="on",
        pairwise_target="decide",
        k_min="2",
        judgment_budget="500",
    )
    assert staff.post(reverse("study-new"), data).status_code == 302
    study = Study.objects.get()
    assert (study.target_half_width, study.target_by_category) == (0.1, True)
    assert (study.pairwise_target, study.k_min, study.judgment_budget) == ("decide", 2, 500)
    # The draft's wizard shows them again.
    page = staff.get(reverse("study-edit", args=[study.pk])).content.decode()
    assert 'name="target_half_width" value="0.1"' in page and 'value="decide" selected' in page


# (the inputs changed, the field the message must stand on, a part of the message)
INVALID = [
    ({"name": ""}, "name", "This field is required."),
    ({"models": []}, "models", "at least 1 element"),
    ({"models": ["Secret Model Alpha"]}, "models", "side-by-side comparison needs at least two"),
    ({"tasks": []}, "tasks", "choose single, pairwise or both"),
    ({"prompt_types": [], "tasks": ["single"]}, "prompt_types", "choose at least one prompt"),
    ({"raters_per_unit": "0"}, "raters_per_unit", "greater than or equal to 1"),
    ({"raters_per_unit": "three"}, "raters_per_unit", "Enter a whole number."),
    ({"gold_rate": "1.5"}, "gold_rate", "less than or equal to 0.99"),
    ({"lease_minutes": "0"}, "lease_minutes", "greater than or equal to 1"),
    ({"max_tasks_per_rater": "0"}, "max_tasks_per_rater", "greater than or equal to 1"),
    ({"platform": "prolific"}, "completion_code", "a Prolific study needs its completion code"),
    ({"completion_url": "not a url"}, "completion_url", "Enter a valid URL."),
    ({"items": "eb-0001 eb-9999"}, "items", "unknown item id(s): eb-9999"),
    ({"items_source": ["natural"]}, "items", "the selection matches no item"),
    ({"rule_min_gold_accuracy": "1.5"}, "rule_min_gold_accuracy", "must be a number from 0 to 1"),
    ({"benchmark": "nope@1"}, "benchmark", "Select a valid choice."),
    ({"target_half_width": "0.7"}, "target_half_width", "less than or equal to 0.499"),
    ({"k_min": "4"}, "k_min", "must be between 1 and K"),
    ({"pairwise_target": "half-width"}, "pairwise_half_width", "needs its half-width"),
    ({"judgment_budget": "0"}, "judgment_budget", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("changes", "field", "message"), INVALID)
@pytest.mark.parametrize("step", ["create", "estimate"])
def test_the_wizard_puts_each_problem_on_its_field_and_creates_nothing(
    staff: Client,
    bench: Benchmark,
    baselines: list[EditModel],
    changes: dict[str, Any],
    field: str,
    message: str,
    step: str,
) -> None:
    response = staff.post(reverse("study-new"), wizard_data(bench, step=step, **changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert f'data-field="{field}"' in response.content.decode()
    assert Study.objects.count() == 0


def test_the_estimate_counts_the_design_and_creates_nothing(
    staff: Client, bench: Benchmark, baselines: list[EditModel]
) -> None:
    response = staff.post(
        reverse("study-new"), wizard_data(bench, step="estimate", hourly_pay="20")
    )
    assert response.status_code == 200
    estimate = response.context["estimate"]
    # 2 items × (2 models × 2 prompt types + 1 pair) = 10 units, K = 3.
    assert estimate["units"] == 10 and estimate["judgments"] == 30
    assert estimate["tasks"] == 34  # ceil(30 / 0.9)
    assert estimate["participants"] == 4  # ceil(34 / 10)
    assert estimate["hourly_pay"] == 20
    assert len(estimate["single_cells"]) == 4 and len(estimate["pair_cells"]) == 1
    assert estimate["pair_cells"][0]["n"] == 6  # 2 items × K
    page = response.content.decode()
    assert 'id="est-judgments">30<' in page
    assert Study.objects.count() == 0


def test_a_draft_is_changed_with_the_same_form(
    staff: Client, make_study: Callable[..., Study]
) -> None:
    study = make_study(launch=False)
    page = staff.get(reverse("study-edit", args=[study.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["raters_per_unit"] == study.raters_per_unit
    bench = study.benchmark
    data = wizard_data(bench, name="Renamed", raters_per_unit="4", items="eb-0001 eb-0002")
    data["models"] = ["Secret Model Alpha", "Secret Model Gamma"]
    response = staff.post(reverse("study-edit", args=[study.pk]), data)
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.name == "Renamed" and study.raters_per_unit == 4
    assert sorted(study.items.values_list("external_id", flat=True)) == ["eb-0001", "eb-0002"]
    assert sorted(study.edit_models.values_list("name", flat=True)) == [
        "Secret Model Alpha",
        "Secret Model Gamma",
    ]
    bad = staff.post(reverse("study-edit", args=[study.pk]), {**data, "gold_rate": "2"})
    assert bad.status_code == 400
    study.refresh_from_db()
    assert study.gold_rate == 0.1


def test_a_live_study_cannot_be_changed_with_the_wizard(
    staff: Client, make_study: Callable[..., Study]
) -> None:
    study = make_study()
    response = staff.post(reverse("study-edit", args=[study.pk]), {"name": "x"})
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.name == "Colour study"


def test_the_live_count_follows_the_category_filter(staff: Client, bench: Benchmark) -> None:
    url = reverse("items-preview")
    key = f"{bench.name}@{bench.version}"
    assert staff.get(url, {"benchmark": key}).json()["count"] == 4
    rare = staff.get(url, {"benchmark": key, "items_object_type": "rare"}).json()
    assert rare["count"] == 2
    assert all(i["overlay"].endswith("/overlay.png") for i in rare["items"])


def test_launch_pause_and_close_from_the_dashboard(
    staff: Client, make_study: Callable[..., Study]
) -> None:
    study = make_study()  # live
    page = staff.get(reverse("study-dashboard", args=[study.pk])).content.decode()
    assert "data-confirm=" in page and 'id="pause"' in page
    for action, status in (("pause", "paused"), ("launch", "live"), ("close", "closed")):
        response = staff.post(reverse("study-action", args=[study.pk, action]))
        assert response.status_code == 302
        study.refresh_from_db()
        assert study.status == status
    refused = staff.post(reverse("study-action", args=[study.pk, "launch"]), follow=True)
    assert "cannot launch a study that is closed" in refused.content.decode()


def test_the_dashboard_shows_coverage_estimate_and_refreshes_its_live_part(
    staff: Client, simulated: Study
) -> None:
    url = reverse("study-dashboard", args=[simulated.pk])
    page = staff.get(url)
    coverage = page.context["coverage"]
    # 3 models × 2 prompt types single, 3 pairs side by side.
    assert {(c["kind"], c["prompt_type"]) for c in coverage} == {
        ("single", "mask_simple"),
        ("single", "full_image"),
        ("pairwise", "mask_rich"),
    }
    assert len(coverage) == 9
    assert all(c["complete"] == c["units"] == 4 for c in coverage)
    assert page.context["estimate"]["judgments"] == 9 * 4 * 2
    fragment = staff.get(url, {"fragment": "live"})
    assert b'id="units-complete"' in fragment.content and b"<h1>" not in fragment.content
    assert b'id="live" data-url="?fragment=live"' in page.content


def test_the_estimate_simulates_the_adaptive_rule_beside_fixed_k(
    staff: Client, bench: Benchmark, baselines: list[EditModel]
) -> None:
    data = wizard_data(
        bench,
        step="estimate",
        tasks=["single"],
        target_half_width="0.3",
        k_min="1",
        assumed_accuracies="0.1, 0.9",
    )
    response = staff.post(reverse("study-new"), data)
    assert response.status_code == 200
    plan = response.context["estimate"]["adaptive"]
    assert plan["rates"] == [0.1, 0.9, 0.1, 0.9]  # 2 models × 2 prompt types, repeated
    assert plan["source"] == "the accuracies entered" and plan["k_max"] == 3
    assert plan["adaptive_p10"] <= plan["adaptive_median"] <= plan["adaptive_p90"]
    page = response.content.decode()
    assert 'id="est-adaptive"' in page and 'id="est-adaptive-median"' in page
    bad = staff.post(reverse("study-new"), {**data, "assumed_accuracies": "0.5, 2"})
    assert bad.status_code == 400
    assert "strictly between 0 and 1" in str(bad.context["form"].errors["assumed_accuracies"])


def test_the_estimate_simulates_side_by_side_half_width_targets_with_their_own_target(
    staff: Client, bench: Benchmark, baselines: list[EditModel]
) -> None:
    data = wizard_data(
        bench,
        step="estimate",
        tasks=["single", "pairwise"],
        target_half_width="0.3",
        pairwise_target="half-width",
        pairwise_half_width="0.25",
        k_min="1",
        assumed_accuracies="0.1, 0.9",
        assumed_win_rates="0.7",
    )
    response = staff.post(reverse("study-new"), data)
    assert response.status_code == 200, response.context["form"].errors
    plan = response.context["estimate"]["adaptive"]
    # 2 models × 2 prompt types single-image cells, then the one pair of models.
    assert plan["rates"] == [0.1, 0.9, 0.1, 0.9, 0.7]
    assert plan["targets"] == [0.3, 0.3, 0.3, 0.3, 0.25]
    assert plan["source"] == "the accuracies entered and the win rates entered"
    page = response.content.decode()
    assert "± 0.25 for 1 side-by-side comparison" in page
    bad = staff.post(reverse("study-new"), {**data, "assumed_win_rates": "1.5"})
    assert bad.status_code == 400
    assert "win rate must lie strictly" in str(bad.context["form"].errors["assumed_win_rates"])
