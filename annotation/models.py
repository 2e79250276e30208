"""The data model of ARCHITECTURE.md §3.

Invariants live in the database (unique and check constraints), not only in
Python, so that concurrent writers and hand-made SQL cannot break them. Every
write goes through annotation/services/.

The rules that the task page's two paths share (the ORM code of services.assignments and
services.judgments, and the prepared statements of services.task_sql) are named at the end
of this module, so that both build on one definition.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet, Subquery
from django.utils import timezone

from annotation import categories as cat


def _random_name(folder: str, filename: str) -> str:
    # Uploaded files (benchmark items, external models' outputs) are stored under a random
    # name; generated edits under a keyed hash of their job (services.generation.job_file_name).
    # Raters never see a stored name (their images are served by assignment and side), but
    # staff pages, the API and the storage do, so no name carries a model, prompt or item id.
    suffix = PurePath(filename).suffix.lower() or ".png"
    return f"{folder}/{uuid.uuid4().hex}{suffix}"


def item_image_path(instance: BenchmarkItem, filename: str) -> str:
    return _random_name("items", filename)


def edit_image_path(instance: Edit, filename: str) -> str:
    return _random_name("edits", filename)


def _in(field: str, values: tuple[str, ...]) -> Q:
    return Q(**{f"{field}__in": list(values)})


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
            models.CheckConstraint(condition=_in("source", cat.SOURCES), name="item_source_valid"),
            models.CheckConstraint(
                condition=_in("object_type", cat.OBJECT_TYPES), name="item_object_type_valid"
            ),
            models.CheckConstraint(
                condition=_in("attribute_type", cat.ATTRIBUTE_TYPES),
                name="item_attribute_type_valid",
            ),
            models.CheckConstraint(condition=_in("scene", cat.SCENES), name="item_scene_valid"),
            models.CheckConstraint(condition=_in("style", cat.STYLES), name="item_style_valid"),
        ]
        ordering = ["benchmark", "external_id"]

    def __str__(self) -> str:
        return self.external_id

    def prompt(self, prompt_type: str) -> str:
        """The prompt of one of the three EditBench prompt styles."""
        if prompt_type not in cat.PROMPT_FIELDS:
            raise ValueError(f"unknown prompt type {prompt_type!r}")
        return str(getattr(self, cat.PROMPT_FIELDS[prompt_type]))


class EditModel(models.Model):
    class Kind(models.TextChoices):
        CASCADE = "cascade", "In-repo cascade"
        BASELINE = "baseline", "Baseline (anchor)"
        EXTERNAL = "external", "External (uploaded outputs)"

    # Shown to admins only; raters never see it (see the blinding tests).
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    preset = models.CharField(max_length=100, blank=True)
    checkpoint = models.CharField(max_length=200, blank=True)
    # Sampling and training facts: guidance schedule, steps, masking policy.
    parameters = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_in("kind", ("cascade", "baseline", "external")),
                name="editmodel_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind="cascade") | ~Q(checkpoint=""),
                name="editmodel_cascade_has_checkpoint",
            ),
            models.CheckConstraint(
                condition=~Q(kind="baseline") | ~Q(preset=""),
                name="editmodel_baseline_has_preset",
            ),
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
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "model", "prompt_type", "seed"], name="job_unique_per_edit"
            ),
            models.CheckConstraint(
                condition=_in("prompt_type", cat.PROMPT_TYPES), name="job_prompt_type_valid"
            ),
            models.CheckConstraint(
                condition=_in("status", ("queued", "running", "done", "failed")),
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
                condition=_in("prompt_type", cat.PROMPT_TYPES), name="edit_prompt_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"edit {self.pk}"


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        GENERATING = "generating"
        READY = "ready"
        LIVE = "live"
        PAUSED = "paused"
        CLOSED = "closed"

    class Platform(models.TextChoices):
        NONE = "none", "Internal raters only"
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "Amazon Mechanical Turk"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_studies"
    )
    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="studies")
    task_single = models.BooleanField(default=True)
    task_pairwise = models.BooleanField(default=False)
    items = models.ManyToManyField(BenchmarkItem, related_name="studies", blank=True)
    edit_models = models.ManyToManyField(EditModel, related_name="studies", blank=True)
    # Subset of PROMPT_TYPES; side-by-side units use Mask-Rich prompts only.
    prompt_types = models.JSONField(default=list)
    raters_per_unit = models.PositiveIntegerField(default=3)
    gold_rate = models.FloatField(default=0.1)
    lease_minutes = models.PositiveIntegerField(default=30)
    instructions = models.TextField(blank=True)
    # The rater's start page (empty: a default text); desktop_only turns phones away.
    welcome_text = models.TextField(blank=True)
    consent_text = models.TextField(blank=True)
    desktop_only = models.BooleanField(default=False)
    platform = models.CharField(max_length=16, choices=Platform.choices, default=Platform.NONE)
    completion_code = models.CharField(max_length=100, blank=True)
    completion_url = models.URLField(blank=True)
    max_tasks_per_rater = models.PositiveIntegerField(null=True, blank=True)
    # When a rater is excluded: e.g. {"min_gold_accuracy": 0.7, "min_median_seconds": 2}.
    quality_rules = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(task_single=True) | Q(task_pairwise=True),
                name="study_has_a_task_kind",
            ),
            models.CheckConstraint(
                condition=Q(raters_per_unit__gte=1), name="study_raters_per_unit_positive"
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lt=1), name="study_gold_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=1), name="study_lease_minutes_positive"
            ),
            models.CheckConstraint(
                condition=_in(
                    "status", ("draft", "generating", "ready", "live", "paused", "closed")
                ),
                name="study_status_valid",
            ),
            models.CheckConstraint(
                condition=_in("platform", ("none", "prolific", "mturk")),
                name="study_platform_valid",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


# The largest id a key (BigAutoField) can hold: any larger number names no row.
MAX_ID = 2**63 - 1

SHUFFLE_KEYS = 2**31 - 1  # shuffle keys are drawn from [0, SHUFFLE_KEYS)


def shuffle_key() -> int:
    """A random place in a study's fixed random order of units (see ``StudyUnit.shuffle``)."""
    return random.randrange(SHUFFLE_KEYS)


class StudyUnit(models.Model):
    """What one rater judges once: an edit with its questions, or a pair of edits."""

    class Kind(models.TextChoices):
        SINGLE = "single"
        PAIRWISE = "pairwise"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="units")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    prompt_type = models.CharField(max_length=16, choices=cat.choices(cat.PROMPT_TYPES))
    edit_a = models.ForeignKey(Edit, on_delete=models.PROTECT, related_name="units_as_a")
    edit_b = models.ForeignKey(
        Edit, on_delete=models.PROTECT, related_name="units_as_b", null=True, blank=True
    )
    # The questions shown, built from the item's structured target.
    questions = models.JSONField(default=list)
    is_gold = models.BooleanField(default=False)
    # Assignments holding a slot of this unit (leased or submitted), changed by the services
    # only under the unit's row lock and in the transaction that changes them, so the next-task
    # query picks the emptiest units by an index and, read under the lock, it decides whether a
    # lease is given. Leases past their expiry stay counted until
    # ``services.assignments.assignments_expire`` marks them (never more than K, possibly
    # briefly fewer).
    slots_taken = models.PositiveIntegerField(default=0)
    # The unit's place in a random order fixed when it is created. The next-task query starts
    # at a random key among the emptiest units and follows an index from there, which breaks
    # ties at random without sorting every open unit of the study on each request.
    shuffle = models.IntegerField(default=shuffle_key)
    gold_answer = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_in("kind", ("single", "pairwise")), name="unit_kind_valid"
            ),
            models.CheckConstraint(
                condition=_in("prompt_type", cat.PROMPT_TYPES), name="unit_prompt_type_valid"
            ),
            models.CheckConstraint(
                condition=(Q(kind="single") & Q(edit_b__isnull=True))
                | (Q(kind="pairwise") & Q(edit_b__isnull=False) & ~Q(edit_a=models.F("edit_b"))),
                name="unit_edits_match_kind",
            ),
            models.CheckConstraint(
                condition=Q(is_gold=False) | Q(gold_answer__isnull=False),
                name="unit_gold_has_answer",
            ),
        ]
        indexes = [
            models.Index(fields=["study", "kind"], name="unit_study_kind_idx"),
            models.Index(
                fields=["study", "is_gold", "slots_taken", "shuffle"], name="unit_open_order_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"unit {self.pk} ({self.kind})"


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_in("platform", ("internal", "prolific", "mturk", "simulated")),
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
                condition=_in("status", ("leased", "submitted", "expired", "skipped")),
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


# --- The rules both rater paths share ---------------------------------------------------------
# The task page's calls decide these twice: through the ORM (services.assignments and
# services.judgments), which handles every case, and in the prepared statements of
# services.task_sql, which handle the common case in one or two statements on PostgreSQL. Both
# build on the names below; task_sql interpolates the status values once, at import.

# A study hands out tasks only while live; it still takes answers to leases already given
# while paused.
STUDY_STATUS_HANDING_OUT_TASKS: str = Study.Status.LIVE
STUDY_STATUSES_TAKING_ANSWERS: tuple[str, ...] = (Study.Status.LIVE, Study.Status.PAUSED)


def live_lease(prefix: str = "") -> Q:
    """A lease not yet expired; ``prefix`` reaches assignments through a relation."""
    return Q(
        **{
            f"{prefix}status": Assignment.Status.LEASED,
            f"{prefix}lease_expires_at__gt": timezone.now(),
        }
    )


def lease_is_live(*, status: str, lease_expires_at: datetime, now: datetime) -> bool:
    """:func:`live_lease` for one assignment already read: leased, and not expired at ``now``."""
    return status == Assignment.Status.LEASED and lease_expires_at > now


def expired_lease() -> Q:
    """A lease past its expiry that is not marked expired yet (what the expiry run marks)."""
    return Q(status=Assignment.Status.LEASED, lease_expires_at__lte=timezone.now())


def live_assignment(prefix: str = "") -> Q:
    """An assignment that holds its slot: submitted, or leased and not expired.

    Expiry is decided by the clock here, so no request has to mark leases
    expired first; ``services.assignments.assignments_expire`` only updates the bookkeeping.
    The per-rater cap and the left/right balance of a pair count these.
    """
    return Q(**{f"{prefix}status": Assignment.Status.SUBMITTED}) | live_lease(prefix)


def rater_takes_tasks(rater: Rater) -> bool:
    """An excluded rater gets no task, not even a lease already held (their judgments stay)."""
    return not rater.excluded


def study_caps_raters(study: Study) -> bool:
    """Whether the study limits the tasks one rater takes (``max_tasks_per_rater``)."""
    return study.max_tasks_per_rater is not None


def rater_cap_reached(*, study: Study, tasks: int) -> bool:
    """Whether a rater holding or having submitted ``tasks`` live assignments (see
    :func:`live_assignment`) of the study may take no more; never without a cap."""
    cap = study.max_tasks_per_rater
    return cap is not None and tasks >= cap


def pair_a_on_left(*, left: int, right: int) -> bool | None:
    """Where edit A of a pair goes, given how many of the unit's live assignments show it on
    the left and on the right: on the side it is shown less, so the order is counterbalanced
    over the unit's raters; None when even (then a coin decides)."""
    if left == right:
        return None
    return left < right


def units_unseen(*, rater: Rater, study: Study, gold: bool) -> QuerySet[StudyUnit]:
    """The study's units (gold or not) that the rater has never been assigned, in any status."""
    seen = Assignment.objects.filter(rater=rater, study=study).values("unit_id")
    return StudyUnit.objects.filter(study=study, is_gold=gold).exclude(pk__in=seen)


def units_open(units: QuerySet[StudyUnit], *, study: Study) -> QuerySet[StudyUnit]:
    """Units with a slot left below K by the slot counter (gold units are not capped at K:
    every rater should meet some)."""
    return units.filter(slots_taken__lt=study.raters_per_unit)


def emptiest_level(units: QuerySet[StudyUnit]) -> Subquery:
    """The lowest slot count among ``units``, as a subquery the picking statement evaluates
    once: the next task comes from the emptiest open units, at random among them."""
    return Subquery(units.order_by("slots_taken").values("slots_taken")[:1])
