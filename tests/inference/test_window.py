"""The edit window: geometry, cutting, global context and paste-back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inference import window


def _mask(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _covers(b: window.Box, mask: np.ndarray) -> bool:
    inside = np.zeros_like(mask)
    inside[b.y0 : b.y1, b.x0 : b.x1] = True
    return bool(mask[~inside].sum() == 0)


def test_the_window_is_a_square_of_the_margin_times_the_mask_box_centred_on_it() -> None:
    b = window.edit_window(_mask(256, 256, (100, 110, 140, 130)))  # 40 × 20 box
    assert b.width == b.height == math.ceil(1.2 * 40)
    assert (b.x0 + b.x1) / 2 == pytest.approx(120, abs=0.5)
    assert (b.y0 + b.y1) / 2 == pytest.approx(120, abs=0.5)


@pytest.mark.parametrize(
    ("h", "w", "box"),
    [
        (256, 256, (0, 0, 30, 30)),  # top-left corner
        (256, 256, (226, 226, 256, 256)),  # bottom-right corner
        (101, 77, (60, 3, 77, 40)),  # odd sizes, touching the right border
        (64, 300, (2, 10, 50, 64)),  # wide image, touching the bottom
        (37, 53, (18, 18, 19, 19)),  # one pixel
    ],
)
def test_the_window_stays_inside_the_image_and_covers_the_mask(
    h: int, w: int, box: tuple[int, int, int, int]
) -> None:
    mask = _mask(h, w, box)
    b = window.edit_window(mask)
    assert 0 <= b.x0 < b.x1 <= w and 0 <= b.y0 < b.y1 <= h
    assert _covers(b, mask)
    bx, by = box[2] - box[0], box[3] - box[1]
    if (b.width, b.height) != (w, h):
        # shifted, never shrunk: still the full margin around the mask's longer side
        assert b.width == b.height == max(math.ceil(1.2 * max(bx, by)), window.MIN_SIDE)


def test_a_mask_too_large_for_a_square_window_gives_the_whole_image() -> None:
    assert window.edit_window(_mask(120, 200, (10, 10, 190, 110))) == window.Box(0, 0, 200, 120)
    assert window.edit_window(np.ones((31, 45), dtype=bool)) == window.Box(0, 0, 45, 31)


def test_an_empty_mask_or_a_margin_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="empty mask"):
        window.edit_window(np.zeros((16, 16), dtype=bool))
    with pytest.raises(ValueError, match="margin"):
        window.edit_window(_mask(16, 16, (2, 2, 4, 4)), margin=0.9)


def test_cut_brings_the_window_to_the_canvas_and_keeps_every_masked_pixel_masked() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(97, 131, 3), dtype=np.uint8)
    mask = _mask(97, 131, (40, 30, 71, 52))
    b = window.edit_window(mask)
    win, win_mask = window.cut(image, mask, b, 16)
    assert win.shape == (16, 16, 3) and win_mask.shape == (16, 16)
    # every canvas pixel whose footprint touches the mask is masked
    scale = b.width / 16
    for y, x in zip(*np.nonzero(mask[b.y0 : b.y1, b.x0 : b.x1]), strict=True):
        assert win_mask[int(y / scale), int(x / scale)]


def test_the_context_shows_the_image_without_the_masked_pixels_and_marks_the_window() -> None:
    image = np.full((64, 64, 3), 255, dtype=np.uint8)
    mask = _mask(64, 64, (40, 40, 48, 48))
    b = window.edit_window(mask)
    ctx, where = window.context(image, mask, b, 8)
    assert ctx.shape == (8, 8, 5) and ctx.dtype == np.float32
    assert np.allclose(ctx[0, 0, :3], 1.0)  # white, far from the mask
    assert np.allclose(ctx[5, 5, :3], 0.0) and ctx[5, 5, 3] == 1.0  # masked: blanked, mask set
    assert ctx[0, 0, 4] == 0.0 and ctx[5, 5, 4] == 1.0  # outside / inside the window
    assert where.tolist() == pytest.approx([b.x0 / 64, b.y0 / 64, b.x1 / 64, b.y1 / 64])


@pytest.mark.parametrize(("h", "w"), [(45, 31), (256, 256), (101, 203)])
def test_paste_keeps_every_unmasked_pixel_exactly_at_odd_non_square_sizes(h: int, w: int) -> None:
    rng = np.random.default_rng(h)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), dtype=bool)
    mask[h // 3 : h // 2, w // 4 : w // 2] = True
    mask[h // 3, w // 2 + 1] = True  # a stray pixel
    b = window.edit_window(mask)
    edited = np.zeros((16, 16, 3), dtype=np.uint8)
    out = window.paste(edited, image, mask, b)
    assert out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])
    assert (out[mask] == 0).all()
