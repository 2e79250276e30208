"""The rules both rater paths share (see the comment below)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, QuerySet, Subquery
from django.utils import timezone

from annotation.models.raters import Assignment, Rater
from annotation.models.studies import Study, StudyUnit

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


# Live leases one rater may hold in a study: the task on screen and the one preloaded.
# Without it, a script posting ``next`` with a growing ``exclude`` list would lease the
# whole study for the lease length.
MAX_LIVE_LEASES = 2


def live_leases_full(held: int) -> bool:
    """Whether a rater holding ``held`` live leases in a study may take no new one."""
    return held >= MAX_LIVE_LEASES


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
    """Units with a slot left below the judgments they are to get (``StudyUnit.wanted``: K,
    or under precision targets what the allocation has given them so far), by the slot
    counter. Gold units are not capped: every rater should meet some."""
    return units.filter(slots_taken__lt=F("wanted"))


def study_is_adaptive(study: Study) -> bool:
    """Whether the study allocates by precision targets instead of a fixed K."""
    return study.target_half_width is not None or study.pairwise_target != "none"


def unit_wanted_at_launch(study: Study) -> int:
    """``StudyUnit.wanted`` of a new unit: K, or K_min under precision targets."""
    return study.k_min if study_is_adaptive(study) else study.raters_per_unit


def emptiest_level(units: QuerySet[StudyUnit]) -> Subquery:
    """The lowest slot count among ``units``, as a subquery the picking statement evaluates
    once: the next task comes from the emptiest open units, at random among them."""
    return Subquery(units.order_by("slots_taken").values("slots_taken")[:1])
