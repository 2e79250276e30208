"""Fetching an object together with its permission check: anything not allowed is a 404.

A 404 rather than a 403, so that ids cannot be probed.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from annotation.models import Assignment, BenchmarkItem, Rater, Study


def _is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_staff", False))


def item_get_for_staff(*, user: AbstractBaseUser | AnonymousUser, item_id: int) -> BenchmarkItem:
    """The item, for staff only; anyone else gets 404 so ids cannot be probed."""
    if not _is_staff(user):
        raise Http404
    try:
        return BenchmarkItem.objects.get(pk=item_id)
    except BenchmarkItem.DoesNotExist:
        raise Http404 from None


def study_get_for_staff(*, user: AbstractBaseUser | AnonymousUser, study_id: int) -> Study:
    """The study, for staff only; anyone else gets 404."""
    if not _is_staff(user):
        raise Http404
    try:
        return Study.objects.select_related("benchmark", "owner").get(pk=study_id)
    except Study.DoesNotExist:
        raise Http404 from None


def study_get_for_raters(*, slug: str) -> Study:
    """A study raters may open (not a draft); 404 otherwise."""
    try:
        # The large JSON columns are left for the pages that show them: every rater request
        # loads the study, and parsing an allocation state or a participant export each time
        # cost milliseconds per judgment (bench/RESULTS.md).
        studies = Study.objects.exclude(status=Study.Status.DRAFT)
        return studies.defer("adaptive_state", "platform_export").get(slug=slug)
    except Study.DoesNotExist:
        raise Http404 from None


def assignment_get_for_rater(
    *, rater: Rater, assignment_id: int, for_update: bool = False, with_edits: bool = False
) -> Assignment:
    """The rater's own assignment, with its unit and study (``with_edits``: the unit's edits
    and item too); any other id is a 404 (not 403), so ids cannot be probed."""
    related = ["unit", "study"]
    if with_edits:
        related += ["unit__edit_a__item", "unit__edit_b"]
    assignments = Assignment.objects.select_related(*related)
    if for_update:
        assignments = assignments.select_for_update(of=("self",))
    try:
        return assignments.get(pk=assignment_id, rater=rater)
    except Assignment.DoesNotExist:
        raise Http404 from None
