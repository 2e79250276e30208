"""python manage.py import_benchmark PATH [--format F] [--name N] [--bench-version V]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.categories import PROMPT_TYPES
from annotation.importers import FORMATS
from annotation.services.benchmarks import benchmark_import
from annotation.services.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Import a benchmark: our manifest (JSONL or CSV, or a folder holding manifest.jsonl), "
        "the released EditBench files, or BrushNet's copy, recognised by their files. "
        "Validates every row first; imports all rows or none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="manifest file, or the benchmark's folder")
        parser.add_argument(
            "--format", choices=FORMATS, help="the layout, when not to detect it from the files"
        )
        parser.add_argument("--name", help="benchmark name (default: the folder's name)")
        parser.add_argument("--bench-version", dest="bench_version", default="1")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--strict-categories",
            action="store_true",
            help="refuse items whose category the value table cannot place (default: unknown)",
        )
        parser.add_argument(
            "--caption-as",
            choices=PROMPT_TYPES,
            default="full_image",
            help="BrushNet's copy: the prompt type its one caption is (default full_image)",
        )
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            benchmark_import(
                path=options["path"],
                name=options["name"],
                version=options["bench_version"],
                description=options["description"],
                format=options["format"],
                strict=options["strict_categories"],
                caption_as=options["caption_as"],
                progress=not options["no_progress"],
                echo=lambda line: self.stdout.write(self.style.SUCCESS(line)),
            )
        except ServiceError as exc:
            lines = "\n".join(f"  - {p}" for p in exc.problems)
            raise CommandError(
                f"Nothing was imported; the benchmark has {len(exc.problems)} problem(s):\n{lines}"
            ) from None
