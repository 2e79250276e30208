"""Tests for analysis.report.model: the settings refuse what they cannot report."""

from __future__ import annotations

import pytest

from tests.analysis.report.studies import settings


def test_settings_refuse_an_unknown_task_kind() -> None:
    with pytest.raises(ValueError, match="task_kinds"):
        settings(task_kinds=("ranking",))
