"""A researcher runs a study in a real browser (Playwright driving Debian's headless Chromium).

On the shipped benchmark: signs in, creates a study with the wizard (a category filter, two
models, single + side-by-side, K = 3), reads the estimate, generates the edits in the
background while the dashboard shows the progress, previews a task as raters see it,
launches, watches the dashboard fill itself while simulated raters answer, opens
a rater's page, and downloads the CSV tables and Prolific's approve/reject file. A
screenshot of each step is saved under test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from annotation.models import Assignment, BenchmarkItem, Study
from annotation.services.assignments import assignment_next
from annotation.services.benchmarks import edit_model_ensure
from annotation.services.raters import rater_for_participant
from annotation.services.runner import study_runner_wait
from annotation.services.simulation import raters_simulate
from tests.annotation.rating import submit
from tests.annotation.test_rater_browser import ARTIFACTS, browser

__all__ = ["browser"]  # the fixture, shared with the rater's browser test

pytestmark = pytest.mark.django_db(transaction=True)

BENCHMARK = Path(__file__).resolve().parents[2] / "fixtures" / "editbench-mini"
FILTER = {"object_type": "rare", "attribute_type": "color", "scene": "indoor"}
CHOSEN = ("Unedited input", "Blurred fill")


def demo_models() -> None:
    """The demo study's four models; the wizard offers them all, the test picks the two
    baselines (the cascades would take minutes to generate on two cores)."""
    for name, checkpoint in (("Editor IM", "editor-im"), ("Editor RM", "editor-rm")):
        edit_model_ensure(name=name, kind="cascade", checkpoint=checkpoint)
    edit_model_ensure(name="Unedited input", kind="baseline", preset="identity")
    edit_model_ensure(name="Blurred fill", kind="baseline", preset="blur_fill")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"researcher-{name}.png"), full_page=True)


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/staff/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/staff/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", "a long test password")
    shot(page, "1-sign-in")
    page.click("#sign-in")
    expect(page).to_have_url(f"{base}/staff/")


def fill_wizard(page: Page, expected_items: int) -> None:
    page.click("#new-study")
    for field, value in FILTER.items():
        page.check(f"input[name=items_{field}][value={value}]")
    expect(page.locator("#item-count")).to_have_text(str(expected_items))
    expect(page.locator("#item-thumbs img")).to_have_count(min(expected_items, 12))
    for name in CHOSEN:
        page.check(f"input[name=models][value='{name}']")
    for prompt_type in ("mask_simple", "mask_rich"):
        page.check(f"input[name=prompt_types][value={prompt_type}]")
    page.check("input[name=tasks][value=pairwise]")  # single is ticked already
    page.fill("#id_raters_per_unit", "3")
    page.fill("#id_gold_rate", "0")
    page.fill("#id_max_tasks_per_rater", "20")
    page.fill("#id_hourly_pay", "15")
    page.fill("#id_name", "Rare colours")
    shot(page, "2-wizard")


def generate_and_preview(page: Page, study: Study) -> None:
    """Generate in the background: the request answers at once, the page shows the progress
    and fills itself (no broker here: the app's background runner does the jobs). Then a
    task previewed as raters will see it: nothing leased or recorded."""
    page.click("#generate")
    expect(page.locator(".messages")).to_contain_text("in the background")
    expect(page.locator("#live progress").first).to_be_visible()
    shot(page, "4a-generating")
    expect(page.locator("#missing-edits")).to_have_text(
        "Every edit the study needs exists.", timeout=120000
    )
    assert study_runner_wait(study=study, timeout=60)
    # Preview a task as raters will see it: nothing leased or recorded.
    page.click("#preview-link")
    expect(page.locator("#preview-banner")).to_be_visible()
    expect(page.locator("#submit")).to_be_visible()
    shot(page, "4b-preview")
    assert Assignment.objects.count() == 0
    page.go_back()


def crowd(study: Study) -> None:
    """Two Prolific participants (one a few tasks, one none) and simulated raters for the rest."""
    worker = rater_for_participant(platform="prolific", participant_id="PROLIFIC-A")
    for _ in range(3):
        assignment = assignment_next(rater=worker, study=study)
        assert assignment is not None
        submit(worker, assignment, time_on_task_ms=5000)
    raters_simulate(study=study, raters=6, noise=0.1, seed=3)


def read_zip(path: str) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {Path(n).name: archive.read(n).decode() for n in archive.namelist()}


def test_a_researcher_runs_a_study_from_the_browser(
    browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    call_command("import_benchmark", str(BENCHMARK), verbosity=0)
    demo_models()
    User.objects.create_superuser("researcher", "r@example.org", "a long test password")
    items = BenchmarkItem.objects.filter(**FILTER).count()
    assert items == 8  # 240 items balanced over 60 cells; 2 × 2 cells match
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
    base = live_server.url
    sign_in(page, base)

    fill_wizard(page, items)
    page.click("#estimate-button")
    units = items * (2 * 2 + 1)  # 2 models × 2 prompt types, 1 pair
    expect(page.locator("#est-units")).to_have_text(str(units))
    expect(page.locator("#est-judgments")).to_have_text(str(units * 3))
    expect(page.locator("#est-participants")).to_have_text(str(-(-units * 3 // 20)))
    expect(page.locator("#est-pairs .detectable")).to_have_count(1)
    page.locator("#estimate").scroll_into_view_if_needed()
    shot(page, "3-estimate")
    assert Study.objects.count() == 0  # the estimate creates nothing
    page.click("#create-button")

    study = Study.objects.get()
    expect(page).to_have_url(f"{base}/studies/{study.pk}/")
    assert sorted(study.edit_models.values_list("name", flat=True)) == sorted(CHOSEN)
    assert study.items.count() == items and study.raters_per_unit == 3
    generate_and_preview(page, study)
    page.click("#launch")
    expect(page.locator("#status")).to_have_text("live")
    shot(page, "4-launched")

    study.refresh_from_db()
    assert study.status == "live"
    crowd(study)
    # Nobody reloads: the dashboard's live part refreshes itself.
    expect(page.locator("#units-complete")).to_have_text(f"{units} / {units}", timeout=20000)
    expect(page.locator("#coverage tbody tr")).to_have_count(2 * 2 + 1)
    shot(page, "5-rated")

    page.locator("#raters tbody a").first.click()
    expect(page.locator("#answers tbody tr").first).to_be_visible()
    shot(page, "6-rater")
    page.go_back()

    page.click("text=include simulated raters")
    with page.expect_download() as csv_zip:
        page.click("#downloads a[data-output=csv]")
    tables = read_zip(str(csv_zip.value.path()))
    assert {"counts.csv", "single_by_prompt.csv"} <= set(tables), sorted(tables)
    accuracy = list(csv.DictReader(io.StringIO(tables["single_by_prompt.csv"])))
    assert {row["model"] for row in accuracy} == set(CHOSEN)

    page.click("#approvals-link")
    export = tmp_path / "prolific-export.csv"
    export.write_text("Participant id,Status\nPROLIFIC-A,AWAITING REVIEW\nPROLIFIC-B,RETURNED\n")
    page.select_option("#approvals-platform", "prolific")
    page.set_input_files("#approvals-file", str(export))
    shot(page, "7-approvals")
    with page.expect_download() as approvals:
        page.click("#approvals-download")
    rows = list(csv.DictReader(io.StringIO(Path(approvals.value.path()).read_text())))
    assert [(r["participant_id"], r["decision"], r["tasks_submitted"]) for r in rows] == [
        ("PROLIFIC-A", "approve", "3"),
        ("PROLIFIC-B", "", "0"),
    ]


def test_the_api_docs_render_offline(browser: Browser, live_server: Any) -> None:
    User.objects.create_superuser("researcher", "r@example.org", "a long test password")
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    outside: list[str] = []

    def record(request: Any) -> None:
        # Scripts, styles, fonts and the schema must come from the app. (Redoc's bundle
        # still asks the web for its badge's logo, an image hidden on our page.)
        local = request.url.startswith((live_server.url, f"blob:{live_server.url}"))
        if not local and request.resource_type != "image":
            outside.append(request.url)

    page.on("request", record)
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("EditBench Studio API")
    shot(page, "8-api-docs")
    page.goto(f"{live_server.url}/api/redoc/")
    expect(page.locator("h1").first).to_contain_text("EditBench Studio API", timeout=15000)
    assert outside == [], outside  # every script, style and font came from the app
    # Both pages work under the Content-Security-Policy; the one thing it blocks is Redoc's
    # badge logo from the web (hidden on our page anyway).
    assert [m for m in blocked if "img-src" not in m] == [], blocked
