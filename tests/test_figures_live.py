"""Mosaics and prediction strips: pixels land where they should and bar colours follow the
true class."""

import numpy as np
import pytest

from cnnlib.figures_live import GREEN, RED, mosaic, prediction_strip, upscale


def test_mosaic_places_each_enlarged_tile_in_reading_order():
    tiles = [np.full((2, 2), value, np.uint8) for value in (10, 20, 30)]
    out = mosaic(tiles, columns=2, cell=4, pad=1)
    # 2x2 tiles enlarged twice to 4x4; two columns, two rows, 1-pixel padding.
    assert out.shape == (1 + 2 * 5, 1 + 2 * 5, 3)
    assert (out[1:5, 1:5] == 10).all()
    assert (out[1:5, 6:10] == 20).all()
    assert (out[6:10, 1:5] == 30).all()
    assert (out[6:10, 6:10] == 255).all()  # the empty fourth cell stays background


def test_mosaic_keeps_colour_tiles_and_refuses_nothing_to_show():
    tile = np.zeros((3, 3, 3), np.uint8)
    tile[0, 0] = (255, 0, 0)
    out = mosaic([tile], cell=3, pad=0)
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[1, 1]) == (0, 0, 0)
    with pytest.raises(ValueError, match="no images"):
        mosaic([])


def test_upscale_repeats_pixels():
    np.testing.assert_array_equal(upscale(np.array([[1, 2]]), 2), [[1, 1, 2, 2], [1, 1, 2, 2]])


def test_prediction_strip_colours_the_true_class_green_and_others_red():
    item = {
        "image": np.zeros((8, 8, 3), np.uint8),
        "truth": "cat",
        "top": [("dog", 1.0), ("cat", 1.0), ("frog", 0.0)],
        "correct": False,
    }
    out = prediction_strip([item], image_size=30)
    colours = {tuple(pixel) for pixel in out.reshape(-1, 3)}
    assert GREEN in colours and RED in colours
    # The first bar (dog, wrong) is red along its length; the second (cat, true) is green.
    row_first, row_second = 4 + 6, 14 + 6
    x = 4 + 30 + 6 + 100
    assert tuple(out[row_first, x]) == RED
    assert tuple(out[row_second, x]) == GREEN
    with pytest.raises(ValueError):
        prediction_strip([])
