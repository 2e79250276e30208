"""The study's results: judgments as tables, the report command, the report API and page,
the dashboard's progress and preview."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from annotation.models import Edit, Judgment, Study
from annotation.selectors.reports import (
    study_examples_frame,
    study_headlines,
    study_judgment_frames,
    study_report,
)
from annotation.services.simulation import raters_simulate
from annotation.services.studies import study_launch

pytestmark = pytest.mark.django_db
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def test_simulated_judgments_are_left_out_unless_asked_for(simulated: Study) -> None:
    single, pairwise = study_judgment_frames(study=simulated)
    assert len(single) == 0 and len(pairwise) == 0
    single, pairwise = study_judgment_frames(study=simulated, include_simulated=True)
    assert len(single) == simulated.units.filter(kind="single", is_gold=False).count() * 2
    assert set(pairwise["question"]) == {"alignment", "realism"}
    assert (pairwise["model_a"] < pairwise["model_b"]).all()


def test_the_report_command_writes_json_csv_html_and_raw_judgments(
    simulated: Study, tmp_path: Path
) -> None:
    common = ["--include-simulated", "--resamples", "200"]
    call_command(
        "report", simulated.slug, "--format", "json", "--out", str(tmp_path / "r.json"), *common
    )
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["format"] == "editbench-studio-report/1"
    assert data["study"]["name"] == simulated.name
    assert data["study"]["settings"]["raters_per_unit"] == 2
    text = json.dumps(data)
    assert "Secret Model Alpha" in text and "NaN" not in text
    call_command(
        "report", simulated.slug, "--format", "csv", "--out", str(tmp_path / "csv"), *common
    )
    assert len(list((tmp_path / "csv").glob("*.csv"))) >= 5
    call_command(
        "report", simulated.slug, "--format", "html", "--out", str(tmp_path / "r.html"), *common
    )
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "Colour study" in html
    call_command(
        "report",
        simulated.slug,
        "--format",
        "raw-csv",
        "--out",
        str(tmp_path / "raw.csv"),
        "--include-simulated",
    )
    raw = (tmp_path / "raw-single.csv").read_text()
    assert "rater-" not in raw  # pseudonyms only, never the stored rater ids
    assert len(raw.splitlines()) > 10


def test_the_demo_study_s_html_report_renders_in_a_browser(
    admin_user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo study (fixtures/demo-study.yaml), answered by simulated raters, reported."""
    from playwright.sync_api import sync_playwright

    root = Path(__file__).resolve().parents[3]
    call_command("import_benchmark", str(root / "fixtures/editbench-mini"), "--no-progress")
    call_command("create_study", str(root / "fixtures/demo-study.yaml"))
    study = Study.objects.get(slug="editbench-mini-demo")
    # Stand-in edits (the references pasted in), so the test needs no model run.
    items = list(study.items.all())
    Edit.objects.bulk_create(
        Edit(item=i, model=m, prompt_type=p, seed=0, image=i.reference.name)
        for i in items
        for m in study.edit_models.all()
        for p in ("mask_simple", "mask_rich", "full_image")
    )
    study = study_launch(study=study)
    raters_simulate(study=study, raters=3, noise=0.1, seed=2)
    out = tmp_path / "report.html"
    call_command(
        "report",
        study.slug,
        "--format",
        "html",
        "--out",
        str(out),
        "--include-simulated",
        "--resamples",
        "200",
    )
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1800})
        page.goto(out.as_uri())
        assert page.locator("svg").count() >= 4
        assert "EditBench-mini demo" in page.locator("h1").inner_text()
        assert "nan" not in page.locator("body").inner_text().lower().split()
        page.screenshot(path=str(ARTIFACTS / "demo-report.png"), full_page=True)
        browser.close()


def test_the_report_api_serves_json_and_html_to_staff_only(
    simulated: Study, admin_user: User, rater_a: User
) -> None:
    url = f"/api/v1/studies/{simulated.pk}/report/"
    client = Client()
    client.force_login(rater_a)
    assert client.get(url).status_code == 403
    client.force_login(admin_user)
    response = client.get(url, {"include_simulated": "1", "resamples": "200"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert json.loads(response.content)
    page = client.get(url, {"output": "html", "resamples": "200"})
    assert page.status_code == 200 and b"<svg" in page.content
    assert client.get(url, {"resamples": "5"}).status_code == 400


def test_the_dashboard_shows_progress_and_the_crowd_link(
    simulated: Study, admin_user: User
) -> None:
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/studies/{simulated.pk}/").content.decode()
    regular = simulated.units.filter(is_gold=False).count()
    assert f"{regular} / {regular}" in page  # every unit has its K judgments
    assert f"/s/{simulated.slug}/" in page


def test_the_dashboard_previews_the_headline_results(simulated: Study, admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    people_only = client.get(f"/studies/{simulated.pk}/").content.decode()
    assert "No judgments to show yet." in people_only  # every judgment here is simulated
    page = client.get(f"/studies/{simulated.pk}/", {"simulated": "1"}).content.decode()
    assert "Secret Model Alpha" in page and "A win rate" in page and "mask_simple" in page


def test_the_full_report_page_is_for_staff_only(
    simulated: Study, admin_user: User, rater_a: User
) -> None:
    url = f"/studies/{simulated.pk}/report/"
    anonymous = Client().get(url)  # sent to sign in, whatever the id
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    client = Client()
    client.force_login(rater_a)
    assert client.get(url).status_code == 404
    client.force_login(admin_user)
    response = client.get(url, {"simulated": "1"})
    assert response.status_code == 200 and b"<svg" in response.content


def test_the_judgment_tables_carry_each_answer_and_the_time_on_task(simulated: Study) -> None:
    single, pairwise = study_judgment_frames(study=simulated, include_simulated=True)
    judgments = {
        j.pk: j
        for j in Judgment.objects.filter(
            assignment__study=simulated, assignment__unit__is_gold=False
        )
    }
    assert "time_on_task_ms" in single.columns and "answer_object" in single.columns
    # Every stored answer is a column answer_<question id>, as stored; the time as stored.
    stored = {
        (j.assignment.unit_id, f"rater-{j.assignment.rater_id}"): j for j in judgments.values()
    }
    for row in single.to_dict(orient="records"):
        judgment = stored[(row["unit"], row["rater"])]
        assert row["time_on_task_ms"] == judgment.time_on_task_ms
        for question, value in judgment.answers.items():
            assert row[f"answer_{question}"] == value
    assert set(pairwise["answer_side"]) <= {"left", "right", "none"}


def test_the_report_names_simulated_raters_only_when_they_are_included(simulated: Study) -> None:
    with_them = study_report(study=simulated, include_simulated=True, n_resamples=200)
    single, pairwise = study_judgment_frames(study=simulated, include_simulated=True)
    counted = len(set(single["rater"]) | set(pairwise["rater"]))
    assert with_them.settings.simulated_raters == counted > 0
    assert f"{counted} simulated raters" in with_them.methods_text
    without = study_report(study=simulated, n_resamples=200)
    assert without.settings.simulated_raters == 0
    # The rater table lists simulated raters only when their judgments are counted.
    assert "rater_quality" in without.tables
    assert len(without.tables["rater_quality"].frame) == 0
    assert len(with_them.tables["rater_quality"].frame) >= counted


def test_the_dashboard_preview_draws_the_two_way_interval(simulated: Study) -> None:
    preview = study_headlines(study=simulated, include_simulated=True)
    # The banner's count: the simulated raters whose judgments the preview counts.
    single, pairwise = study_judgment_frames(study=simulated, include_simulated=True)
    assert preview["simulated_raters"] == len(set(single["rater"]) | set(pairwise["rater"])) > 0
    assert study_headlines(study=simulated)["simulated_raters"] == 0
    for row in preview["accuracy"]:
        assert row["low"] < row["high"]  # never zero width, 0 of n and n of n included


def test_the_example_grid_has_the_input_and_every_model_s_edit(simulated: Study) -> None:
    frame = study_examples_frame(study=simulated, n_items=2)
    models = set(
        simulated.edit_models.exclude(name__startswith="Gold:").values_list("name", flat=True)
    )
    assert set(frame["model"]) == models | {"input"}
    assert frame["item"].nunique() == 2
    assert all(png.startswith(b"\x89PNG") for png in frame["png"])
    report = study_report(study=simulated, include_simulated=True, n_resamples=200)
    assert report.examples is not None and len(report.examples) == 3 * (len(models) + 1)
