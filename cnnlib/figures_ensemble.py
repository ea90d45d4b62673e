"""Figures of the ensemble page, each drawn from a `cnnlib.ensemble.EnsembleResult`.

Plotly charts of accuracies and disagreement, with members grey and combiners coloured
throughout, so that "the ensemble beats its members" can be seen at a glance; and
`labelled_grid`, test images with what two models said under each, composed into one picture.
Only pictures are made here; the numbers come from `cnnlib.ensemble`.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from cnnlib.ensemble import BEST_MEMBER, COMBINER_LABELS, EnsembleResult
from cnnlib.figures_live import default_font, to_rgb_uint8, upscale
from cnnlib.i18n import _

MEMBER_COLOUR = "#9aa0a6"
COMBINER_COLOURS = {
    "average": "#1f77b4",
    "vote": "#ff7f0e",
    "weighted": "#2ca02c",
    "stacking": "#9467bd",
}
BEST_LABEL_MARGIN = 100  # pixels right of the accuracy bars for the best member's label


def _percent_axis(values: list[float]) -> list[float]:
    """A y range that starts just below the lowest bar: accuracies of 0.98-0.995 differ
    visibly only when the axis does not start at zero."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    low = min(finite) if finite else 0.0
    bottom = max(0.0, low - max(0.02, (1.0 - low) * 0.5))
    return [bottom * 100, 100.5]


def _layout(fig: go.Figure, title: str, y_title: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title=title,
        yaxis_title=y_title,
        height=height,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def accuracy_bars(result: EnsembleResult) -> go.Figure:
    """Each member's test accuracy beside each combiner's."""
    names = list(result.member_names)
    values = list(result.member_test_accuracy)
    colours = [MEMBER_COLOUR] * len(names)
    for combiner, value in result.combiner_test_accuracy.items():
        names.append(_(COMBINER_LABELS[combiner]))
        values.append(value)
        colours.append(COMBINER_COLOURS[combiner])
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[v * 100 for v in values],
            marker_color=colours,
            text=[f"{v:.2%}" for v in values],
            # Inside the bars: above them the tallest values would meet the title and the
            # best member's line.
            textposition="inside",
            insidetextanchor="end",
            textangle=0,
            textfont={"color": "white"},
            hovertemplate="%{x}: %{y:.2f}%<extra></extra>",
        )
    )
    best = result.member_test_accuracy[result.best_member]
    fig.add_hline(
        y=best * 100,
        line_dash="dot",
        layer="below",  # the bars and their values cover it
        annotation_text=_("best member") + f"<br>{best:.2%}",
        annotation_position="right",
        annotation_xanchor="left",
        annotation_align="left",
    )
    fig.update_yaxes(range=_percent_axis(values))
    fig = _layout(fig, _("Test accuracy: members (grey) and combiners"), _("test accuracy (%)"))
    # The line's label sits right of the plot, beside no bar.
    fig.update_layout(margin={"r": BEST_LABEL_MARGIN})
    return fig


def accuracy_curve(result: EnsembleResult) -> go.Figure:
    """Test accuracy of the ensemble of the first k members, k = 1..K."""
    fig = go.Figure()
    k = list(range(1, len(result.member_names) + 1))
    all_values: list[float] = []
    for combiner, values in result.curve.items():
        all_values += values
        fig.add_trace(
            go.Scatter(
                x=k,
                y=[v * 100 for v in values],
                mode="lines+markers",
                name=_(COMBINER_LABELS[combiner]),
                line_color=COMBINER_COLOURS[combiner],
                hovertemplate=_("{count} members").format(count="%{x}")
                + ": %{y:.2f}%<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=k,
            y=[v * 100 for v in result.member_test_accuracy],
            mode="markers",
            name=_("member k alone"),
            marker={"color": MEMBER_COLOUR, "size": 9, "symbol": "x"},
            text=result.member_names,
            hovertemplate="%{text}: %{y:.2f}%<extra></extra>",
        )
    )
    all_values += result.member_test_accuracy
    fig.update_xaxes(title=_("members in the ensemble"), tickmode="linear", dtick=1)
    fig.update_yaxes(range=_percent_axis(all_values))
    return _layout(fig, _("The first k members combined"), _("test accuracy (%)"))


def disagreement_heatmap(result: EnsembleResult) -> go.Figure:
    """How often each pair of members predicts different labels on the test set."""
    matrix = np.asarray(result.disagreement) * 100
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=result.member_names,
            y=result.member_names,
            colorscale="Blues",
            text=[[f"{v:.2f}%" for v in row] for row in matrix],
            texttemplate="%{text}",
            hovertemplate=_("{first} vs {second}: {share} of test images").format(
                first="%{y}", second="%{x}", share="%{z:.2f}%"
            )
            + "<extra></extra>",
            colorbar={"title": "%"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    size = 160 + 50 * len(result.member_names)
    return _layout(
        fig, _("Share of test images two members label differently"), "", height=max(320, size)
    )


def per_class_bars(result: EnsembleResult) -> go.Figure:
    """Per-class test accuracy of the best member beside the average of probabilities."""
    fig = go.Figure()
    colours = [MEMBER_COLOUR, COMBINER_COLOURS["average"]]
    all_values: list[float] = []
    for (label, values), colour in zip(result.per_class.items(), colours, strict=True):
        if label == BEST_MEMBER:
            label = _("best member ({name})").format(name=result.member_names[result.best_member])
        else:
            label = _(label)
        all_values += values
        fig.add_trace(
            go.Bar(
                x=result.class_names,
                y=[v * 100 for v in values],
                name=label,
                marker_color=colour,
                hovertemplate=_("class {name}").format(name="%{x}") + ": %{y:.2f}%<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title=_("true class"), type="category")
    fig.update_yaxes(range=_percent_axis(all_values))
    return _layout(fig, _("Best member vs. average of probabilities"), _("test accuracy (%)"))


def train_vs_test_bars(result: EnsembleResult) -> go.Figure:
    """The lecture's pitfall: accuracy on training images beside accuracy on test images."""
    if result.train_vs_test is None:
        raise ValueError(_("This ensemble was evaluated without training-set probabilities."))
    keys = list(result.train_vs_test)
    # Member names as the student gave them; the combiner's label in the page's language.
    labels = set(COMBINER_LABELS.values())
    names = [_(key) if key in labels else key for key in keys]
    train = [result.train_vs_test[key][0] for key in keys]
    test = [result.train_vs_test[key][1] for key in keys]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[v * 100 for v in train],
                name=_("training set"),
                marker_color="#d62728",
            ),
            go.Bar(x=names, y=[v * 100 for v in test], name=_("test set"), marker_color="#1f77b4"),
        ]
    )
    fig.update_traces(hovertemplate="%{x}: %{y:.2f}%<extra></extra>")
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=_percent_axis(train + test))
    return _layout(fig, _("Training-set vs test-set accuracy"), _("accuracy (%)"))


RIGHT = (46, 160, 67)
WRONG = (207, 34, 46)


def labelled_grid(
    images: list[np.ndarray],
    labels: list[list[tuple[str, bool]]],
    columns: int = 6,
    cell: int = 84,
    font_size: int = 12,
) -> np.ndarray:
    """Images in a grid, each with lines of text beneath: green when right, red when wrong.

    `images` are grey (H, W), (H, W, 1) or colour (H, W, 3) uint8 arrays of one size;
    `labels[i]` holds image i's lines as (text, right). Returns an RGB uint8 array.
    """
    if not images:
        raise ValueError(_("There are no images to show."))
    if len(labels) != len(images):
        raise ValueError("Give one list of label lines per image.")
    font = default_font(font_size)
    lines = max(len(entry) for entry in labels)
    height, width = np.asarray(images[0]).shape[:2]
    factor = max(1, cell // max(height, width))
    tile_w = max(width * factor, cell) + 8
    tile_h = height * factor + lines * (font_size + 3) + 10
    rows = -(-len(images) // columns)
    canvas = Image.new("RGB", (min(columns, len(images)) * tile_w, rows * tile_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (image, entry) in enumerate(zip(images, labels, strict=True)):
        left, top = (i % columns) * tile_w + 4, (i // columns) * tile_h + 4
        canvas.paste(Image.fromarray(upscale(to_rgb_uint8(image), factor)), (left, top))
        y = top + height * factor + 3
        for text, right in entry:
            draw.text((left, y), text, fill=RIGHT if right else WRONG, font=font)
            y += font_size + 3
    return np.asarray(canvas)
