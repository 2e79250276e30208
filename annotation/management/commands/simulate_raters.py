"""python manage.py simulate_raters STUDY --raters N --noise P"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Study
from annotation.services.errors import ServiceError
from annotation.services.simulation import raters_simulate


class Command(BaseCommand):
    help = (
        "Simulated raters answer a live study through the normal services, from the "
        "automatic judge plus noise. Their judgments are marked simulated and left out of "
        "reports unless --include-simulated is given there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("study", help="study slug")
        parser.add_argument("--raters", type=int, default=5)
        parser.add_argument("--noise", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"no study with the slug {options['study']!r}")
        try:
            made = raters_simulate(
                study=study,
                raters=options["raters"],
                noise=options["noise"],
                seed=options["seed"],
                progress=not options["no_progress"],
            )
        except ServiceError as exc:
            raise CommandError("; ".join(exc.problems)) from None
        self.stdout.write(self.style.SUCCESS(f"{made} simulated judgments recorded"))
