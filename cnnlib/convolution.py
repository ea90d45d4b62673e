"""Convolution and pooling worked out by hand, in plain NumPy, so every number can be shown.

`convolve2d` slides one or several kernels over an image as a CNN layer does (cross-correlation,
not the flipped convolution of signal processing), with Keras's 'valid' and 'same' padding and
an optional dilation, and keeps enough to explain any output value: its receptive field, the
element-wise products and their sum written out ("1·0 + 2·1 + … = 7"). `pool2d` does the same
for max and average pooling. The rest of the convolution family follows Keras's layers of the
same names: `conv_transpose2d` (Conv2DTranspose: each input value spreads the kernel over the
output, and overlapping patches add up, which with stride 2 and kernel 3 makes a checkerboard),
`depthwise_conv2d` and `separable_conv2d` (DepthwiseConv2D, SeparableConv2D) and `upsample2d`
(UpSampling2D, nearest or bilinear). `check_tiling` says whether a kernel and stride tile an
input exactly and, when they do not, why and which sizes would; Keras itself never refuses and
floors instead, so `convolve2d` and `pool2d` take `strict=False` to do what Keras does.
`KERNELS` holds the classic hand-made kernels (edges, blur, sharpen, emboss) and
`activation_maps` applies them with ReLU. Small sample inputs (a digit drawn in code, integer
grids) live here too, for pages that have no dataset on disk.

Only NumPy is used: no TensorFlow, no Streamlit, no plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlib.arithmetic import (
    effective_kernel,
    same_padding,
    size_formula,
    transposed_crop,
    transposed_output_size,
    transposed_size_formula,
)
from cnnlib.i18n import N_, _, ngettext
from cnnlib.layers import INTERPOLATIONS

PADDINGS = ("valid", "same")
POOL_MODES = ("max", "avg")
MINUS = "\u2212"  # the typographic minus sign, as in "(28 − 3 + 2·0) / 1 + 1 = 26"


# ---------------------------------------------------------------------------------------------
# Numbers as text


def format_number(value: float, digits: int = 3) -> str:
    """`7`, `0.25`, `−1.5`: whole numbers without a decimal point, others to `digits` places."""
    value = float(value)
    if value == 0:
        return "0"
    if value.is_integer():
        text = str(int(value))
    else:
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        if text in ("-0", "0", ""):
            text = "0"
    return text.replace("-", MINUS)


def _factor(value: float) -> str:
    """A factor of a product: negative numbers in brackets so `2·(−1)` reads unambiguously."""
    text = format_number(value)
    return f"({text})" if text.startswith(MINUS) else text


# ---------------------------------------------------------------------------------------------
# Sizes, padding and tiling


def _pair(value: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(
            _("{what} must be a whole number or a (height, width) pair, not {value}.").format(
                what=_(what), value=repr(value)
            )
        )
    if min(pair) < 1:
        raise ValueError(
            _("{what} must be at least 1, not {value}.").format(what=_(what), value=repr(value))
        )
    return pair


def _check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise ValueError(
            _("padding must be 'valid' or 'same', not {value}.").format(value=repr(padding))
        )


def axis_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros added before and after one axis, as Keras (TensorFlow) adds them.

    'same' pads just enough that the output is ceil(size / stride); when the total is odd the
    extra zero goes after (bottom/right), which is TensorFlow's rule.
    """
    _check_padding(padding)
    if padding == "valid":
        return (0, 0)
    return same_padding(size, kernel, stride)


def output_size(size: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Keras's output length along one axis: floor((size − kernel + pad) / stride) + 1.

    Returns 0 when a 'valid' kernel is larger than the input (Keras would refuse to build).
    """
    before, after = axis_padding(size, kernel, stride, padding)
    span = size + before + after - kernel
    return span // stride + 1 if span >= 0 else 0


@dataclass(frozen=True)
class Tiling:
    """How a window of `kernel` at `stride` covers an input, per axis (height, width)."""

    input_size: tuple[int, int]
    kernel: tuple[int, int]  # the window's extent: a dilated kernel's span
    stride: tuple[int, int]
    padding: str
    pads: tuple[tuple[int, int], tuple[int, int]]  # (top, bottom), (left, right)
    output_size: tuple[int, int]  # what Keras produces (it floors)
    unused: tuple[int, int]  # trailing rows, columns that no window ever reaches
    problem: str | None  # why the combination does not tile, with sizes that would; None if it does
    dilation: tuple[int, int] = (1, 1)  # step between the kernel's taps

    @property
    def tiles(self) -> bool:
        return self.problem is None

    @property
    def formulas(self) -> tuple[str, str]:
        """The output-size formula of each axis, written by `cnnlib.arithmetic.size_formula`
        as the explorer's layer table writes it."""
        return tuple(
            size_formula(n, (k - 1) // d + 1, s, self.padding, d)
            for n, k, s, d in zip(
                self.input_size, self.kernel, self.stride, self.dilation, strict=True
            )
        )


def suggestions(size: int, kernel: int, stride: int) -> dict[str, list[int]]:
    """Nearby input sizes, kernel sizes and strides for which (size − kernel) / stride is whole."""
    sizes = sorted(
        {n for n in (size - (size - kernel) % stride, size + stride - (size - kernel) % stride)}
        - {size}
    )
    sizes = [n for n in sizes if n >= kernel]
    kernels = [k for k in range(1, size + 1) if (size - k) % stride == 0 and k != kernel]
    kernels = sorted(sorted(kernels, key=lambda k: (abs(k - kernel), k))[:2])
    gap = size - kernel
    strides = [s for s in range(1, gap + 1) if gap % s == 0] if gap > 0 else [1]
    strides = sorted(sorted(strides, key=lambda s: (abs(s - stride), s))[:2])
    return {"sizes": sizes, "kernels": kernels, "strides": strides}


def _join(values: list[int]) -> str:
    words = [str(v) for v in values]
    if len(words) == 1:
        return words[0]
    return _("{first} or {last}").format(first=", ".join(words[:-1]), last=words[-1])


# The axes a tiling problem names, in English where it is worked out; shown with `_()`.
_AXES = {"rows and columns": N_("rows and columns"), "rows": N_("rows"), "columns": N_("columns")}


def _lost(axis: str, left: int) -> str:
    """The rows or columns a kernel never reaches, e.g. "last 2 rows"."""
    if axis == "rows and columns":
        text = ngettext("last row and column", "last {count} rows and columns", left)
    elif axis == "rows":
        text = ngettext("last row", "last {count} rows", left)
    else:
        text = ngettext("last column", "last {count} columns", left)
    return text.format(count=left)


def _tiling_problem(axis: str, n: int, k: int, s: int) -> str:
    tips = suggestions(n, k, s)
    left = (n - k) % s
    options = []
    if tips["sizes"]:
        options.append(
            _("an input of {sizes} {axis}").format(sizes=_join(tips["sizes"]), axis=_(_AXES[axis]))
        )
    if tips["kernels"]:
        options.append(_("a kernel of {sizes}").format(sizes=_join(tips["kernels"])))
    if tips["strides"]:
        options.append(_("stride {strides}").format(strides=_join(tips["strides"])))
    options.append(_("'same' padding"))
    return ngettext(
        "({n} {minus} {k}) / {s} = {quotient} is not whole, so with {n} {axis} the kernel never "
        "reaches the {lost} (Keras floors to {positions} positions and ignores it); {options}, "
        "or {last} would tile",
        "({n} {minus} {k}) / {s} = {quotient} is not whole, so with {n} {axis} the kernel never "
        "reaches the {lost} (Keras floors to {positions} positions and ignores them); {options}, "
        "or {last} would tile",
        left,
    ).format(
        n=n,
        minus=MINUS,
        k=k,
        s=s,
        quotient=format_number((n - k) / s),
        axis=_(_AXES[axis]),
        lost=_lost(axis, left),
        positions=(n - k) // s + 1,
        options=", ".join(options[:-1]),
        last=options[-1],
    )


def check_tiling(
    input_size: int | tuple[int, int],
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: str = "valid",
    dilation: int | tuple[int, int] = 1,
) -> Tiling:
    """Whether `kernel` at `stride` visits every row and column of the input exactly.

    With 'valid' padding the window must fit ((size − kernel) ≥ 0) and land on the last row and
    column ((size − kernel) / stride whole); otherwise `problem` says why, what Keras does
    instead (floor the division and never look at the leftover rows) and which input sizes,
    kernel sizes or strides would tile. 'same' padding always tiles: Keras adds the zeros that
    make it so, unevenly when it must. A dilated kernel tiles as the span it covers,
    K + (K − 1)(D − 1). Raises ValueError only for sizes that are not positive.
    """
    _check_padding(padding)
    size = _pair(input_size, N_("input size"))
    rate = _pair(dilation, N_("dilation"))
    kern = tuple(
        effective_kernel(k, d) for k, d in zip(_pair(kernel, N_("kernel size")), rate, strict=True)
    )
    step = _pair(stride, N_("stride"))
    pads = tuple(axis_padding(n, k, s, padding) for n, k, s in zip(size, kern, step, strict=True))
    outs = tuple(output_size(n, k, s, padding) for n, k, s in zip(size, kern, step, strict=True))
    unused = tuple(
        (n + p[0] + p[1] - k) % s if n + p[0] + p[1] >= k else 0
        for n, k, s, p in zip(size, kern, step, pads, strict=True)
    )
    problems = []
    axes = list(zip(("rows", "columns"), size, kern, step, strict=True))
    if size[0] == size[1] and kern[0] == kern[1] and step[0] == step[1]:
        axes = [("rows and columns", size[0], kern[0], step[0])]
    for axis, n, k, s in axes:
        if padding == "same":
            continue
        if k > n:
            problems.append(
                _(
                    "the {k}-wide kernel does not fit in {n} {axis}: use a kernel of at most {n}, "
                    "a larger input, or 'same' padding"
                ).format(k=k, n=n, axis=_(_AXES[axis]))
            )
            continue
        if (n - k) % s:
            problems.append(_tiling_problem(axis, n, k, s))
    problem = None
    if problems:
        problem = _("Does not tile: {problems}.").format(problems="; ".join(problems))
    return Tiling(
        input_size=size,
        kernel=kern,
        stride=step,
        padding=padding,
        pads=pads,
        output_size=outs,
        unused=unused,
        problem=problem,
        dilation=rate,
    )


# ---------------------------------------------------------------------------------------------
# Convolution


@dataclass(frozen=True)
class ConvolutionStep:
    """The work behind one output value: which inputs the kernel saw and what it did with them."""

    row: int
    col: int
    filter: int
    rows: tuple[int, int]  # [start, stop) in the padded input (a dilated kernel's whole span)
    cols: tuple[int, int]
    field: np.ndarray  # (kh, kw, channels): the inputs under the taps, padding zeros included
    weights: np.ndarray  # (kh, kw, channels): this filter's kernel
    products: np.ndarray  # field * weights, element by element
    bias: float
    value: float  # products.sum() + bias
    dilation: tuple[int, int] = (1, 1)  # taps are this far apart inside rows × cols

    @property
    def taps(self) -> list[tuple[int, int]]:
        """(row, column) in the padded input of every input the kernel multiplies."""
        return [
            (r, c)
            for r in range(self.rows[0], self.rows[1], self.dilation[0])
            for c in range(self.cols[0], self.cols[1], self.dilation[1])
        ]

    @property
    def channel_sums(self) -> np.ndarray:
        """What each input channel contributes: the per-channel sums of the products."""
        return self.products.sum(axis=(0, 1))

    def formula(self, max_terms: int | None = 12) -> str:
        """The multiply-and-sum written out, e.g. `1·0 + 2·1 + 0·(−1) + … = 7`.

        Terms run over rows, then columns, then channels; beyond `max_terms` the middle is
        replaced by `…` (None writes every term).
        """
        fields_ = self.field.reshape(-1)
        weights = self.weights.reshape(-1)
        terms = [f"{_factor(a)}·{_factor(b)}" for a, b in zip(fields_, weights, strict=True)]
        if max_terms is not None and len(terms) > max_terms:
            head = max(max_terms - 2, 1)
            terms = terms[:head] + ["…"] + terms[-1:]
        if self.bias:
            terms.append(_("{value} (bias)").format(value=_factor(self.bias)))
        return " + ".join(terms) + f" = {format_number(self.value)}"

    def channel_formula(self) -> str:
        """The sum by input channel, e.g. `3 (channel 1) + (−1) (channel 2) + 0.5 (bias) = 2.5`."""
        terms = [
            _("{value} (channel {number})").format(value=_factor(total), number=c + 1)
            for c, total in enumerate(self.channel_sums)
        ]
        if self.bias:
            terms.append(_("{value} (bias)").format(value=_factor(self.bias)))
        return " + ".join(terms) + f" = {format_number(self.value)}"


@dataclass(frozen=True)
class Convolution:
    """The result of `convolve2d` and everything needed to explain it."""

    image: np.ndarray  # (H, W, C) as given
    padded: np.ndarray  # (H + top + bottom, W + left + right, C)
    kernels: np.ndarray  # (kh, kw, C, F), Keras's kernel layout
    bias: np.ndarray  # (F,)
    tiling: Tiling
    output: np.ndarray  # (H', W', F), one feature map per filter

    def feature_map(self, filter_index: int = 0) -> np.ndarray:
        return self.output[:, :, filter_index]

    def step(self, row: int, col: int, filter_index: int = 0) -> ConvolutionStep:
        """The receptive field, products and sum behind output[row, col, filter_index]."""
        out_h, out_w, filters = self.output.shape
        if not (0 <= row < out_h and 0 <= col < out_w and 0 <= filter_index < filters):
            raise ValueError(
                _(
                    "Output cell ({row}, {col}) of filter {filter} does not exist; the output is "
                    "{height}×{width} with {filters} filter(s), counted from 0."
                ).format(
                    row=row,
                    col=col,
                    filter=filter_index,
                    height=out_h,
                    width=out_w,
                    filters=filters,
                )
            )
        (kh, kw), (sh, sw) = self.tiling.kernel, self.tiling.stride
        (dh, dw) = self.tiling.dilation
        r0, c0 = row * sh, col * sw
        field = self.padded[r0 : r0 + kh : dh, c0 : c0 + kw : dw, :]
        weights = self.kernels[:, :, :, filter_index]
        products = field * weights
        bias = float(self.bias[filter_index])
        return ConvolutionStep(
            row=row,
            col=col,
            filter=filter_index,
            rows=(r0, r0 + kh),
            cols=(c0, c0 + kw),
            field=field,
            weights=weights,
            products=products,
            bias=bias,
            value=float(products.sum() + bias),
            dilation=(dh, dw),
        )


def _as_image(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(
            _(
                "The input must be a (height, width) or (height, width, channels) array, not "
                "shape {shape}."
            ).format(shape=np.shape(image))
        )
    return array


def _as_kernels(kernel: np.ndarray, channels: int) -> np.ndarray:
    array = np.asarray(kernel, dtype=np.float64)
    if array.ndim == 2:
        # One 2-D kernel on a multi-channel input is applied to every channel, as a filter
        # whose slices are all equal: it still spans all channels.
        array = np.repeat(array[:, :, None], channels, axis=2)
    if array.ndim == 3:
        array = array[:, :, :, None]
    if array.ndim != 4 or min(array.shape) < 1:
        raise ValueError(
            _(
                "The kernel must be (kh, kw), (kh, kw, channels) or (kh, kw, channels, filters), "
                "not shape {shape}."
            ).format(shape=np.shape(kernel))
        )
    if array.shape[2] != channels:
        raise ValueError(
            _(
                "Each filter must span all {channels} input channels, but the kernel has "
                "{given}; give it shape (kh, kw, {channels}, filters)."
            ).format(channels=channels, given=array.shape[2])
        )
    return array


def convolve2d(
    image: np.ndarray,
    kernel: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: str = "valid",
    bias: float | np.ndarray = 0.0,
    strict: bool = True,
    dilation: int | tuple[int, int] = 1,
) -> Convolution:
    """Slide the kernel(s) over the image as Keras's Conv2D does, before the activation.

    `image` is (H, W) or (H, W, C). `kernel` is (kh, kw), (kh, kw, C) for one filter, or
    (kh, kw, C, F) for F filters in Keras's layout: each filter spans all C input channels and
    yields one feature map, output[i, j, f] = Σ image_padded[i·s + a·d, j·s + b·d, c] ·
    kernel[a, b, c, f] + bias[f], with dilation d (1: neighbouring inputs). With `strict` (the
    default) a combination that does not tile raises ValueError saying why and what would
    tile; `strict=False` floors as Keras does.
    """
    array = _as_image(image)
    kernels = _as_kernels(kernel, array.shape[2])
    tiling = check_tiling(array.shape[:2], kernels.shape[:2], stride, padding, dilation)
    if 0 in tiling.output_size:
        raise ValueError(tiling.problem)
    if strict and not tiling.tiles:
        raise ValueError(tiling.problem)
    filters = kernels.shape[3]
    biases = np.broadcast_to(np.asarray(bias, dtype=np.float64), (filters,)).copy()
    (top, bottom), (left, right) = tiling.pads
    padded = np.pad(array, ((top, bottom), (left, right), (0, 0)))
    (kh, kw), (sh, sw), (dh, dw) = tiling.kernel, tiling.stride, tiling.dilation
    out_h, out_w = tiling.output_size
    output = np.empty((out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            field = padded[i * sh : i * sh + kh : dh, j * sw : j * sw + kw : dw, :]
            output[i, j, :] = np.tensordot(field, kernels, axes=3) + biases
    return Convolution(
        image=array, padded=padded, kernels=kernels, bias=biases, tiling=tiling, output=output
    )


# ---------------------------------------------------------------------------------------------
# Transposed convolution


@dataclass(frozen=True)
class TransposedStep:
    """What one input value adds to a transposed convolution's output."""

    row: int
    col: int
    value: np.ndarray  # (C,): the input's channels at (row, col)
    rows: tuple[int, int]  # [start, stop) of its patch in the full, uncropped output
    cols: tuple[int, int]
    patch: np.ndarray  # (kh, kw, F): Σ_c value[c] · kernel[:, :, c, f], added into the output


@dataclass(frozen=True)
class TransposedConvolution:
    """The result of `conv_transpose2d` and what is needed to animate it."""

    image: np.ndarray  # (H, W, C)
    kernels: np.ndarray  # (kh, kw, C, F): kernel[a, b, c, f], as for `convolve2d`
    bias: np.ndarray  # (F,)
    stride: tuple[int, int]
    padding: str
    crop: tuple[tuple[int, int], tuple[int, int]]  # cut from the full output (top, bottom), …
    full: np.ndarray  # ((H − 1)·sh + kh, (W − 1)·sw + kw, F): every patch added, no bias
    output: np.ndarray  # what Keras's Conv2DTranspose returns, bias included

    @property
    def formulas(self) -> tuple[str, str]:
        """The output-size formula of each axis, as the explorer's layer table writes it."""
        return tuple(
            transposed_size_formula(n, k, s, self.padding)
            for n, k, s in zip(
                self.image.shape[:2], self.kernels.shape[:2], self.stride, strict=True
            )
        )

    def step(self, row: int, col: int) -> TransposedStep:
        """The patch input cell (row, col) spreads over the output."""
        height, width = self.image.shape[:2]
        if not (0 <= row < height and 0 <= col < width):
            raise ValueError(
                _(
                    "Input cell ({row}, {col}) does not exist; the input is {height}×{width}, "
                    "counted from 0."
                ).format(row=row, col=col, height=height, width=width)
            )
        kh, kw = self.kernels.shape[:2]
        r0, c0 = row * self.stride[0], col * self.stride[1]
        value = self.image[row, col, :]
        return TransposedStep(
            row=row,
            col=col,
            value=value,
            rows=(r0, r0 + kh),
            cols=(c0, c0 + kw),
            patch=np.tensordot(value, self.kernels, axes=([0], [2])),
        )

    def partial(self, count: int) -> np.ndarray:
        """The full output after the first `count` input cells (reading order) have added
        their patches: the picture of the animation's step `count`."""
        height, width = self.image.shape[:2]
        out = np.zeros_like(self.full)
        for index in range(min(max(count, 0), height * width)):
            step = self.step(*divmod(index, width))
            out[step.rows[0] : step.rows[1], step.cols[0] : step.cols[1], :] += step.patch
        return out

    def interior_counts(self) -> list[int]:
        """The different numbers of patches on output cells away from the border (where
        fewer patches reach by construction): one number means even coverage, several a
        checkerboard."""
        counts = self.coverage()
        kh, kw = self.kernels.shape[:2]
        inner = counts[kh - 1 : counts.shape[0] - kh + 1, kw - 1 : counts.shape[1] - kw + 1]
        return sorted({int(n) for n in (inner if inner.size else counts).ravel()})

    def coverage(self) -> np.ndarray:
        """How many patches land on each cell of the full output: uneven counts are the
        checkerboard a kernel that is not a multiple of the stride leaves."""
        height, width = self.image.shape[:2]
        kh, kw = self.kernels.shape[:2]
        counts = np.zeros(self.full.shape[:2], dtype=int)
        for row in range(height):
            for col in range(width):
                r0, c0 = row * self.stride[0], col * self.stride[1]
                counts[r0 : r0 + kh, c0 : c0 + kw] += 1
        return counts


def conv_transpose2d(
    image: np.ndarray,
    kernel: np.ndarray,
    stride: int | tuple[int, int] = 2,
    padding: str = "valid",
    bias: float | np.ndarray = 0.0,
) -> TransposedConvolution:
    """Keras's Conv2DTranspose, before the activation, by scattering patches.

    Each input value x[i, j, c] adds x[i, j, c] · kernel[a, b, c, f] to the full output at
    (i·s + a, j·s + b, f), and overlapping patches add up. Keras then keeps
    `transposed_output_size` rows and columns of it: 'valid' keeps all (and pads zeros after
    when the kernel is smaller than the stride), 'same' cuts (K − S) / 2 before and the rest
    after so that the output is W·S. `kernel` is (kh, kw), (kh, kw, C) or (kh, kw, C, F) in the
    layout of `convolve2d`; Keras stores the same numbers as (kh, kw, F, C).
    """
    _check_padding(padding)
    array = _as_image(image)
    kernels = _as_kernels(kernel, array.shape[2])
    step = _pair(stride, N_("stride"))
    height, width = array.shape[:2]
    (kh, kw), filters = kernels.shape[:2], kernels.shape[3]
    biases = np.broadcast_to(np.asarray(bias, dtype=np.float64), (filters,)).copy()
    full = np.zeros(((height - 1) * step[0] + kh, (width - 1) * step[1] + kw, filters))
    for i in range(height):
        for j in range(width):
            patch = np.tensordot(array[i, j, :], kernels, axes=([0], [2]))
            full[i * step[0] : i * step[0] + kh, j * step[1] : j * step[1] + kw, :] += patch
    crop = tuple(
        transposed_crop(n, k, s, padding)
        for n, k, s in zip((height, width), (kh, kw), step, strict=True)
    )
    sizes = [
        transposed_output_size(n, k, s, padding)
        for n, k, s in zip((height, width), (kh, kw), step, strict=True)
    ]
    # A negative crop after is zeros Keras adds: pad the full output, then cut.
    extended = np.pad(full, ((0, max(-crop[0][1], 0)), (0, max(-crop[1][1], 0)), (0, 0)))
    top, left = crop[0][0], crop[1][0]
    output = extended[top : top + sizes[0], left : left + sizes[1], :] + biases
    return TransposedConvolution(
        image=array,
        kernels=kernels,
        bias=biases,
        stride=step,
        padding=padding,
        crop=crop,
        full=full,
        output=output,
    )


# ---------------------------------------------------------------------------------------------
# Depthwise and separable convolution


@dataclass(frozen=True)
class DepthwiseConvolution:
    """The result of `depthwise_conv2d`: each input channel convolved with its own kernels."""

    image: np.ndarray  # (H, W, C)
    channels: tuple[Convolution, ...]  # channel c alone, with its M kernels
    output: np.ndarray  # (H', W', C·M): map c·M + m is channel c's m-th, as Keras orders them

    @property
    def tiling(self) -> Tiling:
        return self.channels[0].tiling


def depthwise_conv2d(
    image: np.ndarray,
    kernel: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: str = "valid",
    bias: float | np.ndarray = 0.0,
    dilation: int | tuple[int, int] = 1,
    strict: bool = False,
) -> DepthwiseConvolution:
    """Keras's DepthwiseConv2D before the activation: no channel sees another.

    `kernel` is (kh, kw, C) for one map per channel or (kh, kw, C, M) for M (the depth
    multiplier), Keras's layout; `bias` has C·M entries. Map c·M + m is channel c convolved
    with kernel[:, :, c, m].
    """
    array = _as_image(image)
    kernels = np.asarray(kernel, dtype=np.float64)
    if kernels.ndim == 3:
        kernels = kernels[:, :, :, None]
    if kernels.ndim != 4 or kernels.shape[2] != array.shape[2]:
        raise ValueError(
            _(
                "A depthwise kernel has one slice per input channel: give it shape (kh, kw, "
                "{channels}) or (kh, kw, {channels}, multiplier), not {shape}."
            ).format(channels=array.shape[2], shape=np.shape(kernel))
        )
    channels, multiplier = kernels.shape[2], kernels.shape[3]
    biases = np.broadcast_to(np.asarray(bias, dtype=np.float64), (channels * multiplier,))
    per_channel = tuple(
        convolve2d(
            array[:, :, c],
            kernels[:, :, c : c + 1, :],
            stride,
            padding,
            biases[c * multiplier : (c + 1) * multiplier],
            strict=strict,
            dilation=dilation,
        )
        for c in range(channels)
    )
    output = np.concatenate([conv.output for conv in per_channel], axis=2)
    return DepthwiseConvolution(image=array, channels=per_channel, output=output)


@dataclass(frozen=True)
class SeparableConvolution:
    """The result of `separable_conv2d`: a depthwise step, then a 1×1 step mixing channels."""

    depthwise: DepthwiseConvolution
    pointwise: Convolution  # 1×1 kernels over the depthwise maps, with the bias
    output: np.ndarray  # (H', W', F)


def separable_conv2d(
    image: np.ndarray,
    depthwise_kernel: np.ndarray,
    pointwise_kernel: np.ndarray,
    stride: int | tuple[int, int] = 1,
    padding: str = "valid",
    bias: float | np.ndarray = 0.0,
    dilation: int | tuple[int, int] = 1,
    strict: bool = False,
) -> SeparableConvolution:
    """Keras's SeparableConv2D before the activation: `depthwise_conv2d` without a bias, then
    a 1×1 convolution. `pointwise_kernel` is (1, 1, C·M, F) as Keras stores it, or (C·M, F)."""
    depthwise = depthwise_conv2d(
        image, depthwise_kernel, stride, padding, dilation=dilation, strict=strict
    )
    mixing = np.asarray(pointwise_kernel, dtype=np.float64)
    if mixing.ndim == 2:
        mixing = mixing[None, None, :, :]
    pointwise = convolve2d(depthwise.output, mixing, bias=bias)
    return SeparableConvolution(depthwise=depthwise, pointwise=pointwise, output=pointwise.output)


# ---------------------------------------------------------------------------------------------
# Upsampling


def upsample2d(
    image: np.ndarray, size: int | tuple[int, int] = 2, interpolation: str = "nearest"
) -> np.ndarray:
    """Keras's UpSampling2D: (H, W, C) -> (H·sh, W·sw, C) with no weights.

    'nearest' repeats every pixel sh × sw times. 'bilinear' places output pixel centres at
    (i + 0.5) / s − 0.5 in the input, as TensorFlow's resize does, and blends the two
    nearest inputs of each axis by distance (edges repeat the border pixel).
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            _("interpolation must be 'nearest' or 'bilinear', not {value}.").format(
                value=repr(interpolation)
            )
        )
    array = _as_image(image)
    sh, sw = _pair(size, N_("size"))
    if interpolation == "nearest":
        return np.repeat(np.repeat(array, sh, axis=0), sw, axis=1)
    rows = _blend_matrix(array.shape[0], sh)
    cols = _blend_matrix(array.shape[1], sw)
    return np.einsum("ih,hwc,jw->ijc", rows, array, cols)


def _blend_matrix(size: int, factor: int) -> np.ndarray:
    """(size·factor, size) weights of bilinear upsampling along one axis."""
    centres = np.clip((np.arange(size * factor) + 0.5) / factor - 0.5, 0, size - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, size - 1)
    share = centres - low
    weights = np.zeros((size * factor, size))
    np.add.at(weights, (np.arange(size * factor), low), 1 - share)
    np.add.at(weights, (np.arange(size * factor), high), share)
    return weights


# ---------------------------------------------------------------------------------------------
# Pooling


@dataclass(frozen=True)
class PoolingWindow:
    """One pooled value and the input window it came from."""

    row: int
    col: int
    channel: int
    rows: tuple[int, int]  # [start, stop) in the input, clipped to it ('same' padding adds none)
    cols: tuple[int, int]
    values: np.ndarray  # the window's input values
    value: float
    mode: str
    source: tuple[int, int] | None  # input (row, col) of the maximum; None for average

    def formula(self) -> str:
        """`max(1, 3, 2, 0) = 3` or `(1 + 3 + 2 + 0) / 4 = 1.5`."""
        numbers = [format_number(v) for v in self.values.reshape(-1)]
        if self.mode == "max":
            return f"max({', '.join(numbers)}) = {format_number(self.value)}"
        return f"({' + '.join(numbers)}) / {len(numbers)} = {format_number(self.value)}"


@dataclass(frozen=True)
class Pooling:
    image: np.ndarray  # (H, W, C)
    mode: str
    tiling: Tiling
    output: np.ndarray  # (H', W', C): pooling keeps the channels

    def window(self, row: int, col: int, channel: int = 0) -> PoolingWindow:
        out_h, out_w, channels = self.output.shape
        if not (0 <= row < out_h and 0 <= col < out_w and 0 <= channel < channels):
            raise ValueError(
                _(
                    "Output cell ({row}, {col}) of channel {channel} does not exist; the output "
                    "is {height}×{width}×{channels}, counted from 0."
                ).format(
                    row=row, col=col, channel=channel, height=out_h, width=out_w, channels=channels
                )
            )
        r0, r1, c0, c1 = _pool_bounds(self.tiling, row, col, self.image.shape)
        values = self.image[r0:r1, c0:c1, channel]
        source = None
        if self.mode == "max":
            a, b = np.unravel_index(int(np.argmax(values)), values.shape)
            source = (r0 + int(a), c0 + int(b))
        return PoolingWindow(
            row=row,
            col=col,
            channel=channel,
            rows=(r0, r1),
            cols=(c0, c1),
            values=values,
            value=float(self.output[row, col, channel]),
            mode=self.mode,
            source=source,
        )


def _pool_bounds(
    tiling: Tiling, row: int, col: int, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    # Keras's 'same' pooling pads, but padded positions take no part: max ignores them and
    # average divides by the number of real inputs. Clipping the window does both.
    (kh, kw), (sh, sw) = tiling.kernel, tiling.stride
    top, left = tiling.pads[0][0], tiling.pads[1][0]
    r0, c0 = row * sh - top, col * sw - left
    return max(r0, 0), min(r0 + kh, shape[0]), max(c0, 0), min(c0 + kw, shape[1])


def pool2d(
    image: np.ndarray,
    size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    mode: str = "max",
    padding: str = "valid",
    strict: bool = True,
) -> Pooling:
    """Max or average pooling as Keras's MaxPooling2D / AveragePooling2D do it.

    `image` is (H, W) or (H, W, C); each channel is pooled on its own. `stride` defaults to
    `size`, as in Keras. `strict` refuses windows that do not tile (see `check_tiling`);
    `strict=False` floors as Keras does, dropping the leftover rows and columns.
    """
    if mode not in POOL_MODES:
        raise ValueError(_("mode must be 'max' or 'avg', not {value}.").format(value=repr(mode)))
    array = _as_image(image)
    tiling = check_tiling(array.shape[:2], size, size if stride is None else stride, padding)
    if 0 in tiling.output_size:
        raise ValueError(tiling.problem)
    if strict and not tiling.tiles:
        raise ValueError(tiling.problem)
    out_h, out_w = tiling.output_size
    output = np.empty((out_h, out_w, array.shape[2]))
    reduce = np.max if mode == "max" else np.mean
    for i in range(out_h):
        for j in range(out_w):
            r0, r1, c0, c1 = _pool_bounds(tiling, i, j, array.shape)
            output[i, j, :] = reduce(array[r0:r1, c0:c1, :], axis=(0, 1))
    return Pooling(image=array, mode=mode, tiling=tiling, output=output)


# ---------------------------------------------------------------------------------------------
# Classic kernels and activation maps


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x) element-wise: the activation that keeps a map's positive responses."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


@dataclass(frozen=True)
class ClassicKernel:
    key: str
    title: str  # marked for translation; translate it with `_()` where shown
    family: str  # "edge", "blur", "sharpen" or "emboss"
    weights: np.ndarray  # (kh, kw)
    what: str  # what the map shows, in a sentence; marked for translation like `title`


def _kernel(key: str, title: str, family: str, weights: list[list[float]], what: str):
    array = np.asarray(weights, dtype=np.float64)
    array.setflags(write=False)
    return ClassicKernel(key=key, title=title, family=family, weights=array, what=what)


KERNELS: dict[str, ClassicKernel] = {
    k.key: k
    for k in (
        _kernel(
            "sobel_x",
            N_("Sobel x (vertical edges)"),
            "edge",
            [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
            N_("Bright where the image gets brighter from left to right: vertical edges."),
        ),
        _kernel(
            "sobel_y",
            N_("Sobel y (horizontal edges)"),
            "edge",
            [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
            N_("Bright where the image gets brighter from top to bottom: horizontal edges."),
        ),
        _kernel(
            "laplacian",
            N_("Laplacian (all edges)"),
            "edge",
            [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
            N_("Responds where a pixel differs from its neighbours, in any direction."),
        ),
        _kernel(
            "box_blur",
            N_("Box blur"),
            "blur",
            [[1 / 9] * 3] * 3,
            N_("Each output is the plain average of its 3×3 neighbourhood."),
        ),
        _kernel(
            "gaussian_blur",
            N_("Gaussian blur"),
            "blur",
            [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
            N_("A weighted average that favours the centre: smoother than the box."),
        ),
        _kernel(
            "sharpen",
            N_("Sharpen"),
            "sharpen",
            [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
            N_("The pixel plus its difference from its neighbours: edges stand out."),
        ),
        _kernel(
            "emboss",
            N_("Emboss"),
            "emboss",
            [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
            N_("Light from the top left: strokes look raised."),
        ),
    )
}


@dataclass(frozen=True)
class ActivationMap:
    kernel: ClassicKernel
    feature_map: np.ndarray  # the convolution's output, before the activation
    activation_map: np.ndarray  # after ReLU

    @property
    def active_fraction(self) -> float:
        """Share of positions where the kernel responds (output > 0 after ReLU)."""
        return float((self.activation_map > 0).mean())


def activation_maps(
    image: np.ndarray, keys: list[str] | tuple[str, ...] | None = None, padding: str = "same"
) -> list[ActivationMap]:
    """Apply classic kernels to a 2-D image and keep each feature map before and after ReLU."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"activation_maps takes a 2-D grey image, not shape {array.shape}.")
    chosen = list(KERNELS) if keys is None else list(keys)
    unknown = [k for k in chosen if k not in KERNELS]
    if unknown:
        raise ValueError(f"Unknown kernel(s) {unknown}; choose from {', '.join(KERNELS)}.")
    maps = []
    for key in chosen:
        kernel = KERNELS[key]
        feature = convolve2d(array, kernel.weights, padding=padding, strict=False).feature_map()
        maps.append(ActivationMap(kernel=kernel, feature_map=feature, activation_map=relu(feature)))
    return maps


# ---------------------------------------------------------------------------------------------
# Sample inputs


def sample_digit(size: int = 28) -> np.ndarray:
    """A handwritten-looking 7 in [0, 1], drawn in code, for when no MNIST file is on disk."""
    if size < 5:
        raise ValueError("sample_digit needs a size of at least 5 pixels.")
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1)
    strokes = [((0.22, 0.24), (0.24, 0.76)), ((0.24, 0.76), (0.80, 0.45))]
    strokes.append(((0.50, 0.40), (0.50, 0.72)))  # the crossbar some people write
    ink = np.zeros((size, size))
    for (r0, c0), (r1, c1) in strokes:
        # Distance from each pixel to the segment, turned into a soft pen stroke.
        dr, dc = r1 - r0, c1 - c0
        t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc), 0, 1)
        dist = np.hypot(rows - (r0 + t * dr), cols - (c0 + t * dc))
        ink = np.maximum(ink, np.clip(1.6 - dist * size / 1.2, 0, 1))
    return ink


def quantise(image: np.ndarray, levels: int = 10) -> np.ndarray:
    """Scale an image to whole numbers 0 … levels − 1, so hand sums stay readable."""
    array = np.asarray(image, dtype=np.float64)
    span = array.max() - array.min()
    if span == 0:
        return np.zeros_like(array)
    return np.rint((array - array.min()) / span * (levels - 1))


def shrink(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Average a 2-D image down to `size` (height, width) by area, e.g. a 28×28 digit to 10×10."""
    array = np.asarray(image, dtype=np.float64)
    height, width = _pair(size, N_("size"))
    if array.ndim != 2 or height > array.shape[0] or width > array.shape[1]:
        raise ValueError(f"Can only shrink a 2-D image to a smaller size, not to {size}.")
    row_edges = np.linspace(0, array.shape[0], height + 1)
    col_edges = np.linspace(0, array.shape[1], width + 1)
    # Area weights of each source pixel in each target cell, so non-integer ratios are exact.
    row_w = _overlap(row_edges, array.shape[0])
    col_w = _overlap(col_edges, array.shape[1])
    return (row_w @ array @ col_w.T) / np.outer(row_w.sum(1), col_w.sum(1))


def _overlap(edges: np.ndarray, n: int) -> np.ndarray:
    starts, stops = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n)[None, :]
    return np.clip(np.minimum(stops, pixels + 1) - np.maximum(starts, pixels), 0, None)


def small_grid(height: int, width: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Whole numbers 0–4 in a (height, width) or (height, width, channels) grid."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 5, size=shape).astype(np.float64)


def small_filters(
    kernel: int | tuple[int, int], channels: int, filters: int, seed: int = 0
) -> np.ndarray:
    """Whole-number weights −1, 0, 1 in Keras's (kh, kw, channels, filters) layout."""
    kh, kw = _pair(kernel, N_("kernel size"))
    rng = np.random.default_rng(seed)
    return rng.integers(-1, 2, size=(kh, kw, channels, filters)).astype(np.float64)
