"""Writing a report out: JSON, CSV, and the raw judgments with pseudonymous raters.

:func:`report_to_json` and :func:`report_to_csv` format a computed
:class:`~analysis.report.model.Report`; :func:`raw_judgments` and its two writers export the
judgments themselves, rater ids replaced by :func:`pseudonym`, the one pseudonym formula of
the project (the report's rater table uses it too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.crossed import METHOD as CROSSED_METHOD
from analysis.questions import ANSWER_PREFIX, TIME_COLUMN
from analysis.report.model import Report, ReportSettings, Table, jsonable, simulated_banner
from analysis.tables import PAIRWISE_COLUMNS, SINGLE_COLUMNS, validate_pairwise, validate_single

__all__ = [
    "pseudonym",
    "pseudonyms",
    "raw_judgments",
    "report_to_csv",
    "report_to_json",
    "table_to_latex",
    "write_raw_judgments_csv",
    "write_raw_judgments_jsonl",
]

_JSON_FORMAT = "editbench-studio-report/1"


def pseudonym(rater: object, *, salt: str) -> str:
    """Pseudonymous rater id: ``"r-"`` + the first 10 hex digits of HMAC-SHA256.

    Parameters
    ----------
    rater : object
        The raw rater id (converted with :class:`str`).
    salt : str
        The HMAC key. Keep it secret and reuse it within one report (or one study) so a rater
        keeps one pseudonym across its tables; another salt gives unlinkable pseudonyms.

    Returns
    -------
    str
        E.g. ``"r-3fa9c01b2e"``.

    Raises
    ------
    ValueError
        For an empty salt: without a key the pseudonym is a lookup away from the raw id.
    """
    if not isinstance(salt, str) or not salt:
        raise ValueError("salt must be a non-empty string")
    digest = hmac.new(salt.encode("utf-8"), str(rater).encode("utf-8"), hashlib.sha256)
    return "r-" + digest.hexdigest()[:10]


def pseudonyms(raters: pd.Series, salt: str) -> pd.Series:
    """``raters`` with each id replaced by its :func:`pseudonym`.

    Raises ValueError when two distinct ids share a pseudonym (so raters never merge).
    """
    mapping = {rater: pseudonym(rater, salt=salt) for rater in pd.unique(raters)}
    if len(set(mapping.values())) != len(mapping):
        # 40 bits make this astronomically rare; two raters must never merge silently.
        raise ValueError("two rater ids share a pseudonym; use another salt")
    return raters.map(mapping)


def raw_judgments(
    df: pd.DataFrame, *, salt: str, extra_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """The judgments for export, with rater ids replaced by pseudonyms.

    Parameters
    ----------
    df : pandas.DataFrame
        Single-image or side-by-side judgments (told apart by a ``model_a`` column),
        excluded ones included.
    salt : str
        Key of :func:`pseudonym`.
    extra_columns : sequence of str
        Further columns to keep. Only the contract's columns, ``excluded``,
        ``exclusion_rule``, each question's answer (``answer_<question id>``) and the time
        on task (``time_on_task_ms``) are kept otherwise, so that an unexpected identifying
        column (a platform id, an e-mail) is not exported by accident.

    Returns
    -------
    pandas.DataFrame
        The contract's columns (``rater`` pseudonymised), ``excluded``, ``exclusion_rule``,
        the answer and time columns present, and ``extra_columns``, in that order.

    Raises
    ------
    ValueError
        On an invalid table, an empty salt, or ``rater`` among ``extra_columns``.
    """
    columns: tuple[str, ...]
    if "model_a" in df.columns:
        frame, columns = validate_pairwise(df), PAIRWISE_COLUMNS
    elif "model" in df.columns:
        frame, columns = validate_single(df), SINGLE_COLUMNS
    else:
        raise ValueError("cannot tell the judgment kind: no 'model' or 'model_a' column")
    # Each question's answer and the time on task are always exported: their names are fixed
    # by the platform (analysis.questions), so they cannot carry an identifying column.
    answers = [c for c in frame.columns if str(c).startswith(ANSWER_PREFIX) or c == TIME_COLUMN]
    extra = [*answers, *(c for c in extra_columns if c not in answers)]
    if "rater" in extra:
        raise ValueError("'rater' cannot be an extra column: it is always pseudonymised")
    missing = [c for c in extra if c not in frame.columns]
    if missing:
        raise ValueError(f"missing extra column(s): {', '.join(missing)}")
    out = frame[[*columns, "excluded", "exclusion_rule", *extra]].copy()
    out["rater"] = pseudonyms(out["rater"], salt)
    return out.reset_index(drop=True)


def write_raw_judgments_csv(
    df: pd.DataFrame, path: Path, *, salt: str, extra_columns: Sequence[str] = ()
) -> Path:
    """Write :func:`raw_judgments` as CSV (missing values as empty cells); return ``path``."""
    raw_judgments(df, salt=salt, extra_columns=extra_columns).to_csv(
        path, index=False, lineterminator="\n"
    )
    return path


def write_raw_judgments_jsonl(
    df: pd.DataFrame, path: Path, *, salt: str, extra_columns: Sequence[str] = ()
) -> Path:
    """Write :func:`raw_judgments` as JSON Lines (one object per judgment); return ``path``."""
    frame = raw_judgments(df, salt=salt, extra_columns=extra_columns)
    with path.open("w", encoding="utf-8") as out:
        for record in frame.to_dict(orient="records"):
            out.write(json.dumps(jsonable(record), ensure_ascii=False, allow_nan=False))
            out.write("\n")
    return path


def _settings_json(settings: ReportSettings) -> dict[str, Any]:
    return {
        "task_kinds": list(settings.task_kinds),
        "prompt_types": list(settings.prompt_types),
        "raters_per_unit": settings.raters_per_unit,
        "gold_rate": settings.gold_rate,
        "exclusion_rules": dict(settings.exclusion_rules),
        "models": list(settings.models),
        "launched_at": settings.launched_at,
        "closed_at": settings.closed_at,
        "simulated_raters": settings.simulated_raters,
        "adaptive": None if settings.adaptive is None else dict(settings.adaptive),
    }


def report_to_json(report: Report) -> str:
    """The whole report as JSON.

    Every table is ``{"title", "description", "methods", "columns", "rows"}`` with one
    object per row; ``methods`` names the method and the ``n`` column of each number. NaN
    becomes ``null``; keys are sorted, so equal reports give equal text.

    Parameters
    ----------
    report : Report

    Returns
    -------
    str
        Indented JSON text.
    """
    document = {
        "format": _JSON_FORMAT,
        "study": {"name": report.study, "settings": _settings_json(report.settings)},
        "analysis": {
            "task_kinds": list(report.task_kinds),
            "models": list(report.models),
            "prompt_types": list(report.prompt_types),
            "n_resamples": report.n_resamples,
            "seed": report.seed,
            "confidence": report.confidence,
            "alpha": report.alpha,
            "interval_method": CROSSED_METHOD,
            "interval_method_reference": "wilson (every judgment independent)",
            "simulated_raters_included": report.settings.simulated_raters > 0,
            "banner": simulated_banner(report.settings),
        },
        "methods_text": report.methods_text,
        "tables": {
            name: {
                "title": table.title,
                "description": table.description,
                "methods": dict(table.methods),
                "columns": [str(c) for c in table.frame.columns],
                "rows": table.frame.to_dict(orient="records"),
            }
            for name, table in report.tables.items()
        },
    }
    return json.dumps(
        jsonable(document), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False
    )


def report_to_csv(report: Report, folder: Path) -> list[Path]:
    """Write one CSV per table (``<name>.csv``) into ``folder``, created if needed.

    Parameters
    ----------
    report : Report
    folder : pathlib.Path

    Returns
    -------
    list of pathlib.Path
        The files written, in report order. Missing values are empty cells.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in report.tables.items():
        path = folder / f"{name}.csv"
        table.frame.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex_cell(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return "--"
    if isinstance(value, float):
        return f"{value:.3f}"
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(value))


def table_to_latex(table: Table) -> str:
    """One table as a LaTeX ``tabular`` (booktabs rules), every cell escaped; missing
    numbers print as ``--``. For pasting into a paper."""
    frame = table.frame
    columns = [str(c) for c in frame.columns]
    lines = [
        f"% {_latex_cell(table.title)}: {_latex_cell(table.description)}",
        "\\begin{tabular}{" + "l" * max(len(columns), 1) + "}",
        "\\toprule",
        " & ".join(_latex_cell(c) for c in columns) + " \\\\",
        "\\midrule",
    ]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_latex_cell(v) for v in row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)
