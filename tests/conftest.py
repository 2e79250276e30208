"""Shared fixtures: a private media folder per test and the fixed cast of users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> None:
    # Each test writes its uploads into its own folder, so file checks see only its files.
    settings.MEDIA_ROOT = tmp_path / "media"
