"""Reads that need a permission check or aggregation.

Fetching an object together with its permission check is one function, so a
view cannot forget the check.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from annotation.models import BenchmarkItem


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
