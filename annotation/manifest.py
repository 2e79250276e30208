"""Reading and validating a benchmark manifest (JSONL or CSV) without writing anything.

A manifest row names an item's files relative to the manifest and carries its
prompts, categories and structured target (columns: see README.md, "Benchmark
manifests"). :func:`read_manifest` checks every row and every file and returns
either the complete list of valid rows or raises :class:`ManifestInvalid`
listing every problem with its row number, so that an import is all or nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from analysis import categories as cat
from annotation.images import MASK_FORMATS, ImageRejected, mask_array, open_checked

MAX_ID_LENGTH = 100
# The database's bigint; a larger seed would fail at write time instead of validation.
SEED_RANGE = (-(2**63), 2**63 - 1)


class ManifestInvalid(ValueError):
    """The manifest cannot be imported; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ManifestRow:
    """One validated item: its fields, and its files as bytes."""

    row: int
    external_id: str
    fields: dict[str, Any]
    image: bytes
    mask: bytes
    reference: bytes | None
    width: int
    height: int
    fingerprint: str = field(default="")
    # What else the source said (kept on the item), and what the import should report
    # without refusing (e.g. a category the release's value table cannot place).
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def find_manifest(path: Path) -> Path:
    """Accept either the manifest file or the folder holding ``manifest.jsonl``/``.csv``."""
    if path.is_dir():
        for name in ("manifest.jsonl", "manifest.csv"):
            if (path / name).is_file():
                return path / name
        raise ManifestInvalid([f"{path} holds no manifest.jsonl or manifest.csv"])
    if not path.is_file():
        raise ManifestInvalid([f"{path} does not exist"])
    return path


def read_text_checked(path: Path) -> str:
    """The file's text, or :class:`ManifestInvalid` saying where it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestInvalid(
            [
                f"{path.name}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}); save the file as UTF-8"
            ]
        ) from None


def csv_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for each CSV record; a malformed file raises ManifestInvalid."""
    reader = csv.DictReader(io.StringIO(read_text_checked(path)))
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        for record in reader:
            # Line number of the record's last line; the header is line 1.
            records.append((reader.line_num, dict(record)))
    except csv.Error as exc:
        raise ManifestInvalid([f"{path.name}: line {reader.line_num}: {exc}"]) from None
    return records


def nul_problems(value: Any, column: str) -> list[str]:
    """A problem for each string in ``value`` (nested too) that holds a NUL character.

    Neither PostgreSQL text nor jsonb can store one, so it is refused up front.
    """
    if isinstance(value, str):
        return [f"{column} contains a NUL character"] if "\x00" in value else []
    if isinstance(value, dict):
        found = [
            p for k, v in value.items() for p in nul_problems(k, column) + nul_problems(v, column)
        ]
        return found[:1]
    if isinstance(value, list):
        return [p for v in value for p in nul_problems(v, column)][:1]
    return []


def _raw_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (row number, row dict) or (row number, error text) for each row."""
    if path.suffix.lower() == ".csv":
        yield from csv_records(path)
        return
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise ManifestInvalid([f"{path.name}: a manifest must be .jsonl or .csv"])
    text = read_text_checked(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(record, dict):
            yield number, "must be a JSON object"
            continue
        yield number, record


def _resolve(base: Path, name: Any, column: str) -> tuple[Path | None, str | None]:
    if not isinstance(name, str) or not name.strip():
        return None, f"column {column!r} is empty"
    candidate = (base / name).resolve()
    if not candidate.is_relative_to(base.resolve()):
        return None, f"{column} {name!r} points outside the manifest's folder"
    if not candidate.is_file():
        return None, f"{column} file {name!r} does not exist"
    return candidate, None


def _parse_target(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None, "target is not valid JSON"
    if not isinstance(value, dict):
        return None, "target must be a JSON object"
    noun = value.get("object")
    if not isinstance(noun, str) or not noun.strip():
        return None, "target has no 'object' (the object noun the prompts ask for)"
    attributes = value.get("attributes", {})
    if not isinstance(attributes, dict):
        return None, "target 'attributes' must be an object of attribute: value"
    return value, None


def _parse_seed(value: Any) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    try:
        if isinstance(value, bool):
            raise TypeError
        seed = int(value)
    except (TypeError, ValueError):
        return None, f"seed {value!r} is not an integer"
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        return None, f"seed {value!r} is out of range (a 64-bit signed integer)"
    return seed, None


def _check_fields(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    missing = [c for c in cat.MANIFEST_REQUIRED_COLUMNS if c not in record]
    if missing:
        return {}, [f"missing column(s): {', '.join(missing)}"]
    known = {*cat.MANIFEST_REQUIRED_COLUMNS, *cat.MANIFEST_OPTIONAL_COLUMNS}
    unknown = sorted(set(record) - known)
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    # The target is checked once parsed: in CSV a NUL hides in a JSON escape.
    for column in sorted((known & set(record)) - {"target"}):
        problems += nul_problems(record[column], column)
    external_id = str(record["id"]).strip()
    if not external_id:
        problems.append("id is empty")
    elif len(external_id) > MAX_ID_LENGTH:
        problems.append(f"id is longer than {MAX_ID_LENGTH} characters")
    fields: dict[str, Any] = {"external_id": external_id}
    for column, allowed in cat.CATEGORY_FIELDS.items():
        value = str(record[column]).strip()
        if value not in allowed:
            problems.append(f"unknown {column} {value!r}; expected one of: {', '.join(allowed)}")
        fields[column] = value
    for column in cat.PROMPT_FIELDS.values():
        prompt = record[column]
        if not isinstance(prompt, str) or not prompt.strip():
            problems.append(f"{column} is empty")
        fields[column] = prompt.strip() if isinstance(prompt, str) else ""
    target, error = _parse_target(record["target"])
    if error:
        problems.append(error)
    problems += nul_problems(target, "target")
    fields["target"] = target
    seed, error = _parse_seed(record.get("seed"))
    if error:
        problems.append(error)
    fields["seed"] = seed
    return fields, problems


def _fingerprint(fields: dict[str, Any], files: Iterable[bytes | None]) -> str:
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=True).encode())
    for content in files:
        digest.update(hashlib.sha256(content or b"").digest())
    return digest.hexdigest()


def _check_row(
    number: int, record: dict[str, Any], base: Path, max_pixels: int
) -> tuple[ManifestRow | None, list[str]]:
    fields, problems = _check_fields(record)
    if not fields:
        return None, problems
    paths: dict[str, Path | None] = {}
    for column in ("image", "mask", "reference"):
        if column == "reference" and not record.get("reference"):
            paths[column] = None
            continue
        paths[column], error = _resolve(base, record.get(column), column)
        if error:
            problems.append(error)
    blobs: dict[str, bytes | None] = {
        c: (p.read_bytes() if p is not None else None) for c, p in paths.items()
    }
    size: tuple[int, int] | None = None
    try:
        if blobs["image"] is not None:
            image = open_checked(blobs["image"], what="image", max_pixels=max_pixels)
            size = (image.width, image.height)
        if blobs["mask"] is not None:
            mask = open_checked(
                blobs["mask"], what="mask", max_pixels=max_pixels, formats=MASK_FORMATS
            )
            if size is not None and (mask.width, mask.height) != size:
                problems.append(
                    f"mask is {mask.width}×{mask.height} but the image is {size[0]}×{size[1]}"
                )
            else:
                mask_array(mask, what="mask")
        if blobs["reference"] is not None:
            reference = open_checked(blobs["reference"], what="reference", max_pixels=max_pixels)
            if size is not None and (reference.width, reference.height) != size:
                problems.append(
                    f"reference is {reference.width}×{reference.height} "
                    f"but the image is {size[0]}×{size[1]}"
                )
    except ImageRejected as exc:
        problems.append(str(exc))
    if problems or size is None or blobs["image"] is None or blobs["mask"] is None:
        return None, problems
    return (
        ManifestRow(
            row=number,
            external_id=fields["external_id"],
            fields=fields,
            image=blobs["image"],
            mask=blobs["mask"],
            reference=blobs["reference"],
            width=size[0],
            height=size[1],
            fingerprint=_fingerprint(fields, (blobs["image"], blobs["mask"], blobs["reference"])),
        ),
        [],
    )


def read_manifest(path: Path, *, max_pixels: int, progress: bool = False) -> list[ManifestRow]:
    """Validate the whole manifest at ``path``; return its rows or raise with every problem."""
    manifest = find_manifest(path)
    base = manifest.parent
    rows: list[ManifestRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    records = list(_raw_rows(manifest))
    if not records:
        raise ManifestInvalid([f"{manifest.name} has no rows"])
    for number, record in tqdm(records, desc="validating", unit="item", disable=not progress):
        if isinstance(record, str):
            problems.append(f"row {number}: {record}")
            continue
        row, row_problems = _check_row(number, record, base, max_pixels)
        external_id = str(record.get("id", "")).strip()
        if external_id and external_id in seen:
            row_problems.append(f"id {external_id!r} already used on row {seen[external_id]}")
        elif external_id:
            seen[external_id] = number
        problems.extend(f"row {number}: {p}" for p in row_problems)
        if row is not None and not row_problems:
            rows.append(row)
    if problems:
        raise ManifestInvalid(problems)
    return rows
