"""Reports shared by the tests of analysis.report, built once for the package."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analysis.report import Report, build_report, report_to_json
from analysis.report.html import render_html
from tests.analysis.report.studies import N_RESAMPLES, SALT, SEED, full_study, pairwise_only_study


@pytest.fixture(scope="package")
def report() -> Report:
    return build_report(full_study(), rng=SEED, n_resamples=N_RESAMPLES, salt=SALT)


@pytest.fixture(scope="package")
def document(report: Report) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise AssertionError(f"JSON holds the non-standard constant {constant}")

    parsed: dict[str, Any] = json.loads(report_to_json(report), parse_constant=refuse)
    return parsed


@pytest.fixture(scope="package")
def page(report: Report) -> str:
    return render_html(report)


@pytest.fixture(scope="package")
def pairwise_only() -> Report:
    return build_report(pairwise_only_study(), rng=3, n_resamples=20)
