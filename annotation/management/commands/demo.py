"""python manage.py demo: the demo study, ready to look at (what `make demo` runs).

Idempotent: creates the demo admin (new password each run), the study of
fixtures/demo-study.yaml if missing, generates its edits in-process, launches it,
lets simulated raters fill it once, and prints where to look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from annotation.models import Judgment, Study
from annotation.services.benchmarks import demo_admin_ensure

SPEC = Path(settings.BASE_DIR) / "fixtures" / "demo-study.yaml"


class Command(BaseCommand):
    help = "Set up the demo study end to end and print the URLs and the admin login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--simulated-raters", type=int, default=40)

    def handle(self, *args: Any, **options: Any) -> None:
        password = demo_admin_ensure(username="admin")
        call_command("create_study", str(SPEC), "--skip-existing", "--owner", "admin")
        study = Study.objects.get(slug="editbench-mini-demo")
        if study.status in (Study.Status.DRAFT, Study.Status.GENERATING, Study.Status.READY):
            call_command("study", "generate", study.slug)
            call_command("study", "launch", study.slug)
        study.refresh_from_db()
        if not Judgment.objects.filter(assignment__study=study).exists():
            self.stdout.write("Simulated raters answer the study (marked simulated):")
            call_command(
                "simulate_raters",
                study.slug,
                "--raters",
                str(options["simulated_raters"]),
                "--noise",
                "0.1",
            )
        base = options["base_url"].rstrip("/")
        self.stdout.write(self.style.SUCCESS("\nEditBench Studio demo is ready."))
        self.stdout.write(f"  Admin login:  admin / {password}   ({base}/admin/)")
        self.stdout.write(f"  Dashboard:    {base}/studies/{study.pk}/?simulated=1")
        self.stdout.write(f"  Report:       {base}/studies/{study.pk}/report/?simulated=1")
        self.stdout.write(
            f"  Rater link:   {base}/s/{study.slug}/?PROLIFIC_PID=0123456789abcdef01234567"
            "&STUDY_ID=demo&SESSION_ID=1"
        )
