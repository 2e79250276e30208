"""Schemathesis over the API's own schema, with a staff token, on the test database.

Every operation gets a bounded number of generated requests (valid and invalid
ones); every answer must be a non-5xx that matches the documented schema: its
status code listed, its body and content type as documented.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks

from config.wsgi import application
from tests.annotation import factories as f

# Bounded: examples per operation, no per-example deadline (the suite's time is
# the number of operations times this).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(autouse=True)
def _one_connection(db: Any) -> Iterator[None]:
    # The WSGI app closes the database connection around each request, which would
    # end the test's transaction; Django's test client does the same as this.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def staff_token(db: Any) -> str:
    user = User.objects.create_superuser("fuzz-staff", "fuzz@example.org", "pw")
    bench = f.BenchmarkFactory(name="fuzzbench", version="1")
    for i in range(3):
        f.BenchmarkItemFactory(benchmark=bench, external_id=f"fz-{i}")
    return str(Token.objects.create(user=user).key)


# The schema view needs no database: loading it at collection is safe.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_answers_every_generated_request_as_documented(case: Any, staff_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, checks=CHECKS)
