"""Benchmark layouts the importer reads, recognised by their files (or forced by name).

- ``manifest``: our own manifest (:mod:`annotation.manifest`, README "Benchmark manifests");
- ``editbench``: the released EditBench files (:mod:`annotation.importers.release`);
- ``brushnet``: BrushNet's re-processed copy (:mod:`annotation.importers.brushnet`).

Every reader validates everything before returning and raises
:class:`~annotation.manifest.ManifestInvalid` with every problem, so an import stays all or
nothing whatever the layout.
"""

from __future__ import annotations

from pathlib import Path

from analysis import editbench_release as vocab
from annotation.importers.brushnet import is_brushnet, read_brushnet
from annotation.importers.common import ReadOptions
from annotation.importers.lookalike import describe_unrecognised
from annotation.importers.release import is_release, read_release
from annotation.manifest import ManifestInvalid, ManifestRow, read_manifest

__all__ = ["FORMATS", "ReadOptions", "detect_format", "read_benchmark"]

FORMATS: tuple[str, ...] = ("manifest", "editbench", "brushnet")


def _is_manifest(path: Path) -> bool:
    if path.is_file():
        return path.name not in (vocab.BRUSHNET_MAPPING, *vocab.RELEASE_ANNOTATIONS.values())
    return any((path / n).is_file() for n in ("manifest.jsonl", "manifest.csv"))


def _root(path: Path) -> Path:
    """The folder a layout lives in: given, or the folder of its index file."""
    return path.parent if path.is_file() else path


def detect_format(path: Path) -> str:
    """Which layout ``path`` holds; :class:`ManifestInvalid` when none or several do."""
    if not path.exists():
        raise ManifestInvalid([f"{path} does not exist"])
    root = _root(path)
    if path.is_file():
        if path.name == vocab.BRUSHNET_MAPPING:
            return "brushnet"
        if path.name in vocab.RELEASE_ANNOTATIONS.values():
            return "editbench"
        return "manifest"
    tests = {"manifest": _is_manifest, "editbench": is_release, "brushnet": is_brushnet}
    found = [name for name, test in tests.items() if test(root)]
    if len(found) > 1:
        raise ManifestInvalid(
            [
                f"{path} holds the files of several layouts ({', '.join(found)}); "
                "choose one with --format"
            ]
        )
    if not found:
        raise ManifestInvalid([describe_unrecognised(root)])
    return found[0]


def read_benchmark(path: Path, *, format: str | None, options: ReadOptions) -> list[ManifestRow]:
    """Validate the benchmark at ``path`` in ``format`` (detected when ``None``); its rows."""
    if format is not None and format not in FORMATS:
        raise ManifestInvalid([f"--format {format!r}: expected one of {', '.join(FORMATS)}"])
    layout = format or detect_format(path)
    if not path.exists():
        raise ManifestInvalid([f"{path} does not exist"])
    if layout == "manifest":
        return read_manifest(path, max_pixels=options.max_pixels, progress=options.progress)
    if layout == "editbench":
        return read_release(_root(path), options=options)
    return read_brushnet(_root(path), options=options)
