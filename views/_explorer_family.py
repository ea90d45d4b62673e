"""The explorer's concept tabs for the rest of the convolution family: dilated, transposed,
depthwise separable and 1×1 convolutions, and upsampling, each animated like the convolution
slide (a position slider that Play advances every second).

The numbers come from `cnnlib.convolution` and `cnnlib.arithmetic`, the pictures from
`cnnlib.figures_architecture`; this module only lays out widgets, and its text goes through
gettext (the formulas are the arithmetic's own). Sizes follow Dumoulin and Visin, "A guide to
convolution arithmetic for deep learning" (2016), as Keras computes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnnlib import convolution as cv
from cnnlib import layers as L
from cnnlib.arithmetic import LayerRow, analyse
from cnnlib.figures_architecture import (
    convolution_slide,
    pointwise_slide,
    separable_slide,
    transposed_slide,
    upsampling_slide,
)
from cnnlib.i18n import _
from views._explorer_concepts import _input, _picture, animate


def _one_layer(shape: tuple[int, ...], layer: object) -> LayerRow:
    """The arithmetic's row for `layer` on an input of `shape`: the table's own numbers."""
    return analyse(L.Network("slide", (L.Input(shape), layer))).rows[1]


def _play(key: str, help_text: str) -> None:
    st.toggle(_("Play"), key=key, help=help_text)


def dilation_concept() -> None:
    st.markdown(
        _(
            "A dilated (atrous) convolution spreads the kernel's taps D apart. A K×K kernel "
            "then covers K + (K − 1)(D − 1) inputs per side with the same K×K weights: it "
            "sees further at no extra cost, which is how segmentation networks widen their "
            "view without pooling. In Keras: `Conv2D(filters, 3, dilation_rate=2)`; Keras's "
            "Conv2D takes a dilation only with stride 1."
        )
    )
    picture, _choice = _picture("explorer_w_dil_input")
    cols = st.columns(4)
    size = cols[0].number_input(_("Input size"), 3, 16, 9, key="explorer_w_dil_size")
    kernel_size = cols[1].number_input(_("Kernel size"), 1, 5, 3, key="explorer_w_dil_k")
    dilation = cols[2].number_input(_("Dilation"), 1, 4, 2, key="explorer_w_dil_rate")
    padding = cols[3].selectbox(_("Padding"), cv.PADDINGS, key="explorer_w_dil_pad")
    image = _input(picture, int(size), int(size), seed=4)
    k, d = int(kernel_size), int(dilation)
    kernel = cv.KERNELS["laplacian"].weights if k == 3 else cv.small_filters(k, 1, 1)[:, :, 0, 0]
    tiling = cv.check_tiling(image.shape, k, 1, padding, d)
    st.code(_("rows and columns  {formula}").format(formula=tiling.formulas[0]), language=None)
    if 0 in tiling.output_size:
        st.error(tiling.problem)
        return
    conv = cv.convolve2d(image, kernel, 1, padding, strict=False, dilation=d)
    span = tiling.kernel[0]
    st.caption(
        _(
            "Weights: {k} × {k} = {weights} whatever the dilation; a plain kernel covering "
            "the same {span}×{span} would need {plain}."
        ).format(k=k, weights=k * k, span=span, plain=span * span)
    )
    _play("explorer_w_dil_play", _("Move the kernel one step every second."))

    def draw(row: int, col: int) -> None:
        st.plotly_chart(convolution_slide(conv, row, col), key="explorer_fig_dilation")
        st.markdown(
            _("Output cell ({row}, {col}), from the outlined inputs only:").format(row=row, col=col)
        )
        st.code(conv.step(row, col).formula(max_terms=None), language=None)

    out_h, out_w = tiling.output_size
    cells = out_h * out_w
    position = _("Kernel position")
    animate("explorer_w_dil_play", "explorer_w_dil_position", cells, out_w, position, draw)


def transposed_concept() -> None:
    st.markdown(
        _(
            "A transposed convolution runs the other way: each input value multiplies the "
            "whole kernel and adds the result into a patch of the output, the patches S "
            "apart. With stride 2 it doubles the height and width, a learned upsampling "
            "(decoders, generators). In Keras: "
            "`Conv2DTranspose(filters, 3, strides=2, padding='same')`. Where patches overlap "
            "they add up, and a kernel that is not a multiple of the stride overlaps "
            "unevenly: with kernel 3 and stride 2 some output cells get one patch, some two "
            "and some four, a checkerboard that shows in generated images (Odena, Dumoulin "
            "and Olah, 2016). With ones as input and kernel, the output counts the patches."
        )
    )
    cols = st.columns(5)
    size = cols[0].number_input(_("Input size"), 2, 6, 4, key="explorer_w_tr_size")
    kernel_size = cols[1].number_input(_("Kernel size"), 1, 5, 3, key="explorer_w_tr_k")
    stride = cols[2].number_input(_("Stride"), 1, 3, 2, key="explorer_w_tr_s")
    padding = cols[3].selectbox(_("Padding"), cv.PADDINGS, key="explorer_w_tr_pad")
    values = cols[4].selectbox(
        _("Numbers"),
        ["ones", "grid"],
        format_func={"ones": _("ones"), "grid": _("small grid of numbers")}.get,
        key="explorer_w_tr_values",
    )
    n, k, s = int(size), int(kernel_size), int(stride)
    if values == "ones":
        image, kernel = np.ones((n, n)), np.ones((k, k))
    else:
        image, kernel = cv.small_grid(n, n, seed=5), cv.small_filters(k, 1, 1, seed=6)[:, :, 0, 0]
    tconv = cv.conv_transpose2d(image, kernel, s, padding)
    st.code(_("rows and columns  {formula}").format(formula=tconv.formulas[0]), language=None)
    counts = tconv.interior_counts()
    if len(counts) > 1:
        st.warning(
            _(
                "Uneven: output cells away from the border get {counts} patches, the "
                "checkerboard. A kernel that is a multiple of the stride (e.g. {kernel} with "
                "stride {stride}), or UpSampling2D followed by a convolution, spreads evenly."
            ).format(counts=_listed(counts), kernel=2 * s, stride=s)
        )
    else:
        st.info(
            _("Even: every output cell away from the border gets {count} patch(es).").format(
                count=counts[0]
            )
        )
    _play("explorer_w_tr_play", _("Add one input cell's patch every second."))

    def draw(row: int, col: int) -> None:
        step = tconv.step(row, col)
        st.plotly_chart(transposed_slide(tconv, row * n + col), key="explorer_fig_transposed")
        st.code(
            _(
                "input ({row}, {col}) = {value}: adds {value} × kernel to rows {top}–{bottom}, "
                "columns {left}–{right}"
            ).format(
                row=row,
                col=col,
                value=cv.format_number(step.value[0]),
                top=step.rows[0],
                bottom=step.rows[1] - 1,
                left=step.cols[0],
                right=step.cols[1] - 1,
            ),
            language=None,
        )
        if any(cut > 0 for pair in tconv.crop for cut in pair):
            st.caption(
                _(
                    "The output so far is the full spread; dotted rows and columns are those "
                    "Keras's 'same' padding cuts to make the output input × stride."
                )
            )

    animate("explorer_w_tr_play", "explorer_w_tr_position", n * n, n, _("Input cell"), draw)


def _listed(numbers: list[int]) -> str:
    words = [str(n) for n in numbers]
    if len(words) == 1:
        return words[0]
    return _("{first} or {last}").format(first=", ".join(words[:-1]), last=words[-1])


def separable_concept() -> None:
    st.markdown(
        _(
            "A depthwise convolution gives each input channel its own kernel and keeps the "
            "channels apart; a 1×1 convolution then mixes them into the output maps. The two "
            "together are a depthwise separable convolution: Keras's `SeparableConv2D`, or "
            "`DepthwiseConv2D` then `Conv2D(filters, 1)` as MobileNet writes it, with batch "
            "normalisation between. It does much of what a plain convolution does for a "
            "fraction of the weights and multiply-adds: 1/N + 1/K² of them for N maps and a "
            "K×K kernel."
        )
    )
    cols = st.columns(4)
    size = cols[0].number_input(_("Input size"), 3, 8, 6, key="explorer_w_sep_size")
    channels = cols[1].number_input(_("Input channels"), 1, 3, 3, key="explorer_w_sep_channels")
    filters = cols[2].number_input(_("Output maps"), 1, 3, 2, key="explorer_w_sep_filters")
    kernel = cols[3].number_input(
        _("Kernel size"), 1, int(size), min(3, int(size)), key="explorer_w_sep_k"
    )
    n, c, f, k = int(size), int(channels), int(filters), int(kernel)
    image = cv.small_grid(n, n, c, seed=7).reshape(n, n, c)
    depthwise = cv.small_filters(k, c, 1, seed=8)[:, :, :, 0]
    pointwise = cv.small_filters(1, c, f, seed=9)
    sep = cv.separable_conv2d(image, depthwise, pointwise)
    _play("explorer_w_sep_play", _("Move to the next position every second."))

    def draw(row: int, col: int) -> None:
        height = 180 * max(c, f) + 60
        st.plotly_chart(separable_slide(sep, row, col, height=height), key="explorer_fig_separable")
        lines = [
            _("depthwise {map} at ({row}, {col}) = {formula}").format(
                map=m + 1, row=row, col=col, formula=conv.step(row, col).formula(max_terms=None)
            )
            for m, conv in enumerate(sep.depthwise.channels)
        ]
        lines += [
            _("output {map} at ({row}, {col}) = {formula}").format(
                map=m + 1,
                row=row,
                col=col,
                formula=sep.pointwise.step(row, col, m).formula(max_terms=None),
            )
            for m in range(f)
        ]
        st.code("\n".join(lines), language=None)

    out_h, out_w = sep.output.shape[:2]
    cells = out_h * out_w
    animate("explorer_w_sep_play", "explorer_w_sep_position", cells, out_w, _("Position"), draw)
    st.markdown(_("**What it saves**, worked out by the layer arithmetic:"))
    # The slide's own layer ('valid', as drawn) and one of MobileNet's ('same').
    cases = [
        (
            _("this slide ({n}×{n}×{c} → {f} maps, {k}×{k})").format(n=n, c=c, f=f, k=k),
            (n, n, c),
            f,
            k,
            "valid",
        ),
        (_("a MobileNet layer (14×14×512 → 512, 3×3)"), (14, 14, 512), 512, 3, "same"),
    ]
    rows = []
    for label, shape, maps, kern, pad in cases:
        plain = _one_layer(shape, L.Conv2D(maps, kern, padding=pad, activation=None))
        separable = _one_layer(shape, L.SeparableConv2D(maps, kern, padding=pad, activation=None))
        rows.append(
            {
                _("layer"): label,
                _("Conv2D parameters"): plain.params,
                _("SeparableConv2D parameters"): separable.params,
                _("Conv2D MACs"): plain.macs,
                _("SeparableConv2D MACs"): separable.macs,
                _("MACs saved"): f"{plain.macs / separable.macs:.1f}×",
            }
        )
    frame = pd.DataFrame(rows)
    counts = {
        column: st.column_config.NumberColumn(format="localized")
        for column in frame.columns
        if frame[column].dtype.kind == "i"
    }
    st.dataframe(frame, hide_index=True, width="stretch", column_config=counts)


def pointwise_concept() -> None:
    st.markdown(
        _(
            "A 1×1 convolution looks at one pixel at a time, across all its channels: each "
            "output map is a weighted sum of the input channels at that pixel, plus a bias. "
            "It is a small dense layer applied at every pixel with the same weights, and it "
            "changes the number of channels without touching height and width. GoogLeNet "
            "uses it to shrink the channels before its 3×3 and 5×5 convolutions, MobileNet to "
            "mix the channels its depthwise step keeps apart. In Keras it is an ordinary "
            "`Conv2D(filters, 1)`."
        )
    )
    cols = st.columns(3)
    size = cols[0].number_input(_("Input size"), 2, 6, 4, key="explorer_w_pw_size")
    channels = cols[1].number_input(_("Input channels"), 1, 4, 3, key="explorer_w_pw_channels")
    filters = cols[2].number_input(_("Output maps"), 1, 3, 2, key="explorer_w_pw_filters")
    n, c, f = int(size), int(channels), int(filters)
    image = cv.small_grid(n, n, c, seed=10).reshape(n, n, c)
    conv = cv.convolve2d(image, cv.small_filters(1, c, f, seed=11))
    row_of_table = _one_layer((n, n, c), L.Conv2D(f, 1, activation=None))
    st.code(
        _("output size  {size}\nparameters   {parameters}").format(
            size=row_of_table.size_formula, parameters=row_of_table.param_formula
        ),
        language=None,
    )
    _play("explorer_w_pw_play", _("Move to the next pixel every second."))

    def draw(row: int, col: int) -> None:
        height = 150 * max(c, f) + 80
        st.plotly_chart(pointwise_slide(conv, row, col, height=height), key="explorer_fig_1x1")
        pixel = ", ".join(cv.format_number(v) for v in image[row, col, :])
        lines = [
            _("pixel ({row}, {col}) has channels ({pixel})").format(row=row, col=col, pixel=pixel)
        ]
        lines += [
            _("map {map} = {formula}").format(
                map=m + 1, formula=conv.step(row, col, m).formula(max_terms=None)
            )
            for m in range(f)
        ]
        st.code("\n".join(lines), language=None)

    animate("explorer_w_pw_play", "explorer_w_pw_position", n * n, n, _("Pixel"), draw)


def upsampling_concept() -> None:
    st.markdown(
        _(
            "`UpSampling2D` enlarges each feature map by whole factors and has no weights: "
            "'nearest' copies every value into a block, 'bilinear' blends neighbouring "
            "values. Followed by an ordinary convolution, it is the alternative to a "
            "transposed convolution that leaves no checkerboard (Odena, Dumoulin and Olah, "
            "2016)."
        )
    )
    picture, _choice = _picture("explorer_w_up_input")
    cols = st.columns(3)
    size = cols[0].number_input(_("Input size"), 2, 10, 4, key="explorer_w_up_size")
    factor = cols[1].number_input(_("Factor"), 2, 4, 2, key="explorer_w_up_factor")
    interpolation = cols[2].selectbox(
        _("Interpolation"), cv.INTERPOLATIONS, key="explorer_w_up_interpolation"
    )
    n, s = int(size), int(factor)
    image = _input(picture, n, n, seed=12)
    output = cv.upsample2d(image, s, interpolation)
    row_of_table = _one_layer((n, n, 1), L.UpSampling2D(s, interpolation))
    st.code(
        _("rows and columns  {formula}").format(formula=row_of_table.size_formula), language=None
    )
    _play("explorer_w_up_play", _("Move to the next input cell every second."))

    def draw(row: int, col: int) -> None:
        st.plotly_chart(
            upsampling_slide(image, output, (s, s), row, col), key="explorer_fig_upsampling"
        )
        block = output[row * s : (row + 1) * s, col * s : (col + 1) * s, 0]
        numbers = " ".join(
            "[" + " ".join(cv.format_number(v, 2) for v in line) + "]" for line in block
        )
        st.code(
            _(
                "input ({row}, {col}) = {value} → output rows {top}–{bottom}, columns "
                "{left}–{right}: {numbers}"
            ).format(
                row=row,
                col=col,
                value=cv.format_number(image[row, col]),
                top=row * s,
                bottom=(row + 1) * s - 1,
                left=col * s,
                right=(col + 1) * s - 1,
                numbers=numbers,
            ),
            language=None,
        )

    animate("explorer_w_up_play", "explorer_w_up_position", n * n, n, _("Input cell"), draw)
