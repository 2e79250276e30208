"""The data model of ARCHITECTURE.md §3.

Invariants live in the database (unique and check constraints), not only in
Python, so that concurrent writers and hand-made SQL cannot break them. Every
write goes through annotation/services/.

The rules that the task page's two paths share (the ORM code of services.assignments and
services.judgments, and the prepared statements of services.task_sql) are named in
``annotation.models.rules``, so that both build on one definition. One module per concern
(benchmarks, generation, studies, raters, rules); everything is importable from here.
"""

from __future__ import annotations

from annotation.models.base import edit_image_path, item_image_path
from annotation.models.benchmarks import Benchmark, BenchmarkItem
from annotation.models.generation import Edit, EditModel, GenerationJob
from annotation.models.raters import Assignment, BrokenItemReport, Judgment, Rater
from annotation.models.rules import (
    MAX_LIVE_LEASES,
    STUDY_STATUS_HANDING_OUT_TASKS,
    STUDY_STATUSES_TAKING_ANSWERS,
    emptiest_level,
    expired_lease,
    lease_is_live,
    live_assignment,
    live_lease,
    live_leases_full,
    pair_a_on_left,
    rater_cap_reached,
    rater_takes_tasks,
    study_caps_raters,
    study_is_adaptive,
    unit_wanted_at_launch,
    units_open,
    units_unseen,
)
from annotation.models.studies import MAX_ID, SHUFFLE_KEYS, Study, StudyUnit, shuffle_key

__all__ = [
    "MAX_ID",
    "MAX_LIVE_LEASES",
    "SHUFFLE_KEYS",
    "STUDY_STATUSES_TAKING_ANSWERS",
    "STUDY_STATUS_HANDING_OUT_TASKS",
    "Assignment",
    "Benchmark",
    "BenchmarkItem",
    "BrokenItemReport",
    "Edit",
    "EditModel",
    "GenerationJob",
    "Judgment",
    "Rater",
    "Study",
    "StudyUnit",
    "edit_image_path",
    "emptiest_level",
    "expired_lease",
    "item_image_path",
    "lease_is_live",
    "live_assignment",
    "live_lease",
    "live_leases_full",
    "pair_a_on_left",
    "rater_cap_reached",
    "rater_takes_tasks",
    "shuffle_key",
    "study_caps_raters",
    "study_is_adaptive",
    "unit_wanted_at_launch",
    "units_open",
    "units_unseen",
]
