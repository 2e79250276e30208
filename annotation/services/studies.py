"""A study's life: created from a spec, changed while draft, generated, launched, paused, closed."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from annotation import categories as cat
from annotation.models import Benchmark, BenchmarkItem, EditModel, Study
from annotation.selectors.studies import study_missing_edits, study_needed_edits
from annotation.services.benchmarks import edit_model_ensure
from annotation.services.errors import ServiceError
from annotation.services.generation import GenerationRequestReport, generation_request
from annotation.services.raters import QUALITY_RULES
from annotation.services.units import units_build

PROLIFIC_COMPLETION = "https://app.prolific.com/submissions/complete?cc={code}"


@dataclass(frozen=True)
class StudySpec:
    """Everything a study is created with (validated by :func:`_study_problems`)."""

    name: str
    benchmark: Benchmark
    items: list[BenchmarkItem]
    models: list[EditModel]
    prompt_types: list[str]
    task_single: bool = True
    task_pairwise: bool = False
    raters_per_unit: int = 3
    gold_rate: float = 0.1
    lease_minutes: int = 30
    instructions: str = ""
    welcome_text: str = ""
    consent_text: str = ""
    desktop_only: bool = False
    platform: str = "none"
    completion_code: str = ""
    completion_url: str = ""
    max_tasks_per_rater: int | None = None
    quality_rules: dict[str, float] | None = None
    # Precision targets (services.adaptive); none set: fixed K.
    target_half_width: float | None = None
    target_by_category: bool = False
    pairwise_target: str = "none"
    pairwise_half_width: float | None = None
    decide_alpha: float = 0.05
    k_min: int = 1
    judgment_budget: int | None = None


#: The spec's precision-target fields, stored on the study as they are.
TARGET_FIELDS = (
    "target_half_width",
    "target_by_category",
    "pairwise_target",
    "pairwise_half_width",
    "decide_alpha",
    "k_min",
    "judgment_budget",
)


def study_spec_from_data(data: dict[str, Any], *, models: list[EditModel]) -> StudySpec:
    """A spec file's or API request's validated data (``StudySpecSerializer``) as a
    :class:`StudySpec`; its models are resolved by the caller (``edit_model_ensure``)."""
    return StudySpec(
        name=data["name"],
        benchmark=data["benchmark"],
        items=data["item_list"],
        models=models,
        prompt_types=list(data["prompt_types"]),
        task_single="single" in data["tasks"],
        task_pairwise="pairwise" in data["tasks"],
        raters_per_unit=data["raters_per_unit"],
        gold_rate=data["gold_rate"],
        lease_minutes=data["lease_minutes"],
        instructions=data["instructions"],
        welcome_text=data.get("welcome_text", ""),
        consent_text=data.get("consent_text", ""),
        desktop_only=data.get("desktop_only", False),
        platform=data["platform"],
        completion_code=data["completion_code"],
        completion_url=data["completion_url"],
        max_tasks_per_rater=data.get("max_tasks_per_rater"),
        quality_rules=dict(data["quality_rules"]),
        **{name: data[name] for name in TARGET_FIELDS if name in data},
    )


def _selection_problems(s: StudySpec) -> list[str]:
    """What is wrong with the spec's items, models, task kinds and prompt types."""
    problems: list[str] = []
    if not s.items:
        problems.append("items: the selection matches no item of the benchmark")
    if any(i.benchmark_id != s.benchmark.pk for i in s.items):
        problems.append("items: every item must belong to the study's benchmark")
    if not s.models:
        problems.append("models: choose at least one model")
    if s.task_pairwise and len(s.models) < 2:
        problems.append("models: side-by-side comparison needs at least two models")
    if not (s.task_single or s.task_pairwise):
        problems.append("tasks: choose single, pairwise or both")
    if s.task_single and not s.prompt_types:
        problems.append("prompt_types: choose at least one prompt type")
    bad = [p for p in s.prompt_types if p not in cat.PROMPT_TYPES]
    if bad:
        problems.append(
            f"prompt_types: unknown {', '.join(map(str, bad))}; "
            f"expected {', '.join(cat.PROMPT_TYPES)}"
        )
    if len(set(s.prompt_types)) != len(s.prompt_types):
        problems.append("prompt_types: a prompt type is listed twice")
    for prompt_type in [p for p in s.prompt_types if p in cat.PROMPT_TYPES]:
        # A source with fewer prompt styles (BrushNet's copy: one caption) leaves the others
        # empty; raters must never be shown an empty prompt.
        lacking = [i.external_id for i in s.items if not i.prompt(prompt_type).strip()]
        if lacking:
            problems.append(
                f"prompt_types: {len(lacking)} chosen item(s) have no {prompt_type} prompt "
                f"(e.g. {lacking[0]}); leave {prompt_type} out or choose other items"
            )
    return problems


def _quality_rule_problems(rules: dict[str, float]) -> list[str]:
    problems: list[str] = []
    for rule, value in rules.items():
        if rule not in QUALITY_RULES:
            problems.append(
                f"quality_rules: unknown rule {rule!r}; known: {', '.join(QUALITY_RULES)}"
            )
            continue
        low, high = QUALITY_RULES[rule]
        if not isinstance(value, int | float) or not low <= float(value) <= high:
            problems.append(f"quality_rules: {rule} must be a number from {low:g} to {high:g}")
    return problems


def _target_problems(s: StudySpec) -> list[str]:
    """What is wrong with the precision targets (each problem names its field)."""
    problems: list[str] = []
    for name in ("target_half_width", "pairwise_half_width"):
        value = getattr(s, name)
        if value is not None and not 0 < value < 0.5:
            problems.append(f"{name}: a 95% half-width must lie between 0 and 0.5, e.g. 0.1")
    if s.pairwise_target not in ("none", "half-width", "decide"):
        problems.append("pairwise_target: must be none, half-width or decide")
    if s.pairwise_target == "half-width" and s.pairwise_half_width is None:
        problems.append("pairwise_half_width: a half-width target needs its half-width")
    if s.pairwise_target != "none" and not s.task_pairwise:
        problems.append("pairwise_target: the study has no side-by-side task")
    if s.target_half_width is not None and not s.task_single:
        problems.append("target_half_width: the study has no single-image task")
    if not 0 < s.decide_alpha < 0.5:
        problems.append("decide_alpha: must lie between 0 and 0.5, e.g. 0.05")
    if not 1 <= s.k_min <= s.raters_per_unit:
        problems.append(
            f"k_min: must be between 1 and K (raters_per_unit, {s.raters_per_unit}), the "
            "most judgments a unit gets"
        )
    if s.judgment_budget is not None and s.judgment_budget < 1:
        problems.append("judgment_budget: must be at least 1")
    return problems


def _study_problems(s: StudySpec) -> list[str]:
    problems: list[str] = []
    if not s.name.strip():
        problems.append("name: a study needs a name")
    problems += _selection_problems(s)
    if not 1 <= s.raters_per_unit <= 100:
        problems.append("raters_per_unit: must be between 1 and 100")
    if not 0 <= s.gold_rate < 1:
        problems.append("gold_rate: must be at least 0 and below 1")
    if not 1 <= s.lease_minutes <= 24 * 60:
        problems.append("lease_minutes: must be between 1 and 1440")
    if s.platform not in ("none", "prolific", "mturk"):
        problems.append("platform: must be none, prolific or mturk")
    if s.platform == "prolific" and not s.completion_code:
        problems.append("completion_code: a Prolific study needs its completion code")
    if s.max_tasks_per_rater is not None and s.max_tasks_per_rater < 1:
        problems.append("max_tasks_per_rater: must be at least 1")
    return problems + _quality_rule_problems(s.quality_rules or {}) + _target_problems(s)


def study_spec_problems(*, spec: StudySpec) -> list[str]:
    """Every problem :func:`study_create` would report for ``spec`` (the wizard's estimate
    step checks a design before anything is created); each starts with the field's name."""
    return _study_problems(spec)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "study"
    slug = base
    while Study.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def _completion_url(s: StudySpec) -> str:
    """The given return URL, or Prolific's own for the completion code."""
    return s.completion_url or (
        PROLIFIC_COMPLETION.format(code=quote(s.completion_code, safe=""))
        if s.platform == "prolific"
        else ""
    )


def study_create(*, owner: Any, spec: StudySpec, slug: str | None = None) -> Study:
    """Create a draft study; every problem with the spec is reported at once."""
    problems = _study_problems(spec)
    if slug is not None and Study.objects.filter(slug=slug).exists():
        problems.append(f"slug: a study with the slug {slug!r} exists already")
    if problems:
        raise ServiceError(problems)
    s = spec
    with transaction.atomic():
        study = Study.objects.create(
            name=s.name.strip(),
            slug=slug or _unique_slug(s.name),
            owner=owner,
            benchmark=s.benchmark,
            task_single=s.task_single,
            task_pairwise=s.task_pairwise,
            prompt_types=list(s.prompt_types),
            raters_per_unit=s.raters_per_unit,
            gold_rate=s.gold_rate,
            lease_minutes=s.lease_minutes,
            instructions=s.instructions,
            welcome_text=s.welcome_text,
            consent_text=s.consent_text,
            desktop_only=s.desktop_only,
            platform=s.platform,
            completion_code=s.completion_code,
            completion_url=_completion_url(s),
            max_tasks_per_rater=s.max_tasks_per_rater,
            quality_rules=dict(s.quality_rules or {}),
            **{name: getattr(s, name) for name in TARGET_FIELDS},
        )
        study.items.set(s.items)
        study.edit_models.set(s.models)
    return study


def study_create_from_spec(*, owner: Any, spec: dict[str, Any], slug: str | None = None) -> Study:
    """Create a study from a validated spec (StudySpecSerializer), its inline models included."""
    with transaction.atomic():
        models = [edit_model_ensure(**ref) for ref in spec["models"]]
        return study_create(owner=owner, spec=study_spec_from_data(spec, models=models), slug=slug)


def _require_status(study: Study, allowed: tuple[str, ...], action: str) -> None:
    if study.status not in allowed:
        raise ServiceError(
            f"cannot {action} a study that is {study.status}; "
            f"only a study that is {' or '.join(allowed)} can be",
            code="conflict",
        )


def study_update(*, study: Study, spec: StudySpec) -> Study:
    """Replace a draft study's settings (name, items, models, tasks, …) with ``spec``."""
    _require_status(study, ("draft",), "change")
    problems = _study_problems(spec)
    if spec.benchmark.pk != study.benchmark_id:
        problems.append("benchmark: a study's benchmark cannot change; create a new study")
    if problems:
        raise ServiceError(problems)
    s = spec
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_status(locked, ("draft",), "change")
        for field_name in (
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
            "max_tasks_per_rater",
            *TARGET_FIELDS,
        ):
            setattr(locked, field_name, getattr(s, field_name))
        locked.name = s.name.strip()
        locked.prompt_types = list(s.prompt_types)
        locked.quality_rules = dict(s.quality_rules or {})
        locked.completion_url = _completion_url(s)
        locked.save()
        locked.items.set(s.items)
        locked.edit_models.set(s.models)
    return locked


def study_generate(*, study: Study, enqueue: bool = True) -> GenerationRequestReport:
    """Ask for the study's missing edits (external models' outputs are uploaded instead).

    With ``enqueue=False`` the caller runs the returned batches itself (the demo's
    in-process runner with its progress bar).
    """
    _require_status(study, ("draft", "generating", "ready"), "generate edits for")
    items = list(study.items.all())
    models = [m for m in study.edit_models.all() if m.kind != EditModel.Kind.EXTERNAL]
    prompt_types = sorted({p for _, _, p in study_needed_edits(study)})
    with transaction.atomic():
        Study.objects.filter(pk=study.pk).update(status=Study.Status.GENERATING)
        study.status = Study.Status.GENERATING
        report = (
            generation_request(
                items=items, models=models, prompt_types=prompt_types, enqueue=enqueue
            )
            if models
            else GenerationRequestReport(created=0, existing=0, batches=[])
        )
    return report


def study_launch(*, study: Study) -> Study:
    """Go live: build the units on first launch (every needed edit must exist); resume a pause."""
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_status(locked, ("draft", "generating", "ready", "paused"), "launch")
        if locked.status != Study.Status.PAUSED:
            missing = study_missing_edits(locked)
            if missing:
                details = ", ".join(f"{name}: {n}" for name, n in sorted(missing.items()))
                raise ServiceError(
                    f"cannot launch: edits are still missing ({details}); generate them or "
                    "upload the external models' outputs first",
                    code="conflict",
                )
            if not locked.units.exists():
                units_build(study=locked, rng=random.Random(f"study-{locked.pk}"))
            locked.launched_at = timezone.now()
        locked.status = Study.Status.LIVE
        locked.save(update_fields=["status", "launched_at"])
    return locked


def study_pause(*, study: Study) -> Study:
    """Stop handing out tasks; leases already given can still be submitted."""
    return _transition(study, ("live",), Study.Status.PAUSED, "pause")


def study_close(*, study: Study) -> Study:
    """End the study for good; no more tasks or submissions."""
    closed = _transition(study, ("live", "paused"), Study.Status.CLOSED, "close")
    Study.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    closed.refresh_from_db()
    return closed


def _transition(study: Study, allowed: tuple[str, ...], to: str, action: str) -> Study:
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_status(locked, allowed, action)
        locked.status = to
        locked.save(update_fields=["status"])
    return locked
