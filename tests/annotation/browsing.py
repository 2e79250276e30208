"""Helpers of the rater browser tests: Chromium through Playwright, a study on real items of the
shipped benchmark, and the checks the rater page must pass on every screen."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from annotation.models import Benchmark, BenchmarkItem, EditModel, Study
from annotation.services.benchmarks import benchmark_import
from annotation.services.studies import StudySpec, study_create, study_launch
from tests.annotation.conftest import generate_all
from tests.annotation.rating import prolific_id

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SHIPPED = ROOT / "fixtures" / "editbench-mini"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The screens of issue #16: the common laptop, full HD, and a phone (touch).
SCREENS = {
    "laptop-1366x768": {"viewport": {"width": 1366, "height": 768}},
    "desktop-1920x1080": {"viewport": {"width": 1920, "height": 1080}},
    "phone-390x844": {
        "viewport": {"width": 390, "height": 844},
        "has_touch": True,
        "is_mobile": True,
    },
}

# Items of the shipped benchmark that make the page hardest to fit: eb-0057 has the most
# questions (three wide letters B: object, count and four attributes), eb-0062 the longest
# whole-scene caption; eb-0001 and eb-0025 stay outside the study for the practice.
STUDY_ITEMS = ("eb-0057", "eb-0062")
PRACTICE_ITEMS = ("eb-0001", "eb-0025")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
        connections.close_all()


def screen(browser: Browser, name: str) -> BrowserContext:
    return browser.new_context(**SCREENS[name])


def shipped_benchmark(tmp_path: Path, ids: tuple[str, ...]) -> Benchmark:
    """A benchmark of a few items of fixtures/editbench-mini, imported as a user would."""
    folder = tmp_path / "mini"
    rows = [json.loads(line) for line in (SHIPPED / "manifest.jsonl").read_text().splitlines()]
    chosen = [row for row in rows if row["id"] in ids]
    for row in chosen:
        for column in ("image", "mask", "reference"):
            (folder / row[column]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SHIPPED / row[column], folder / row[column])
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chosen))
    benchmark_import(path=folder, name="mini-browser")
    return Benchmark.objects.get(name="mini-browser")


def browser_study(tmp_path: Path, **overrides: Any) -> Study:
    """A live study on real items: every question type, two anchors, one rater per unit."""
    owner = User.objects.create_superuser("owner-browser", "o@example.org", "pw")
    benchmark = shipped_benchmark(tmp_path, STUDY_ITEMS + PRACTICE_ITEMS)
    models = [
        EditModel.objects.create(name="Anchor One", kind="baseline", preset="identity"),
        EditModel.objects.create(name="Anchor Two", kind="baseline", preset="blur_fill"),
    ]
    options: dict[str, Any] = {
        "name": "Layout study",
        "benchmark": benchmark,
        "items": list(BenchmarkItem.objects.filter(external_id__in=STUDY_ITEMS)),
        "models": models,
        "prompt_types": ["mask_simple", "mask_rich", "full_image"],
        "task_single": True,
        "task_pairwise": True,
        "raters_per_unit": 1,
        "gold_rate": 0.0,
        "platform": "prolific",
        "completion_code": "LAYOUT-OK",
        **overrides,
    }
    study = study_create(owner=owner, spec=StudySpec(**options))
    generate_all(study)
    return study_launch(study=study)


def arrive(page: Page, base: str, study: Study, pid: str) -> None:
    page.goto(f"{base}/s/{study.slug}/?PROLIFIC_PID={prolific_id(pid)}&STUDY_ID=s&SESSION_ID=x")


def images_loaded(page: Page) -> None:
    wait_until(
        page,
        "Array.from(document.images).filter(i => i.offsetParent !== null)"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )


def off_screen(page: Page) -> list[str]:
    """The caption, questions, Submit and shown images that are not wholly in the viewport."""
    result: list[str] = page.evaluate(
        """() => {
          const w = document.documentElement.clientWidth, h = window.innerHeight;
          const nodes = [document.getElementById('caption'), document.getElementById('submit'),
            ...document.querySelectorAll('fieldset.q'),
            ...Array.from(document.querySelectorAll('#images img.pic'))
              .filter(i => i.offsetParent !== null)];
          return nodes.filter(n => {
            const r = n.getBoundingClientRect();
            return !(r.top >= 0 && r.left >= 0 && r.bottom <= h && r.right <= w);
          }).map(n => n.id || n.className);
        }"""
    )
    return result


def scales(page: Page) -> list[tuple[int, int, int, int]]:
    """(displayed width, displayed height, natural width, natural height) of every image."""
    result: list[tuple[int, int, int, int]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('#images img'))
            .filter(i => i.offsetParent !== null)
            .map(i => [i.clientWidth, i.clientHeight, i.naturalWidth, i.naturalHeight])"""
    )
    return result


def whole_multiples(page: Page) -> bool:
    sizes = scales(page)
    return bool(sizes) and all(
        w % nw == 0 and h % nh == 0 and w // nw == h // nh and w >= nw for w, h, nw, nh in sizes
    )


def skip_practice(page: Page) -> None:
    """From the start page to the first real task without doing the practice."""
    page.locator("#start-practice").click()
    page.wait_for_url("**/practice/")
    page.evaluate("document.getElementById('begin').requestSubmit()")
    page.wait_for_url("**/task/")


def wait_until(page: Page, expression: str, *, timeout_s: float = 20.0) -> None:
    """Wait until a JavaScript expression is true on the page. Playwright's own
    ``wait_for_function`` polls with ``eval`` inside the page, which the pages'
    Content-Security-Policy forbids; ``page.evaluate`` is not subject to it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if page.evaluate(f"() => Boolean({expression})"):
                return
        except PlaywrightError as exc:  # the page navigated meanwhile: ask the new one
            if "context was destroyed" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(50)
