"""Who rates: internal users and crowd participants, and the study's quality rules."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from analysis.gold import DEFAULT_ALPHA, DEFAULT_GOLD_ANSWERS, gold_cutoff
from annotation.models import Judgment, Rater, Study
from annotation.selectors.raters import _gold_passed, rater_quality
from annotation.services.errors import ServiceError

QUALITY_RULES = {
    # rule: (lowest allowed value, highest allowed value)
    "min_gold_accuracy": (0.0, 1.0),
    "min_median_seconds": (0.0, 3600.0),
    "max_same_answer_share": (0.0, 1.0),
    "min_gold_answers": (0.0, 10000.0),
}


def rater_for_user(*, user: Any) -> Rater:
    """The internal rater of a logged-in Django user (created on first use)."""
    rater, _ = Rater.objects.get_or_create(
        user=user, defaults={"platform": Rater.Platform.INTERNAL}
    )
    return rater


def participant_hash(*, platform: str, participant_id: str) -> str:
    """HMAC of a crowd participant's platform id: the raw id is never stored."""
    message = f"{platform}:{participant_id}".encode()
    return hmac.new(settings.PARTICIPANT_ID_SALT.encode(), message, hashlib.sha256).hexdigest()


def rater_for_participant(*, platform: str, participant_id: str) -> Rater:
    """The rater of a crowd participant; the same id always gives the same rater.

    Platform ``simulated`` gives a simulated rater (``simulate_raters``), whose
    judgments are marked and left out of reports unless asked for.
    """
    participant_id = participant_id.strip()
    if platform not in (Rater.Platform.PROLIFIC, Rater.Platform.MTURK, Rater.Platform.SIMULATED):
        raise ServiceError(f"unknown crowd platform {platform!r}")
    if not participant_id or len(participant_id) > 200:
        raise ServiceError("the participant id is missing or too long")
    digest = participant_hash(platform=platform, participant_id=participant_id)
    try:
        with transaction.atomic():
            rater, _ = Rater.objects.get_or_create(
                platform=platform,
                participant_hash=digest,
                defaults={"simulated": platform == Rater.Platform.SIMULATED},
            )
    except IntegrityError:  # two first requests of one participant at once
        rater = Rater.objects.get(platform=platform, participant_hash=digest)
    return rater


def gold_answers_required(rules: dict[str, float]) -> int:
    """How many gold answers a rater's gold decision is made on (``min_gold_answers``)."""
    return max(1, int(rules.get("min_gold_answers", DEFAULT_GOLD_ANSWERS)))


def _first_gold_right(*, rater: Rater, study: Study, n: int) -> int:
    """Right answers among the rater's first ``n`` gold answers (in submission order)."""
    rows = (
        Judgment.objects.filter(
            assignment__rater=rater,
            assignment__study=study,
            assignment__unit__is_gold=True,
            superseded_by__isnull=True,
        )
        .order_by("created_at", "pk")
        .values_list("answers", "assignment__unit__kind", "assignment__unit__gold_answer")[:n]
    )
    return sum(
        _gold_passed(answers, kind=kind, expected=expected or {})
        for answers, kind, expected in rows
    )


def _gold_reason(*, rater: Rater, study: Study, gold_answers: int, rules: dict[str, float]) -> str:
    """The gold rule's verdict, decided once on the first ``min_gold_answers`` gold answers.

    Exclude only when the one-sided 95% upper bound of the rater's accuracy on those answers
    is below ``min_gold_accuracy`` (analysis.gold): the same answers always give the same
    verdict, so checking after every submission is a single look, not a sequential test.
    The bound reduces to a precomputed count (``gold_cutoff``).
    """
    if "min_gold_accuracy" not in rules:
        return ""
    n = gold_answers_required(rules)
    if gold_answers < n:
        return ""
    threshold = float(rules["min_gold_accuracy"])
    cutoff = gold_cutoff(n, threshold, alpha=DEFAULT_ALPHA)
    if cutoff < 0:
        return ""
    right = _first_gold_right(rater=rater, study=study, n=n)
    if right > cutoff:
        return ""
    return (
        f"min_gold_accuracy: {right} of the first {n} gold answers right; the 95% upper "
        f"bound of the accuracy is below {threshold}"
    )


def _exclusion_reasons(quality: dict[str, Any], rules: dict[str, float]) -> list[str]:
    """The study's non-gold rules that the rater's quality signals break, with their figure."""
    reasons = []
    enough = quality["judgments"] >= 10
    if "min_median_seconds" in rules and enough:
        median = quality["median_seconds"]
        if median is not None and median < rules["min_median_seconds"]:
            reasons.append(
                f"min_median_seconds: median {median:.1f}s < {rules['min_median_seconds']}s"
            )
    if "max_same_answer_share" in rules and enough:
        share = quality["same_answer_share"]
        if share is not None and share > rules["max_same_answer_share"]:
            reasons.append(
                f"max_same_answer_share: same answer {share:.0%} of the time (straight-lining)"
            )
    return reasons


def rater_apply_quality_rules(*, rater: Rater, study: Study) -> bool:
    """Flag the rater as excluded when the study's quality rules say so.

    The judgments are kept (analyses report with and without them), never deleted.
    Returns whether the rater is excluded now.
    """
    rules = study.quality_rules or {}
    if not rules or rater.excluded:
        return rater.excluded
    quality = rater_quality(rater=rater, study=study)
    gold = _gold_reason(rater=rater, study=study, gold_answers=quality["gold_answers"], rules=rules)
    reasons = ([gold] if gold else []) + _exclusion_reasons(quality, rules)
    if reasons:
        Rater.objects.filter(pk=rater.pk).update(excluded=True, exclusion_reason="; ".join(reasons))
        rater.excluded, rater.exclusion_reason = True, "; ".join(reasons)
    return rater.excluded
