"""The staff pages' forms: the study wizard.

The wizard turns its HTML inputs into the same spec a YAML file or an API request holds, and
that spec goes through ``StudySpecSerializer`` and the studies service like theirs: one
validation. The form's own fields only turn text into numbers and lists; every rule (ranges,
required choices, platform needs) is the serializer's or the service's, and their messages
are put back on the field they name.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db.models import Count

from annotation import categories as cat
from annotation.models import Benchmark, EditModel, Study
from annotation.serializers import TASKS, StudySpecSerializer
from annotation.services.errors import ServiceError
from annotation.services.raters import QUALITY_RULES
from annotation.services.studies import (
    study_create_from_spec,
    study_spec_from_data,
    study_spec_problems,
    study_update,
)

CHECKS = forms.CheckboxSelectMultiple
RULE_PREFIX = "rule_"


def benchmark_key(benchmark: Benchmark) -> str:
    """How the spec names a benchmark: ``name@version``."""
    return f"{benchmark.name}@{benchmark.version}"


def _model_choices() -> list[tuple[str, str]]:
    """Every model but the gold-unit helpers, with its kind (and an external model's
    upload state: how many outputs are stored)."""
    models = (
        EditModel.objects.exclude(name__startswith="Gold:")
        .annotate(n_edits=Count("edits"))
        .order_by("kind", "name")
    )
    choices = []
    for m in models:
        state = f"{m.n_edits} outputs uploaded" if m.kind == EditModel.Kind.EXTERNAL else m.kind
        choices.append((m.name, f"{m.name} ({state})"))
    return choices


def _rates(text: str | None, what: str) -> list[float] | None:
    """Numbers strictly between 0 and 1 separated by commas or spaces; None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        values = [float(v) for v in re.split(r"[\s,;]+", text) if v]
    except ValueError:
        raise forms.ValidationError("numbers between 0 and 1, separated by commas") from None
    if not values or not all(0 < v < 1 for v in values):
        raise forms.ValidationError(f"each {what} must lie strictly between 0 and 1")
    return values


class StudyWizardForm(forms.Form):
    """A study design, step by step; :meth:`spec_data` is the spec it stands for."""

    # 1. Benchmark
    benchmark = forms.ChoiceField(required=False)
    # 2. Items: a filter per category (nothing ticked: every value), or a list of ids.
    items = forms.CharField(
        required=False,
        label="or these item ids",
        help_text="Separated by spaces or commas; overrides the category filter.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # 3. Models
    models = forms.MultipleChoiceField(required=False, widget=CHECKS)
    # 4. Prompt types and task kinds
    prompt_types = forms.MultipleChoiceField(
        required=False, widget=CHECKS, choices=cat.choices(cat.PROMPT_TYPES)
    )
    tasks = forms.MultipleChoiceField(
        required=False,
        widget=CHECKS,
        choices=[("single", "Single image (yes/no)"), ("pairwise", "Side by side (Mask-Rich)")],
    )
    # 5. Rating settings
    raters_per_unit = forms.IntegerField(required=False, label="K (raters per unit)", initial=3)
    gold_rate = forms.FloatField(required=False, initial=0.1)
    lease_minutes = forms.IntegerField(required=False, initial=30)
    max_tasks_per_rater = forms.IntegerField(required=False, label="cap per rater (tasks)")
    # Precision targets (optional): K above is then the most a unit gets (K_max).
    target_half_width = forms.FloatField(
        required=False,
        label="target ± (single image)",
        help_text="95% half-width per model × prompt type, e.g. 0.1; empty: fixed K",
    )
    target_by_category = forms.BooleanField(required=False, label="target per object type too")
    pairwise_target = forms.ChoiceField(
        required=False,
        label="side-by-side target",
        choices=[
            ("none", "none (fixed K)"),
            ("half-width", "a half-width"),
            ("decide", "decide (interval excludes 0.5)"),
        ],
    )
    pairwise_half_width = forms.FloatField(required=False, label="side-by-side target ±")
    k_min = forms.IntegerField(required=False, label="K_min (first judgments per unit)")
    judgment_budget = forms.IntegerField(required=False, label="budget (judgments)")
    platform = forms.ChoiceField(
        required=False,
        choices=[("none", "none (internal)"), ("prolific", "Prolific"), ("mturk", "MTurk")],
    )
    completion_code = forms.CharField(required=False)
    completion_url = forms.CharField(required=False, label="completion URL")
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    name = forms.CharField(required=False, label="study name")
    slug = forms.CharField(required=False, help_text="Optional; made from the name.")
    # For the estimate only (not part of the study).
    hourly_pay = forms.FloatField(required=False, label="hourly pay", min_value=0)
    assumed_accuracies = forms.CharField(
        required=False,
        label="assumed accuracies",
        help_text="For the adaptive estimate: e.g. 0.3, 0.5, 0.9 (one per cell, repeated); "
        "empty: spread from 0.2 to 0.8",
    )

    assumed_win_rates = forms.CharField(
        required=False,
        label="assumed win rates",
        help_text="For the adaptive estimate of side-by-side half-width targets: e.g. 0.6, 0.8 "
        "(one per comparison, repeated); empty: spread from 0.55 to 0.8",
    )

    def clean_assumed_accuracies(self) -> list[float] | None:
        return _rates(self.cleaned_data.get("assumed_accuracies"), "accuracy")

    def clean_assumed_win_rates(self) -> list[float] | None:
        return _rates(self.cleaned_data.get("assumed_win_rates"), "win rate")

    def __init__(self, *args: Any, study: Study | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.study = study
        self.fields["benchmark"].choices = [  # type: ignore[attr-defined]
            (benchmark_key(b), f"{b.name} (version {b.version}, {b.n_items} items)")
            for b in Benchmark.objects.annotate(n_items=Count("items")).order_by("name")
        ]
        self.fields["models"].choices = _model_choices()  # type: ignore[attr-defined]
        for field_name, values in cat.CATEGORY_FIELDS.items():
            self.fields[f"items_{field_name}"] = forms.MultipleChoiceField(
                required=False,
                widget=CHECKS,
                choices=cat.choices(values),
                label=field_name.replace("_", " "),
            )
        for rule, (low, high) in QUALITY_RULES.items():
            self.fields[RULE_PREFIX + rule] = forms.FloatField(
                required=False,
                label=rule.replace("_", " "),
                help_text=f"{low:g} to {high:g}; empty: not applied",
            )
        if study is not None:
            self.fields["benchmark"].disabled = True
            self.fields["slug"].disabled = True

    def category_fields(self) -> list[forms.BoundField]:
        return [self[f"items_{name}"] for name in cat.CATEGORY_FIELDS]

    def rule_fields(self) -> list[forms.BoundField]:
        return [self[RULE_PREFIX + rule] for rule in QUALITY_RULES]

    def item_filter(self) -> dict[str, list[str]]:
        """The spec's ``items``: the ids given, else the ticked values per category."""
        data = self.cleaned_data
        ids = [i for i in re.split(r"[\s,]+", data.get("items") or "") if i]
        if ids:
            return {"id": ids}
        return {
            name: list(data[f"items_{name}"])
            for name in cat.CATEGORY_FIELDS
            if data.get(f"items_{name}")
        }

    def spec_data(self) -> dict[str, Any]:
        """The spec these inputs stand for, as a spec file would hold it; a blank input is
        left out, so the serializer applies its default or reports the missing field."""
        data = self.cleaned_data
        spec: dict[str, Any] = {
            "items": self.item_filter(),
            "models": list(data.get("models") or []),
            "prompt_types": list(data.get("prompt_types") or []),
            "tasks": list(data.get("tasks") or []),
            "quality_rules": {
                rule: data[RULE_PREFIX + rule]
                for rule in QUALITY_RULES
                if data.get(RULE_PREFIX + rule) is not None
            },
        }
        for key in (
            "name",
            "benchmark",
            "raters_per_unit",
            "gold_rate",
            "lease_minutes",
            "max_tasks_per_rater",
            "platform",
            "completion_code",
            "completion_url",
            "instructions",
            "slug",
            "target_half_width",
            "pairwise_target",
            "pairwise_half_width",
            "k_min",
            "judgment_budget",
        ):
            value = data.get(key)
            if value not in (None, ""):
                spec[key] = value
        spec["target_by_category"] = bool(data.get("target_by_category"))
        if not spec["tasks"]:
            spec.pop("tasks")  # the serializer's default (single) would hide a forgotten choice
            self.add_error("tasks", "choose single, pairwise or both")
        return spec

    # --- putting the serializer's and the service's messages on their fields ------------

    def _field_for(self, key: str, message: str) -> str | None:
        if key == "quality_rules":
            rule = next((r for r in QUALITY_RULES if r in message), None)
            return RULE_PREFIX + rule if rule else None
        return key if key in self.fields else None

    def add_spec_errors(self, errors: Any) -> None:
        """Serializer errors (a dict of field → messages) onto the form's fields."""
        if isinstance(errors, dict):
            for key, messages in errors.items():
                flat = _flatten(messages)
                for message in flat:
                    self.add_error(self._field_for(str(key), message), message)
        else:
            for message in _flatten(errors):
                self.add_error(None, message)

    def add_problems(self, problems: list[str]) -> None:
        """The service's problems ("field: message") onto the field they start with."""
        for problem in problems:
            key, sep, message = problem.partition(": ")
            field = self._field_for(key, message) if sep else None
            self.add_error(field, message if field else problem)


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [f"{k}: {m}" for k, v in messages.items() for m in _flatten(v)]
    if isinstance(messages, list):
        return [m for v in messages for m in _flatten(v)]
    return [str(messages)]


def wizard_validated_spec(form: StudyWizardForm) -> dict[str, Any] | None:
    """The form's spec validated by the serializer and the service's rules, or None with the
    problems on the form's fields. Creates nothing."""
    if not form.is_valid():
        return None
    data = form.spec_data()
    serializer = StudySpecSerializer(data=data)
    if not serializer.is_valid():
        form.add_spec_errors(serializer.errors)
        return None
    spec = dict(serializer.validated_data)
    models = list(EditModel.objects.filter(name__in=[ref["name"] for ref in spec["models"]]))
    problems = study_spec_problems(spec=study_spec_from_data(spec, models=models))
    if problems:
        form.add_problems(problems)
    return None if problems or form.errors else spec


def wizard_save(form: StudyWizardForm, *, owner: Any) -> Study | None:
    """Create the study (or change the form's draft study) from the wizard; None, with the
    problems on the fields and nothing written, when the spec is not valid."""
    spec = wizard_validated_spec(form)
    if spec is None:
        return None
    try:
        if form.study is None:
            return study_create_from_spec(owner=owner, spec=spec, slug=spec.get("slug"))
        models = list(EditModel.objects.filter(name__in=[ref["name"] for ref in spec["models"]]))
        order = {ref["name"]: i for i, ref in enumerate(spec["models"])}
        models.sort(key=lambda m: order[m.name])
        return study_update(study=form.study, spec=study_spec_from_data(spec, models=models))
    except ServiceError as exc:
        form.add_problems(exc.problems)
        return None


def wizard_initial(study: Study) -> dict[str, Any]:
    """The wizard's inputs for an existing draft study (its items as a list of ids)."""
    rules = {RULE_PREFIX + k: v for k, v in (study.quality_rules or {}).items()}
    tasks = [t for t, on in zip(TASKS, (study.task_single, study.task_pairwise), strict=True) if on]
    return {
        "benchmark": benchmark_key(study.benchmark),
        "items": " ".join(
            study.items.order_by("external_id").values_list("external_id", flat=True)
        ),
        "models": list(study.edit_models.values_list("name", flat=True)),
        "prompt_types": list(study.prompt_types),
        "tasks": tasks,
        "raters_per_unit": study.raters_per_unit,
        "gold_rate": study.gold_rate,
        "lease_minutes": study.lease_minutes,
        "max_tasks_per_rater": study.max_tasks_per_rater,
        "platform": study.platform,
        "completion_code": study.completion_code,
        "completion_url": study.completion_url,
        "instructions": study.instructions,
        "target_half_width": study.target_half_width,
        "target_by_category": study.target_by_category,
        "pairwise_target": study.pairwise_target,
        "pairwise_half_width": study.pairwise_half_width,
        "k_min": study.k_min,
        "judgment_budget": study.judgment_budget,
        "name": study.name,
        "slug": study.slug,
        **rules,
    }
