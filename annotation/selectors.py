"""Reads that need a permission check or aggregation.

Fetching an object together with its permission check is one function, so a
view cannot forget the check.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count
from django.http import Http404

from annotation.models import BenchmarkItem, EditModel, GenerationJob, Study


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


def generation_counts(
    *, model: EditModel | None = None, study: Study | None = None
) -> dict[str, int]:
    """Jobs per status (queued / running / done / failed), for one model and/or study."""
    jobs = GenerationJob.objects.all()
    if model is not None:
        jobs = jobs.filter(model=model)
    if study is not None:
        jobs = jobs.filter(item__in=study.items.all(), model__in=study.edit_models.all())
    return {row["status"]: row["n"] for row in jobs.values("status").annotate(n=Count("pk"))}
