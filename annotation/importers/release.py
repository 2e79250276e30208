"""The released EditBench (Imagen Editor) as distributed.

::

    <root>/annotations_natural.csv     <root>/references_natural/<aos>.png  masks_natural/<aos>.png
    <root>/annotations_generated.csv   <root>/references_generated/<aos>.png masks_generated/…

Each CSV row is an item: ``aos`` (an opaque unique key, parsed tolerantly for categories:
:mod:`analysis.editbench_release`), ``prompt_full``, ``prompt_mask-simple``,
``prompt_mask-rich``; other columns are kept on the item (``extra``). Category columns named
like ours (``attribute_type``, ``object_type``, ``scene``, ``style``) win over the value table.
The item id is ``<source>/<aos>`` (the two files may share a key). Masks are white where to edit;
the input is the reference with the region cleared (:mod:`annotation.importers.common`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from analysis import categories as cat
from analysis import editbench_release as release
from annotation.importers.common import (
    ReadOptions,
    categories_from_aos,
    check_files,
    check_id,
    check_prompt,
    inside,
    make_row,
)
from annotation.manifest import (
    MAX_ID_LENGTH,
    ManifestInvalid,
    ManifestRow,
    csv_records,
    nul_problems,
)

CATEGORY_COLUMNS = ("attribute_type", "object_type", "scene", "style")


def is_release(root: Path) -> bool:
    return root.is_dir() and any((root / n).is_file() for n in release.RELEASE_ANNOTATIONS.values())


def _category_columns(record: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    problems: list[str] = []
    for column in CATEGORY_COLUMNS:
        value = str(record.get(column) or "").strip()
        if not value:
            continue
        if value not in cat.IMPORTED_CATEGORY_FIELDS[column]:
            allowed = ", ".join(cat.IMPORTED_CATEGORY_FIELDS[column])
            problems.append(f"unknown {column} {value!r}; expected one of: {allowed}")
        values[column] = value
    return values, problems


def _item(
    root: Path, source: str, number: int, record: dict[str, Any], options: ReadOptions
) -> tuple[ManifestRow | None, list[str]]:
    aos = str(record.get(release.RELEASE_ID_COLUMN) or "").strip()
    # The item id is "<source>/<aos>", which must fit the id column.
    problems = check_id(aos, "aos", limit=MAX_ID_LENGTH - len(source) - 1)
    fields: dict[str, Any] = {}
    for column, field in release.RELEASE_PROMPT_COLUMNS.items():
        problems += check_prompt(record.get(column), column)
        fields[field] = str(record.get(column) or "").strip()
    known = {release.RELEASE_ID_COLUMN, *release.RELEASE_PROMPT_COLUMNS, *CATEGORY_COLUMNS}
    extra = {k: v for k, v in record.items() if k not in known and k is not None}
    for column, value in extra.items():
        problems += nul_problems(value, column)
    columns, column_problems = _category_columns(record)
    problems += column_problems
    if problems:
        return None, problems
    placed = categories_from_aos(aos, source, columns)
    if placed.unplaced and options.strict:
        return None, [f"the value table cannot place: {', '.join(placed.unplaced)}"]
    reference, error = inside(root, f"references_{source}/{aos}.png", "reference")
    mask, mask_error = inside(root, f"masks_{source}/{aos}.png", "mask")
    if error or mask_error:
        return None, [p for p in (error, mask_error) if p]
    assert reference is not None and mask is not None
    files, problems = check_files(
        reference.read_bytes(), mask.read_bytes(), max_pixels=options.max_pixels
    )
    if files is None:
        return None, problems
    warnings: tuple[str, ...] = ()
    if placed.unplaced:
        warnings = (f"category unknown for {', '.join(placed.unplaced)}",)
    return make_row(
        number=number,
        external_id=f"{source}/{aos}",
        fields={**fields, **placed.values, "target": placed.target, "seed": None},
        files=files,
        extra={**extra, "aos": aos},
        warnings=warnings,
    ), []


def _header_problems(name: str, records: list[tuple[int, dict[str, Any]]]) -> list[str]:
    if not records:
        return [f"{name} has no rows"]
    needed = [release.RELEASE_ID_COLUMN, *release.RELEASE_PROMPT_COLUMNS]
    missing = [c for c in needed if c not in records[0][1]]
    return [f"{name}: missing column(s): {', '.join(missing)}"] if missing else []


def read_release(root: Path, *, options: ReadOptions) -> list[ManifestRow]:
    """Validate the release at ``root``; its rows, or :class:`ManifestInvalid` with every problem.

    A value the table cannot place is imported as ``unknown`` and reported in the row's
    warnings; with ``options.strict`` it is a problem instead.
    """
    sources = [
        (s, root / n) for s, n in release.RELEASE_ANNOTATIONS.items() if (root / n).is_file()
    ]
    if not sources:
        names = " or ".join(release.RELEASE_ANNOTATIONS.values())
        raise ManifestInvalid([f"{root} holds no {names}"])
    rows: list[ManifestRow] = []
    problems: list[str] = []
    for source, path in sources:
        records = csv_records(path)
        header = _header_problems(path.name, records)
        if header:
            problems += header
            continue
        seen: dict[str, int] = {}
        for number, record in tqdm(records, desc=source, unit="item", disable=not options.progress):
            row, found = _item(root, source, number, record, options)
            aos = str(record.get(release.RELEASE_ID_COLUMN) or "").strip()
            if aos in seen:
                found.append(f"aos {aos!r} already used on row {seen[aos]}")
            elif aos:
                seen[aos] = number
            problems += [f"{path.name} row {number}: {p}" for p in found]
            if row is not None and not found:
                rows.append(row)
    if problems:
        raise ManifestInvalid(problems)
    return rows
