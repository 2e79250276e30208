"""Input and output shapes of the API and of study spec files.

Serializers validate and resolve references (read-only); every write is a
service call made by the caller, which turns a validated spec into the services'
``StudySpec`` with ``services.studies.study_spec_from_data``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation import categories as cat
from annotation.models import Benchmark, BenchmarkItem, Edit, EditModel, Study
from annotation.services.edit_models import (
    DEFINITION_FIELDS,
    KINDS,
    edit_model_definition_problems,
)

TASKS = ("single", "pairwise")
# More tasks than any study has units; within the database column's range.
MAX_TASKS_PER_RATER = 1_000_000


def nul_problems(value: object, path: str) -> list[str]:
    """Where a NUL character hides in a JSON value (keys included): no database text
    column takes one, so it must be a 400 here rather than a driver error later."""
    if isinstance(value, str):
        return (
            [f"{path or 'the request'}: the text contains a NUL character (\\u0000)"]
            if "\x00" in value
            else []
        )
    if isinstance(value, dict):
        found = []
        for key, inner in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                found.append(f"{path or 'the request'}: a key contains a NUL character (\\u0000)")
            found += nul_problems(inner, name.replace("\x00", "\\u0000"))
        return found
    if isinstance(value, list):
        return [p for i, inner in enumerate(value) for p in nul_problems(inner, f"{path}[{i}]")]
    return []


class NoNulMixin:
    """Refuses NUL characters anywhere in the input, naming the field."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors = {}
            for key, value in data.items():
                problems = nul_problems({key: value}, "")
                if problems:
                    errors[str(key).replace("\x00", "\\u0000")] = problems
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class EditModelSerializer(NoNulMixin, serializers.ModelSerializer[EditModel]):
    """A model and its card (staff only, like the whole API). ``auth_env`` is the name of
    the environment variable that holds the auth header on the workers, never the secret."""

    # An object, never null: "no parameters" is {}.
    parameters = serializers.DictField(required=False)

    class Meta:
        model = EditModel
        fields = (
            "id",
            "name",
            "kind",
            "preset",
            "checkpoint",
            "parameters",
            "description",
            "source",
            "licence",
            "endpoint_url",
            "auth_env",
            "timeout_s",
            "concurrency",
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems = edit_model_definition_problems(attrs)
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


_MODEL_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "maxLength": 100},
    "kind": {"type": "string", "enum": list(KINDS)},
    "preset": {"type": "string"},
    "checkpoint": {"type": "string", "description": "cascade checkpoint or pipeline folder"},
    "parameters": {"type": "object"},
    "description": {"type": "string"},
    "source": {"type": "string"},
    "licence": {"type": "string"},
    "endpoint_url": {"type": "string", "format": "uri"},
    "auth_env": {"type": "string", "description": "NAME of the variable with the auth header"},
    "timeout_s": {"type": "number"},
    "concurrency": {"type": "integer"},
}


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "the name of an existing model"},
            {"type": "object", "required": ["name", "kind"], "properties": _MODEL_PROPERTIES},
        ]
    }
)
class ModelRefField(serializers.Field[dict[str, Any], object, dict[str, Any], Any]):
    """A model named by name, or defined inline as {name, kind, preset, checkpoint, …}.

    An inline definition is checked by the same rules as the models API, so a wrong type
    (``"checkpoint": ["x"]``) is refused here, naming the key, instead of stored."""

    def to_internal_value(self, data: object) -> dict[str, Any]:
        if isinstance(data, str):
            if not 0 < len(data) <= 100:
                raise serializers.ValidationError("a model name has 1 to 100 characters")
            return {"name": data}
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise serializers.ValidationError("a model is a name or an object with a name")
        if "kind" not in data:  # a reference to an existing model by name
            unknown = sorted(set(data) - set(DEFINITION_FIELDS))
            if unknown:
                raise serializers.ValidationError(f"unknown key(s): {', '.join(unknown)}")
            return dict(data)
        problems = edit_model_definition_problems(dict(data))
        if problems:
            raise serializers.ValidationError(
                [f"{data['name']!r}: {key} {text}" for key, text in problems.items()]
            )
        return dict(data)

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class StudySpecSerializer(NoNulMixin, serializers.Serializer[dict[str, Any]]):
    """A study as written in a spec file (YAML/JSON) or posted to the API."""

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=80, required=False)
    benchmark = serializers.CharField(help_text="benchmark name, or name@version")
    items = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="filter by category, e.g. {object_type: [common, rare]}; "
        "or {id: [eb-0001, …]}; all items when absent",
    )
    models = serializers.ListField(child=ModelRefField(), min_length=1)
    prompt_types = serializers.ListField(
        child=serializers.ChoiceField(choices=cat.PROMPT_TYPES), default=list(cat.PROMPT_TYPES)
    )
    tasks = serializers.ListField(
        child=serializers.ChoiceField(choices=TASKS), min_length=1, default=["single"]
    )
    raters_per_unit = serializers.IntegerField(
        min_value=1,
        max_value=100,
        default=3,
        help_text="K: judgments per unit; with a precision target the most a unit gets (K_max)",
    )
    # Precision targets (adaptive allocation); none: every unit gets K.
    target_half_width = serializers.FloatField(
        min_value=0.001,
        max_value=0.499,
        required=False,
        allow_null=True,
        default=None,
        help_text="single-image: 95% half-width wanted per model × prompt type",
    )
    target_by_category = serializers.BooleanField(
        default=False, help_text="the target per model × prompt type × object type"
    )
    pairwise_target = serializers.ChoiceField(
        choices=("none", "half-width", "decide"),
        default="none",
        help_text="side-by-side: a half-width, or decide (the interval excludes 0.5)",
    )
    pairwise_half_width = serializers.FloatField(
        min_value=0.001, max_value=0.499, required=False, allow_null=True, default=None
    )
    decide_alpha = serializers.FloatField(min_value=0.001, max_value=0.499, default=0.05)
    k_min = serializers.IntegerField(
        min_value=1, max_value=100, default=1, help_text="judgments every unit gets first"
    )
    judgment_budget = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text="most judgments handed out in all (precision targets)",
    )
    gold_rate = serializers.FloatField(min_value=0, max_value=0.99, default=0.1)
    lease_minutes = serializers.IntegerField(min_value=1, max_value=1440, default=30)
    instructions = serializers.CharField(allow_blank=True, default="")
    # The rater's start page (empty: the default texts) and whether phones are turned away.
    welcome_text = serializers.CharField(allow_blank=True, default="")
    consent_text = serializers.CharField(allow_blank=True, default="")
    desktop_only = serializers.BooleanField(default=False)
    platform = serializers.ChoiceField(choices=("none", "prolific", "mturk"), default="none")
    completion_code = serializers.CharField(allow_blank=True, default="", max_length=100)
    completion_url = serializers.URLField(allow_blank=True, default="", max_length=200)
    max_tasks_per_rater = serializers.IntegerField(
        min_value=1, max_value=MAX_TASKS_PER_RATER, required=False, allow_null=True
    )
    quality_rules = serializers.DictField(child=serializers.FloatField(), default=dict)

    def validate_benchmark(self, value: str) -> Benchmark:
        name, _, version = value.partition("@")
        found = Benchmark.objects.filter(name=name, **({"version": version} if version else {}))
        benchmark = found.order_by("-created_at").first()
        if benchmark is None:
            raise serializers.ValidationError(f"no benchmark named {value!r}")
        return benchmark

    def validate_items(self, value: dict[str, list[str]]) -> dict[str, list[str]]:
        allowed = {**cat.CATEGORY_FIELDS, "id": ()}
        for key, values in value.items():
            if key not in allowed:
                raise serializers.ValidationError(
                    f"cannot filter by {key!r}; use id or {', '.join(cat.CATEGORY_FIELDS)}"
                )
            bad = [v for v in values if allowed[key] and v not in allowed[key]]
            if bad:
                raise serializers.ValidationError(f"unknown {key} value(s): {', '.join(bad)}")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        benchmark: Benchmark = attrs["benchmark"]
        filters = attrs.get("items") or {}
        items = BenchmarkItem.objects.filter(benchmark=benchmark)
        for key, values in filters.items():
            items = items.filter(**{("external_id" if key == "id" else key) + "__in": values})
        if "id" in filters:
            found = set(items.values_list("external_id", flat=True))
            missing = [i for i in filters["id"] if i not in found]
            if missing:
                raise serializers.ValidationError(
                    {"items": f"unknown item id(s): {', '.join(missing)}"}
                )
        attrs["item_list"] = list(items.order_by("external_id"))
        return attrs

    def validate_models(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        errors = [
            f"no model named {ref['name']!r}; define it inline with its kind"
            for ref in value
            if set(ref) == {"name"} and not EditModel.objects.filter(name=ref["name"]).exists()
        ]
        names = [ref["name"] for ref in value]
        if len(set(names)) != len(names):
            errors.append("a model is listed twice")
        if errors:
            raise serializers.ValidationError(errors)
        return value


class BenchmarkSerializer(serializers.ModelSerializer[Benchmark]):
    items = serializers.IntegerField(source="items.count", read_only=True)

    class Meta:
        model = Benchmark
        fields = ("id", "name", "version", "description", "items", "created_at")


class BenchmarkItemSerializer(serializers.ModelSerializer[BenchmarkItem]):
    class Meta:
        model = BenchmarkItem
        fields = (
            "id",
            "external_id",
            "image",
            "mask",
            "reference",
            "width",
            "height",
            "source",
            "prompt_mask_simple",
            "prompt_mask_rich",
            "prompt_full_image",
            "object_type",
            "attribute_type",
            "scene",
            "style",
            "target",
        )


class EditSerializer(serializers.ModelSerializer[Edit]):
    item = serializers.CharField(source="item.external_id")
    model = serializers.CharField(source="model.name")

    class Meta:
        model = Edit
        fields = ("id", "item", "model", "prompt_type", "seed", "image", "steps", "wall_time_s")


class StudySerializer(serializers.ModelSerializer[Study]):
    benchmark = serializers.SerializerMethodField(
        help_text="name@version, as a study spec writes it"
    )
    models = serializers.SlugRelatedField[EditModel](
        source="edit_models", many=True, read_only=True, slug_field="name"
    )
    items = serializers.IntegerField(source="items.count", read_only=True)
    units = serializers.IntegerField(source="units.count", read_only=True)

    class Meta:
        model = Study
        fields = (
            "id",
            "name",
            "slug",
            "status",
            "benchmark",
            "items",
            "models",
            "prompt_types",
            "task_single",
            "task_pairwise",
            "raters_per_unit",
            "gold_rate",
            "lease_minutes",
            "instructions",
            "welcome_text",
            "consent_text",
            "desktop_only",
            "platform",
            "completion_code",
            "completion_url",
            "max_tasks_per_rater",
            "quality_rules",
            "target_half_width",
            "target_by_category",
            "pairwise_target",
            "pairwise_half_width",
            "decide_alpha",
            "k_min",
            "judgment_budget",
            "adaptive_state",
            "units",
            "created_at",
            "launched_at",
            "closed_at",
        )

    def get_benchmark(self, study: Study) -> str:
        return f"{study.benchmark.name}@{study.benchmark.version}"
