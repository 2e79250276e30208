"""Real Celery workers on a real Redis broker, for the worker tests.

Needs Redis (CELERY_TEST_BROKER_URL, default redis://127.0.0.1:6379/15); `.ci/run`
starts it. The worker is a separate process, so its tests commit their data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
QUEUE = "editbench-worker-test"
TASK = "annotation.tasks.generate_edits"


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


def _publisher(visibility_timeout: int) -> Iterator[Celery]:
    client = Celery("test-publisher", broker=BROKER, set_as_current=False)
    client.conf.broker_transport_options = {"visibility_timeout": visibility_timeout}
    with client.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    yield client
    with client.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    client.close()


@pytest.fixture
def publisher() -> Iterator[Celery]:
    """A client of the test broker, separate from the project's (eager) app."""
    yield from _publisher(4)


@pytest.fixture
def patient_publisher() -> Iterator[Celery]:
    """The same with the broker's visibility timeout at 900 s, so no unacknowledged message
    is redelivered by the clock during a test: only a rejected one comes back."""
    yield from _publisher(900)


def start_worker(log: Path, **env: str) -> subprocess.Popen[bytes]:
    """A worker process (one pool process) on the test queue; ``env`` overrides settings."""
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_QUEUE": QUEUE,
        "CELERY_VISIBILITY_TIMEOUT": "4",
        "GENERATION_CLAIM_TIMEOUT": "2",
        "GENERATION_BATCH_SIZE": "4",
        **env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"test-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=full_env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: kill -9 reaches the pool too
    )


def kill(worker: subprocess.Popen[bytes]) -> None:
    """kill -9 of the worker and its pool processes."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")
