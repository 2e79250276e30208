"""Crowd participants arriving by a study link, and the platform's own participant export.

Anyone can open a study link with any id, so an identity is checked before it becomes a
rater: its format where the platform defines one, and how many new identities the same client
address has made lately. After a study, the researcher can upload the platform's export of its
participants; the report can then keep only raters the platform knows (matched by the same
keyed hash raters are stored under, so no raw id is kept).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import Rater, Study
from annotation.services.errors import ServiceError
from annotation.services.raters import participant_hash, rater_for_participant

# Where a platform defines its ids: (pattern, what the participant is told).
PARTICIPANT_ID_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    # Prolific ids are 24 hexadecimal characters (a MongoDB object id).
    Rater.Platform.PROLIFIC: (
        re.compile(r"[0-9a-fA-F]{24}"),
        "a Prolific id is 24 characters, 0-9 and a-f",
    ),
    # MTurk worker ids are capital letters and digits beginning with A.
    Rater.Platform.MTURK: (
        re.compile(r"A[0-9A-Z]{7,31}"),
        "an MTurk worker id is A followed by capital letters and digits",
    ),
}
# The platforms' export columns that hold the participant id, in the order they are tried.
EXPORT_ID_COLUMNS = ("Participant id", "participant_id", "Participant ID", "WorkerId", "workerId")
EXPORT_MAX_BYTES = 20 * 1024 * 1024
NEW_IDENTITY_WINDOW = timedelta(hours=1)


def participant_id_problem(*, platform: str, participant_id: str) -> str | None:
    """Why ``participant_id`` cannot be one of ``platform``'s, or None when it can be."""
    rule = PARTICIPANT_ID_FORMATS.get(platform)
    if rule is None or rule[0].fullmatch(participant_id):
        return None
    return (
        f"This link's participant id is not a valid one ({rule[1]}). "
        "Please open the study again from the platform's own page."
    )


def crowd_rater_enter(*, platform: str, participant_id: str, client_address: str) -> Rater:
    """The rater of a participant arriving by a study link.

    A returning participant is let in as before. A new identity must have the platform's
    id format, and each client address may create at most
    ``settings.NEW_RATERS_PER_ADDRESS_PER_HOUR`` of them per hour (``ServiceError`` with code
    ``too_many`` beyond that): one script cannot invent raters to take every slot.
    """
    participant_id = participant_id.strip()
    problem = participant_id_problem(platform=platform, participant_id=participant_id)
    if problem is not None:
        raise ServiceError(problem)
    digest = participant_hash(platform=platform, participant_id=participant_id)
    known = Rater.objects.filter(platform=platform, participant_hash=digest).first()
    if known is not None:
        return known
    origin = participant_hash(platform="client-address", participant_id=client_address)
    since = timezone.now() - NEW_IDENTITY_WINDOW
    if (
        Rater.objects.filter(origin=origin, created_at__gte=since).count()
        >= settings.NEW_RATERS_PER_ADDRESS_PER_HOUR
    ):
        raise ServiceError(
            "Too many new participants have joined from this network in the last hour. "
            "Please try again later.",
            code="too_many",
        )
    rater = rater_for_participant(platform=platform, participant_id=participant_id)
    Rater.objects.filter(pk=rater.pk, origin="").update(origin=origin)
    return rater


def _export_ids(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError("the export is not UTF-8 text; upload the platform's CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    column = next((c for c in EXPORT_ID_COLUMNS if c in (reader.fieldnames or [])), None)
    if column is None:
        raise ServiceError(
            "the export has no participant id column; expected one of "
            + ", ".join(repr(c) for c in EXPORT_ID_COLUMNS)
        )
    try:
        ids = [(row.get(column) or "").strip() for row in reader]
    except csv.Error as exc:
        raise ServiceError(f"the export is not a readable CSV ({exc})") from None
    ids = [i for i in ids if i]
    if not ids:
        raise ServiceError(f"the export's {column!r} column is empty")
    return ids


@transaction.atomic
def platform_export_upload(*, study: Study, export: IO[bytes]) -> int:
    """Keep the participants of the platform's export (Prolific's or MTurk's CSV) on the
    study, as keyed hashes; returns how many of them rated in the study."""
    if study.platform not in PARTICIPANT_ID_FORMATS:
        raise ServiceError(
            f"the study's platform is {study.platform}; an export belongs to a Prolific or "
            "MTurk study",
            code="conflict",
        )
    data = export.read(EXPORT_MAX_BYTES + 1)
    if len(data) > EXPORT_MAX_BYTES:
        raise ServiceError("the export is larger than 20 MB")
    hashes = sorted(
        {participant_hash(platform=study.platform, participant_id=i) for i in _export_ids(data)}
    )
    study.platform_export = hashes
    study.platform_export_at = timezone.now()
    study.save(update_fields=["platform_export", "platform_export_at"])
    return (
        Rater.objects.filter(participant_hash__in=hashes, assignments__study=study)
        .distinct()
        .count()
    )
