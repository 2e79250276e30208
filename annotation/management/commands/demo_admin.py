"""python manage.py demo_admin: create or reset the demo superuser and print its password."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotation.services.benchmarks import demo_admin_ensure


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser with a fresh random password and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        password = demo_admin_ensure(username=options["username"])
        self.stdout.write(self.style.SUCCESS(f"Admin login: {options['username']} / {password}"))
