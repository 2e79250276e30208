"""The Celery application; settings come from Django's CELERY_* settings."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("editbench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _limit_threads(**_: object) -> None:
    # torch threads × worker processes must not exceed the cores, or the
    # processes slow each other down.
    import torch

    processes = max(1, int(app.conf.worker_concurrency or 1))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // processes))
