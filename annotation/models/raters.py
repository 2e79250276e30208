"""Raters, their assignments (leases), judgments and broken-item reports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.base import field_in
from annotation.models.studies import Study, StudyUnit


class Rater(models.Model):
    """A Django user, or a crowd participant known only by a salted hash of their id."""

    class Platform(models.TextChoices):
        INTERNAL = "internal"
        PROLIFIC = "prolific"
        MTURK = "mturk"
        SIMULATED = "simulated"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rater",
    )
    platform = models.CharField(max_length=16, choices=Platform.choices)
    # NULL (not "") for internal raters, so the unique constraint ignores them.
    participant_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    excluded = models.BooleanField(default=False)
    exclusion_reason = models.TextField(blank=True)
    simulated = models.BooleanField(default=False)
    # Keyed hash of the client address a crowd identity first arrived from: new identities are
    # rate-limited per address (services.raters.crowd_rater_enter). Empty for others.
    origin = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=field_in("platform", ("internal", "prolific", "mturk", "simulated")),
                name="rater_platform_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(platform="internal")
                    & Q(user__isnull=False)
                    & Q(participant_hash__isnull=True)
                )
                | (
                    ~Q(platform="internal")
                    & Q(user__isnull=True)
                    & Q(participant_hash__isnull=False)
                ),
                name="rater_user_or_participant",
            ),
            models.UniqueConstraint(
                fields=["platform", "participant_hash"], name="rater_participant_unique"
            ),
        ]

    def __str__(self) -> str:
        if self.user_id is not None:
            return f"rater {self.pk} (user {self.user_id})"
        return f"rater {self.pk} ({self.platform})"


class Assignment(models.Model):
    class Status(models.TextChoices):
        LEASED = "leased"
        SUBMITTED = "submitted"
        EXPIRED = "expired"
        SKIPPED = "skipped"

    rater = models.ForeignKey(Rater, on_delete=models.PROTECT, related_name="assignments")
    unit = models.ForeignKey(StudyUnit, on_delete=models.PROTECT, related_name="assignments")
    # Denormalised from unit.study: assignment queries are always per study.
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="assignments")
    # Display order of a pair: True shows edit A on the left.
    a_on_left = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LEASED)
    leased_at = models.DateTimeField(auto_now_add=True)
    lease_expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rater", "unit"], name="assignment_rater_unit_unique"),
            models.CheckConstraint(
                condition=field_in("status", ("leased", "submitted", "expired", "skipped")),
                name="assignment_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="submitted") | Q(submitted_at__isnull=False),
                name="assignment_submitted_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status"], name="assignment_unit_status_idx"),
            models.Index(fields=["study", "rater", "status"], name="assignment_rater_idx"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Judgment(models.Model):
    """A rater's answers. Append-only: a correction is a new row that supersedes."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="judgments")
    answers = models.JSONField()
    # The overall verdict of a single-image judgment (every check yes); null for pairs.
    correct = models.BooleanField(null=True, blank=True)
    time_on_task_ms = models.PositiveIntegerField()
    # Chosen by the client; the same id twice records one judgment.
    client_submission_id = models.UUIDField(unique=True)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    simulated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One original judgment per assignment; later rows must supersede it.
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(supersedes__isnull=True),
                name="judgment_one_original_per_assignment",
            ),
            models.CheckConstraint(
                condition=~Q(supersedes=models.F("id")), name="judgment_not_self_superseding"
            ),
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk}"


class BrokenItemReport(models.Model):
    """A rater's "this item is broken" (image missing, prompt nonsensical, …)."""

    assignment = models.OneToOneField(
        Assignment, on_delete=models.PROTECT, related_name="broken_report"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"broken report {self.pk}"
