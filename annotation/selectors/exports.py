"""A study's results as downloadable files: one implementation for the pages and the API."""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from analysis.report import (
    report_to_csv,
    report_to_json,
    write_raw_judgments_csv,
    write_raw_judgments_jsonl,
)
from analysis.report.html import render_html
from annotation.models import Study
from annotation.selectors.reports import report_salt, study_judgment_frames, study_report

#: Every export: its name in URLs and ``?output=``, and what it is.
EXPORTS = {
    "json": "every number with its method (JSON)",
    "html": "the self-contained HTML report",
    "csv": "every table of the report as CSV, in a zip",
    "raw-csv": "the raw judgments, pseudonymous raters (CSV)",
    "raw-jsonl": "the raw judgments, pseudonymous raters (JSON Lines)",
}
RAW_KINDS = ("single", "pairwise")
CONTENT_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "csv": "application/zip",
    "raw-csv": "text/csv; charset=utf-8",
    "raw-jsonl": "application/jsonl; charset=utf-8",
}


class ExportRequestError(ValueError):
    """An unknown export or raw table was asked for; the message starts with the argument."""


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str  # the study's slug and the export's name: never a model's


def study_export(
    *,
    study: Study,
    output: str,
    include_simulated: bool = False,
    kind: str = "single",
    n_resamples: int = 1000,
    platform_export_only: bool = False,
) -> Export:
    """One export of :data:`EXPORTS` (``kind`` picks the raw table: single or pairwise;
    ``platform_export_only`` keeps the raters of the uploaded platform export only).

    Raises :class:`ExportRequestError` naming the argument for an unknown output or kind.
    """
    if output not in EXPORTS:
        raise ExportRequestError(f"output: one of {', '.join(EXPORTS)}")
    if output.startswith("raw-"):
        if kind not in RAW_KINDS:
            raise ExportRequestError(f"kind: {' or '.join(RAW_KINDS)}")
        return _raw_export(study, output, kind, include_simulated, platform_export_only)
    report = study_report(
        study=study,
        include_simulated=include_simulated,
        n_resamples=n_resamples,
        platform_export_only=platform_export_only,
    )
    name = f"{study.slug}-report"
    if output == "json":
        content = report_to_json(report).encode("utf-8")
        return Export(content, CONTENT_TYPES[output], f"{name}.json")
    if output == "html":
        return Export(render_html(report).encode("utf-8"), CONTENT_TYPES[output], f"{name}.html")
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w") as archive:
        for path in report_to_csv(report, Path(folder)):
            archive.write(path, arcname=f"{name}/{path.name}")
    return Export(buffer.getvalue(), CONTENT_TYPES[output], f"{name}-csv.zip")


def _raw_export(
    study: Study, output: str, kind: str, include_simulated: bool, platform_export_only: bool
) -> Export:
    single, pairwise = study_judgment_frames(
        study=study, include_simulated=include_simulated, platform_export_only=platform_export_only
    )
    frame = single if kind == "single" else pairwise
    suffix = "csv" if output == "raw-csv" else "jsonl"
    filename = f"{study.slug}-raw-{kind}.{suffix}"
    if not len(frame):
        return Export(b"", CONTENT_TYPES[output], filename)
    writer = write_raw_judgments_csv if output == "raw-csv" else write_raw_judgments_jsonl
    with tempfile.TemporaryDirectory() as folder:
        path = writer(frame, Path(folder) / filename, salt=report_salt(study))
        return Export(path.read_bytes(), CONTENT_TYPES[output], filename)
