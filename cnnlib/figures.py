"""Plotly figures shared by the training pages (MNIST, CIFAR-10): live loss and accuracy
curves, the confusion matrix, per-class accuracy, class-probability bars, a gallery of images
with captions, and the feature maps of a convolution layer.

Every function takes plain data (lists, dicts, NumPy arrays, class names) and returns a
`plotly.graph_objects.Figure`; nothing here knows about Keras or Streamlit. Images may be grey
(H, W) / (H, W, 1) or colour (H, W, 3), uint8 0..255 or float 0..1. Galleries and feature-map
grids are drawn as one mosaic image rather than dozens of subplots, which keeps them fast to
redraw while a user draws or a model trains.

Titles, axis labels and legends speak the current language (`cnnlib.i18n`), and every figure
names a font family in which the browser finds Hangul (`FONT_FAMILY`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnlib.figures_live import to_rgb_uint8
from cnnlib.i18n import _
from cnnlib.runs import setting_name

BATCH_COLOUR = "rgba(31, 111, 235, 0.35)"  # raw per-batch values: faint, they are noisy
SMOOTH_COLOUR = "#1f6feb"
TRAIN_COLOUR = "#1b1f24"
VALIDATION_COLOUR = "#d1242f"
CORRECT_COLOUR = "#2ea043"
WRONG_COLOUR = "#cf222e"
BAR_COLOUR = "#8c959f"
ROW_PIXELS = 26  # per class in the per-class accuracy chart: room for a 12 px label
# Latin letters in Streamlit's own face; the browser takes Hangul from the first Korean font
# it has (Debian's fonts-nanum or fonts-noto-cjk, macOS's or Windows's own).
FONT_FAMILY = (
    '"Source Sans", "Source Sans Pro", "Noto Sans KR", "Noto Sans CJK KR", "NanumGothic", '
    '"Apple SD Gothic Neo", "Malgun Gothic", sans-serif'
)


def _layout(
    figure: go.Figure, height: int, title: str | None = None, top: int | None = None
) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": top if top is not None else (40 if title else 20), "b": 10},
        title={"text": title} if title else None,
        # Above the plotting area and its subplot titles, so that it covers no data.
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.08, "x": 0},
        template="plotly_white",
        font={"family": FONT_FAMILY},
    )
    return figure


def training_curves(
    batch_history: dict[str, Sequence[float]] | None,
    epoch_history: dict[str, Sequence[float]] | None,
    steps_per_epoch: int | None = None,
    height: int = 340,
    changes: Sequence[dict] = (),
) -> go.Figure:
    """Loss (left) and accuracy (right) while a model trains.

    `batch_history` holds lists "step", "loss", "accuracy" and optionally "loss_smooth",
    "accuracy_smooth"; `epoch_history` holds "epoch" (1 for the first) and any of "loss",
    "accuracy", "val_loss", "val_accuracy". The x axis counts epochs: batch steps are divided by
    `steps_per_epoch` so that the end of epoch 1 is x = 1 on both; without it, it counts batches
    and epoch points go at epoch × the last step / the last epoch. Each of `changes` (a live
    change of a setting: "setting", "value", "step") is marked by a dotted line where it
    took effect, labelled with the new value.
    """
    batch_history = batch_history or {}
    epoch_history = epoch_history or {}
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("Loss"), _("Accuracy")))
    steps = np.asarray(batch_history.get("step", []), dtype=float)
    epochs = np.asarray(epoch_history.get("epoch", []), dtype=float)
    if steps_per_epoch:
        batch_x, epoch_x, x_title = steps / steps_per_epoch, epochs, _("epoch")
    else:
        per_epoch = steps[-1] / epochs[-1] if len(steps) and len(epochs) else 1.0
        batch_x, epoch_x, x_title = steps, epochs * per_epoch, _("batch")
    for column, metric in ((1, "loss"), (2, "accuracy")):
        first = column == 1
        # (x, y, legend name, colour, mode, dash, line width): per-batch lines are thin.
        series = [
            (batch_x, batch_history.get(metric), _("per batch"), BATCH_COLOUR, "lines", None, 1),
            (
                batch_x,
                batch_history.get(f"{metric}_smooth"),
                _("smoothed"),
                SMOOTH_COLOUR,
                "lines",
                None,
                2,
            ),
            (
                epoch_x,
                epoch_history.get(metric),
                _("train (epoch)"),
                TRAIN_COLOUR,
                "lines+markers",
                None,
                2,
            ),
            (
                epoch_x,
                epoch_history.get(f"val_{metric}"),
                _("validation (epoch)"),
                VALIDATION_COLOUR,
                "lines+markers",
                "dash",
                2,
            ),
        ]
        for x, y, name, colour, mode, dash, width in series:
            if y is None or len(y) == 0:
                continue
            y = np.asarray(y, dtype=float)
            figure.add_trace(
                go.Scatter(
                    x=x[: len(y)],
                    y=y,
                    name=name,
                    mode=mode,
                    legendgroup=name,
                    showlegend=first,
                    line={"color": colour, "dash": dash, "width": width},
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text=x_title, row=1, col=column)
    for change in changes:
        x = change["step"] / steps_per_epoch if steps_per_epoch else change["step"]
        label = f"{setting_name(change['setting'])} {change['value']:g}"
        for column in (1, 2):
            figure.add_vline(
                x=x,
                line_dash="dot",
                line_color=BAR_COLOUR,
                row=1,
                col=column,
                annotation_text=label if column == 1 else None,
                annotation_position="top left",
                annotation_font_size=10,
            )
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1.02], row=1, col=2)
    return _layout(figure, height, top=70)


def runs_overlay(runs: Sequence[dict]) -> tuple[go.Figure, go.Figure]:
    """Several runs on two charts: the smoothed training loss against examples seen, and the
    test (or validation) accuracy per epoch. Each run is a `cnnlib.runs.Run.summary()`."""
    loss, accuracy = go.Figure(), go.Figure()
    for run in runs:
        history = run["batch_history"]
        seen = [step * run["batch_size"] for step in history.get("step", [])]
        loss.add_trace(go.Scatter(x=seen, y=history.get("loss_smooth"), name=run["label"]))
        epochs = run["epoch_history"]
        accuracy.add_trace(
            go.Scatter(
                x=[entry["epoch"] for entry in epochs],
                y=[entry.get("test_accuracy") or entry.get("val_accuracy") for entry in epochs],
                mode="lines+markers",
                name=run["label"],
            )
        )
    _layout(loss, 300, _("Smoothed training loss")).update_xaxes(title_text=_("examples seen"))
    _layout(accuracy, 300, _("Test (or validation) accuracy per epoch"))
    accuracy.update_xaxes(title_text=_("epoch")).update_yaxes(range=[0, 1])
    return loss, accuracy


def confusion_matrix_figure(
    matrix: Any, class_names: Sequence[str], normalise: bool = True, height: int = 460
) -> go.Figure:
    """Rows are true classes, columns predicted ones; each cell shows the count.

    With `normalise`, colours show the share of each true class (each row sums to 1), so that
    a class with few test images is as readable as one with many.
    """
    counts = np.asarray(matrix, dtype=float)
    names = [str(name) for name in class_names]
    if counts.shape != (len(names), len(names)):
        raise ValueError(
            f"A confusion matrix for {len(names)} classes must be {len(names)}×{len(names)}, "
            f"got {counts.shape}."
        )
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    colour = shares if normalise else counts
    figure = go.Figure(
        go.Heatmap(
            z=colour,
            x=names,
            y=names,
            text=counts.astype(int),
            texttemplate="%{text}",
            customdata=shares,
            colorscale="Blues",
            showscale=False,
            hovertemplate=_("true {true}, predicted {predicted}: {count} images ({share})").format(
                true="%{y}", predicted="%{x}", count="%{text}", share="%{customdata:.1%}"
            )
            + "<extra></extra>",
        )
    )
    figure.update_xaxes(title_text=_("predicted"), type="category", side="bottom")
    figure.update_yaxes(title_text=_("true"), type="category", autorange="reversed")
    return _layout(figure, height)


def per_class_accuracy_figure(
    per_class: Sequence[float],
    class_names: Sequence[str],
    overall: float | None = None,
    height: int | None = None,
) -> go.Figure:
    """One horizontal bar per class (share of its test images read correctly), with the
    overall accuracy as a line; the weakest class is drawn in red.

    Bars lie on their side so that class names of any length stay readable in a narrow
    column; the figure grows by one row per class (`height` None) and each value is written
    inside its bar, where neither the overall line nor a neighbour can cover it.
    """
    values = np.asarray(per_class, dtype=float)
    names = [str(name) for name in class_names]
    if len(values) != len(names):
        raise ValueError(f"Got {len(values)} accuracies for {len(names)} class names.")
    colours = [BAR_COLOUR] * len(values)
    if np.isfinite(values).any():
        colours[int(np.nanargmin(values))] = WRONG_COLOUR
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colours,
            text=[f"{v:.1%}" if np.isfinite(v) else "—" for v in values],
            textposition="inside",
            insidetextanchor="end",
            textfont={"color": "white"},
            textangle=0,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    top = 20
    if overall is not None:
        top = 40
        figure.add_vline(
            x=overall,
            line_dash="dash",
            line_color="black",
            annotation_text=_("overall {accuracy}").format(accuracy=f"{overall:.2%}"),
            annotation_position="top",
            annotation_yanchor="bottom",
            layer="below",  # bars and their values cover it; it shows between them
        )
    low = np.nanmin(values) if np.isfinite(values).any() else 0.0
    # The axis starts just below the weakest class (and the overall line), so that close
    # accuracies still differ visibly; the weakest bar keeps room for its value.
    start = max(0.0, min(low, overall if overall is not None else 1.0) - 0.08)
    figure.update_xaxes(range=[start, 1.0], tickformat=".0%", nticks=6)
    figure.update_yaxes(type="category", autorange="reversed", automargin=True)
    if height is None:
        height = top + 30 + ROW_PIXELS * len(names)
    figure = _layout(figure, height, top=top)
    figure.update_layout(bargap=0.25)
    return figure


def probability_bars(
    probabilities: Sequence[float],
    class_names: Sequence[str],
    true_class: int | None = None,
    height: int = 280,
) -> go.Figure:
    """The model's probability for each class; the predicted class stands out (green when it
    is the true class or no true class is known, red when it is wrong)."""
    values = np.asarray(probabilities, dtype=float).reshape(-1)
    names = [str(name) for name in class_names]
    if len(values) != len(names):
        raise ValueError(f"Got {len(values)} probabilities for {len(names)} class names.")
    predicted = int(values.argmax())
    right = true_class is None or predicted == true_class
    colours = [BAR_COLOUR] * len(values)
    colours[predicted] = CORRECT_COLOUR if right else WRONG_COLOUR
    figure = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=colours,
            text=[f"{v:.0%}" if v >= 0.005 else "" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
        )
    )
    figure.update_yaxes(range=[0, 1.1], tickformat=".0%", title_text=_("probability"))
    figure.update_xaxes(type="category")
    return _layout(figure, height)


def _tile(images: list[np.ndarray], columns: int, scale: int, gap: int, fill: int):
    height, width = images[0].shape[:2]
    if any(image.shape[:2] != (height, width) for image in images):
        raise ValueError("All images of a gallery must have the same size.")
    cell_h, cell_w = height * scale + gap, width * scale + gap
    rows = -(-len(images) // columns)
    mosaic = np.full((rows * cell_h + gap, columns * cell_w + gap, 3), fill, dtype=np.uint8)
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        top, left = gap + row * cell_h, gap + col * cell_w
        big = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
        mosaic[top : top + height * scale, left : left + width * scale] = big
    return mosaic, cell_h, cell_w


def image_gallery(
    images: Sequence[Any],
    captions: Sequence[str] | None = None,
    columns: int = 8,
    caption_colours: Sequence[str] | None = None,
    cell_pixels: int = 84,
) -> go.Figure:
    """Images in a grid, each with a caption above it (e.g. "true 7 → 1 (92%)").

    All images must share one size; each is enlarged by a whole factor to about
    `cell_pixels` so pixels stay square.
    """
    tiles = [to_rgb_uint8(image) for image in images]
    if not tiles:
        raise ValueError("There are no images to show.")
    columns = max(1, min(columns, len(tiles)))
    scale = max(1, cell_pixels // max(tiles[0].shape[:2]))
    caption_space = 22 if captions else 0
    gap = 4
    mosaic, cell_h, cell_w = _tile(tiles, columns, scale, gap + caption_space, 255)
    figure = go.Figure(go.Image(z=mosaic, hoverinfo="skip"))
    for index, caption in enumerate(captions or []):
        row, col = divmod(index, columns)
        colour = caption_colours[index] if caption_colours else "#1b1f24"
        figure.add_annotation(
            x=gap + caption_space + col * cell_w + (cell_w - gap - caption_space) / 2,
            y=gap + caption_space + row * cell_h - 4,
            text=str(caption),
            showarrow=False,
            yanchor="bottom",
            font={"size": 11, "color": colour},
        )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(
        height=int(mosaic.shape[0] * 1.0) + 20,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        template="plotly_white",
        font={"family": FONT_FAMILY},
    )
    return figure


def feature_map_mosaic(
    maps: Any, columns: int = 8, max_maps: int = 32, gap: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The channels of one layer's output (H, W, C) laid out in a grid.

    Returns (mosaic float (rows·(H+gap), columns·(W+gap)) with NaN in the gaps, channel index
    of each cell (−1 in gaps)). Each map is scaled to 0..1 on its own, since activations of
    different filters differ widely in size; an all-constant map is shown as 0.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"Feature maps must be (height, width, channels), got {maps.shape}.")
    height, width, channels = maps.shape
    count = min(channels, max(1, max_maps))
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    mosaic = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan)
    channel_of = np.full(mosaic.shape, -1, dtype=np.int64)
    for channel in range(count):
        row, col = divmod(channel, columns)
        plane = maps[:, :, channel]
        low, high = float(plane.min()), float(plane.max())
        scaled = (plane - low) / (high - low) if high > low else np.zeros_like(plane)
        top, left = row * (height + gap), col * (width + gap)
        mosaic[top : top + height, left : left + width] = scaled
        channel_of[top : top + height, left : left + width] = channel
    return mosaic, channel_of


def feature_map_grid(
    maps: Any,
    title: str | None = None,
    columns: int = 8,
    max_maps: int = 32,
    height: int | None = None,
) -> go.Figure:
    """The feature maps of one convolution layer as a grid of small heatmaps (bright = strong
    activation); hovering a cell names its filter."""
    mosaic, channel_of = feature_map_mosaic(maps, columns=columns, max_maps=max_maps)
    shown = int(channel_of.max()) + 1
    channels = np.asarray(maps).shape[2]
    figure = go.Figure(
        go.Heatmap(
            z=mosaic,
            customdata=channel_of,
            colorscale="Viridis",
            showscale=False,
            zmin=0,
            zmax=1,
            hovertemplate=_("filter {number}").format(number="%{customdata}") + "<extra></extra>",
        )
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    label = title or _("feature maps")
    if shown < channels:
        label += " " + _("(first {shown} of {channels})").format(shown=shown, channels=channels)
    if height is None:
        # Tall enough for the grid to fill a page-wide chart (about 800 pixels) when wide.
        height = int(min(700, 60 + 800 * mosaic.shape[0] / max(mosaic.shape[1], 1)))
    return _layout(figure, height, title=label)
