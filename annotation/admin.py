"""Django admin: every model, with image, mask-overlay and edit thumbnails.

Benchmark content, judgments and assignments are read-only here: they are
written by the importer and the services, so the admin cannot bypass their
validation or the append-only rule for judgments.
"""

from __future__ import annotations

from typing import Any, Protocol

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
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
from annotation.selectors.studies import generation_counts
from annotation.services.edit_models import DEFINITION_FIELDS, edit_model_definition_problems
from annotation.services.errors import ServiceError
from annotation.services.generation import jobs_retry_failed
from annotation.services.runner import study_generate_background
from annotation.services.studies import study_close, study_launch, study_pause
from annotation.services.uploads import UploadReport, external_outputs_upload

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

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "version", "item_count", "created_at")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Benchmark]:
        # ModelAdmin has no __class_getitem__ at runtime (django_stubs_ext.monkeypatch() is
        # not called), so the admins here are unparameterised and the base queryset untyped.
        benchmarks: QuerySet[Benchmark] = super().get_queryset(request)
        return benchmarks.annotate(n_items=Count("items"))

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


class OutputsUploadForm(forms.Form):
    benchmark = forms.ModelChoiceField(queryset=Benchmark.objects.all())
    archive = forms.FileField(help_text="A zip of <item id>__<prompt type>.png files.")


class EditModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """The admin's model form, held to the same definition rules as the API and specs."""

    endpoint_url = forms.URLField(required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = EditModel
        fields = DEFINITION_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        definition = {k: v for k, v in cleaned.items() if k in DEFINITION_FIELDS}
        for key, text in edit_model_definition_problems(definition).items():
            if key in self.fields and key not in self.errors:
                self.add_error(key, text)
        return cleaned


@admin.register(EditModel)
class EditModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = EditModelForm
    list_display = ("name", "kind", "preset", "checkpoint", "progress", "last_error", "upload_link")
    list_filter = ("kind",)
    search_fields = ("name", "preset", "checkpoint", "endpoint_url")
    fieldsets = (
        (None, {"fields": ("name", "kind", "preset", "checkpoint", "parameters")}),
        ("Model card (staff only)", {"fields": ("description", "source", "licence")}),
        (
            "HTTP endpoint (kind http)",
            {
                "fields": ("endpoint_url", "auth_env", "timeout_s", "concurrency"),
                "description": "auth_env is the NAME of the environment variable on the "
                "workers that holds the Authorization header's value; the secret itself "
                "is never stored.",
            },
        ),
    )

    @admin.display(description="last job error")
    def last_error(self, obj: EditModel) -> str:
        # Why a model cannot generate (a missing pipeline folder, a refused answer).
        job = obj.jobs.filter(status="failed").order_by("-updated_at").first()
        return job.error[:200] if job else ""

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "<int:model_id>/upload/",
            self.admin_site.admin_view(self.upload_view),
            name="annotation_editmodel_upload",
        )
        return [upload, *super().get_urls()]

    @admin.display(description="jobs: queued / running / done / failed")
    def progress(self, obj: EditModel) -> str:
        counts = generation_counts(model=obj)
        return " / ".join(str(counts.get(s, 0)) for s in ("queued", "running", "done", "failed"))

    @admin.display(description="outputs")
    def upload_link(self, obj: EditModel) -> SafeString | str:
        if obj.kind != EditModel.Kind.EXTERNAL:
            return "generated"
        url = reverse("admin:annotation_editmodel_upload", args=[obj.pk])
        return format_html('<a href="{}">upload a zip</a>', url)

    def upload_view(self, request: HttpRequest, model_id: int) -> HttpResponse:
        model = get_object_or_404(EditModel, pk=model_id)
        if not self.has_change_permission(request, model):
            raise PermissionDenied
        report: UploadReport | None = None
        form = OutputsUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                report = external_outputs_upload(
                    model=model,
                    benchmark=form.cleaned_data["benchmark"],
                    archive=form.cleaned_data["archive"],
                )
            except ServiceError as exc:
                form.add_error("archive", exc.problems)
            else:
                level = messages.SUCCESS if report.ok else messages.ERROR
                summary = (
                    f"Stored {report.created} edits."
                    if report.ok
                    else "Nothing was stored: fix the files marked below and upload again."
                )
                self.message_user(request, summary, level)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Upload outputs of {model.name}",
            "model_obj": model,
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/annotation/editmodel/upload.html", context)


@admin.register(GenerationJob)
class GenerationJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "model", "prompt_type", "seed", "status", "attempts", "error")
    list_filter = ("status", "model", "prompt_type")
    search_fields = ("item__external_id", "error")
    actions = ["retry_failed"]

    @admin.action(description="Retry the selected failed jobs")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        count = jobs_retry_failed(job_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} failed job(s) queued again.", messages.SUCCESS)


@admin.register(Edit)
class EditAdmin(ReadOnlyAdmin):
    list_display = ("id", "edit_thumb", "item", "model", "prompt_type", "seed", "wall_time_s")
    list_filter = ("model", "prompt_type")
    search_fields = ("item__external_id",)

    @admin.display(description="edit")
    def edit_thumb(self, obj: Edit) -> SafeString | str:
        return thumbnail(obj.image.url if obj.image else None, title="edit")


class _StudyAction(Protocol):
    """A study transition service (study_generate, study_launch, ...)."""

    def __call__(self, *, study: Study) -> object: ...


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Studies are created with the wizard (Add leads there), from spec files or the API,
    all validated by the services; the admin shows them, runs their transitions and links to
    the dashboard."""

    list_display = (
        "name",
        "slug",
        "status",
        "task_single",
        "task_pairwise",
        "raters_per_unit",
        "dashboard",
    )
    list_filter = ("status",)
    search_fields = ("name", "slug")
    readonly_fields = ("status", "launched_at", "closed_at")
    filter_horizontal = ("edit_models",)
    raw_id_fields = ("items",)
    actions = ["generate", "launch", "pause", "close"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Add opens the study wizard (add_view), which validates a whole spec like
        # create_study and POST /api/v1/studies/; the admin's own add form never shows.
        return bool(getattr(request.user, "is_staff", False))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("study-new")

    def has_change_permission(self, request: HttpRequest, obj: Study | None = None) -> bool:
        return obj is None and bool(getattr(request.user, "is_staff", False))

    @admin.display(description="dashboard")
    def dashboard(self, obj: Study) -> SafeString:
        return format_html('<a href="{}">open</a>', reverse("study-dashboard", args=[obj.pk]))

    def _run(
        self,
        request: HttpRequest,
        queryset: QuerySet[Study],
        action: _StudyAction,
        done: str,
    ) -> None:
        for study in queryset:
            try:
                action(study=study)
            except ServiceError as exc:
                self.message_user(
                    request, f"{study.name}: {'; '.join(exc.problems)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{study.name}: {done}", messages.SUCCESS)

    @admin.action(description="Generate the missing edits (in the background)")
    def generate(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        # Never inside this request: enqueued for the workers, or the background runner.
        self._run(
            request,
            queryset,
            study_generate_background,
            "generation started in the background; its dashboard shows the progress",
        )

    @admin.action(description="Launch (or resume)")
    def launch(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._run(request, queryset, study_launch, "live")

    @admin.action(description="Pause")
    def pause(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._run(request, queryset, study_pause, "paused")

    @admin.action(description="Close")
    def close(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        self._run(request, queryset, study_close, "closed")


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
