"""Django admin: every model, with image, mask-overlay and edit thumbnails.

Benchmark content, judgments and assignments are read-only here: they are
written by the importer and the services, so the admin cannot bypass their
validation or the append-only rule for judgments.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from annotation.models import (
    Assignment,
    Benchmark,
    BenchmarkItem,
    Edit,
    EditModel,
    GenerationJob,
    Judgment,
    Rater,
    Study,
    StudyUnit,
)

THUMB = 72


def thumbnail(url: str | None, *, size: int = THUMB, title: str = "") -> SafeString | str:
    if not url:
        return "—"
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="{}" title="{}" loading="lazy" '
        'style="image-rendering:pixelated;object-fit:contain;border:1px solid #ccc">',
        url,
        size,
        size,
        title,
        title,
    )


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Lists and details only; these rows are written by services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "version", "item_count", "created_at")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Benchmark]:
        return super().get_queryset(request).annotate(n_items=Count("items"))

    @admin.display(description="items", ordering="n_items")
    def item_count(self, obj: Any) -> int:
        return int(obj.n_items)


@admin.register(BenchmarkItem)
class BenchmarkItemAdmin(ReadOnlyAdmin):
    list_display = (
        "external_id",
        "image_thumb",
        "overlay_thumb",
        "reference_thumb",
        "prompt_mask_simple",
        "object_type",
        "attribute_type",
        "scene",
        "style",
        "source",
    )
    list_filter = ("benchmark", "object_type", "attribute_type", "scene", "style", "source")
    search_fields = ("external_id", "prompt_mask_simple", "prompt_mask_rich", "prompt_full_image")
    list_per_page = 60
    readonly_fields = ("image_large", "overlay_large", "reference_large")

    @admin.display(description="image")
    def image_thumb(self, obj: BenchmarkItem) -> SafeString | str:
        return thumbnail(obj.image.url if obj.image else None, title="input image")

    @admin.display(description="mask")
    def overlay_thumb(self, obj: BenchmarkItem) -> SafeString | str:
        return thumbnail(reverse("item-overlay", args=[obj.pk]), title="mask overlay")

    @admin.display(description="reference")
    def reference_thumb(self, obj: BenchmarkItem) -> SafeString | str:
        return thumbnail(obj.reference.url if obj.reference else None, title="reference")

    @admin.display(description="image")
    def image_large(self, obj: BenchmarkItem) -> SafeString | str:
        return thumbnail(obj.image.url if obj.image else None, size=256)

    @admin.display(description="mask overlay")
    def overlay_large(self, obj: BenchmarkItem) -> SafeString | str:
        return thumbnail(reverse("item-overlay", args=[obj.pk]), size=256)

    @admin.display(description="reference image")
    def reference_large(self, obj: BenchmarkItem) -> SafeString | str:
        return thumbnail(obj.reference.url if obj.reference else None, size=256)


@admin.register(EditModel)
class EditModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "preset", "checkpoint", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "preset", "checkpoint")


@admin.register(GenerationJob)
class GenerationJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "model", "prompt_type", "seed", "status", "attempts", "error")
    list_filter = ("status", "model", "prompt_type")
    search_fields = ("item__external_id", "error")


@admin.register(Edit)
class EditAdmin(ReadOnlyAdmin):
    list_display = ("id", "edit_thumb", "item", "model", "prompt_type", "seed", "wall_time_s")
    list_filter = ("model", "prompt_type")
    search_fields = ("item__external_id",)

    @admin.display(description="edit")
    def edit_thumb(self, obj: Edit) -> SafeString | str:
        return thumbnail(obj.image.url if obj.image else None, title="edit")


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "slug", "status", "task_single", "task_pairwise", "raters_per_unit")
    list_filter = ("status",)
    search_fields = ("name", "slug")
    readonly_fields = ("status", "launched_at", "closed_at")
    filter_horizontal = ("edit_models",)
    raw_id_fields = ("items",)


@admin.register(StudyUnit)
class StudyUnitAdmin(ReadOnlyAdmin):
    list_display = ("id", "study", "kind", "prompt_type", "edit_a_thumb", "edit_b_thumb", "is_gold")
    list_filter = ("study", "kind", "prompt_type", "is_gold")

    @admin.display(description="edit A")
    def edit_a_thumb(self, obj: StudyUnit) -> SafeString | str:
        return thumbnail(obj.edit_a.image.url if obj.edit_a_id else None)

    @admin.display(description="edit B")
    def edit_b_thumb(self, obj: StudyUnit) -> SafeString | str:
        return thumbnail(obj.edit_b.image.url if obj.edit_b is not None else None)


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "platform", "user", "excluded", "exclusion_reason", "simulated")
    list_filter = ("platform", "excluded", "simulated")
    readonly_fields = ("user", "platform", "participant_hash", "simulated", "created_at")


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "study", "rater", "unit", "status", "a_on_left", "lease_expires_at")
    list_filter = ("study", "status")


@admin.register(Judgment)
class JudgmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "assignment", "correct", "time_on_task_ms", "simulated", "created_at")
    list_filter = ("simulated", "correct")
