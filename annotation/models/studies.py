"""Studies and their units (one task: a single edit, or a pair, with its questions)."""

from __future__ import annotations

import random

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation import categories as cat
from annotation.models.base import field_in
from annotation.models.benchmarks import Benchmark, BenchmarkItem
from annotation.models.generation import Edit, EditModel


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        GENERATING = "generating"
        READY = "ready"
        LIVE = "live"
        PAUSED = "paused"
        CLOSED = "closed"

    class PairwiseTarget(models.TextChoices):
        NONE = "none"
        HALF_WIDTH = "half-width"
        DECIDE = "decide"

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
    # The participants of the platform's own export (services.raters.platform_export_upload),
    # as the same keyed hashes raters are stored under; the report can keep only these.
    platform_export = models.JSONField(default=list, blank=True)
    platform_export_at = models.DateTimeField(null=True, blank=True)
    # Precision targets (adaptive allocation, analysis/adaptive.py): with a target a unit gets
    # ``k_min`` judgments first and more, up to ``raters_per_unit`` (then K_max), only while
    # its cell's two-way 95% interval is wider than the target; ``judgment_budget`` caps the
    # judgments handed out in all. No target: every unit gets ``raters_per_unit`` (fixed K).
    target_half_width = models.FloatField(null=True, blank=True)
    target_by_category = models.BooleanField(default=False)
    pairwise_target = models.CharField(
        max_length=16, choices=PairwiseTarget.choices, default=PairwiseTarget.NONE
    )
    pairwise_half_width = models.FloatField(null=True, blank=True)
    decide_alpha = models.FloatField(default=0.05)
    k_min = models.PositiveIntegerField(default=1)
    judgment_budget = models.PositiveIntegerField(null=True, blank=True)
    # What the last allocation pass found, per cell (services.adaptive.adaptive_refresh), and
    # when: a small column, so rater requests need not load the state (see access.py).
    adaptive_state = models.JSONField(default=dict, blank=True)
    adaptive_refreshed_at = models.DateTimeField(null=True, blank=True)
    # The last pass found no cell still running (every target met, decided, at K_max or held
    # by the budget): raters finding nothing open need no further pass.
    adaptive_done = models.BooleanField(default=False)
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
                condition=field_in(
                    "status", ("draft", "generating", "ready", "live", "paused", "closed")
                ),
                name="study_status_valid",
            ),
            models.CheckConstraint(
                condition=field_in("platform", ("none", "prolific", "mturk")),
                name="study_platform_valid",
            ),
            models.CheckConstraint(
                condition=field_in("pairwise_target", ("none", "half-width", "decide")),
                name="study_pairwise_target_valid",
            ),
            models.CheckConstraint(
                condition=Q(k_min__gte=1) & Q(k_min__lte=models.F("raters_per_unit")),
                name="study_k_min_range",
            ),
            models.CheckConstraint(
                condition=Q(target_half_width__isnull=True)
                | (Q(target_half_width__gt=0) & Q(target_half_width__lt=0.5)),
                name="study_target_half_width_range",
            ),
            models.CheckConstraint(
                condition=Q(pairwise_half_width__isnull=True)
                | (Q(pairwise_half_width__gt=0) & Q(pairwise_half_width__lt=0.5)),
                name="study_pairwise_half_width_range",
            ),
            models.CheckConstraint(
                condition=Q(decide_alpha__gt=0) & Q(decide_alpha__lt=0.5),
                name="study_decide_alpha_range",
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
    # Judgments this unit is to get: K of a fixed-K study; under precision targets K_min at
    # launch, raised a round at a time (never above K) while the unit's cell is open. The
    # next-task query hands out units below it (gold units ignore it).
    wanted = models.PositiveIntegerField(default=0)
    # The unit's place in a random order fixed when it is created. The next-task query starts
    # at a random key among the emptiest units and follows an index from there, which breaks
    # ties at random without sorting every open unit of the study on each request.
    shuffle = models.IntegerField(default=shuffle_key)
    gold_answer = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=field_in("kind", ("single", "pairwise")), name="unit_kind_valid"
            ),
            models.CheckConstraint(
                condition=field_in("prompt_type", cat.PROMPT_TYPES), name="unit_prompt_type_valid"
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
