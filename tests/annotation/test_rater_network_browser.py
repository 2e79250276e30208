"""The task page survives a network error on submit (issue #13, item 6).

Playwright aborts one submit at the network level: once before the request reaches the server,
and once after the server has recorded it (the answer is lost on the way back). Either way the
page clears its busy state, says what happened, keeps the answers, and the retry, with the same
submission id, records exactly one judgment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from annotation.models import BenchmarkItem, Judgment, Study
from tests.annotation.browsing import browser as browser
from tests.annotation.browsing import screen, skip_practice, wait_until
from tests.annotation.test_rater_browser import answer_by_keyboard

pytestmark = pytest.mark.django_db(transaction=True)


def on_the_task_page(page: Page, base: str, study: Study) -> None:
    page.goto(
        f"{base}/s/{study.slug}/?PROLIFIC_PID=6e65742d7261746572303030&STUDY_ID=s&SESSION_ID=x"
    )
    skip_practice(page)
    expect(page.locator("#prompt")).not_to_have_text("")


@pytest.mark.parametrize("lost", ["request", "response"])
def test_a_submit_lost_on_the_network_is_retried_and_recorded_once(
    lost: str, make_study: Callable[..., Study], browser: Browser, live_server: Any
) -> None:
    study = make_study(items=[BenchmarkItem.objects.order_by("pk").first()], raters_per_unit=1)
    page = screen(browser, "laptop-1366x768").new_page()
    on_the_task_page(page, live_server.url, study)
    sent: list[str] = []

    def flaky(route: Route) -> None:
        sent.append(route.request.post_data_json["client_submission_id"])
        if len(sent) > 1:
            route.continue_()
            return
        if lost == "response":
            route.fetch()  # the server records the judgment; its answer never arrives
        route.abort("internetdisconnected")

    page.route("**/api/submit", flaky)
    first = page.evaluate("document.body.dataset.assignment")
    answer_by_keyboard(page)
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Could not reach the server")
    expect(page.locator("#submit")).to_be_enabled()
    assert page.evaluate("document.body.dataset.assignment") == first
    checked = page.locator("[role=radio][aria-checked=true]").count()
    assert checked == page.locator("fieldset.q").count()  # the answers are still there
    assert Judgment.objects.count() == (1 if lost == "response" else 0)
    page.keyboard.press("Enter")  # the retry
    wait_until(page, f"document.body.dataset.assignment !== '{first}'")
    expect(page.locator("#status")).to_have_text("")
    assert len(sent) == 2 and sent[0] == sent[1]  # the same submission id
    assert Judgment.objects.count() == 1
    assert Judgment.objects.get().assignment_id == int(first)
