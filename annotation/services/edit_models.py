"""The rules of an EditModel definition, shared by the service that creates models, the API's
serializer and inline models in a study spec, so all three refuse the same things."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from annotation.models import EditModel
from inference.external.diffusers_model import DiffusersSettings

KINDS: tuple[str, ...] = tuple(EditModel.Kind.values)
BASELINE_PRESETS = ("identity", "blur_fill", "reference")
# Text fields and their length limits (the columns' max_length; TextField: None).
TEXT_FIELDS: dict[str, int | None] = {
    "name": 100,
    "preset": 100,
    "checkpoint": 500,
    "description": None,
    "source": 500,
    "licence": 200,
    "endpoint_url": 500,
    "auth_env": 100,
}
DEFINITION_FIELDS = (*TEXT_FIELDS, "kind", "parameters", "timeout_s", "concurrency")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text_problems(definition: dict[str, Any]) -> dict[str, str]:
    problems = {}
    for key, limit in TEXT_FIELDS.items():
        value = definition.get(key, "")
        if not isinstance(value, str):
            problems[key] = f"must be a string, not {type(value).__name__}"
        elif "\x00" in value:
            problems[key] = "must not contain a NUL character"
        elif limit is not None and len(value) > limit:
            problems[key] = f"is {len(value)} characters; at most {limit}"
    if not definition.get("name"):
        problems.setdefault("name", "is required")
    return problems


def _limit_problems(definition: dict[str, Any]) -> dict[str, str]:
    """The timeout and the concurrency: checked for every kind, since the database holds every
    row to them (constraint editmodel_limits_positive)."""
    problems = {}
    timeout = definition.get("timeout_s", 120.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        problems["timeout_s"] = "must be a number of seconds, more than 0 and at most 3600"
    concurrency = definition.get("concurrency", 4)
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= 64
    ):
        problems["concurrency"] = "must be an integer from 1 to 64"
    return problems


def _http_problems(definition: dict[str, Any]) -> dict[str, str]:
    problems = {}
    url = definition.get("endpoint_url", "")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        problems["endpoint_url"] = f"an http model needs an http(s) URL, not {url!r}"
    auth_env = definition.get("auth_env", "")
    if auth_env and not ENV_NAME.fullmatch(auth_env):
        problems["auth_env"] = (
            "is the NAME of an environment variable holding the header's value "
            "(letters, digits, _), never the secret itself"
        )
    return problems


def _kind_problems(kind: str, definition: dict[str, Any]) -> dict[str, str]:
    if kind == "cascade" and not definition.get("checkpoint"):
        return {"checkpoint": "a cascade model needs a checkpoint"}
    if kind == "baseline" and definition.get("preset") not in BASELINE_PRESETS:
        return {"preset": f"a baseline needs a preset: {', '.join(BASELINE_PRESETS)}"}
    if kind == "diffusers":
        if not definition.get("checkpoint"):
            return {"checkpoint": "a diffusers model needs its pipeline folder (a local path)"}
        try:
            DiffusersSettings.from_parameters(definition.get("parameters") or {})
        except ValueError as exc:
            return {"parameters": str(exc)}
    if kind == "http":
        return _http_problems(definition)
    return {}


def edit_model_definition_problems(definition: dict[str, Any]) -> dict[str, str]:
    """What is wrong with a model definition, by field; empty when it is valid."""
    unknown = sorted(set(definition) - set(DEFINITION_FIELDS))
    if unknown:
        return {key: "is not a model field" for key in unknown}
    problems = {**_text_problems(definition), **_limit_problems(definition)}
    kind = definition.get("kind")
    if kind not in KINDS:
        problems["kind"] = f"must be one of {', '.join(KINDS)}"
    parameters = definition.get("parameters", {})
    if parameters is not None and not isinstance(parameters, dict):
        problems["parameters"] = "must be an object"
    elif "\\u0000" in json.dumps(parameters):  # PostgreSQL's jsonb cannot store it
        problems["parameters"] = "must not contain a NUL character"
    if problems:
        return problems
    return _kind_problems(str(kind), definition)
