"""python manage.py report STUDY --format json|csv|html|raw --out PATH"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.report import (
    raw_judgments,
    report_to_csv,
    report_to_json,
    write_raw_judgments_csv,
    write_raw_judgments_jsonl,
)
from analysis.report.html import render_html
from annotation.models import Study
from annotation.selectors.reports import report_salt, study_judgment_frames, study_report


class Command(BaseCommand):
    help = "Export a study's results: JSON, CSV (a folder of tables), HTML, or raw judgments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", help="study slug")
        parser.add_argument(
            "--format", choices=["json", "csv", "html", "raw-csv", "raw-jsonl"], default="html"
        )
        parser.add_argument(
            "--out", type=Path, required=True, help="file to write (a folder for csv)"
        )
        parser.add_argument(
            "--include-simulated", action="store_true", help="count simulated raters' judgments too"
        )
        parser.add_argument("--resamples", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-auto-judge", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with the slug {options['study']!r}")
        out: Path = options["out"]
        fmt = options["format"]
        if fmt.startswith("raw"):
            single, pairwise = study_judgment_frames(
                study=study, include_simulated=options["include_simulated"]
            )
            salt = report_salt(study)
            out.parent.mkdir(parents=True, exist_ok=True)
            writer = write_raw_judgments_csv if fmt == "raw-csv" else write_raw_judgments_jsonl
            for kind, frame in (("single", single), ("pairwise", pairwise)):
                if len(frame):
                    target = out.with_name(f"{out.stem}-{kind}{out.suffix}")
                    writer(frame, target, salt=salt)
                    self.stdout.write(
                        f"wrote {target} ({len(raw_judgments(frame, salt=salt))} rows)"
                    )
            return
        report = study_report(
            study=study,
            include_simulated=options["include_simulated"],
            auto_judge=not options["no_auto_judge"],
            n_resamples=options["resamples"],
            seed=options["seed"],
        )
        if fmt == "csv":
            paths = report_to_csv(report, out)
            self.stdout.write(self.style.SUCCESS(f"wrote {len(paths)} CSV tables to {out}"))
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            report_to_json(report) if fmt == "json" else render_html(report), encoding="utf-8"
        )
        self.stdout.write(self.style.SUCCESS(f"wrote {out}"))
