"""Benchmarks and their items (image, mask, prompts, categories, target)."""

from __future__ import annotations

from django.db import models

from annotation import categories as cat
from annotation.models.base import field_in, item_image_path


class Benchmark(models.Model):
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=40, default="1")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version"], name="benchmark_name_version_unique"
            ),
        ]
        ordering = ["name", "version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class BenchmarkItem(models.Model):
    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="items")
    external_id = models.CharField(max_length=100)
    image = models.ImageField(upload_to=item_image_path, width_field="width", height_field="height")
    mask = models.ImageField(upload_to=item_image_path)
    reference = models.ImageField(upload_to=item_image_path, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=16, choices=cat.choices(cat.SOURCES))
    prompt_mask_simple = models.TextField()
    prompt_mask_rich = models.TextField()
    prompt_full_image = models.TextField()
    object_type = models.CharField(max_length=16, choices=cat.choices(cat.OBJECT_TYPES))
    attribute_type = models.CharField(max_length=16, choices=cat.choices(cat.ATTRIBUTE_TYPES))
    scene = models.CharField(max_length=16, choices=cat.choices(cat.SCENES))
    style = models.CharField(max_length=16, choices=cat.choices(cat.STYLES))
    # The structured target the questions are built from: object noun,
    # attribute values, and which object the tested attribute is bound to.
    target = models.JSONField(default=dict)
    seed = models.BigIntegerField(null=True, blank=True)
    # sha256 over the manifest row and the file contents; re-imports compare it.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark", "external_id"], name="item_external_id_unique"
            ),
            models.CheckConstraint(
                condition=field_in("source", cat.SOURCES), name="item_source_valid"
            ),
            models.CheckConstraint(
                condition=field_in("object_type", cat.OBJECT_TYPES), name="item_object_type_valid"
            ),
            models.CheckConstraint(
                condition=field_in("attribute_type", cat.ATTRIBUTE_TYPES),
                name="item_attribute_type_valid",
            ),
            models.CheckConstraint(
                condition=field_in("scene", cat.SCENES), name="item_scene_valid"
            ),
            models.CheckConstraint(
                condition=field_in("style", cat.STYLES), name="item_style_valid"
            ),
        ]
        ordering = ["benchmark", "external_id"]

    def __str__(self) -> str:
        return self.external_id

    def prompt(self, prompt_type: str) -> str:
        """The prompt of one of the three EditBench prompt styles."""
        if prompt_type not in cat.PROMPT_FIELDS:
            raise ValueError(f"unknown prompt type {prompt_type!r}")
        return str(getattr(self, cat.PROMPT_FIELDS[prompt_type]))
