"""Benchmarks and their items (image, mask, prompts, categories, target)."""

from __future__ import annotations

from django.db import models

from annotation import categories as cat
from annotation.models.base import field_in, item_image_path

_IMPORTED = cat.IMPORTED_CATEGORY_FIELDS


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
    # Category fields also take cat.UNKNOWN: an imported release item the value table cannot
    # place (analysis/editbench_release.py) is kept, not guessed.
    source = models.CharField(max_length=16, choices=cat.choices(_IMPORTED["source"]))
    # A prompt is empty only where the source lacks that style (BrushNet's copy: one caption).
    prompt_mask_simple = models.TextField(blank=True)
    prompt_mask_rich = models.TextField(blank=True)
    prompt_full_image = models.TextField(blank=True)
    object_type = models.CharField(max_length=16, choices=cat.choices(_IMPORTED["object_type"]))
    attribute_type = models.CharField(
        max_length=16, choices=cat.choices(_IMPORTED["attribute_type"])
    )
    scene = models.CharField(max_length=16, choices=cat.choices(_IMPORTED["scene"]))
    style = models.CharField(max_length=16, choices=cat.choices(_IMPORTED["style"]))
    # The structured target the questions are built from: object noun,
    # attribute values, and which object the tested attribute is bound to.
    target = models.JSONField(default=dict)
    seed = models.BigIntegerField(null=True, blank=True)
    # Whatever else the source said about the item: columns beyond ours, the release's aos key.
    extra = models.JSONField(default=dict, blank=True)
    # Resized derivatives made once per item (images.DERIVATIVE_SIDES), so no request resizes
    # an image: the rater's input, its region's outline, and the staff thumbnail (region tinted).
    display = models.ImageField(upload_to=item_image_path, blank=True)
    # The two-tone outline of the edit region at the display's size, laid over the images.
    outline = models.ImageField(upload_to=item_image_path, blank=True)
    thumbnail = models.ImageField(upload_to=item_image_path, blank=True)
    # sha256 over the manifest row and the file contents; re-imports compare it.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark", "external_id"], name="item_external_id_unique"
            ),
            *(
                models.CheckConstraint(
                    condition=field_in(column, values), name=f"item_{column}_valid"
                )
                for column, values in _IMPORTED.items()
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
