"""The pages work under the Content-Security-Policy in Chromium: no violation reported while
a rater answers tasks and staff open the dashboard and the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from annotation.models import BenchmarkItem, Study
from tests.annotation.rating import prolific_id
from tests.annotation.test_rater_browser import ARTIFACTS, brief_by_keyboard, browser

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["browser"]  # the fixture, shared with the rater's browser test


def test_no_page_breaks_the_policy(
    make_study: Callable[..., Study], browser: Browser, live_server: Any, admin_user: Any
) -> None:
    item = BenchmarkItem.objects.order_by("pk").first()
    study = make_study(items=[item], raters_per_unit=1, prompt_types=["mask_simple"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    response = page.goto(
        f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID={prolific_id('csp')}&STUDY_ID=s"
    )
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    brief_by_keyboard(page)  # the start page and the practice, under the policy too
    expect(page.locator("#submit")).to_be_visible()
    # The script ran (it fills the question buttons and answers keys) under the policy.
    kind = page.evaluate("document.body.dataset.kind")
    for _ in range(page.locator(".q").count()):
        page.keyboard.press("1" if kind == "pairwise" else "y")
    expect(page.locator("#submit")).to_be_enabled()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "csp-task.png"))
    staff = browser.new_page()
    staff.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    staff.goto(f"{live_server.url}/admin/login/")
    staff.fill("#id_username", "admin-cast")
    staff.fill("#id_password", "pw")
    staff.click("input[type=submit]")
    for path in (f"/studies/{study.pk}/", f"/studies/{study.pk}/report/", "/admin/"):
        assert staff.goto(f"{live_server.url}{path}").status == 200
    staff.screenshot(path=str(ARTIFACTS / "csp-admin.png"))
    assert violations == []
