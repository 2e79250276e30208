"""A crowd rater in a real browser (Playwright driving Debian's headless Chromium).

Arrives with Prolific parameters, goes through the start page and the practice and does
single-image and side-by-side tasks by keyboard alone, reloads mid-task without losing or
duplicating work, and reaches the completion code. Screenshots of both task pages are saved under
test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from annotation.models import Assignment, BenchmarkItem, Judgment, Study
from tests.annotation.browsing import ARTIFACTS, browser, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# The browser fixture and the artifacts folder are the rater browser tests' shared ones.
__all__ = ["ARTIFACTS", "browser"]


def answer_by_keyboard(page: Page) -> None:
    kind = page.evaluate("document.body.dataset.kind")
    for _ in range(page.locator(".q").count()):
        page.keyboard.press("1" if kind == "pairwise" else "y")
    expect(page.locator("#submit")).to_be_enabled()


def brief_by_keyboard(page: Page) -> None:
    """The start page and the practice, by keyboard: Tab to the start link, then answer,
    check and go on with Enter until the practice ends on the focused start button."""
    for _ in range(40):
        if page.evaluate("document.activeElement.id") == "start-practice":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/practice/")
    while page.locator("#begin").is_hidden():
        answer_by_keyboard(page)
        page.keyboard.press("Enter")  # check: the feedback shows
        expect(page.locator("#feedback")).to_be_visible()
        if page.locator("#begin").is_hidden():
            page.keyboard.press("Enter")  # the next practice task
    expect(page.locator("#begin-button")).to_be_focused()
    assert Assignment.objects.count() == Judgment.objects.count() == 0  # practice is not stored
    page.keyboard.press("Enter")
    page.wait_for_url("**/task/")


def current_assignment(page: Page) -> int:
    return int(page.evaluate("document.body.dataset.assignment"))


def test_a_prolific_rater_completes_the_study_by_keyboard(
    make_study: Callable[..., Study], browser: Browser, live_server: Any
) -> None:
    item = BenchmarkItem.objects.order_by("pk").first()
    study = make_study(
        items=[item],
        raters_per_unit=1,
        platform="prolific",
        completion_code="BROWSER-OK",
        prompt_types=["mask_simple", "mask_rich"],
    )
    total = study.units.count()  # 3 models: 6 single + 3 pairwise
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(
        f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=70772d7261746572312d3031&STUDY_ID=s&SESSION_ID=x"
    )
    brief_by_keyboard(page)
    expect(page.locator("#prompt")).not_to_have_text("")
    shots: set[str] = set()
    done = 0
    reloaded = False
    while "/done/" not in page.url:
        kind = page.evaluate("document.body.dataset.kind")
        wait_until(page, "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        if kind not in shots:
            page.screenshot(path=str(ARTIFACTS / f"task-{kind}.png"), full_page=True)
            shots.add(kind)
        if done == 2 and not reloaded:
            # Reload in the middle of a task: the same task comes back, nothing is lost.
            before = current_assignment(page)
            page.keyboard.press("y" if kind == "single" else "1")
            page.reload()
            expect(page.locator("#prompt")).not_to_have_text("")
            assert current_assignment(page) == before
            reloaded = True
        assignment = current_assignment(page)
        answer_by_keyboard(page)
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")  # a double submit records one judgment
        done += 1
        if done < total:
            expect(page.locator("#progress")).to_have_text(f"{done} done", timeout=10000)
            wait_until(page, f"document.body.dataset.assignment !== '{assignment}'")
        else:
            page.wait_for_url("**/done/", timeout=10000)
    assert shots == {"single", "pairwise"}
    expect(page.locator("#completion-code")).to_have_text("BROWSER-OK")
    expect(page.locator("#return-link")).to_have_attribute(
        "href", "https://app.prolific.com/submissions/complete?cc=BROWSER-OK"
    )
    page.screenshot(path=str(ARTIFACTS / "done.png"))
    assert Judgment.objects.count() == total
    assert Assignment.objects.filter(status="submitted").count() == total
    assert all(
        a.judgments.count() == 1 for a in Assignment.objects.all() if a.status == "submitted"
    )
