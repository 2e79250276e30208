"""python manage.py study {status,generate,launch,pause,close} SLUG

The study lifecycle from the command line (the same services as the admin and the API).
`generate` runs the edits in this process with a progress bar when no broker is
configured; with CELERY_BROKER_URL set it enqueues them and, with --wait, follows
the workers' progress.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.models import Study
from annotation.selectors.studies import generation_counts, study_progress
from annotation.services.errors import ServiceError
from annotation.services.studies import study_close, study_generate, study_launch, study_pause
from annotation.tasks import generate_edits


class Command(BaseCommand):
    help = "Show, generate, launch, pause or close a study."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "generate", "launch", "pause", "close"])
        parser.add_argument("slug")
        parser.add_argument("--wait", action="store_true", help="generate: follow the workers")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        study = Study.objects.filter(slug=options["slug"]).first()
        if study is None:
            raise CommandError(f"no study with the slug {options['slug']!r}")
        action = options["action"]
        try:
            if action == "generate":
                self._generate(study, wait=options["wait"], progress=not options["no_progress"])
            elif action == "launch":
                study = study_launch(study=study)
            elif action == "pause":
                study = study_pause(study=study)
            elif action == "close":
                study = study_close(study=study)
        except ServiceError as exc:
            raise CommandError("; ".join(exc.problems)) from None
        progress = study_progress(study=study)
        self.stdout.write(
            f"{study.name} [{study.slug}]: {progress['status']}; jobs {progress['jobs']}; "
            f"missing edits {progress['missing_edits'] or 'none'}; units {progress['units']} "
            f"({progress['units_complete']} complete); judgments {progress['judgments']}"
        )

    def _generate(self, study: Study, *, wait: bool, progress: bool) -> None:
        in_process = settings.CELERY_TASK_ALWAYS_EAGER
        report = study_generate(study=study, enqueue=not in_process)
        total = sum(len(b) for b in report.batches)
        if in_process:
            with tqdm(total=total, unit="edit", desc="generating", disable=not progress) as bar:
                for batch in report.batches:
                    generate_edits.apply(args=[batch])
                    bar.update(len(batch))
        elif wait:
            with tqdm(total=total, unit="edit", desc="workers", disable=not progress) as bar:
                while True:
                    counts = generation_counts(study=study)
                    finished = counts.get("done", 0) + counts.get("failed", 0)
                    bar.n = min(total, finished)
                    bar.refresh()
                    if counts.get("queued", 0) + counts.get("running", 0) == 0:
                        break
                    time.sleep(2)
        failed = generation_counts(study=study).get("failed", 0)
        if failed:
            raise CommandError(f"{failed} generation job(s) failed; see the admin for the errors")
