"""Stored file names and the constraint helper the model modules share."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.db import models
from django.db.models import Q


def random_file_name(folder: str, filename: str) -> str:
    # Uploaded files (benchmark items, external models' outputs) are stored under a random
    # name; generated edits under a keyed hash of their job (services.generation.job_file_name).
    # Raters never see a stored name (their images are served by assignment and side), but
    # staff pages, the API and the storage do, so no name carries a model, prompt or item id.
    suffix = PurePath(filename).suffix.lower() or ".png"
    return f"{folder}/{uuid.uuid4().hex}{suffix}"


def item_image_path(instance: models.Model, filename: str) -> str:
    return random_file_name("items", filename)


def edit_image_path(instance: models.Model, filename: str) -> str:
    return random_file_name("edits", filename)


def field_in(field: str, values: tuple[str, ...]) -> Q:
    return Q(**{f"{field}__in": list(values)})
