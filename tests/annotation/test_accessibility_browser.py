"""axe-core (through axe-playwright-python) on every rater page: the start page, the practice
with its feedback, each task kind and the end page have no violation of serious or critical
impact (issue #16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.annotation.browsing import arrive, browser_study, images_loaded, screen, wait_until
from tests.annotation.browsing import browser as browser

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Axe()


def serious(page: Page, where: str) -> list[str]:
    results = AXE.run(page)
    return [
        f"{where}: {v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def answer_all(page: Page) -> None:
    for row in page.locator("fieldset.q").all():
        row.locator("button[role=radio]").first.click()


@pytest.mark.parametrize("name", ["laptop-1366x768", "phone-390x844"])
def test_the_rater_pages_have_no_serious_accessibility_violation(
    name: str, browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    study = browser_study(tmp_path)
    page = screen(browser, name).new_page()
    arrive(page, live_server.url, study, pid=f"axe-{name}")
    found = serious(page, "start page")
    page.locator("#start-practice").click()
    page.wait_for_url("**/practice/")
    images_loaded(page)
    found += serious(page, "practice task")
    answer_all(page)
    page.locator("#submit").click()
    expect(page.locator("#feedback")).to_be_visible()
    found += serious(page, "practice feedback")
    page.evaluate("document.getElementById('begin').requestSubmit()")
    page.wait_for_url("**/task/")
    # Enter with questions left says so, and moves the focus to the next one to answer.
    page.keyboard.press("Enter")
    left = page.locator("fieldset.q").count()
    expect(page.locator("#status")).to_contain_text(f"{left} question")
    expect(page.locator("fieldset.q.current button[role=radio]").first).to_be_focused()
    assert page.locator("h1").count() == 1
    assert page.locator("[role=radiogroup]").count() == left
    kinds: set[str] = set()
    while "/done/" not in page.url:
        images_loaded(page)
        kind = str(page.evaluate("document.body.dataset.kind"))
        if kind not in kinds:
            found += serious(page, f"{kind} task")
            kinds.add(kind)
        before = page.evaluate("document.body.dataset.assignment")
        answer_all(page)
        page.locator("#submit").click()
        wait_until(
            page,
            "location.pathname.endsWith('/done/')"
            f" || document.body.dataset.assignment !== '{before}'",
        )
    found += serious(page, "end page")
    assert kinds == {"single", "pairwise"}
    assert found == []
