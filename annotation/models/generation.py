"""Models under evaluation, their generation jobs and the edits they made."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from annotation import categories as cat
from annotation.models.base import edit_image_path, field_in
from annotation.models.benchmarks import BenchmarkItem


def _kind_needs(kind: str, field: str) -> models.CheckConstraint:
    """A model of ``kind`` must have ``field`` filled in."""
    return models.CheckConstraint(
        condition=~Q(kind=kind) | ~Q(**{field: ""}), name=f"editmodel_{kind}_has_{field}"
    )


class EditModel(models.Model):
    class Kind(models.TextChoices):
        CASCADE = "cascade", "In-repo cascade"
        BASELINE = "baseline", "Baseline (anchor)"
        EXTERNAL = "external", "External (uploaded outputs)"
        DIFFUSERS = "diffusers", "Local diffusers pipeline"
        HTTP = "http", "HTTP endpoint"

    # Shown to admins only; raters never see it (see the blinding tests).
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    preset = models.CharField(max_length=100, blank=True)
    # A checkpoint file, or a diffusers pipeline folder.
    checkpoint = models.CharField(max_length=500, blank=True)
    # Sampling and training facts and settings: guidance schedule, steps, masking policy.
    parameters = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    # The model card (staff only): where the model comes from, and its licence.
    source = models.CharField(max_length=500, blank=True)
    licence = models.CharField(max_length=200, blank=True)
    # The http kind: its endpoint, the NAME of the environment variable holding the
    # Authorization header (never the secret), the timeout and the requests per worker process.
    endpoint_url = models.URLField(max_length=500, blank=True)
    auth_env = models.CharField(max_length=100, blank=True)
    timeout_s = models.FloatField(default=120.0)
    concurrency = models.PositiveSmallIntegerField(default=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=field_in(
                    "kind", ("cascade", "baseline", "external", "diffusers", "http")
                ),
                name="editmodel_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(timeout_s__gt=0, concurrency__gte=1), name="editmodel_limits_positive"
            ),
            _kind_needs("cascade", "checkpoint"),
            _kind_needs("baseline", "preset"),
            _kind_needs("diffusers", "checkpoint"),
            _kind_needs("http", "endpoint_url"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    item = models.ForeignKey(BenchmarkItem, on_delete=models.CASCADE, related_name="jobs")
    model = models.ForeignKey(EditModel, on_delete=models.CASCADE, related_name="jobs")
    prompt_type = models.CharField(max_length=16, choices=cat.choices(cat.PROMPT_TYPES))
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Who holds the claim, as "host:pid"; the holder renews claimed_at while it works.
    claimed_by = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model", "prompt_type", "seed"], name="job_unique_per_edit"
            ),
            models.CheckConstraint(
                condition=field_in("prompt_type", cat.PROMPT_TYPES), name="job_prompt_type_valid"
            ),
            models.CheckConstraint(
                condition=field_in("status", ("queued", "running", "done", "failed")),
                name="job_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "model"], name="job_status_model_idx")]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class Edit(models.Model):
    item = models.ForeignKey(BenchmarkItem, on_delete=models.CASCADE, related_name="edits")
    model = models.ForeignKey(EditModel, on_delete=models.CASCADE, related_name="edits")
    prompt_type = models.CharField(max_length=16, choices=cat.choices(cat.PROMPT_TYPES))
    seed = models.BigIntegerField(default=0)
    job = models.OneToOneField(
        GenerationJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="edit"
    )
    image = models.ImageField(upload_to=edit_image_path)
    steps = models.PositiveIntegerField(null=True, blank=True)
    guidance = models.JSONField(default=dict, blank=True)
    wall_time_s = models.FloatField(null=True, blank=True)
    # What the generator reported, e.g. prompt words its text encoder never saw.
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model", "prompt_type", "seed"], name="edit_unique_per_item_model"
            ),
            models.CheckConstraint(
                condition=field_in("prompt_type", cat.PROMPT_TYPES), name="edit_prompt_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"edit {self.pk}"
