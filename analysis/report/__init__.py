"""The exported study report: computed once, then written as JSON, CSV and HTML.

:func:`~analysis.report.build.build_report` turns a :class:`StudyData` (the study's
:class:`ReportSettings` and the tidy judgment tables of :mod:`analysis.tables`) into a
:class:`Report`: named :class:`Table` objects, each a DataFrame with a title, a description
and the method (and the ``n``) behind every number column. It calls the functions of
:mod:`analysis.tables`, :mod:`analysis.pairwise` and :mod:`analysis.agreement`; it adds no
statistics of its own beyond the automatic judge's agreement with the human majority. The
writers only format: :func:`report_to_json` and :func:`report_to_csv` here, and
:func:`analysis.report.html.render_html` for the page (imported from its module, so that
matplotlib loads only where a page is made).

The modules, each importing only those before it:

- :mod:`~analysis.report.model`: the data classes and the shared constants;
- :mod:`~analysis.report.export`: pseudonyms, the raw judgments, the JSON and CSV writers;
- :mod:`~analysis.report.methods`: the methods section's prose;
- :mod:`~analysis.report.prepare` and :mod:`~analysis.report.rows`: validated inputs and
  each table's rows (internal);
- :mod:`~analysis.report.build`: :func:`build_report`;
- :mod:`~analysis.report.charts` and :mod:`~analysis.report.html`: the charts and the page.

With and without exclusions
---------------------------
A table whose numbers depend on which judgments are counted starts with a ``judgments``
column: ``"kept"`` (exclusions applied; the headline numbers) or ``"all"`` (every judgment,
the excluded ones included). When no judgment was excluded, the ``"all"`` rows are copies of
the ``"kept"`` rows rather than a second bootstrap, so the two never differ by resampling
noise alone. The ``exclusions`` table counts the judgments and raters each rule removed.

Missing values
--------------
A group without data keeps its row, with ``n == 0``, NaN numbers and the note "no data".
NaN becomes ``null`` in JSON, an empty cell in CSV and "no data" or "—" in HTML.

Rater privacy
-------------
Reports aggregate over raters and never show a rater id. Where rater-level rows are exported
(the rater quality table, :func:`raw_judgments`), ids are replaced by :func:`pseudonym`, a
keyed hash that is stable for one salt and cannot be reversed without it.
"""

from __future__ import annotations

from analysis.report.build import build_report
from analysis.report.export import (
    pseudonym,
    raw_judgments,
    report_to_csv,
    report_to_json,
    write_raw_judgments_csv,
    write_raw_judgments_jsonl,
)
from analysis.report.model import (
    ALL,
    AUTO_JUDGE_RATER,
    BREAKDOWNS,
    KEPT,
    PAIRWISE,
    PROMPT_LABELS,
    SINGLE,
    Report,
    ReportSettings,
    StudyData,
    Table,
    prompt_label,
)

__all__ = [
    "ALL",
    "AUTO_JUDGE_RATER",
    "BREAKDOWNS",
    "KEPT",
    "PAIRWISE",
    "PROMPT_LABELS",
    "SINGLE",
    "Report",
    "ReportSettings",
    "StudyData",
    "Table",
    "build_report",
    "prompt_label",
    "pseudonym",
    "raw_judgments",
    "report_to_csv",
    "report_to_json",
    "write_raw_judgments_csv",
    "write_raw_judgments_jsonl",
]
