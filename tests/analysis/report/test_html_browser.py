"""The HTML report in a real browser (Playwright driving Debian's headless Chromium).

Checks what only a renderer can: that no text of any chart (legend entries included) falls
outside its SVG viewport, even with long model names, and that the simulated-raters banner is
on screen wherever the reader scrolls. Screenshots are saved under test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from analysis.report import build_report
from analysis.report.html import render_html
from tests.analysis.report.studies import (
    N_RESAMPLES,
    SALT,
    SEED,
    full_study,
    pairwise_rows,
    settings,
    single_rows,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Long names, as real model names are: the legend clipped "fill" and "U" of names like these.
LONG_MODELS = (
    "Imagen Editor-RM (masked fill)",
    "Stable Diffusion Inpainting v2 (U-Net)",
    "blurred fill baseline",
    "unedited input",
)

# Every <text> of every inline <svg>, with its box and its svg's box (CSS pixels).
_TEXT_BOXES = """
() => [...document.querySelectorAll('figure svg')].flatMap((svg) => {
  const frame = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].map((t) => {
    const box = t.getBoundingClientRect();
    return {chart: svg.querySelector('[id]').id, text: t.textContent, left: box.left,
            right: box.right, top: box.top, bottom: box.bottom, frameLeft: frame.left,
            frameRight: frame.right, frameTop: frame.top, frameBottom: frame.bottom};
  });
})
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _long_name_page() -> str:
    data = replace(
        full_study(),
        settings=settings(models=LONG_MODELS, simulated_raters=12),
        single=pd.DataFrame(single_rows(LONG_MODELS)),
        pairwise=pd.DataFrame(pairwise_rows(LONG_MODELS)),
        auto_judge=None,
    )
    return render_html(build_report(data, rng=SEED, n_resamples=N_RESAMPLES, salt=SALT))


def _open(browser: Browser, html: str, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(html, wait_until="load")
    return page


@pytest.mark.parametrize("width", [1280, 800])
def test_no_chart_text_leaves_its_svg_viewport(browser: Browser, width: int) -> None:
    page = _open(browser, _long_name_page(), width)
    try:
        boxes = page.evaluate(_TEXT_BOXES)
        assert len({b["chart"] for b in boxes}) >= 8  # six category charts and two pairwise
        assert any(b["text"] == LONG_MODELS[1] for b in boxes)  # a legend entry
        clipped = [
            (b["chart"], b["text"])
            for b in boxes
            if b["text"].strip()
            and (
                b["left"] < b["frameLeft"] - 0.5
                or b["right"] > b["frameRight"] + 0.5
                or b["top"] < b["frameTop"] - 0.5
                or b["bottom"] > b["frameBottom"] + 0.5
            )
        ]
        assert clipped == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-long-names-{width}.png"), full_page=True)
    finally:
        page.close()


def test_the_simulated_banner_stays_on_screen_while_scrolling(browser: Browser) -> None:
    page = _open(browser, _long_name_page(), 1280)
    try:
        banner = page.locator("#simulated-banner")
        assert banner.is_visible() and "12 simulated raters" in banner.inner_text()
        page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
        box = banner.bounding_box()
        assert box is not None and 0 <= box["y"] < 5
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-simulated-banner.png"))
    finally:
        page.close()
