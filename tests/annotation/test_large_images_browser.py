"""A 1024×1024 item in a real browser: shrunk by a whole factor, the input from its derivative."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, expect

from annotation.models import Benchmark, BenchmarkItem, Study
from tests.annotation.browsing import wait_until
from tests.annotation.test_rater_browser import browser  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db(transaction=True)

RELEASE = Path(__file__).resolve().parents[2] / "fixtures" / "editbench-release-mini"


def test_a_1024_task_is_shown_at_half_size_with_the_512_input(
    make_study: Callable[..., Study],
    browser: Browser,  # noqa: F811
    live_server: Any,
    tmp_path: Path,
) -> None:
    shutil.copytree(RELEASE, tmp_path / "release")
    call_command(
        "import_benchmark", str(tmp_path / "release"), "--no-progress", stdout=io.StringIO()
    )
    item = BenchmarkItem.objects.filter(benchmark__name="release").first()
    study = make_study(
        benchmark=Benchmark.objects.get(name="release"),
        items=[item],
        prompt_types=["full_image"],
        task_pairwise=False,
        raters_per_unit=1,
        platform="prolific",
        completion_code="BIG-OK",
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(
        f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID=b16b16b16b16b16b16b16b16&STUDY_ID=s&SESSION_ID=x"
    )
    page.goto(f"{live_server.url}/s/{study.slug}/task/")  # past the start page
    expect(page.locator("#prompt")).not_to_have_text("")
    wait_until(
        page,
        "Array.from(document.images).filter(i => i.offsetParent !== null)"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('#images .frame img')).map(i => [i.id ||"
        " i.closest('figure').className + ' ' + i.className, +i.getAttribute('width'),"
        " i.naturalWidth, getComputedStyle(i).imageRendering])"
    )
    # 1024 does not fit 1400×1000 with its questions: shown at half size, 512. The input and
    # its outline are the stored 512 px derivatives; the edit is stored at 1024 and shrunk.
    assert sizes[0] == ["input", 512, 512, "auto"]
    assert sizes[1][1:] == [512, 512, "auto"]  # the outline over the input
    outputs = [s for s in sizes if s[0] == "shot output pic"]
    assert outputs and all(s[1:] == [512, 1024, "auto"] for s in outputs)
