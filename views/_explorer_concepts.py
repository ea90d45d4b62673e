"""The explorer's concept tabs: a kernel sliding over an input with its multiply-and-sum,
filters spanning channels, pooling windows, and activation maps of classic kernels.

The numbers come from `cnnlib.convolution` and the pictures from
`cnnlib.figures_architecture`; this module only lays out widgets. Inputs are a real MNIST
digit when MNIST is on disk (never downloaded from here) or a digit drawn in code, shrunk and
scaled to whole numbers 0–9 so that the sums can be checked by hand.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnlib import convolution as cv
from cnnlib.datasets import DatasetError, load_mnist
from cnnlib.figures_architecture import (
    activation_maps_figure,
    channels_and_filters,
    convolution_slide,
    pooling_windows,
)
from cnnlib.i18n import N_, _
from cnnlib.paths import cnnlab_home
from views._explorer_text import escape_markdown

RANDOM_KERNEL = N_("random −1 / 0 / 1")
PLAY = "explorer_w_conv_play"
POSITION = "explorer_w_conv_position"


@st.cache_resource(show_spinner=False)
def _mnist_digits(home: str) -> tuple[np.ndarray, np.ndarray]:
    """The first test image of each digit, 0..1 floats; only files already on disk are read."""
    data = load_mnist(home=home, allow_download=False)
    firsts = [int(np.argmax(data.y_test == digit)) for digit in range(10) if digit in data.y_test]
    images = data.x_test[firsts, :, :, 0].astype(np.float64) / 255.0
    return images, data.y_test[firsts].copy()


def digits() -> tuple[np.ndarray, np.ndarray] | None:
    """A few real MNIST digits, or None when MNIST is not on disk (failures are not cached)."""
    try:
        return _mnist_digits(str(cnnlab_home()))
    except (DatasetError, OSError, ValueError):
        return None


def _picture(key: str, label: str | None = None) -> tuple[np.ndarray | None, str]:
    """Let the user pick an MNIST digit (if on disk) or the built-in 7; None means numbers.
    Returns the picture and the key of the choice."""
    found = digits()
    # The options are keys, shown in the current language, so a switch keeps the choice.
    words = {"grid": _("small grid of numbers")}
    if found:
        words.update(
            {f"mnist_{int(y)}": _("MNIST digit {digit}").format(digit=int(y)) for y in found[1]}
        )
    else:
        words["drawn_7"] = _("a drawn digit 7")
    options = list(words)
    choice = st.selectbox(label or _("Input"), options, format_func=words.get, key=key)
    if choice == "grid":
        return None, choice
    if found:
        return found[0][options.index(choice) - 1], choice
    return cv.sample_digit(), choice


def _input(picture: np.ndarray | None, height: int, width: int, seed: int = 0) -> np.ndarray:
    if picture is None:
        return cv.small_grid(height, width, seed=seed)
    return cv.quantise(cv.shrink(picture, (height, width)))


def _clamped_position(key: str, cells: int) -> None:
    if st.session_state.get(key, 0) >= cells:
        st.session_state[key] = 0


def _position_slider(key: str, cells: int, width: int, label: str) -> tuple[int, int]:
    """Pick an output cell by its number in reading order; returns (row, column)."""
    if cells <= 1:
        return 0, 0
    _clamped_position(key, cells)
    position = st.slider(label, 0, cells - 1, key=key)
    return divmod(position, width)


def convolution_concept() -> None:
    st.markdown(
        _(
            "A convolution layer slides each kernel over the input. At every position it "
            "multiplies the kernel with the patch under it, element by element, and adds the "
            "products up (plus a bias): one number of the feature map. CNNs do not flip the "
            "kernel, so this is cross-correlation."
        )
    )
    picture, _choice = _picture("explorer_w_conv_input")
    cols = st.columns(3)
    with cols[0]:
        height = st.number_input(_("Input height"), 3, 16, 7, key="explorer_w_conv_h")
        width = st.number_input(_("Input width"), 3, 16, 7, key="explorer_w_conv_w")
    with cols[1]:
        kernel_size = st.number_input(_("Kernel size"), 1, 7, 3, key="explorer_w_conv_k")
        stride = st.number_input(_("Stride"), 1, 4, 1, key="explorer_w_conv_s")
    with cols[2]:
        padding = st.selectbox(_("Padding"), cv.PADDINGS, key="explorer_w_conv_pad")
        names = [k.key for k in cv.KERNELS.values()] if kernel_size == 3 else []
        titles = {key: _(cv.KERNELS[key].title) for key in names}
        titles[RANDOM_KERNEL] = _(RANDOM_KERNEL)
        kernel_name = st.selectbox(
            _("Kernel"),
            [*names, RANDOM_KERNEL],
            format_func=titles.get,
            key="explorer_w_conv_kernel",
        )
    image = _input(picture, int(height), int(width))
    kernel = (
        cv.KERNELS[kernel_name].weights
        if kernel_name in cv.KERNELS
        else cv.small_filters(int(kernel_size), 1, 1)[:, :, 0, 0]
    )
    tiling = cv.check_tiling(image.shape, kernel.shape, int(stride), padding)
    rows_formula, cols_formula = tiling.formulas
    st.code(
        _("rows     {rows}\ncolumns  {columns}").format(rows=rows_formula, columns=cols_formula),
        language=None,
    )
    if 0 in tiling.output_size:
        st.error(tiling.problem)
        return
    _floored(tiling, _("the kernel"))
    conv = cv.convolve2d(image, kernel, int(stride), padding, strict=False)
    st.toggle(_("Play"), key=PLAY, help=_("Move the kernel one step every second."))
    _slide(conv)


def _floored(tiling: cv.Tiling, what: str) -> None:
    """Say when the lecture's formula is not whole: Keras floors, and the slide shows that."""
    if tiling.tiles:
        return
    st.warning(tiling.problem)
    st.caption(
        _(
            "Keras does not refuse such a layer: it floors, and {what} never visits the "
            "leftover rows and columns (dotted on the input). What follows is what Keras "
            "computes."
        ).format(what=what)
    )


def _slide(conv: cv.Convolution) -> None:
    def draw(row: int, col: int) -> None:
        st.plotly_chart(convolution_slide(conv, row, col), key="explorer_fig_conv")
        st.markdown(_("Output cell ({row}, {col}):").format(row=row, col=col))
        st.code(conv.step(row, col).formula(max_terms=None), language=None)

    out_h, out_w = conv.tiling.output_size
    animate(PLAY, POSITION, out_h * out_w, out_w, _("Kernel position"), draw)


def animate(play: str, position: str, cells: int, width: int, label: str, draw) -> None:
    """A slider over `cells` positions (in reading order, `width` per row) that moves one
    step a second while the toggle keyed `play` is on; `draw(row, column)` shows the step."""

    @st.fragment(run_every=1.0 if st.session_state.get(play) else None)
    def slide() -> None:
        if st.session_state.get(play) and cells > 1:
            st.session_state[position] = (st.session_state.get(position, -1) + 1) % cells
        row, col = _position_slider(position, cells, width, label)
        draw(row, col)

    slide()


def channels_concept() -> None:
    st.markdown(
        _(
            "With several input channels (red, green, blue; or the feature maps of the layer "
            "before), each filter has one kernel slice per channel. It multiplies and sums over "
            "all of them at once and adds one bias: **one filter, one feature map**, however "
            "many channels come in. A layer with F filters makes F maps."
        )
    )
    cols = st.columns(4)
    size = cols[0].number_input(_("Input size"), 3, 8, 5, key="explorer_w_ch_size")
    channels = cols[1].number_input(_("Input channels"), 1, 3, 3, key="explorer_w_ch_channels")
    filters = cols[2].number_input(_("Filters"), 1, 4, 2, key="explorer_w_ch_filters")
    kernel = cols[3].number_input(
        _("Kernel size"), 1, int(size), min(3, int(size)), key="explorer_w_ch_k"
    )
    image = cv.small_grid(int(size), int(size), int(channels), seed=1)
    weights = cv.small_filters(int(kernel), int(channels), int(filters), seed=2)
    conv = cv.convolve2d(image, weights, padding="valid")
    out_h, out_w = conv.tiling.output_size
    row, col = _position_slider("explorer_w_ch_position", out_h * out_w, out_w, _("Output cell"))
    height = 200 * (int(filters) + 1)
    st.plotly_chart(
        channels_and_filters(conv, row, col, height=height), key="explorer_fig_channels"
    )
    lines = [
        _("map {map} at ({row}, {col}) = {formula}").format(
            map=f + 1, row=row, col=col, formula=conv.step(row, col, f).channel_formula()
        )
        for f in range(int(filters))
    ]
    st.code("\n".join(lines), language=None)
    k, c, f = int(kernel), int(channels), int(filters)
    st.markdown(
        _(
            "Parameters of this layer: {f} × ({k} × {k} × {c}) + {f} = **{total}** — each of "
            "the {f} filters has {k}×{k}×{c} weights and one bias."
        ).format(f=f, k=k, c=c, total=f * (k * k * c + 1))
    )


def pooling_concept() -> None:
    st.markdown(
        _(
            "Pooling shrinks each feature map on its own, channel by channel: a window slides "
            "with its own stride and keeps the largest value (max) or the mean (average). It has "
            "no weights to learn."
        )
    )
    picture, _choice = _picture("explorer_w_pool_input")
    cols = st.columns(4)
    size = cols[0].number_input(_("Input size"), 2, 16, 8, key="explorer_w_pool_size")
    window = cols[1].number_input(_("Window"), 1, 4, 2, key="explorer_w_pool_window")
    stride = cols[2].number_input(_("Stride"), 1, 4, 2, key="explorer_w_pool_stride")
    mode = cols[3].selectbox(
        _("Pooling"),
        ["max", "avg"],
        format_func={"max": _("max"), "avg": _("average")}.get,
        key="explorer_w_pool_mode",
    )
    image = _input(picture, int(size), int(size), seed=3)
    tiling = cv.check_tiling(image.shape, int(window), int(stride))
    st.code(_("rows and columns  {formula}").format(formula=tiling.formulas[0]), language=None)
    if 0 in tiling.output_size:
        st.error(tiling.problem)
        return
    _floored(tiling, _("the window"))
    pool = cv.pool2d(image, int(window), int(stride), mode, strict=False)
    out_h, out_w = tiling.output_size
    row, col = _position_slider("explorer_w_pool_position", out_h * out_w, out_w, _("Output cell"))
    st.plotly_chart(pooling_windows(pool, row, col), key="explorer_fig_pool")
    st.code(pool.window(row, col).formula(), language=None)


def activation_concept() -> None:
    st.markdown(
        _(
            "Hand-made kernels show what a convolution can detect. Each feature map below is the "
            "image convolved with one kernel ('same' padding); ReLU then keeps only the positive "
            "responses: the activation map. A trained CNN learns kernels like these by itself."
        )
    )
    found = digits()
    if found:
        labels = {int(y): _("MNIST digit {digit}").format(digit=int(y)) for y in found[1]}
        choice = st.selectbox(
            _("Image"), list(labels), format_func=labels.get, key="explorer_w_act_image"
        )
        image = found[0][list(labels).index(choice)]
    else:
        st.caption(_("MNIST is not on disk, so this uses a digit drawn in code."))
        image = cv.sample_digit()
    keys = st.multiselect(
        _("Kernels"),
        list(cv.KERNELS),
        default=["sobel_x", "sobel_y", "laplacian", "gaussian_blur", "sharpen"],
        # Translated now, in this script run: a format function may be called elsewhere.
        format_func={key: _(kernel.title) for key, kernel in cv.KERNELS.items()}.get,
        key="explorer_w_act_kernels",
    )
    if not keys:
        st.info(_("Choose at least one kernel."))
        return
    maps = cv.activation_maps(image, keys)
    st.plotly_chart(activation_maps_figure(image, maps), key="explorer_fig_maps")
    for item in maps:
        weights = " ".join(
            "[" + " ".join(cv.format_number(v, 2) for v in row) + "]" for row in item.kernel.weights
        )
        st.caption(
            f"**{escape_markdown(_(item.kernel.title))}** "
            f"{escape_markdown(f'{weights}: {_(item.kernel.what)}')}"
        )
