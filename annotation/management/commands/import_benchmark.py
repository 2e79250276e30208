"""python manage.py import_benchmark PATH [--name N] [--version V]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.services.benchmarks import benchmark_import
from annotation.services.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Import a benchmark manifest (JSONL or CSV, or a folder holding manifest.jsonl). "
        "Validates every row first; imports all rows or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="manifest file, or the folder that holds it")
        parser.add_argument("--name", help="benchmark name (default: the manifest's folder name)")
        parser.add_argument("--bench-version", dest="bench_version", default="1")
        parser.add_argument("--description", default="")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            benchmark_import(
                path=options["path"],
                name=options["name"],
                version=options["bench_version"],
                description=options["description"],
                progress=not options["no_progress"],
                echo=lambda line: self.stdout.write(self.style.SUCCESS(line)),
            )
        except ServiceError as exc:
            lines = "\n".join(f"  - {p}" for p in exc.problems)
            raise CommandError(
                f"Nothing was imported; the manifest has {len(exc.problems)} problem(s):\n{lines}"
            ) from None
