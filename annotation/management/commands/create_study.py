"""python manage.py create_study SPEC.yaml [--owner USERNAME] [--generate] [--launch]"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.models import Study
from annotation.serializers import StudySpecSerializer
from annotation.services.errors import ServiceError
from annotation.services.studies import study_create_from_spec


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [
            line
            for key, value in errors.items()
            for line in _flatten(
                value, f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}{key}"
            )
        ]
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return [f"{prefix}: {e}" if prefix else str(e) for e in errors]
    if isinstance(errors, list):
        return [line for i, e in enumerate(errors) for line in _flatten(e, f"{prefix}[{i}]")]
    return [f"{prefix}: {errors}"]


class Command(BaseCommand):
    help = (
        "Create a draft study from a YAML or JSON spec; every problem is listed, nothing created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("spec", type=Path)
        parser.add_argument("--owner", help="username of the owner (default: the first superuser)")
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="do nothing (and succeed) when a study with the spec's slug exists",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["spec"]
        try:
            text = path.read_text(encoding="utf-8")
            raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except FileNotFoundError:
            raise CommandError(f"{path} does not exist") from None
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise CommandError(f"{path} is not valid {path.suffix[1:].upper()}: {exc}") from None
        if not isinstance(raw, dict):
            raise CommandError(f"{path} must hold a mapping of settings")
        existing = Study.objects.filter(slug=str(raw.get("slug") or "").strip()).first()
        if options["skip_existing"] and existing is not None:
            self.stdout.write(f"Study {existing.slug} exists already ({existing.status}); kept.")
            return
        users = get_user_model().objects
        owner = (
            users.filter(username=options["owner"]).first()
            if options["owner"]
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if owner is None:
            raise CommandError("no owner: pass --owner USERNAME or create a superuser first")
        serializer = StudySpecSerializer(data=raw)
        if not serializer.is_valid():
            problems = _flatten(serializer.errors)
        else:
            try:
                study = study_create_from_spec(
                    owner=owner,
                    spec=serializer.validated_data,
                    slug=serializer.validated_data.get("slug"),
                )
            except ServiceError as exc:
                problems = exc.problems
            else:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Created study {study.name!r} (slug {study.slug}, id {study.pk}): "
                        f"{study.items.count()} items × {study.edit_models.count()} models"
                    )
                )
                return
        lines = "\n".join(f"  - {p}" for p in problems)
        raise CommandError(
            f"Nothing was created; the spec has {len(problems)} problem(s):\n{lines}"
        )
