"""Who to approve or reject on the crowd platform, in Prolific's and MTurk's bulk formats.

Participants' platform ids are stored only as HMACs, so the files are made from the
platform's own export (Prolific's submissions CSV, MTurk's batch results CSV): each row's id
is matched through its hash, and the decision is written beside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.db.models import Count, Q

from annotation.models import Assignment, Rater, Study

#: The column holding the participant's id in each platform's export (case-insensitive).
ID_COLUMNS = {
    "prolific": ("participant id", "participant_id", "prolific_pid"),
    "mturk": ("workerid",),
}
NO_RECORD = "no submitted task recorded for this participant; check by hand"


def rater_decisions(*, study: Study) -> list[dict[str, Any]]:
    """Every rater of the study with the decision its record supports: reject an excluded
    rater (with the rule that excluded them), approve one with submitted tasks."""
    rows = (
        Assignment.objects.filter(study=study)
        .values("rater_id", "rater__platform", "rater__excluded", "rater__exclusion_reason")
        .annotate(submitted=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)))
        .order_by("rater_id")
    )
    return [
        {
            "rater_id": row["rater_id"],
            "platform": row["rater__platform"],
            "submitted": row["submitted"],
            **_decision(row["rater__excluded"], row["rater__exclusion_reason"], row["submitted"]),
        }
        for row in rows
    ]


def _decision(excluded: bool, reason: str, submitted: int) -> dict[str, str]:
    if excluded:
        return {"decision": "reject", "reason": f"failed the study's quality checks ({reason})"}
    if submitted:
        return {"decision": "approve", "reason": ""}
    return {"decision": "", "reason": NO_RECORD}


def approvals_csv(
    *, study: Study, platform: str, export_text: str, hash_id: Callable[[str], str]
) -> str:
    """The platform's export with each participant's decision, as the platform's bulk tools
    take it. Prolific: ``participant_id,decision,reason,tasks_submitted`` (paste the approve
    rows' ids into Bulk approve); MTurk: the batch results with ``Approve`` ("x") or
    ``Reject`` (the reason) filled in, ready to upload.

    ``hash_id`` turns a platform id into the stored hash. ValueError names the problem
    with the uploaded export (no id column).
    """
    reader = csv.DictReader(io.StringIO(export_text.lstrip("\ufeff")))
    columns = reader.fieldnames or []
    wanted = ID_COLUMNS[platform]
    id_column = next((c for c in columns if c.strip().lower() in wanted), None)
    if id_column is None:
        raise ValueError(f"export: no {' or '.join(wanted)} column in the uploaded file")
    rows = [row for row in reader if (row.get(id_column) or "").strip()]
    by_hash = _records(study, platform, {hash_id(row[id_column].strip()) for row in rows})
    out = io.StringIO()
    if platform == "prolific":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["participant_id", "decision", "reason", "tasks_submitted"])
        for row in rows:
            pid = row[id_column].strip()
            record = by_hash.get(hash_id(pid), {"submitted": 0, **_decision(False, "", 0)})
            writer.writerow([pid, record["decision"], record["reason"], record["submitted"]])
        return out.getvalue()
    fields = [c for c in columns if c not in ("Approve", "Reject")] + ["Approve", "Reject"]
    dict_writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    dict_writer.writeheader()
    for row in rows:
        record = by_hash.get(hash_id(row[id_column].strip()), _decision(False, "", 0))
        row = {k: v for k, v in row.items() if k in fields}
        row["Approve"] = "x" if record["decision"] == "approve" else ""
        row["Reject"] = record["reason"] if record["decision"] == "reject" else ""
        dict_writer.writerow(row)
    return out.getvalue()


def _records(study: Study, platform: str, hashes: set[str]) -> dict[str, dict[str, Any]]:
    raters = Rater.objects.filter(platform=platform, participant_hash__in=hashes).annotate(
        submitted=Count(
            "assignments",
            filter=Q(assignments__study=study, assignments__status=Assignment.Status.SUBMITTED),
        )
    )
    return {
        str(r.participant_hash): {
            "submitted": r.submitted,
            **_decision(r.excluded, r.exclusion_reason, r.submitted),
        }
        for r in raters
    }
