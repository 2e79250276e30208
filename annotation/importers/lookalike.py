"""Why a folder is not a benchmark we read, in words: above all the ones that share the name.

Several unrelated datasets are called EditBench: a code-editing benchmark (EDIT-Bench:
instructions, code before/after, tests) and instruction-based image-editing sets of tens of
thousands of images labelled by edit type. Neither has masks or the three EditBench prompt
styles, so importing them would be meaningless; they are recognised by their columns and files
and refused with a message saying what they are.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

CODE_KEYS = frozenset(
    {
        "code",
        "original_code",
        "highlighted_code",
        "modified_code",
        "test_code",
        "instruction",
        "programming_language",
        "diff",
        "test",
        "tests",
        "problem_id",
    }
)
EDIT_TYPE_KEYS = frozenset(
    {
        "edit_type",
        "editing_type",
        "edit_category",
        "task_type",
        "instruction",
        "edit_instruction",
        "source_image",
        "target_image",
        "input_image",
        "output_image",
        "edited_image",
        "original_image",
    }
)
CODE_SUFFIXES = frozenset({".py", ".js", ".ts", ".java", ".cpp", ".go", ".rs"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
MANY_IMAGES = 2000  # an image collection this large without our files is not EditBench's 240
LAYOUTS = (
    "our manifest (manifest.jsonl or manifest.csv), the EditBench release of Imagen Editor "
    "(annotations_natural.csv / annotations_generated.csv with references_*/ and masks_*/), "
    "or BrushNet's copy (mapping_file.json with images/)"
)


def _keys(path: Path) -> set[str]:
    """Column or key names of a table-like file, from its first record (64 kB at most)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError:
        return set()
    first = head.lstrip().splitlines()[0] if head.strip() else ""
    if path.suffix.lower() == ".csv":
        return {c.strip().strip('"').lower() for c in first.split(",")}
    try:
        record = json.loads(first if path.suffix.lower() in (".jsonl", ".ndjson") else head)
    except json.JSONDecodeError:
        return set()
    if isinstance(record, list) and record:
        record = record[0]
    return {str(k).lower() for k in record} if isinstance(record, dict) else set()


def _tables(root: Path) -> list[Path]:
    found = [p for p in root.iterdir() if p.is_file()]
    for sub in (p for p in root.iterdir() if p.is_dir()):
        found += [p for p in islice(sub.iterdir(), 200) if p.is_file()]
    return [p for p in found if p.suffix.lower() in (".csv", ".json", ".jsonl", ".ndjson")]


def describe_unrecognised(root: Path) -> str:
    """The message for a folder that matches none of our layouts."""
    keys: set[str] = set()
    for table in _tables(root)[:20]:
        keys |= _keys(table)
    files = list(islice((p for p in root.rglob("*") if p.is_file()), 20000))
    suffixes = [p.suffix.lower() for p in files]
    code_files = sum(s in CODE_SUFFIXES for s in suffixes)
    images = sum(s in IMAGE_SUFFIXES for s in suffixes)
    if len(keys & CODE_KEYS) >= 2 or (code_files and not images):
        what = (
            "it looks like a code-editing benchmark that shares the name EditBench "
            f"(columns {', '.join(sorted(keys & CODE_KEYS)) or 'none'}; {code_files} source files)"
        )
    elif keys & EDIT_TYPE_KEYS or images >= MANY_IMAGES:
        what = (
            "it looks like an instruction-based image-editing set that shares the name EditBench "
            f"({images} images; columns {', '.join(sorted(keys & EDIT_TYPE_KEYS)) or 'none'}), "
            "not the 240-item inpainting benchmark with masks and three prompt styles"
        )
    elif "editbench" in "".join(ch for ch in root.resolve().name.lower() if ch.isalnum()):
        what = (
            "it shares the name EditBench but holds none of the files of the inpainting "
            "benchmark (another dataset of that name, or an incomplete download)"
        )
    else:
        what = "it holds none of their files"
    return f"{root} is not a benchmark this platform reads: {what}. Expected {LAYOUTS}"
