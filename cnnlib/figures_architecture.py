"""Plotly figures for the architecture explorer: the network's volumes, where its parameters
and operations are, and the concept pictures (a kernel sliding over a grid, dilated or not,
filters spanning channels, pooling windows, activation maps of classic kernels, and the rest of
the convolution family: a transposed convolution spreading patches and the checkerboard their
overlaps make, depthwise separable and 1×1 convolutions, upsampling).

Each function takes what `cnnlib.arithmetic` or `cnnlib.convolution` computed and returns a
`plotly.graph_objects.Figure`; nothing here computes a shape or a convolution itself, and
nothing imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnlib.convolution import (
    Convolution,
    Pooling,
    SeparableConvolution,
    TransposedConvolution,
    format_number,
)
from cnnlib.i18n import N_, _

HIGHLIGHT = "#d1242f"  # the window and the output cell being explained
PADDING_FILL = "#eaeef2"  # zeros added by padding
UNUSED_FILL = "rgba(209, 36, 47, 0.12)"  # rows or columns no window reaches (Keras floors)
KIND_COLOURS = {
    "Input": "#8c959f",
    "Conv2D": "#1f6feb",
    "Conv2DTranspose": "#0969da",
    "DepthwiseConv2D": "#54aeff",
    "SeparableConv2D": "#218bff",
    "UpSampling2D": "#a475f9",
    "MaxPooling2D": "#bf8700",
    "AveragePooling2D": "#d4a72c",
    "GlobalAveragePooling2D": "#d4a72c",
    "GlobalMaxPooling2D": "#bf8700",
    "ZeroPadding2D": "#afb8c1",
    "Flatten": "#57606a",
    "Dense": "#2ea043",
    "Parallel": "#8250df",
}
# Layers that keep their input's shape add no new volume to the diagram; they are listed in
# the hover text of the volume they follow.
_SAME_SHAPE = ("Dropout", "BatchNormalization", "Activation")


def _layout(figure: go.Figure, height: int, title: str | None = None) -> go.Figure:
    # No template: the dashboard's own theme styles the figure, and building plotly's
    # templates costs more than drawing these small figures.
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 20, "b": 10},
        title={"text": title} if title else None,
        showlegend=False,
    )
    return figure


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


# ---------------------------------------------------------------------------------------------
# The network


_SHORT = {
    "Input": N_("input"),
    "Conv2D": N_("conv"),
    "Conv2DTranspose": N_("conv T"),
    "DepthwiseConv2D": N_("depthwise"),
    "SeparableConv2D": N_("separable"),
    "UpSampling2D": N_("upsample"),
    "MaxPooling2D": N_("max pool"),
    "AveragePooling2D": N_("avg pool"),
    "GlobalAveragePooling2D": N_("global avg"),
    "GlobalMaxPooling2D": N_("global max"),
    "ZeroPadding2D": N_("pad"),
    "Flatten": N_("flatten"),
    "Dense": N_("dense"),
}


def layer_label(row: Any) -> str:
    """A short name for a layer row: "conv", "max pool", or a block's own name."""
    if row.kind == "Parallel":
        return row.settings.split(":")[0] if ":" in row.settings else _("block")
    return _(_SHORT[row.kind]) if row.kind in _SHORT else row.kind


def volume_diagram(rows: list[Any], height: int = 430) -> go.Figure:
    """The volumes of a network left to right, one slot each, drawn as boxes: the front's
    height follows the feature map's height, the receding side its width, the thickness its
    channels (log scale), so a CNN can be seen to shrink and deepen; vectors are thin bars.
    `rows` are `Analysis.rows` (top level). Sides are drawn to the power 0.75 of their size,
    so that 224 and 7 both fit while halving still looks like halving."""
    shown: list[dict[str, Any]] = []
    for row in rows:
        if row.kind in _SAME_SHAPE and shown:
            shown[-1]["then"].append(f"{row.kind} ({row.settings})" if row.settings else row.kind)
            continue
        shown.append({"row": row, "then": []})
    volumes = [tuple(item["row"].output_shape) for item in shown]
    biggest_side = max([max(s[:2]) for s in volumes if len(s) == 3], default=1)
    most_channels = max([s[2] for s in volumes if len(s) == 3], default=1)
    longest = max([s[0] for s in volumes if len(s) == 1], default=1)
    slot = 100.0
    # Faces are gathered per colour and face, each polygon closed and separated by None, so
    # that a network of any depth is drawn with a handful of traces (fast to build and send).
    faces: dict[tuple[str, int], tuple[list, list]] = {}
    centres, hovers, labels, label_y = [], [], [], []
    for number, item in enumerate(shown):
        row = item["row"]
        shape = volumes[number]
        colour = KIND_COLOURS.get(row.kind, "#6e7781")
        hover = _(
            "<b>layer {number}: {kind}</b><br>{settings}<br>output {shape}<br>{params} parameters"
        ).format(
            number=row.index,
            kind=row.kind,
            settings=row.settings,
            shape=_shape_text(shape),
            params=f"{row.trainable + row.non_trainable:,}",
        )
        if item["then"]:
            hover += "<br>" + _("then {layers}").format(layers=", ".join(item["then"]))
        if len(shape) == 3:
            h, w, c = shape
            front = 8 + 172 * (h / biggest_side) ** 0.75
            depth = (w / biggest_side) ** 0.75
            thick = slot * (0.06 + 0.3 * math.log2(c + 1) / math.log2(most_channels + 1))
            ox, oy = 0.3 * slot * depth, 40 * depth
        else:
            front = 8 + 172 * math.log2(shape[0] + 1) / math.log2(max(longest, 1) + 2)
            thick, ox, oy = 0.05 * slot, 0.0, 0.0
        x = number * slot + (slot - thick - ox) / 2
        top, bottom = front / 2, -front / 2
        polygons = [
            [(x, bottom), (x + thick, bottom), (x + thick, top), (x, top)],
            [(x, top), (x + thick, top), (x + thick + ox, top + oy), (x + ox, top + oy)],
            [
                (x + thick, bottom),
                (x + thick + ox, bottom + oy),
                (x + thick + ox, top + oy),
                (x + thick, top),
            ],
        ]
        for face, polygon in enumerate(polygons):
            xs, ys = faces.setdefault((colour, face), ([], []))
            for px, py in polygon + polygon[:1]:
                xs.append(px)
                ys.append(py)
            xs.append(None)
            ys.append(None)
        centres.append(number * slot + slot / 2)
        hovers.append(hover)
        labels.append(f"{layer_label(row)}<br>{_shape_text(shape)}")
        # Labels alternate between two lines so that neighbours do not overlap.
        label_y.append(-110 - 34 * (number % 2))
    opacity = (0.85, 0.55, 0.4)  # front, top, side: a little shading reads as depth
    traces = [
        go.Scatter(
            x=xs,
            y=ys,
            fill="toself",
            mode="lines",
            line={"color": colour, "width": 1},
            fillcolor=colour,
            opacity=opacity[face],
            hoverinfo="skip",
        )
        for (colour, face), (xs, ys) in faces.items()
    ]
    traces.append(
        go.Scatter(
            x=centres,
            y=[0] * len(centres),
            mode="markers",
            marker={"size": 28, "opacity": 0},
            hovertext=hovers,
            hoverinfo="text",
        )
    )
    traces.append(
        go.Scatter(
            x=centres,
            y=label_y,
            mode="text",
            text=labels,
            textfont={"size": 10},
            hoverinfo="skip",
        )
    )
    figure = go.Figure(data=traces)
    figure.update_xaxes(visible=False, range=[0, max(len(shown), 1) * slot])
    figure.update_yaxes(visible=False, range=[-175, 135])
    return _layout(figure, height)


def cost_bars(rows: list[Any], height: int = 320) -> go.Figure:
    """Parameters and multiply-accumulates of each top-level layer, on log axes: shows that
    the fully connected layers hold most weights while convolutions do most of the work."""
    labels = [f"{row.index} {layer_label(row)}" for row in rows]
    params = [row.trainable + row.non_trainable for row in rows]
    macs = [row.macs for row in rows]
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=(_("Parameters"), _("Multiply-accumulates"))
    )
    for col, values, colour in ((1, params, "#1f6feb"), (2, macs, "#bf8700")):
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[v if v > 0 else None for v in values],
                marker_color=colour,
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_yaxes(type="log", dtick=1, tickformat="~s")
    figure.update_xaxes(tickangle=-60, tickfont={"size": 9})
    return _layout(figure, height)


# ---------------------------------------------------------------------------------------------
# Grids of numbers


def _grid_text(values: np.ndarray) -> list[list[str]]:
    return [[format_number(v, 2) for v in row] for row in values]


def _heatmap(values: np.ndarray, colourscale: str = "Blues", numbers: bool = True, **kwargs):
    return go.Heatmap(
        z=values,
        text=_grid_text(values) if numbers else None,
        texttemplate="%{text}" if numbers else None,
        textfont={"size": 11},
        colorscale=colourscale,
        showscale=False,
        # Gaps outline the cells of a small grid of numbers; a picture is drawn without them.
        xgap=1 if numbers else 0,
        ygap=1 if numbers else 0,
        hovertemplate=_("row {row}, column {column}: {value}").format(
            row="%{y}", column="%{x}", value="%{z:.3g}"
        )
        + "<extra></extra>",
        **kwargs,
    )


def _box(
    figure: go.Figure,
    rows: tuple[int, int],
    cols: tuple[int, int],
    row: int,
    col: int,
    colour: str = HIGHLIGHT,
    fill: str | None = None,
    dash: str | None = None,
) -> None:
    figure.add_shape(
        type="rect",
        x0=cols[0] - 0.5,
        x1=cols[1] - 0.5,
        y0=rows[0] - 0.5,
        y1=rows[1] - 0.5,
        line={"color": colour, "width": 3, "dash": dash},
        fillcolor=fill,
        row=row,
        col=col,
    )


def _square_axes(figure: go.Figure, count: int) -> None:
    """Square cells, row 0 at the top, no axes: one layout update for all subplots."""
    layout = {}
    for index in range(1, count + 1):
        suffix = "" if index == 1 else str(index)
        layout[f"xaxis{suffix}"] = {"visible": False, "constrain": "domain"}
        layout[f"yaxis{suffix}"] = {
            "visible": False,
            "autorange": "reversed",
            "scaleanchor": f"x{suffix}",
            "constrain": "domain",
        }
    figure.update_layout(layout)


def _shade_padding(figure: go.Figure, conv: Convolution, row: int, col: int) -> None:
    (top, bottom), (left, right) = conv.tiling.pads
    height, width = conv.padded.shape[:2]
    regions = [
        ((0, top), (0, width)),
        ((height - bottom, height), (0, width)),
        ((0, height), (0, left)),
        ((0, height), (width - right, width)),
    ]
    for rows, cols in regions:
        if rows[1] > rows[0] and cols[1] > cols[0]:
            _box(figure, rows, cols, row, col, colour="rgba(0,0,0,0)", fill=PADDING_FILL)


def _shade_unused(figure: go.Figure, tiling: Any, shape: tuple[int, int], row: int, col: int):
    """Mark the trailing rows and columns Keras's floor leaves out."""
    height, width = shape
    unused_rows, unused_cols = tiling.unused
    if unused_rows:
        _box(
            figure,
            (height - unused_rows, height),
            (0, width),
            row,
            col,
            "#d1242f",
            UNUSED_FILL,
            "dot",
        )
    if unused_cols:
        _box(
            figure,
            (0, height),
            (width - unused_cols, width),
            row,
            col,
            "#d1242f",
            UNUSED_FILL,
            "dot",
        )


def convolution_slide(conv: Convolution, out_row: int, out_col: int, height: int = 380):
    """Input (padded), kernel and feature map side by side, with the receptive field of
    output cell (out_row, out_col) outlined on the input and the cell outlined on the output.
    Padding zeros are shaded grey; rows or columns the kernel never reaches are marked red."""
    step = conv.step(out_row, out_col)
    padded = conv.padded[:, :, 0]
    kernel = conv.kernels[:, :, 0, 0]
    output = conv.feature_map(0)
    dilated = conv.tiling.dilation != (1, 1)
    kernel_title = _("kernel {shape}").format(shape=_shape_text(kernel.shape))
    if dilated:
        rate = conv.tiling.dilation
        rate_text = str(rate[0]) if rate[0] == rate[1] else _shape_text(rate)
        kernel_title = _("kernel {shape} dilated by {rate}, spans {span}").format(
            shape=_shape_text(kernel.shape),
            rate=rate_text,
            span=_shape_text(conv.tiling.kernel),
        )
    padded_input = any(sum(p) for p in conv.tiling.pads)
    input_title = _("input {shape} padded") if padded_input else _("input {shape}")
    figure = make_subplots(
        rows=1,
        cols=3,
        column_widths=[padded.shape[1], max(kernel.shape[1], 3), output.shape[1]],
        subplot_titles=(
            input_title.format(shape=_shape_text(conv.image.shape[:2])),
            kernel_title,
            _("feature map {shape}").format(shape=_shape_text(output.shape)),
        ),
        horizontal_spacing=0.04,
    )
    figure.add_trace(_heatmap(padded, "Greys", zmin=min(padded.min(), 0)), row=1, col=1)
    _shade_padding(figure, conv, 1, 1)
    _shade_unused(figure, conv.tiling, padded.shape, 1, 1)
    if dilated:
        # The span dotted, and each input the kernel multiplies outlined: the gaps between
        # them are the inputs a dilated kernel skips.
        _box(figure, step.rows, step.cols, 1, 1, dash="dot")
        for r, c in step.taps:
            _box(figure, (r, r + 1), (c, c + 1), 1, 1)
    else:
        _box(figure, step.rows, step.cols, 1, 1)
    figure.add_trace(_heatmap(kernel, "RdBu", zmid=0), row=1, col=2)
    figure.add_trace(_heatmap(output, "Viridis"), row=1, col=3)
    _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), 1, 3)
    _square_axes(figure, 3)
    return _layout(figure, height)


def channels_and_filters(conv: Convolution, out_row: int, out_col: int, height: int = 520):
    """Each filter spans every input channel: the top row shows the input's channels with the
    receptive field outlined; each further row is one filter, its kernel slice for every
    channel and, on the right, the one feature map it yields."""
    channels = conv.image.shape[2]
    filters = conv.kernels.shape[3]
    titles = [_("input channel {number}").format(number=c + 1) for c in range(channels)] + [""]
    for f in range(filters):
        titles += [
            _("filter {filter}, channel {channel}").format(filter=f + 1, channel=c + 1)
            for c in range(channels)
        ]
        titles.append(_("feature map {number}").format(number=f + 1))
    figure = make_subplots(
        rows=filters + 1,
        cols=channels + 1,
        subplot_titles=titles,
        horizontal_spacing=0.03,
        vertical_spacing=0.06,
    )
    for c in range(channels):
        figure.add_trace(_heatmap(conv.padded[:, :, c], "Greys"), row=1, col=c + 1)
        step = conv.step(out_row, out_col, 0)
        _box(figure, step.rows, step.cols, 1, c + 1)
    for f in range(filters):
        for c in range(channels):
            figure.add_trace(
                _heatmap(conv.kernels[:, :, c, f], "RdBu", zmid=0), row=f + 2, col=c + 1
            )
        figure.add_trace(_heatmap(conv.feature_map(f), "Viridis"), row=f + 2, col=channels + 1)
        _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), f + 2, channels + 1)
    _square_axes(figure, (filters + 1) * (channels + 1))
    return _layout(figure, height)


def pooling_windows(pool: Pooling, out_row: int, out_col: int, height: int = 340):
    """Input and pooled output of channel 0, the window of one output cell outlined, and for
    max pooling the input that won marked."""
    window = pool.window(out_row, out_col)
    image = pool.image[:, :, 0]
    output = pool.output[:, :, 0]
    pooled = _("max pooled {shape}") if pool.mode == "max" else _("average pooled {shape}")
    figure = make_subplots(
        rows=1,
        cols=2,
        column_widths=[image.shape[1], output.shape[1]],
        subplot_titles=(
            _("input {shape}").format(shape=_shape_text(image.shape)),
            pooled.format(shape=_shape_text(output.shape)),
        ),
        horizontal_spacing=0.05,
    )
    figure.add_trace(_heatmap(image, "Greys"), row=1, col=1)
    _shade_unused(figure, pool.tiling, image.shape, 1, 1)
    _box(figure, window.rows, window.cols, 1, 1)
    if window.source is not None:
        r, c = window.source
        _box(figure, (r, r + 1), (c, c + 1), 1, 1, colour="#bf8700")
    figure.add_trace(_heatmap(output, "Viridis"), row=1, col=2)
    _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), 1, 2)
    _square_axes(figure, 2)
    return _layout(figure, height)


def activation_maps_figure(image: np.ndarray, maps: list[Any], height: int = 520) -> go.Figure:
    """The image, then for each classic kernel its feature map (top, red below zero, blue
    above) and its activation map after ReLU (bottom, only the positive responses left)."""
    count = len(maps)
    titles = (
        [_("image")]
        + [_(m.kernel.title) for m in maps]
        + [""]
        + [_("after ReLU ({share} active)").format(share=f"{m.active_fraction:.0%}") for m in maps]
    )
    figure = make_subplots(
        rows=2,
        cols=count + 1,
        subplot_titles=titles,
        horizontal_spacing=0.02,
        vertical_spacing=0.1,
    )
    figure.add_trace(_heatmap(np.asarray(image), "Greys", numbers=False), row=1, col=1)
    for index, item in enumerate(maps, start=2):
        limit = float(np.abs(item.feature_map).max()) or 1.0
        figure.add_trace(
            _heatmap(item.feature_map, "RdBu", numbers=False, zmin=-limit, zmax=limit),
            row=1,
            col=index,
        )
        figure.add_trace(
            _heatmap(item.activation_map, "Greys", numbers=False, zmin=0), row=2, col=index
        )
    _square_axes(figure, 2 * (count + 1))
    figure.update_annotations(font={"size": 11})
    return _layout(figure, height)


# ---------------------------------------------------------------------------------------------
# The rest of the convolution family


def transposed_slide(tconv: TransposedConvolution, index: int, height: int = 380) -> go.Figure:
    """Input, kernel, the full output after input cells 0 … `index` (reading order) have
    added their patches, and how many patches land on each output cell. The current input
    cell and its patch are outlined; the rows and columns Keras cuts ('same') are dotted."""
    width = tconv.image.shape[1]
    row, col = divmod(index, width)
    step = tconv.step(row, col)
    image = tconv.image[:, :, 0]
    kernel = tconv.kernels[:, :, 0, 0]
    so_far = tconv.partial(index + 1)[:, :, 0]
    coverage = tconv.coverage()
    figure = make_subplots(
        rows=1,
        cols=4,
        column_widths=[image.shape[1], max(kernel.shape[1], 3), so_far.shape[1], so_far.shape[1]],
        subplot_titles=(
            _("input {shape}").format(shape=_shape_text(image.shape)),
            _("kernel {shape}").format(shape=_shape_text(kernel.shape)),
            _("output so far {shape}").format(shape=_shape_text(so_far.shape)),
            _("patches per output cell"),
        ),
        horizontal_spacing=0.04,
    )
    figure.add_trace(_heatmap(image, "Greys"), row=1, col=1)
    _box(figure, (row, row + 1), (col, col + 1), 1, 1)
    figure.add_trace(_heatmap(kernel, "RdBu", zmid=0), row=1, col=2)
    figure.add_trace(_heatmap(so_far, "Viridis"), row=1, col=3)
    _box(figure, step.rows, step.cols, 1, 3)
    figure.add_trace(_heatmap(coverage.astype(float), "Oranges", zmin=0), row=1, col=4)
    (top, bottom), (left, right) = tconv.crop
    full_h, full_w = so_far.shape
    for panel in (3, 4):
        for rows, cols in (
            ((0, top), (0, full_w)),
            ((full_h - max(bottom, 0), full_h), (0, full_w)),
            ((0, full_h), (0, left)),
            ((0, full_h), (full_w - max(right, 0), full_w)),
        ):
            if rows[1] > rows[0] and cols[1] > cols[0]:
                _box(figure, rows, cols, 1, panel, "#d1242f", UNUSED_FILL, "dot")
    _square_axes(figure, 4)
    return _layout(figure, height)


def separable_slide(sep: SeparableConvolution, out_row: int, out_col: int, height: int = 520):
    """A depthwise separable convolution at one output position: each input channel (left)
    with its own kernel and depthwise map, then the maps the 1×1 step mixes them into
    (right). Windows and cells of the position are outlined."""
    channels = sep.depthwise.image.shape[2]
    filters = sep.output.shape[2]
    rows = max(channels, filters)
    titles: list[str] = []
    for r in range(rows):
        if r < channels:
            titles += [
                _("channel {number}").format(number=r + 1),
                _("its kernel"),
                _("depthwise map {number}").format(number=r + 1),
            ]
        else:
            titles += ["", "", ""]
        titles.append(_("output map {number}").format(number=r + 1) if r < filters else "")
    figure = make_subplots(
        rows=rows,
        cols=4,
        subplot_titles=titles,
        horizontal_spacing=0.04,
        vertical_spacing=0.08,
    )
    for c, conv in enumerate(sep.depthwise.channels):
        step = conv.step(out_row, out_col)
        figure.add_trace(_heatmap(conv.padded[:, :, 0], "Greys"), row=c + 1, col=1)
        _box(figure, step.rows, step.cols, c + 1, 1)
        figure.add_trace(_heatmap(conv.kernels[:, :, 0, 0], "RdBu", zmid=0), row=c + 1, col=2)
        figure.add_trace(_heatmap(conv.feature_map(0), "Viridis"), row=c + 1, col=3)
        _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), c + 1, 3)
    for f in range(filters):
        figure.add_trace(_heatmap(sep.output[:, :, f], "Viridis"), row=f + 1, col=4)
        _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), f + 1, 4)
    _square_axes(figure, rows * 4)
    figure.update_annotations(font={"size": 11})
    return _layout(figure, height)


def pointwise_slide(conv: Convolution, out_row: int, out_col: int, height: int = 420):
    """A 1×1 convolution as channel mixing: the input's channels with one pixel outlined,
    the weight matrix (one row per input channel, one column per output map), and the output
    maps with the same pixel outlined. Each output value is that pixel's channels times one
    column of the matrix, plus a bias."""
    channels = conv.image.shape[2]
    filters = conv.output.shape[2]
    rows = max(channels, filters)
    specs: list[list[Any]] = [[{}, {"rowspan": rows}, {}]]
    specs += [[{}, None, {}] for _ in range(rows - 1)]
    titles = []
    for r in range(rows):
        titles.append(_("input channel {number}").format(number=r + 1) if r < channels else "")
        if r == 0:
            titles.append(_("weights (channel × map)"))
        titles.append(_("output map {number}").format(number=r + 1) if r < filters else "")
    figure = make_subplots(
        rows=rows,
        cols=3,
        specs=specs,
        subplot_titles=titles,
        column_widths=[conv.image.shape[1], max(filters, 2) * 2, conv.output.shape[1]],
        horizontal_spacing=0.06,
        vertical_spacing=0.08,
    )
    for c in range(channels):
        figure.add_trace(_heatmap(conv.image[:, :, c], "Greys"), row=c + 1, col=1)
        _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), c + 1, 1)
    figure.add_trace(_heatmap(conv.kernels[0, 0, :, :], "RdBu", zmid=0), row=1, col=2)
    for f in range(filters):
        figure.add_trace(_heatmap(conv.output[:, :, f], "Viridis"), row=f + 1, col=3)
        _box(figure, (out_row, out_row + 1), (out_col, out_col + 1), f + 1, 3)
    # Row 1 has three subplots, every further row two (the matrix spans them all).
    _square_axes(figure, 2 * rows + 1)
    figure.update_annotations(font={"size": 11})
    return _layout(figure, height)


def upsampling_slide(
    image: np.ndarray,
    output: np.ndarray,
    size: tuple[int, int],
    row: int,
    col: int,
    height: int = 360,
) -> go.Figure:
    """Input and upsampled output of channel 0: input cell (row, col) and the sh × sw block
    of the output it becomes (nearest copies it there; bilinear blends it with neighbours)."""
    image = np.asarray(image)[:, :, 0] if np.ndim(image) == 3 else np.asarray(image)
    output = np.asarray(output)[:, :, 0] if np.ndim(output) == 3 else np.asarray(output)
    sh, sw = size
    figure = make_subplots(
        rows=1,
        cols=2,
        column_widths=[image.shape[1], output.shape[1]],
        subplot_titles=(
            _("input {shape}").format(shape=_shape_text(image.shape)),
            _("output {shape}").format(shape=_shape_text(output.shape)),
        ),
        horizontal_spacing=0.05,
    )
    figure.add_trace(_heatmap(image, "Greys"), row=1, col=1)
    _box(figure, (row, row + 1), (col, col + 1), 1, 1)
    figure.add_trace(_heatmap(output, "Greys", numbers=output.size <= 400), row=1, col=2)
    _box(figure, (row * sh, (row + 1) * sh), (col * sw, (col + 1) * sw), 1, 2)
    _square_axes(figure, 2)
    return _layout(figure, height)
