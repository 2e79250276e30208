"""A real worker on a real Redis broker: killed mid-run, every edit still comes out exactly once.

Needs Redis (CELERY_TEST_BROKER_URL, default redis://127.0.0.1:6379/15); `.ci/run`
starts it. The worker is a separate process, so the test commits its data.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from celery import Celery
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from PIL import Image

from annotation.models import Edit, EditModel, GenerationJob
from annotation.services.generation import generation_request
from tests.annotation import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
QUEUE = "editbench-worker-test"
SIZE = 384  # large enough that a batch takes a noticeable moment


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def publisher() -> Iterator[Celery]:
    """A client of the test broker, separate from the project's (eager) app."""
    client = Celery("test-publisher", broker=BROKER, set_as_current=False)
    client.conf.broker_transport_options = {"visibility_timeout": 4}
    with client.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    yield client
    with client.connection_for_write() as conn:
        conn.default_channel.queue_purge(QUEUE)
    client.close()


def start_worker(log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_QUEUE": QUEUE,
        "CELERY_VISIBILITY_TIMEOUT": "4",
        "GENERATION_CLAIM_TIMEOUT": "2",
        "GENERATION_BATCH_SIZE": "4",
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
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: kill -9 reaches the pool too
    )


def kill(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def wait_for(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


def big_item(seed: int) -> Any:
    rng = np.random.default_rng(seed)
    image = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(image, "PNG")
    return f.BenchmarkItemFactory(
        image=ContentFile(image.getvalue(), name="i.png"),
        mask=ContentFile(f.mask_bytes(SIZE, SIZE), name="m.png"),
    )


def test_a_killed_worker_s_jobs_finish_exactly_once_on_a_new_worker(
    publisher: Celery, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    model = EditModel.objects.create(name="blur", kind="baseline", preset="blur_fill")
    items = [big_item(seed) for seed in range(10)]
    worker = start_worker(log)
    try:
        # 10 items × 2 prompt types × 2 seeds = 40 jobs, in batches of 4.
        report = generation_request(
            items=items,
            models=[model],
            prompt_types=["mask_simple", "mask_rich"],
            seeds=[0, 1],
            enqueue=False,
        )
        for batch in report.batches:
            publisher.send_task("annotation.tasks.generate_edits", args=[batch], queue=QUEUE)
        assert GenerationJob.objects.count() == 40
        wait_for(
            lambda: GenerationJob.objects.filter(status="done").count() >= 3,
            120,
            "the first edits",
            log,
        )
        kill(worker)
        done_at_kill = GenerationJob.objects.filter(status="done").count()
        assert done_at_kill < 40, "the worker finished before it could be killed"
        print(f"killed the worker with {done_at_kill} of 40 jobs done")

        worker = start_worker(log)
        wait_for(
            lambda: GenerationJob.objects.filter(status="done").count() == 40,
            180,
            "all 40 jobs done",
            log,
        )
    finally:
        kill(worker)

    assert Edit.objects.count() == 40
    assert GenerationJob.objects.exclude(status="done").count() == 0
    names = set(Edit.objects.values_list("image", flat=True))
    files = {f"edits/{p.name}" for p in (Path(settings.MEDIA_ROOT) / "edits").iterdir()}
    assert files == names, "orphan or missing edit files"
    assert all(j.edit is not None for j in GenerationJob.objects.all())
