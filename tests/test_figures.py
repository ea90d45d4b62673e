"""The shared training figures: what each draws, checked against the numbers it was given
(no pictures compared, so the tests do not depend on Plotly's rendering)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import figures

DIGITS = [str(d) for d in range(10)]


def test_training_curves_put_batches_and_epochs_on_one_epoch_axis():
    batches = {
        "step": [1, 2, 3, 4, 5, 6],
        "loss": [2.0, 1.8, 1.5, 1.2, 1.0, 0.9],
        "accuracy": [0.1, 0.2, 0.4, 0.5, 0.6, 0.7],
        "loss_smooth": [2.0, 1.9, 1.8, 1.6, 1.4, 1.3],
        "accuracy_smooth": [0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
    }
    epochs = {"epoch": [1, 2], "loss": [1.7, 1.0], "accuracy": [0.3, 0.6]}
    epochs |= {"val_loss": [1.6, None], "val_accuracy": [0.35, None]}
    figure = figures.training_curves(batches, epochs, steps_per_epoch=3)
    traces = {(trace.name, trace.xaxis): trace for trace in figure.data}
    # Batch 3 ends epoch 1, so it sits at x = 1 beside the first epoch point.
    assert list(traces["per batch", "x"].x) == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert list(traces["train (epoch)", "x2"].x) == [1, 2]
    assert list(traces["train (epoch)", "x2"].y) == [0.3, 0.6]
    # A validation value not measured yet is a gap, not a zero.
    assert np.isnan(traces["validation (epoch)", "x"].y[1])
    assert len(figure.data) == 8  # four series on each of the two charts


def test_training_curves_of_a_run_not_started_are_empty():
    assert len(figures.training_curves({}, {}).data) == 0


def test_confusion_matrix_shows_counts_and_colours_row_shares():
    matrix = [[8, 2], [1, 9]]
    figure = figures.confusion_matrix_figure(matrix, ["cat", "dog"])
    heatmap = figure.data[0]
    assert list(heatmap.x) == ["cat", "dog"] and list(heatmap.y) == ["cat", "dog"]
    np.testing.assert_array_equal(heatmap.text, matrix)
    np.testing.assert_allclose(heatmap.z, [[0.8, 0.2], [0.1, 0.9]])
    with pytest.raises(ValueError, match="2×2"):
        figures.confusion_matrix_figure([[1, 2, 3]], ["cat", "dog"])


def test_per_class_accuracy_marks_the_weakest_class():
    figure = figures.per_class_accuracy_figure([0.9, None, 0.5, 1.0], list("abcd"), overall=0.8)
    bars = figure.data[0]
    assert bars.marker.color[2] == figures.WRONG_COLOUR
    assert [colour for i, colour in enumerate(bars.marker.color) if i != 2] == [
        figures.BAR_COLOUR
    ] * 3
    assert list(bars.text) == ["90.0%", "—", "50.0%", "100.0%"]


def test_per_class_accuracy_keeps_every_label_readable():
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship"]
    values = [0.72, 0.81, 0.55, 0.43, 0.61, 0.52, 0.78, 0.74, 0.83]
    figure = figures.per_class_accuracy_figure(values, names, overall=0.678)
    bars = figure.data[0]
    # Class names on their own rows, however long, one row of room per class.
    assert bars.orientation == "h" and list(bars.y) == names
    assert figure.layout.height >= figures.ROW_PIXELS * len(names) + 40
    taller = figures.per_class_accuracy_figure(values * 2, names * 2, overall=0.678)
    assert taller.layout.height - figure.layout.height == figures.ROW_PIXELS * len(names)
    # Values inside their bars, the overall line under them and its label above the plot.
    assert bars.textposition == "inside"
    (line,) = figure.layout.shapes
    assert line.layer == "below" and line.x0 == line.x1 == 0.678
    (label,) = figure.layout.annotations
    assert label.text == "overall 67.80%" and label.yanchor == "bottom" and label.y >= 1
    # The weakest bar keeps room for its value to the left of the axis start.
    assert figure.layout.xaxis.range[0] <= min(values) - 0.05


def test_probability_bars_colour_the_answer_by_whether_it_is_right():
    probabilities = np.full(10, 0.05)
    probabilities[7] = 0.55
    right = figures.probability_bars(probabilities, DIGITS, true_class=7).data[0]
    wrong = figures.probability_bars(probabilities, DIGITS, true_class=1).data[0]
    assert right.marker.color[7] == figures.CORRECT_COLOUR
    assert wrong.marker.color[7] == figures.WRONG_COLOUR
    assert right.marker.color[1] == figures.BAR_COLOUR


def test_gallery_mosaic_holds_each_image_enlarged():
    rng = np.random.default_rng(0)
    grey = [rng.integers(0, 256, (4, 4), dtype=np.uint8) for _ in range(3)]
    figure = figures.image_gallery(grey, ["a", "b", "c"], columns=2, cell_pixels=8)
    mosaic = figure.data[0].z
    # Each 4×4 image is enlarged twice; the second sits in the second column.
    enlarged = np.repeat(np.repeat(grey[1], 2, axis=0), 2, axis=1)
    gap, caption = 4, 22
    top, left = gap + caption, gap + caption + (8 + gap + caption)
    np.testing.assert_array_equal(mosaic[top : top + 8, left : left + 8, 0], enlarged)
    assert [a.text for a in figure.layout.annotations] == ["a", "b", "c"]
    colour = rng.random((5, 5, 3)).astype(np.float32)
    tile = figures.image_gallery([colour], cell_pixels=5).data[0].z[4:9, 4:9]
    np.testing.assert_array_equal(tile, np.clip(colour * 255 + 0.5, 0, 255).astype(np.uint8))


def test_feature_map_mosaic_scales_each_map_on_its_own():
    maps = np.zeros((3, 2, 5), dtype=np.float32)
    for channel in range(5):
        maps[:, :, channel] = np.arange(6).reshape(3, 2) * (channel + 1) * 10
    maps[:, :, 4] = 7.0  # a flat map
    mosaic, channel_of = figures.feature_map_mosaic(maps, columns=2, max_maps=4)
    assert mosaic.shape == (2 * 3 + 1, 2 * 2 + 1)  # 4 maps of 3×2 in 2 rows of 2, 1-pixel gaps
    expected = np.arange(6).reshape(3, 2) / 5
    np.testing.assert_allclose(mosaic[0:3, 0:2], expected)
    np.testing.assert_allclose(mosaic[4:7, 3:5], expected)  # channel 3, row 2 column 2
    assert channel_of[5, 4] == 3 and channel_of[3, 0] == -1 and np.isnan(mosaic[3, 0])
    flat, _ = figures.feature_map_mosaic(maps[:, :, 4:], columns=1)
    assert (flat == 0).all()
    title = figures.feature_map_grid(maps, title="conv", max_maps=4).layout.title.text
    assert title == "conv (first 4 of 5)"


def test_ensemble_best_member_label_stays_clear_of_the_bar_values():
    from cnnlib import ensemble, figures_ensemble

    labels = np.array([0, 1, 1, 0])
    best = np.eye(2)[labels]  # right on every image: its value is the top of the bars
    weaker = np.eye(2)[[0, 1, 0, 0]]
    members = [ensemble.MemberPredictions(n, test=p) for n, p in (("a", best), ("b", weaker))]
    figure = figures_ensemble.accuracy_bars(ensemble.evaluate_ensemble(members, labels))
    bars = figure.data[0]
    assert list(bars.text[:2]) == ["100.00%", "75.00%"]
    assert bars.textposition == "inside"  # never above the bar, where the line and title are
    (line,) = figure.layout.shapes
    assert line.y0 == line.y1 == 100 and line.layer == "below"
    (label,) = figure.layout.annotations
    # Right of the plotting area, in a margin wide enough for it: beside no bar.
    assert label.text == "best member<br>100.00%"
    assert label.x >= 1 and label.xanchor == "left" and label.xref == "x domain"
    assert figure.layout.margin.r >= 90
