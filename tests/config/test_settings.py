"""Settings come from the environment and fail at start-up naming the bad variable."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "editbench.example.org",
    "DATABASE_URL": "postgres://editbench@db.invalid:5432/editbench",
    "CELERY_BROKER_URL": "redis://broker.invalid:6379/0",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "STATIC_MANIFEST",
            "MEDIA_ROOT",
            "SECURE_SSL_REDIRECT",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "change,message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be at least 50 characters long"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must name the host(s)"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must point at PostgreSQL"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"MAX_IMAGE_PIXELS": "lots"}, "MAX_IMAGE_PIXELS='lots' is not an integer"),
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS=-1 must be at least 0"),
        ({"ESTIMATE_HOURLY_PAY": "cheap"}, "ESTIMATE_HOURLY_PAY='cheap' is not a number"),
        ({"ESTIMATE_HOURLY_PAY": "-3"}, "ESTIMATE_HOURLY_PAY=-3 must be at least 0"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    change: dict[str, str], message: str
) -> None:
    result = manage("check", env={**PRODUCTION, **change})
    assert result.returncode != 0
    assert message in result.stderr


def test_a_missing_secret_key_is_named_outside_debug() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "The environment variable SECRET_KEY must be set" in result.stderr


def test_debug_runs_on_the_embedded_defaults_without_production_variables() -> None:
    result = manage("check", env={"DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"})
    assert result.returncode == 0, result.stderr
