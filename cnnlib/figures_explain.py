"""Pictures of explanations and of whole layers: a heatmap laid over the image it explains (as
an RGB array or a Plotly figure with its colour bar), and every channel of a layer's output or
every filter of a convolution drawn large on one stated colour scale.

Each method has its own colour scale, named here and stated on every figure: saliency on
Inferno (black = no effect, pale yellow = the strongest in this image), Grad-CAM on Jet (blue =
no evidence, red = the strongest), occlusion on red–blue centred on 0 (red = hiding the part
lowers the probability). Layer maps share one scale across all channels, so that a channel
that answers weakly looks weak. Everything takes NumPy arrays (such as `cnnlib.explain`
returns) and knows nothing of Keras or Streamlit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from cnnlib.figures_live import to_rgb_uint8, upscale
from cnnlib.i18n import _

SALIENCY_SCALE = "Inferno"
GRAD_CAM_SCALE = "Jet"
OCCLUSION_SCALE = "RdBu_r"  # diverging: blue below 0, white at 0, red above
ACTIVATION_SCALE = "Viridis"
WEIGHT_SCALE = "RdBu_r"
OVERLAY_OPACITY = 0.55  # how much of the heatmap shows over the image
OVERLAY_SIDE = 224  # an overlay array is enlarged by a whole factor to about this side


@lru_cache(maxsize=16)
def colour_table(scale: str) -> np.ndarray:
    """A Plotly colour scale sampled at 256 levels: uint8 (256, 3)."""
    colours = plotly.colors.sample_colorscale(
        plotly.colors.get_colorscale(scale), list(np.linspace(0, 1, 256))
    )
    table = [plotly.colors.unlabel_rgb(colour) for colour in colours]
    return np.clip(np.round(np.asarray(table, dtype=float)), 0, 255).astype(np.uint8)


def value_range(values: Any, signed: bool = False) -> tuple[float, float]:
    """The colour scale's ends for a map: 0 to its largest value, or ±its largest magnitude
    when `signed` (so that 0 is the scale's middle). A map of zeros gets 0 to 1."""
    values = np.asarray(values, dtype=np.float64)
    if signed:
        reach = float(np.abs(values).max(initial=0.0))
        return (-reach, reach) if reach > 0 else (-1.0, 1.0)
    high = float(values.max(initial=0.0))
    return (0.0, high) if high > 0 else (0.0, 1.0)


def colourise(values: Any, scale: str, low: float, high: float) -> np.ndarray:
    """A map (H, W) as RGB uint8 (H, W, 3) on `scale`, `low` and `high` at its ends."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"A heatmap must be (height, width), got shape {values.shape}.")
    position = np.clip((values - low) / max(high - low, 1e-12), 0.0, 1.0)
    return colour_table(scale)[np.round(position * 255).astype(np.int64)]


def overlay_rgb(
    image: Any,
    heat: Any,
    scale: str = SALIENCY_SCALE,
    signed: bool = False,
    opacity: float = OVERLAY_OPACITY,
    side: int = OVERLAY_SIDE,
) -> np.ndarray:
    """The heatmap blended over the image: RGB uint8, enlarged by a whole factor to about
    `side` pixels with each pixel kept square. The heatmap must have the image's height and
    width; its colour range is `value_range(heat, signed)`."""
    base = to_rgb_uint8(image).astype(np.float64)
    heat = np.asarray(heat, dtype=np.float64)
    if heat.shape != base.shape[:2]:
        raise ValueError(
            f"The heatmap is {heat.shape} but the image is {base.shape[:2]}; they must match."
        )
    colours = colourise(heat, scale, *value_range(heat, signed)).astype(np.float64)
    blended = np.round((1 - opacity) * base + opacity * colours).astype(np.uint8)
    return upscale(blended, max(1, side // max(blended.shape[:2])))


def overlay_figure(
    image: Any,
    heat: Any,
    title: str,
    scale: str = SALIENCY_SCALE,
    signed: bool = False,
    colour_label: str | None = None,
    opacity: float = OVERLAY_OPACITY,
    height: int = 320,
) -> go.Figure:
    """The image with the heatmap over it and a colour bar naming what the colours measure;
    hovering a pixel shows its value."""
    base = to_rgb_uint8(image)
    heat = np.asarray(heat, dtype=np.float64)
    if heat.shape != base.shape[:2]:
        raise ValueError(
            f"The heatmap is {heat.shape} but the image is {base.shape[:2]}; they must match."
        )
    low, high = value_range(heat, signed)
    figure = go.Figure(go.Image(z=base, hoverinfo="skip"))
    figure.add_trace(
        go.Heatmap(
            z=heat,
            colorscale=scale,
            zmin=low,
            zmax=high,
            opacity=opacity,
            colorbar={
                "title": {
                    "text": _("value") if colour_label is None else colour_label,
                    "side": "right",
                },
                "thickness": 12,
            },
            hovertemplate=_("row {row}, column {column}: {value}").format(
                row="%{y}", column="%{x}", value="%{z:.3g}"
            )
            + "<extra></extra>",
        )
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    figure.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 36, "b": 0},
        title={"text": title, "font": {"size": 14}},
        template="plotly_white",
    )
    return figure


def _grid(planes: np.ndarray, columns: int | None, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Planes (H, W, N) laid out in a grid, NaN in the gaps; and each cell's plane index."""
    height, width, count = planes.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan)
    index = np.full(grid.shape, -1, dtype=np.int64)
    for plane in range(count):
        row, col = divmod(plane, columns)
        top, left = row * (height + gap), col * (width + gap)
        grid[top : top + height, left : left + width] = planes[:, :, plane]
        index[top : top + height, left : left + width] = plane
    return grid, index


def _grid_figure(
    grid: np.ndarray,
    index: np.ndarray,
    title: str,
    scale: str,
    low: float,
    high: float,
    colour_label: str,
    what: str,
    height: int | None,
) -> go.Figure:
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            customdata=index,
            colorscale=scale,
            zmin=low,
            zmax=high,
            colorbar={"title": {"text": colour_label, "side": "right"}, "thickness": 12},
            hovertemplate=what + " %{customdata}: %{z:.3g}<extra></extra>",
        )
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    if height is None:
        height = int(min(900, 80 + 760 * grid.shape[0] / max(grid.shape[1], 1)))
    figure.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        title={"text": title, "font": {"size": 14}},
        template="plotly_white",
    )
    return figure


def layer_maps_figure(
    maps: Any, title: str, columns: int | None = None, height: int | None = None
) -> go.Figure:
    """Every channel of a layer's output (H, W, C), large, on one colour scale shared by all
    channels (Viridis from the layer's smallest value to its largest, stated on the colour bar);
    hovering names the channel and its value."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"Layer maps must be (height, width, channels), got {maps.shape}.")
    grid, index = _grid(maps, columns, gap=1)
    low, high = float(maps.min()), float(maps.max())
    if high <= low:
        high = low + 1.0
    label = _("{layer}: all {count} channels, one scale {low} to {high}").format(
        layer=title, count=maps.shape[2], low=f"{low:.3g}", high=f"{high:.3g}"
    )
    return _grid_figure(
        grid, index, label, ACTIVATION_SCALE, low, high, _("activation value"), _("channel"), height
    )


def layer_filters_figure(
    kernel: Any, title: str, input_channel: int = 0, columns: int | None = None
) -> go.Figure:
    """Every filter of a convolution's kernel (kh, kw, in, out), large, on one red–blue scale
    centred on 0 shared by all filters: its slice on `input_channel`."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"A convolution kernel is (kh, kw, in, out), got {kernel.shape}.")
    if not 0 <= input_channel < kernel.shape[2]:
        raise ValueError(
            _("Input channel {channel} does not exist; the kernel reads {count}.").format(
                channel=input_channel, count=kernel.shape[2]
            )
        )
    planes = kernel[:, :, input_channel, :]
    grid, index = _grid(planes, columns, gap=1)
    low, high = value_range(planes, signed=True)
    label = _(
        "{layer}: all {count} filters on input channel {channel}, one scale ±{high} (white = 0)"
    ).format(layer=title, count=planes.shape[2], channel=input_channel, high=f"{high:.3g}")
    return _grid_figure(grid, index, label, WEIGHT_SCALE, low, high, _("weight"), _("filter"), None)
