"""The rater page on three screens, in headless Chromium (issue #16).

At 1366×768, 1920×1080 and 390×844 (touch): the start page, the practice with its feedback
(which leases no unit and records no judgment), then real tasks of every kind, each with the
caption, every question and Submit inside the viewport, images at an exact whole multiple of
their natural size, and each new task scrolled to the top. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from annotation.models import Assignment, Judgment
from tests.annotation.browsing import (
    ARTIFACTS,
    SCREENS,
    arrive,
    browser_study,
    images_loaded,
    off_screen,
    screen,
    skip_practice,
    wait_until,
    whole_multiples,
)
from tests.annotation.browsing import browser as browser

pytestmark = pytest.mark.django_db(transaction=True)


def do_practice(page: Page, shots: str) -> None:
    """Answer every practice task "yes" throughout and read the feedback."""
    step = 0
    while page.locator("#begin").is_hidden():
        images_loaded(page)
        assert off_screen(page) == [] and whole_multiples(page)
        for row in page.locator("fieldset.q").all():
            row.locator("button[role=radio]").first.click()
        page.locator("#submit").click()
        expect(page.locator("#feedback")).to_contain_text("right.")
        if step == 0:
            page.screenshot(path=f"{shots}-practice-feedback.png")
        step += 1
        if page.locator("#begin").is_hidden():
            page.locator("#submit").click()
    assert 2 <= step <= 4
    # A wrong answer is marked as such: the second practice task (a blurred region) asks
    # for "no", and "yes" was given.
    expect(page.locator("fieldset.q.wrong").first).to_be_visible()


def check_task(page: Page, name: str, seen: set[str]) -> None:
    images_loaded(page)
    assert page.evaluate("window.scrollY") == 0
    assert off_screen(page) == [], f"off screen on {name}"
    assert whole_multiples(page), f"not a whole multiple on {name}"
    if page.locator("#view-switch").is_visible():
        # One image at a time (a phone): the edit is a tap away and fits as well.
        page.locator("#view-switch button").nth(1).click()
        assert off_screen(page) == [] and whole_multiples(page)
    kind = str(page.evaluate("document.body.dataset.kind"))
    questions = page.locator("fieldset.q").count()
    key = f"{kind}-{questions}"
    if key not in seen:
        page.screenshot(path=str(ARTIFACTS / f"layout-{name}-{key}.png"))
        seen.add(key)


@pytest.mark.parametrize("name", list(SCREENS))
def test_every_part_of_the_rater_page_fits_the_screen(
    name: str, browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    study = browser_study(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    shots = str(ARTIFACTS / f"layout-{name}")
    page = screen(browser, name).new_page()
    arrive(page, live_server.url, study, pid=f"layout-{name}")
    expect(page.locator("h1")).to_have_text(study.name)
    expect(page.locator("#consent")).to_be_visible()
    assert page.locator(".example").count() == 4  # Mask-Simple, Mask-Rich, Full-Image, pair
    page.screenshot(path=f"{shots}-start.png", full_page=True)
    page.locator("#start-practice").click()
    page.wait_for_url("**/practice/")
    do_practice(page, shots)
    # The practice leased nothing and recorded nothing.
    assert Assignment.objects.count() == 0 and Judgment.objects.count() == 0
    page.locator("#begin-button").click()
    page.wait_for_url("**/task/")
    kinds: set[str] = set()
    seen: set[str] = set()
    total = study.units.count()
    for done in range(total):
        check_task(page, name, seen)
        kinds.add(str(page.evaluate("document.body.dataset.kind")))
        before = page.evaluate("document.body.dataset.assignment")
        for row in page.locator("fieldset.q").all():
            row.locator("button[role=radio]").first.click()
        page.evaluate("window.scrollTo(0, 200)")  # the next task must come back to the top
        page.locator("#submit").click()
        if done + 1 < total:
            wait_until(
                page,
                f"document.body.dataset.assignment !== '{before}'"
                " && document.getElementById('submit').disabled === false",
            )
    page.wait_for_url("**/done/")
    assert kinds == {"single", "pairwise"}
    assert Judgment.objects.count() == total


def test_a_desktop_only_study_turns_a_phone_away(
    browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    study = browser_study(tmp_path, desktop_only=True)
    phone = screen(browser, "phone-390x844").new_page()
    arrive(phone, live_server.url, study, pid="phone-rater")
    expect(phone.locator("#phone-message")).to_be_visible()
    expect(phone.locator("#start-practice")).to_be_hidden()
    phone.screenshot(path=str(ARTIFACTS / "desktop-only-on-a-phone.png"))
    laptop = screen(browser, "laptop-1366x768").new_page()
    arrive(laptop, live_server.url, study, pid="laptop-rater")
    expect(laptop.locator("#phone-message")).to_be_hidden()
    expect(laptop.locator("#start-practice")).to_be_visible()
    assert Assignment.objects.count() == 0


def test_a_returning_rater_skips_the_start_page(
    browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    study = browser_study(tmp_path)
    page = screen(browser, "laptop-1366x768").new_page()
    arrive(page, live_server.url, study, pid="returning")
    skip_practice(page)
    again = screen(browser, "laptop-1366x768").new_page()  # a new browser, the same id
    arrive(again, live_server.url, study, pid="returning")
    again.wait_for_url("**/task/")
    expect(again.locator("#prompt")).not_to_have_text("")
