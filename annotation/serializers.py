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

TASKS = ("single", "pairwise")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "the name of an existing model"},
            {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["cascade", "baseline", "external"]},
                    "preset": {"type": "string"},
                    "checkpoint": {"type": "string"},
                    "parameters": {"type": "object"},
                    "description": {"type": "string"},
                },
            },
        ]
    }
)
class ModelRefField(serializers.Field[dict[str, Any], object, dict[str, Any], Any]):
    """A model named by name, or defined inline as {name, kind, preset, checkpoint, parameters}."""

    def to_internal_value(self, data: object) -> dict[str, Any]:
        if isinstance(data, str):
            return {"name": data}
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            unknown = set(data) - {
                "name",
                "kind",
                "preset",
                "checkpoint",
                "parameters",
                "description",
            }
            if unknown:
                raise serializers.ValidationError(f"unknown key(s): {', '.join(sorted(unknown))}")
            return dict(data)
        raise serializers.ValidationError("a model is a name or an object with a name")

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


class StudySpecSerializer(serializers.Serializer[dict[str, Any]]):
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
    raters_per_unit = serializers.IntegerField(min_value=1, max_value=100, default=3)
    gold_rate = serializers.FloatField(min_value=0, max_value=0.99, default=0.1)
    lease_minutes = serializers.IntegerField(min_value=1, max_value=1440, default=30)
    instructions = serializers.CharField(allow_blank=True, default="")
    # The rater's start page (empty: the default texts) and whether phones are turned away.
    welcome_text = serializers.CharField(allow_blank=True, default="")
    consent_text = serializers.CharField(allow_blank=True, default="")
    desktop_only = serializers.BooleanField(default=False)
    platform = serializers.ChoiceField(choices=("none", "prolific", "mturk"), default="none")
    completion_code = serializers.CharField(allow_blank=True, default="", max_length=100)
    completion_url = serializers.URLField(allow_blank=True, default="")
    max_tasks_per_rater = serializers.IntegerField(min_value=1, required=False, allow_null=True)
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


class EditModelSerializer(serializers.ModelSerializer[EditModel]):
    class Meta:
        model = EditModel
        fields = ("id", "name", "kind", "preset", "checkpoint", "parameters", "description")


class EditSerializer(serializers.ModelSerializer[Edit]):
    item = serializers.CharField(source="item.external_id")
    model = serializers.CharField(source="model.name")

    class Meta:
        model = Edit
        fields = ("id", "item", "model", "prompt_type", "seed", "image", "steps", "wall_time_s")


class StudySerializer(serializers.ModelSerializer[Study]):
    benchmark = serializers.StringRelatedField[Benchmark]()
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
            "units",
            "created_at",
            "launched_at",
            "closed_at",
        )
