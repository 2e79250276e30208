"""Staff preview a study as its raters see it: each task kind, or one unit, in a test mode that
leases and records nothing and says so on screen (issue #15 item 3)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Browser, Request, expect

from annotation.models import Assignment, Judgment, Rater, Study, StudyUnit
from tests.annotation.browsing import wait_until
from tests.annotation.test_rater_browser import ARTIFACTS, answer_by_keyboard, browser

__all__ = ["browser"]  # the fixture, shared with the rater's browser test


def counts() -> tuple[int, int, int, int]:
    return (
        Assignment.objects.count(),
        Judgment.objects.count(),
        Rater.objects.count(),
        sum(StudyUnit.objects.values_list("slots_taken", flat=True)),
    )


def preview_tasks(html: str) -> list[dict[str, Any]]:
    found = re.search(
        r'<script id="preview-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found is not None
    tasks: list[dict[str, Any]] = json.loads(found.group(1))
    return tasks


@pytest.mark.django_db
def test_the_preview_shows_each_task_kind_and_takes_nothing(
    make_study: Callable[..., Study], admin_user: User, rater_a: User
) -> None:
    study = make_study()
    before = counts()
    staff = Client()
    staff.force_login(admin_user)
    page = staff.get(f"/studies/{study.pk}/preview/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Preview as a rater." in html and "Nothing is leased or recorded" in html
    tasks = preview_tasks(html)
    kinds = sorted((t["kind"], t["prompt_type"]) for t in tasks)
    assert kinds == [("pairwise", "mask_rich"), ("single", "full_image"), ("single", "mask_simple")]
    for task in tasks:  # every image is there for staff
        for url in [task["input"], task["mask"], *task["outputs"]]:
            assert staff.get(url).status_code == 200, url
    unit = StudyUnit.objects.filter(study=study, kind="pairwise").first()
    one = preview_tasks(
        staff.get(f"/studies/{study.pk}/preview/", {"unit": unit.pk}).content.decode()
    )
    assert len(one) == 1 and one[0]["questions"] == unit.questions
    assert counts() == before  # nothing leased, recorded or created
    # Raters and anonymous visitors get no preview.
    other = Client()
    other.force_login(rater_a)
    assert other.get(f"/studies/{study.pk}/preview/").status_code == 404
    assert other.get(tasks[0]["input"]).status_code == 404
    assert Client().get(f"/studies/{study.pk}/preview/").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_previewed_task_is_answered_in_chromium_and_sends_nothing(
    make_study: Callable[..., Study], browser: Browser, live_server: Any, admin_user: User
) -> None:
    study = make_study(prompt_types=["mask_simple"])
    before = counts()
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin-cast")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.url)

    page.on("request", record)
    page.goto(f"{live_server.url}/studies/{study.pk}/preview/")
    expect(page.locator("#preview-banner")).to_be_visible()
    expect(page.locator("#progress")).to_have_text("preview 1 of 2")
    first = page.evaluate("document.body.dataset.assignment")
    answer_by_keyboard(page)
    page.keyboard.press("Enter")
    wait_until(page, f"document.body.dataset.assignment !== '{first}'")
    expect(page.locator("#progress")).to_have_text("preview 2 of 2")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "preview-as-rater.png"))
    answer_by_keyboard(page)
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("nothing was recorded")
    assert sent == [] and counts() == before
