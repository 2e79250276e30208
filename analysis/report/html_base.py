"""The building blocks of the HTML report: value formatting, tables, figures, downloads.

Shared by :mod:`analysis.report.html` and :mod:`analysis.report.html_pairwise`; every cell
is escaped in :func:`html_table`.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.report.charts import NO_DATA_LABEL
from analysis.report.export import table_to_latex
from analysis.report.model import KEPT, Table

__all__ = [
    "ci",
    "figure",
    "fmt",
    "html_table",
    "kept",
    "or_default",
    "p_text",
    "scope_rows",
    "share",
    "table_downloads",
]

_DASH = "—"


def fmt(value: Any, digits: int = 3) -> str:
    """Display text of one value; missing and non-finite values become a dash."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}" if math.isfinite(value) else _DASH
    return str(value)


def share(value: Any, n: Any) -> str:
    return NO_DATA_LABEL if int(n) == 0 else fmt(value)


def ci(low: Any, high: Any) -> str:
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        return _DASH
    return f"[{float(low):.3f}, {float(high):.3f}]"


def p_text(value: Any) -> str:
    p = float(value)
    if not math.isfinite(p):
        return _DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


_NUMERIC = re.compile(r"[<-]?[0-9.]+|\[-?[0-9.]+, -?[0-9.]+\]")


def _looks_numeric(cell: str) -> bool:
    """Whether a cell is a number or an interval (right-aligned)."""
    return _NUMERIC.fullmatch(cell) is not None


def or_default(value: Any, default: str) -> str:
    """``value`` as text, or ``default`` when it is missing (None or NaN)."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return default if missing else str(value)


def html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """An HTML table; every cell is escaped here, numbers right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            attr = ' class="num"' if _looks_numeric(cell) else ""
            cells.append(f"<td{attr}>{html.escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(header)}">{NO_DATA_LABEL}</td></tr>')
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def kept(table: Table) -> pd.DataFrame:
    frame = table.frame
    if "judgments" not in frame.columns:
        return frame
    return frame.loc[frame["judgments"] == KEPT].reset_index(drop=True)


def scope_rows(table: Table, scope: str) -> pd.DataFrame:
    frame = table.frame
    return frame.loc[frame["judgments"] == scope].reset_index(drop=True)


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _standalone_svg(svg: str) -> bytes:
    """The inline SVG as a file of its own (namespace declared again)."""
    return svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1).encode()


def figure(svg: str, caption: str, *, name: str = "", pdf: bytes = b"") -> str:
    links = ""
    if name:
        links = (
            '<div class="downloads">Download: '
            f'<a download="{name}.svg" href="{_data_uri("image/svg+xml", _standalone_svg(svg))}">'
            "SVG</a>"
            + (
                f'<a download="{name}.pdf" href="{_data_uri("application/pdf", pdf)}">PDF</a>'
                if pdf
                else ""
            )
            + "</div>"
        )
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption>{links}</figure>"


def table_downloads(table: Table) -> str:
    """Links to the whole table (both scopes, every column) as CSV and as LaTeX."""
    csv = table.frame.to_csv(index=False).encode()
    latex = table_to_latex(table).encode()
    return (
        f'<div class="downloads">Table “{html.escape(table.name)}”: '
        f'<a download="{table.name}.csv" href="{_data_uri("text/csv", csv)}">CSV</a>'
        f'<a download="{table.name}.tex" href="{_data_uri("application/x-tex", latex)}">'
        "LaTeX</a></div>"
    )
