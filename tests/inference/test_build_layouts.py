"""The layout fixtures: the shipped files are what the builder writes, and the RLE is BrushNet's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inference.build_layouts import build_brushnet, build_release, rle_encode

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }


def test_the_shipped_release_fixture_is_what_the_builder_writes(tmp_path: Path) -> None:
    build_release(tmp_path)
    assert _files(tmp_path) == _files(FIXTURES / "editbench-release-mini")


def test_the_shipped_brushnet_fixture_is_what_the_builder_writes(tmp_path: Path) -> None:
    build_brushnet(tmp_path)
    assert _files(tmp_path) == _files(FIXTURES / "brushnet-editbench-mini")


def _brushnet_decode(runs: list[int], side: int) -> np.ndarray:
    # As BrushNet's evaluate_brushnet.py reads a mask: starts are 1-based, the flat array is
    # reshaped row-major to (height, width). Written here independently of the encoder.
    flat = np.zeros(side * side, dtype=np.uint8)
    for start, length in zip(runs[0::2], runs[1::2], strict=True):
        flat[start - 1 : start - 1 + length] = 1
    return flat.reshape(side, side)


def test_rle_encoding_round_trips_through_brushnets_decoding() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((16, 16)) > 0.6
    mask[0, 0] = mask[-1, -1] = True  # runs touching both ends of the flat array
    runs = rle_encode(mask)
    assert (_brushnet_decode(runs, 16) == mask).all()
    assert rle_encode(np.zeros((4, 4), dtype=bool)) == []
