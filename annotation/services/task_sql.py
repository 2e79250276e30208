"""The task page's hot path in hand-written SQL, on PostgreSQL.

A rater's one request per task records the answers to the task on screen and leases the task
after the preloaded one. Through the ORM that took 15 statements (with two BEGIN/COMMIT pairs)
and about 12 ms of CPU; most of it was the ORM building queries and models, not the database
(bench/RESULTS.md). Here the same two steps are two statements and one statement, prepared
once per database session. The submit statements are atomic on their own (no BEGIN/COMMIT
round trips); the lease statement runs in a short transaction behind the rater's row lock, so
that one identity's concurrent requests count its live leases one after another
(models.rules.MAX_LIVE_LEASES).

Only the common case is handled here. ``judgments.judgment_submit`` and
``assignments.assignment_next`` (beside this module) call these functions first on PostgreSQL
and fall back to their ORM code, which handles every case, whenever one answers ``None``: an
assignment that is not the rater's or no longer leased, a duplicate submission or a taken
submission id, an excluded or capped rater, no unlocked unit at the emptiest level from the
random start key or, on a second try, from the first key (the ORM code then takes fuller
levels, retries under contention and marks expired leases). The rules are the ORM code's, named
once in annotation/models/rules.py (what a live lease is, which study states take answers, the
left/right balance, the per-rater cap, excluded raters, the emptiest-level pick): the status
and kind values are interpolated from there at import, and each fragment below names the rule
it states in SQL. The test suite runs on SQLite (ORM only) and on PostgreSQL (both: these
statements first, and the ORM code alone).

Prepared statements belong to a database session: behind a connection pooler, use session
pooling, not transaction pooling (or RATER_SQL_PATH=0).

Times come from Python (``timezone.now()``), not from the database's ``now()``, as in the ORM
code: inside a test's transaction ``now()`` would stand still.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from annotation.models import (
    MAX_ID,
    MAX_LIVE_LEASES,
    STUDY_STATUSES_TAKING_ANSWERS,
    Assignment,
    BenchmarkItem,
    Edit,
    Judgment,
    Study,
    StudyUnit,
    lease_is_live,
    study_caps_raters,
)

_M = TypeVar("_M", bound=Model)


def _literal(value: str) -> str:
    """A status or kind value as an SQL string literal; they are plain words (checked here,
    at import), so quoting them cannot go wrong."""
    if re.fullmatch(r"[a-z_]+", value) is None:
        raise ValueError(f"{value!r} is not a plain word; pass it as a parameter instead")
    return f"'{value}'"


# The values the statements compare with, from the models' choices.
_VALUES = {
    "leased": _literal(Assignment.Status.LEASED.value),
    "submitted": _literal(Assignment.Status.SUBMITTED.value),
    "pairwise": _literal(StudyUnit.Kind.PAIRWISE.value),
}

# What every lease query means by "live" (models.live_assignment): submitted, or leased and
# not expired at %(now)s (models.live_lease). ``{a}`` is the assignment table's alias.
_LIVE = (
    "({{a}}.status = {submitted} OR ({{a}}.status = {leased} AND {{a}}.lease_expires_at > %(now)s))"
).format(**_VALUES)

_SUBMIT_READ = """
SELECT a.status, a.lease_expires_at, a.a_on_left, u.kind, u.questions, r.simulated,
       s.id, s.status, s.quality_rules
FROM annotation_assignment a
JOIN annotation_studyunit u ON u.id = a.unit_id
JOIN annotation_study s ON s.id = a.study_id
JOIN annotation_rater r ON r.id = a.rater_id
WHERE a.id = %(assignment)s AND a.rater_id = %(rater)s
"""

# The UPDATE takes the assignment's row lock and re-checks that it is still a live lease
# (models.live_lease), so a concurrent double submit or an expiry run in between leaves it
# unchanged (no row comes back).
_SUBMIT_WRITE = """
WITH submitted AS (
    UPDATE annotation_assignment SET status = {submitted}, submitted_at = %(now)s
    WHERE id = %(assignment)s AND rater_id = %(rater)s
      AND status = {leased} AND lease_expires_at > %(now)s
    RETURNING id
)
INSERT INTO annotation_judgment
    (assignment_id, answers, correct, time_on_task_ms, client_submission_id,
     supersedes_id, simulated, created_at)
SELECT id, %(answers)s::jsonb, %(correct)s, %(time_ms)s, %(submission)s::uuid,
       NULL, %(simulated)s, %(now)s
FROM submitted
RETURNING id
""".format(**_VALUES)

# Units the rater has not seen (any status), of the study, gold or not (models.units_unseen).
_UNSEEN = """
{u}.study_id = %(study)s AND {u}.is_gold = %(gold)s
AND NOT EXISTS (
    SELECT 1 FROM annotation_assignment seen
    WHERE seen.rater_id = %(rater)s AND seen.unit_id = {u}.id
)
"""

# Open units (below the judgments they are to get: models.units_open) at the emptiest level
# (models.emptiest_level): the level is a subquery evaluated once.
_OPEN_LEVEL = """
AND u.slots_taken < u.wanted
AND u.slots_taken = (
    SELECT lv.slots_taken FROM annotation_studyunit lv
    WHERE {unseen} AND lv.slots_taken < lv.wanted
    ORDER BY lv.slots_taken LIMIT 1
)
""".format(unseen=_UNSEEN.format(u="lv"))

# The per-rater cap (models.rater_cap_reached): the rater's live assignments in the study.
_CAP = """
AND (
    SELECT count(*) FROM annotation_assignment c
    WHERE c.rater_id = %(rater)s AND c.study_id = %(study)s AND {live}
) < %(cap)s
""".format(live=_LIVE.format(a="c"))

# At most MAX_LIVE_LEASES live leases per rater and study (models.live_leases_full). Counted
# after the rater's row lock (lease_next), so one identity's concurrent requests cannot race.
_LEASES_FREE = f"""
AND (
    SELECT count(*) FROM annotation_assignment l
    WHERE l.rater_id = %(rater)s AND l.study_id = %(study)s
      AND l.status = {{leased}} AND l.lease_expires_at > %(now)s
) < {int(MAX_LIVE_LEASES)}
""".format(**_VALUES)

# Left/right of a new lease on unit ``pick`` (models.pair_a_on_left): edit A on the side the
# unit's live assignments show it less, drawn at random when even; always left for a single.
_A_ON_LEFT = """CASE WHEN pick.kind <> {pairwise} THEN true ELSE (
               SELECT CASE WHEN sides.l = sides.r THEN random() < 0.5 ELSE sides.l < sides.r END
               FROM (
                   SELECT count(*) FILTER (WHERE o.a_on_left) AS l,
                          count(*) FILTER (WHERE NOT o.a_on_left) AS r
                   FROM annotation_assignment o WHERE o.unit_id = pick.id AND {live}
               ) sides
           ) END""".format(live=_LIVE.format(a="o"), **_VALUES)

# An excluded rater gets no task, not even the lease held (models.rater_takes_tasks).
_RATER_TAKES_TASKS = "NOT (SELECT excluded FROM rater)"

# One statement: the rater's leases on screen (%(renew)s: a preload's request names them) are
# renewed to the study's lease minutes, as services.assignments._renew_on_screen; the live
# lease the rater holds (other than the excluded ones) comes back first; otherwise the first
# unlocked unit at or after a random key among the emptiest open units is locked, leased (for
# %(expires)s: a preload's lease is short) and counted. The left/right order of a pair
# balances the unit's live leases (drawn at random when even). Returns the task's fields for
# the page, or no row.
_LEASE = """
WITH rater AS (
    SELECT excluded FROM annotation_rater WHERE id = %(rater)s
),
renewed AS (
    UPDATE annotation_assignment SET lease_expires_at = %(renewed)s
    WHERE id = ANY(%(renew)s) AND rater_id = %(rater)s AND study_id = %(study)s
      AND status = {leased}
),
held AS (
    SELECT h.id, h.unit_id, h.a_on_left, h.leased_at, h.lease_expires_at
    FROM annotation_assignment h
    WHERE h.rater_id = %(rater)s AND h.study_id = %(study)s
      AND h.status = {leased} AND h.lease_expires_at > %(now)s AND h.id <> ALL(%(exclude)s)
      AND {rater_takes_tasks}
    ORDER BY h.leased_at, h.id LIMIT 1
),
pick AS (
    SELECT u.id, u.kind FROM annotation_studyunit u
    WHERE {unseen} {open_level} {cap} {leases_free}
      AND u.shuffle >= %(start)s
      AND {rater_takes_tasks} AND NOT EXISTS (SELECT 1 FROM held)
    ORDER BY u.shuffle LIMIT 1
    FOR UPDATE SKIP LOCKED
),
leased AS (
    INSERT INTO annotation_assignment
        (rater_id, unit_id, study_id, a_on_left, status, leased_at, lease_expires_at,
         submitted_at)
    SELECT %(rater)s, pick.id, %(study)s,
           {a_on_left},
           {leased}, %(now)s, %(expires)s, NULL
    FROM pick
    RETURNING id, unit_id, a_on_left, leased_at, lease_expires_at
),
counted AS (
    UPDATE annotation_studyunit SET slots_taken = slots_taken + 1
    WHERE id IN (SELECT id FROM pick)
),
task AS (
    SELECT * FROM leased UNION ALL SELECT * FROM held
)
SELECT t.id, t.a_on_left, t.leased_at, t.lease_expires_at,
       u.id, u.kind, u.prompt_type, u.questions, u.edit_a_id, u.edit_b_id,
       i.id, i.prompt_mask_simple, i.prompt_mask_rich, i.prompt_full_image, i.width, i.height
FROM task t
JOIN annotation_studyunit u ON u.id = t.unit_id
JOIN annotation_edit e ON e.id = u.edit_a_id
JOIN annotation_benchmarkitem i ON i.id = e.item_id
"""


def _lease_sql(*, gold: bool, capped: bool) -> str:
    return _LEASE.format(
        unseen=_UNSEEN.format(u="u"),
        # Gold units are not limited to K raters: every rater should meet some.
        open_level="" if gold else _OPEN_LEVEL,
        cap=_CAP if capped else "",
        leases_free=_LEASES_FREE,
        a_on_left=_A_ON_LEFT,
        rater_takes_tasks=_RATER_TAKES_TASKS,
        **_VALUES,
    )


# The parameters' types, for PREPARE.
_TYPES = {
    "rater": "bigint",
    "study": "bigint",
    "assignment": "bigint",
    "gold": "boolean",
    "cap": "bigint",
    "exclude": "bigint[]",
    "renew": "bigint[]",
    "renewed": "timestamptz",
    "start": "integer",
    "now": "timestamptz",
    "expires": "timestamptz",
    "answers": "jsonb",
    "correct": "boolean",
    "time_ms": "integer",
    "submission": "uuid",
    "simulated": "boolean",
}


@dataclass(frozen=True)
class _Statement:
    """A statement prepared once per database connection: planning the lease statement took
    0.4 ms each time, four times its execution (EXPLAIN ANALYZE); a prepared one is planned
    once and then reuses PostgreSQL's cached plan."""

    name: str
    prepare: str
    execute: str
    params: tuple[str, ...]

    @classmethod
    def of(cls, name: str, sql: str) -> _Statement:
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in order:
                order.append(match.group(1))
            return f"${order.index(match.group(1)) + 1}"

        body = re.sub(r"%\((\w+)\)s", number, sql)
        types = ", ".join(_TYPES[p] for p in order)
        return cls(
            name=name,
            prepare=f"PREPARE {name} ({types}) AS {body}",
            execute=f"EXECUTE {name} ({', '.join(['%s'] * len(order))})",
            params=tuple(order),
        )


_SUBMIT_READ_STATEMENT = _Statement.of("editbench_submit_read", _SUBMIT_READ)
_SUBMIT_WRITE_STATEMENT = _Statement.of("editbench_submit_write", _SUBMIT_WRITE)
_LEASE_STATEMENTS = {
    (gold, capped): _Statement.of(
        f"editbench_lease_{'gold' if gold else 'open'}_{'capped' if capped else 'free'}",
        _lease_sql(gold=gold, capped=capped),
    )
    for gold in (False, True)
    for capped in (False, True)
}


def _prepared_here() -> set[str]:
    """The statements the current database session has prepared. Kept on Django's connection
    object (one per thread), with the session it belongs to: a new session has none."""
    session = connection.connection
    held: tuple[Any, set[str]] | None = getattr(connection, "_task_sql_prepared", None)
    if held is None or held[0] is not session:
        held = (session, set())
        connection._task_sql_prepared = held  # type: ignore[attr-defined]
    return held[1]


def _execute(statement: _Statement, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        done = _prepared_here()
        if statement.name not in done:
            # Not undone by a rollback: a prepared statement lives as long as its session.
            cursor.execute(statement.prepare)
            done.add(statement.name)
        cursor.execute(statement.execute, [params[p] for p in statement.params])
        # DB-API rows are tuples; the stubs type a raw cursor's fetchall() as Any.
        return cast(list[tuple[Any, ...]], cursor.fetchall())


def enabled() -> bool:
    """Whether the services try these statements first (PostgreSQL, RATER_SQL_PATH on)."""
    return connection.vendor == "postgresql" and bool(settings.RATER_SQL_PATH)


def _run(statement: _Statement, params: dict[str, Any]) -> list[tuple[Any, ...]] | None:
    """One statement, atomic on its own; None when it broke a constraint (nothing written).

    In autocommit mode PostgreSQL runs a statement as its own transaction; inside a caller's
    transaction (a test's, say) a savepoint keeps a failure from spoiling that transaction.
    """
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                return _execute(statement, params)
        return _execute(statement, params)
    except IntegrityError:
        return None


def _json(value: Any) -> Any:
    # Django reads jsonb as text on its own connections and decodes it in the ORM.
    return json.loads(value) if isinstance(value, str) else value


def _model(cls: type[_M], **values: Any) -> _M:
    """An instance as the ORM would load it with only these fields: any other field is
    deferred and loads from the database if something reads it."""
    names = [f.attname for f in cls._meta.concrete_fields if f.attname in values]
    return cls.from_db(connection.alias, names, [values[n] for n in names])


def submit_read(*, rater_id: int, assignment_id: int, now: datetime) -> dict[str, Any] | None:
    """The rater's assignment as a submission needs it, when it is a lease live at ``now`` in a
    study that takes answers; None otherwise (the ORM path then says why)."""
    if not 0 < assignment_id <= MAX_ID:
        # As a parameter here it would be an error; the ORM answers "no such row".
        return None
    rows = _execute(_SUBMIT_READ_STATEMENT, {"assignment": assignment_id, "rater": rater_id})
    if not rows:
        return None
    status, expires, a_on_left, kind, questions, simulated, study_id, study_status, rules = rows[0]
    if (
        not lease_is_live(status=status, lease_expires_at=expires, now=now)
        or study_status not in STUDY_STATUSES_TAKING_ANSWERS
    ):
        return None
    return {
        "a_on_left": a_on_left,
        "kind": kind,
        "questions": _json(questions),
        "simulated": simulated,
        # What the quality rules after a submission read of the study.
        "study": _model(Study, id=study_id, status=study_status, quality_rules=_json(rules)),
    }


def submit_write(
    *,
    rater_id: int,
    assignment_id: int,
    answers: dict[str, str],
    correct: bool | None,
    time_on_task_ms: int,
    client_submission_id: uuid.UUID,
    simulated: bool,
    now: datetime,
) -> Judgment | None:
    """Mark the lease submitted and record the judgment, in one statement. None when the lease
    is no longer live, or the submission id is taken: nothing was written."""
    rows = _run(
        _SUBMIT_WRITE_STATEMENT,
        {
            "assignment": assignment_id,
            "rater": rater_id,
            "answers": json.dumps(answers),
            "correct": correct,
            "time_ms": time_on_task_ms,
            "submission": str(client_submission_id),
            "simulated": simulated,
            "now": now,
        },
    )
    if not rows:
        return None
    return _model(
        Judgment,
        id=rows[0][0],
        assignment_id=assignment_id,
        answers=answers,
        correct=correct,
        time_on_task_ms=time_on_task_ms,
        client_submission_id=client_submission_id,
        supersedes_id=None,
        simulated=simulated,
        created_at=now,
    )


_LOCK_RATER = "SELECT id FROM annotation_rater WHERE id = %s FOR UPDATE"


def lease_next(
    *,
    rater_id: int,
    study: Study,
    exclude: Sequence[int],
    renew: Sequence[int],
    minutes: int,
    tries: Sequence[tuple[bool, int]],
    now: datetime,
) -> Assignment | None:
    """The rater's held lease, or a new one of ``minutes``, with what the task page shows
    loaded; None when no statement found either (the ORM path then decides). The rater's
    leases in ``renew`` (the tasks on screen) get the study's lease minutes.

    ``tries`` are (gold, start key) pairs, tried in order. All run in one transaction behind
    the rater's row lock: the live-lease count a statement reads is then one taken after any
    concurrent request of the same rater has committed its lease.
    """
    capped = study_caps_raters(study)
    params = {
        "rater": rater_id,
        "study": study.pk,
        "cap": study.max_tasks_per_rater,
        "exclude": list(exclude),
        "renew": list(renew),
        "renewed": now + timedelta(minutes=study.lease_minutes),
        "now": now,
        "expires": now + timedelta(minutes=minutes),
    }
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_LOCK_RATER, [rater_id])
            for gold, start in tries:
                rows = _execute(
                    _LEASE_STATEMENTS[gold, capped], {**params, "gold": gold, "start": start}
                )
                if rows:
                    return _task(rows[0], rater_id=rater_id, study=study)
    except IntegrityError:
        return None
    return None


def _task(row: tuple[Any, ...], *, rater_id: int, study: Study) -> Assignment:
    """The lease statement's row as the assignment the task page reads: its unit, the unit's
    first edit and that edit's item, each with only the fields the page shows."""
    (
        assignment_id,
        a_on_left,
        leased_at,
        expires,
        unit_id,
        kind,
        prompt_type,
        questions,
        edit_a_id,
        edit_b_id,
        item_id,
        *prompts,
        width,
        height,
    ) = row
    item = _model(
        BenchmarkItem,
        id=item_id,
        prompt_mask_simple=prompts[0],
        prompt_mask_rich=prompts[1],
        prompt_full_image=prompts[2],
        width=width,
        height=height,
    )
    edit = _model(Edit, id=edit_a_id, item_id=item_id)
    edit.item = item
    unit = _model(
        StudyUnit,
        id=unit_id,
        study_id=study.pk,
        kind=kind,
        prompt_type=prompt_type,
        edit_a_id=edit_a_id,
        edit_b_id=edit_b_id,
        questions=_json(questions),
    )
    unit.edit_a = edit
    assignment = _model(
        Assignment,
        id=assignment_id,
        rater_id=rater_id,
        unit_id=unit_id,
        study_id=study.pk,
        a_on_left=a_on_left,
        status=Assignment.Status.LEASED,
        leased_at=leased_at,
        lease_expires_at=expires,
        submitted_at=None,
    )
    assignment.unit = unit
    assignment.study = study
    return assignment
