"""Layer arithmetic: what a network spec implies, worked out without TensorFlow.

`analyse(network)` walks a `cnnlib.layers.Network` and returns, for every layer, its output
shape, trainable and non-trainable parameters (with the formula that gives them),
multiply-accumulate operations, and the memory of its output, plus totals. The numbers follow
Keras exactly: output sizes are floor((W − F + 2P) / S) + 1 with P = 0 for 'valid', and
ceil(W / S) for 'same', as `keras.layers.Conv2D` and the pooling layers compute them. A stack
that cannot be built raises `ValueError` naming the layer, the input it got and what to
change.

Conventions the explorer page relies on:
- Shapes leave out the batch axis: (height, width, channels) for volumes, (n,) for vectors.
- Top-level layers are numbered from 0, so the Input is layer 0 and the first real layer is
  layer 1. Inside a `Parallel` block, branches and their layers are numbered from 1: path
  "3.b1.2" is block 3, branch 1, layer 2.
- MACs count the multiply-accumulates of weights in convolutions and Dense layers, the
  convention of published figures (VGG-16: about 15.5 G; MobileNet: 569 M). A convolution
  makes one per kernel weight and output position: a depthwise kernel sees one channel, a
  separable convolution adds its 1×1 step, and a transposed convolution multiplies every
  input position by the whole kernel. Pooling, upsampling, normalisation, activations and
  merges are element-wise or comparisons and count 0.
- Sizes follow Dumoulin and Visin's "A guide to convolution arithmetic for deep learning"
  (2016) as Keras computes them: a kernel of K dilated by D spans K + (K − 1)(D − 1); a
  transposed convolution gives (W − 1)·S + K ('valid', and never less than W·S) or W·S
  ('same').
- Activation memory is the float32 output of a layer for one example (the Input's too); a
  block's is that of every layer inside it plus the outputs of its merge and of its
  activation after the merge, the layers Keras adds for them.

This module imports neither TensorFlow nor Keras; building models is `cnnlib.build`'s job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from cnnlib import layers as L
from cnnlib.i18n import _, ngettext

BYTES_PER_VALUE = 4  # float32


def format_bytes(n: int) -> str:
    """1,572,864 -> "1.5 MiB"; below a kibibyte, "512 B": sizes as pages and messages show
    them."""
    for size, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"


# The layers with kernels that slide over a volume, as `LayerRow.kind` names them.
CONVOLUTIONS = ("Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D")


@dataclass
class LayerRow:
    index: int  # position in network.layers (the Input is 0); a block's inner rows share it
    path: str  # "3" at top level, "3.b1.2" for block 3, branch 1, layer 2
    depth: int  # 0 at top level, 1 inside a block, 2 inside a block inside a block
    kind: str  # the spec's class name, e.g. "Conv2D"
    settings: str  # short human text, e.g. "32 filters 3×3, stride 1, valid, relu"
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    trainable: int
    non_trainable: int
    macs: int
    activation_bytes: int  # float32 output for one example (a block: everything inside it)
    param_formula: str  # e.g. "32 × (3 × 3 × 1) + 32 = 320"; "" for layers without weights
    size_formula: str  # e.g. "(28 − 3 + 2·0) / 1 + 1 = 26"; "" where no formula applies
    children: list[LayerRow] = field(default_factory=list)  # a block's inner rows, in order
    mac_formula: str = ""  # e.g. "26 × 26 × 32 × (3 × 3 × 1) = 194,688"; "" without MACs
    # Depthwise and separable convolutions: what a plain Conv2D making the same maps would
    # cost, e.g. "a plain 3×3 Conv2D making the same 64 maps: 18,496 parameters (7.7× as
    # many) and ...".
    comparison: str = ""

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclass
class Analysis:
    rows: list[LayerRow]  # top-level layers; a block's inner rows are in its `children`
    output_shape: tuple[int, ...]
    trainable_params: int
    non_trainable_params: int
    total_params: int
    total_macs: int
    activation_bytes: int  # all layers' float32 outputs for one example

    def all_rows(self) -> list[LayerRow]:
        """Every row, depth first: each block is followed by its inner rows."""
        return flatten_rows(self.rows)


def flatten_rows(rows: list[LayerRow]) -> list[LayerRow]:
    """The rows and, after each block, its children (recursively), as one list."""
    out: list[LayerRow] = []
    for row in rows:
        out.append(row)
        out.extend(flatten_rows(row.children))
    return out


# ---------------------------------------------------------------------------------------------
# Output-size helpers, public so the explorer's concept widgets use the same rules.


def conv_output_size(size: int, kernel: int, stride: int, padding: str | int = "valid") -> int:
    """Output length along one axis of a convolution or pooling window.

    `padding` is "valid" (none), "same" (Keras's rule: ceil(size / stride)) or a whole number
    P of zeros added on each side, giving floor((size - kernel + 2P) / stride) + 1.
    """
    _check_axis(size, kernel, stride)
    if padding == "same":
        return -(-size // stride)
    pad = _explicit_pad(padding)
    if kernel > size + 2 * pad:
        raise ValueError(
            _(
                "A kernel of {kernel} does not fit an input of {size} padded by {pad} on each "
                "side. Use a kernel of at most {most}, or more padding."
            ).format(kernel=kernel, size=size, pad=pad, most=size + 2 * pad)
        )
    return (size - kernel + 2 * pad) // stride + 1


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """The span of a kernel of `kernel` taps `dilation` apart: K + (K − 1)(D − 1)."""
    for name, value in (("kernel", kernel), ("dilation", dilation)):
        if not _is_int(value) or value < 1:
            raise ValueError(
                _("{name} must be a whole number of at least 1, not {value}.").format(
                    name=name, value=repr(value)
                )
            )
    return kernel + (kernel - 1) * (dilation - 1)


def dilation_text(kernel: int, dilation: int) -> str:
    """ "3 dilated by 2 spans 3 + (3 − 1)·(2 − 1) = 5", the effective kernel written out."""
    span = effective_kernel(kernel, dilation)
    gaps = f"({kernel} − 1)·({dilation} − 1)"
    return _("{kernel} dilated by {dilation} spans {kernel} + {gaps} = {span}").format(
        kernel=kernel, dilation=dilation, gaps=gaps, span=span
    )


def transposed_output_size(size: int, kernel: int, stride: int, padding: str = "valid") -> int:
    """Output length along one axis of Keras's Conv2DTranspose (no output padding).

    'valid': (size − 1)·stride + max(kernel, stride), the whole spread of the last patch;
    'same': size·stride, the inverse of a 'same' convolution's ceil(size / stride).
    """
    _check_axis(size, kernel, stride)
    if padding == "same":
        return size * stride
    if padding != "valid":
        raise ValueError(
            _("padding must be 'valid' or 'same', not {value}.").format(value=repr(padding))
        )
    return (size - 1) * stride + max(kernel, stride)


def transposed_crop(size: int, kernel: int, stride: int, padding: str = "valid") -> tuple[int, int]:
    """Rows a transposed convolution cuts from the start and end of its full output of
    (size − 1)·stride + kernel; a negative end is zeros Keras adds there instead."""
    full = (size - 1) * stride + kernel
    out = transposed_output_size(size, kernel, stride, padding)
    before = max(kernel - stride, 0) // 2 if padding == "same" else 0
    return before, full - out - before


def transposed_size_formula(size: int, kernel: int, stride: int, padding: str = "valid") -> str:
    """The transposed convolution's output size written out with these numbers.

    'valid': "(4 − 1)·2 + 3 = 9"; a kernel smaller than the stride keeps the stride's gap:
    "(4 − 1)·3 + max(2, 3) = 12 (…)". 'same': "4·2 = 8 ('same' cuts 0 before, 1 after
    from (4 − 1)·2 + 3 = 9)".
    """
    out = transposed_output_size(size, kernel, stride, padding)
    full = f"({size} − 1)·{stride} + {kernel}"
    if padding == "same":
        before, after = transposed_crop(size, kernel, stride, padding)
        if after < 0:
            note = ngettext(
                "'same' adds a zero after {full} = {length}",
                "'same' adds {count} zeros after {full} = {length}",
                -after,
            ).format(count=-after, full=full, length=(size - 1) * stride + kernel)
        elif before == after == 0:
            note = _("'same' keeps all of it")
        else:
            note = _("'same' cuts {before} before, {after} after from {full} = {length}").format(
                before=before, after=after, full=full, length=(size - 1) * stride + kernel
            )
        return f"{size}·{stride} = {out} ({note})"
    if kernel >= stride:
        return f"{full} = {out}"
    note = _("the kernel is smaller than the stride: Keras keeps the gap after the last patch")
    return f"({size} − 1)·{stride} + max({kernel}, {stride}) = {out} ({note})"


def _check_axis(size: int, kernel: int, stride: int) -> None:
    for name, value in (("size", size), ("kernel", kernel), ("stride", stride)):
        if not _is_int(value) or value < 1:
            raise ValueError(
                _("{name} must be a whole number of at least 1, not {value}.").format(
                    name=name, value=repr(value)
                )
            )


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """The zeros Keras adds before and after an axis for padding='same' (extra goes after)."""
    out = conv_output_size(size, kernel, stride, "same")
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def size_formula(
    size: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> str:
    """The output-size formula written out with these numbers: the one text the explorer's
    table and the concept slides both show.

    A dilated kernel is first written as the span it covers, "3 dilated by 2 spans
    3 + (3 − 1)·(2 − 1) = 5; (28 − 5 + 2·0) / 1 + 1 = 24", and the span is the kernel after it.

    'valid' and explicit padding: "(28 − 3 + 2·0) / 1 + 1 = 26"; when the division is not
    whole, the floor Keras takes is written out: "⌊(8 − 3 + 2·0) / 2⌋ + 1 = ⌊2.5⌋ + 1 = 3";
    a window larger than the padded input: "(2 − 3 + 2·0) / 1 + 1 < 1: the 3-wide window does
    not fit in 2". 'same': "⌈28 / 2⌉ = 14 ('same' pads 0 before, 1 after)".
    """
    if dilation != 1:
        span = effective_kernel(kernel, dilation)
        return f"{dilation_text(kernel, dilation)}; {size_formula(size, span, stride, padding)}"
    _check_axis(size, kernel, stride)
    if padding == "same":
        out = conv_output_size(size, kernel, stride, padding)
        before, after = same_padding(size, kernel, stride)
        if before == after == 0:
            note = _("'same' needs no padding here")
        else:
            note = _("'same' pads {before} before, {after} after").format(
                before=before, after=after
            )
        return f"⌈{size} / {stride}⌉ = {out} ({note})"
    pad = _explicit_pad(padding)
    numerator = size - kernel + 2 * pad
    body = f"({size} − {kernel} + 2·{pad}) / {stride}"
    if numerator < 0:
        if pad == 0:
            fits = _("the {kernel}-wide window does not fit in {size}")
        else:
            fits = _("the {kernel}-wide window does not fit in {size} padded to {padded}")
        fits = fits.format(kernel=kernel, size=size, padded=size + 2 * pad)
        return f"{body} + 1 < 1: {fits}"
    out = numerator // stride + 1
    if numerator % stride == 0:
        return f"{body} + 1 = {out}"
    quotient = f"{numerator / stride:.3f}".rstrip("0").rstrip(".")
    return f"⌊{body}⌋ + 1 = ⌊{quotient}⌋ + 1 = {out}"


def _explicit_pad(padding: Any) -> int:
    if padding == "valid":
        return 0
    if _is_int(padding) and padding >= 0:
        return int(padding)
    raise ValueError(
        _(
            "padding must be 'valid', 'same' or a whole number of zeros per side, not {value}."
        ).format(value=repr(padding))
    )


# ---------------------------------------------------------------------------------------------
# The analysis.


def analyse(network: L.Network) -> Analysis:
    """Shapes, parameters, MACs and memory of every layer of `network`, as Keras builds it."""
    layer_list = getattr(network, "layers", None)
    if not layer_list:
        raise ValueError(
            _(
                "The network has no layers. Start it with an Input layer, e.g. "
                "Input(shape=(28, 28, 1))."
            )
        )
    first = layer_list[0]
    if not isinstance(first, L.Input):
        raise ValueError(
            _(
                "Layer 0 ({kind}): a network must start with an Input layer. Add an Input with "
                "the image shape at the top."
            ).format(kind=type(first).__name__)
        )
    rows: list[LayerRow] = []
    shape: tuple[int, ...] = ()
    for index, layer in enumerate(layer_list):
        label = _("Layer {number}").format(number=index)
        where = _Where(index=index, path=str(index), depth=0, label=label)
        if index == 0:
            row = _input_row(layer, where)
        elif isinstance(layer, L.Input):
            raise ValueError(
                _(
                    "Layer {number} (Input): only the first layer may be an Input. Remove this one."
                ).format(number=index)
            )
        else:
            row = _layer_row(layer, shape, where)
        rows.append(row)
        shape = row.output_shape
    trainable = sum(row.trainable for row in rows)
    non_trainable = sum(row.non_trainable for row in rows)
    return Analysis(
        rows=rows,
        output_shape=shape,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
        total_params=trainable + non_trainable,
        total_macs=sum(row.macs for row in rows),
        activation_bytes=sum(row.activation_bytes for row in rows),
    )


@dataclass(frozen=True)
class _Where:
    index: int
    path: str
    depth: int
    label: str  # how errors name the layer, e.g. "Layer 3" or "Layer 3 (Parallel), branch 1"

    def named(self, kind: str) -> str:
        return f"{self.label} ({kind})"


def _input_row(layer: L.Input, where: _Where) -> LayerRow:
    shape = layer.shape
    if not isinstance(shape, tuple) or len(shape) not in (1, 3):
        raise ValueError(
            _(
                "{layer}: the shape must be (height, width, channels) for images, e.g. "
                "(28, 28, 1), or (length,) for vectors, not {shape}."
            ).format(layer=where.named("Input"), shape=repr(shape))
        )
    if not all(_is_int(n) and n >= 1 for n in shape):
        raise ValueError(
            _(
                "{layer}: every size in the shape must be a whole number of at least 1, not "
                "{shape}."
            ).format(layer=where.named("Input"), shape=repr(shape))
        )
    shape = tuple(int(n) for n in shape)
    return _row(where, "Input", _shape_text(shape), shape, shape)


def _layer_row(layer: Any, shape: tuple[int, ...], where: _Where) -> LayerRow:
    handler = _HANDLERS.get(type(layer))
    if handler is None:
        known = ", ".join(name for name in L.LAYER_TYPES if name != "Input")
        raise ValueError(
            _("{layer}: {kind} is not a layer spec; use one of {known}.").format(
                layer=where.label, kind=repr(type(layer).__name__), known=known
            )
        )
    return handler(layer, shape, where)


def _row(
    where: _Where,
    kind: str,
    settings: str,
    input_shape: tuple[int, ...],
    output_shape: tuple[int, ...],
    trainable: int = 0,
    non_trainable: int = 0,
    macs: int = 0,
    param_formula: str = "",
    size_formula: str = "",
    children: list[LayerRow] | None = None,
    activation_bytes: int | None = None,
    mac_formula: str = "",
    comparison: str = "",
) -> LayerRow:
    if activation_bytes is None:
        activation_bytes = math.prod(output_shape) * BYTES_PER_VALUE
    return LayerRow(
        index=where.index,
        path=where.path,
        depth=where.depth,
        kind=kind,
        settings=settings,
        input_shape=input_shape,
        output_shape=output_shape,
        trainable=trainable,
        non_trainable=non_trainable,
        macs=macs,
        activation_bytes=activation_bytes,
        param_formula=param_formula,
        size_formula=size_formula,
        children=children or [],
        mac_formula=mac_formula,
        comparison=comparison,
    )


def _conv2d(layer: L.Conv2D, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("Conv2D")
    conv = _conv_settings(layer, shape, name, "Conv2D")
    if max(conv.strides) > 1 and max(conv.dilation) > 1:
        raise ValueError(
            _(
                "{layer}: Keras's Conv2D cannot take a stride above 1 and a dilation above 1 at "
                "once. Use stride 1 with the dilation, or dilation 1 with the stride "
                "(DepthwiseConv2D and SeparableConv2D allow both)."
            ).format(layer=name)
        )
    filters = _positive(layer.filters, "filters", name)
    (kh, kw), channels = conv.kernel, shape[2]
    weights = filters * kh * kw * channels
    bias = filters if layer.use_bias else 0
    formula = f"{filters} × ({kh} × {kw} × {channels})"
    formula += f" + {filters}" if bias else ""
    formula += f" = {weights + bias:,}"
    out_h, out_w = conv.output
    macs = out_h * out_w * weights
    return _row(
        where,
        "Conv2D",
        _("{filters} filters {settings}").format(filters=filters, settings=conv.text(layer)),
        shape,
        (out_h, out_w, filters),
        trainable=weights + bias,
        macs=macs,
        param_formula=formula,
        size_formula=conv.size_formula,
        mac_formula=f"{out_h} × {out_w} × {filters} × ({kh} × {kw} × {channels}) = {macs:,}",
    )


@dataclass(frozen=True)
class _ConvSettings:
    """A convolution's checked settings and output size (height, width)."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    padding: str
    output: tuple[int, int]
    size_formula: str

    def text(self, layer: Any) -> str:
        """ "3×3, stride 1, valid, relu", with the dilation and a missing bias where they apply."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilation
        text = _("{kernel}, stride {stride}").format(kernel=f"{kh}×{kw}", stride=_pair_text(sh, sw))
        if (dh, dw) != (1, 1):
            text += _(", dilation {rate}").format(rate=_pair_text(dh, dw))
        text += f", {self.padding}, {layer.activation or _('no activation')}"
        return text + ("" if layer.use_bias else _(", no bias"))


def _conv_settings(layer: Any, shape: tuple[int, ...], name: str, kind: str) -> _ConvSettings:
    """Check what every sliding convolution shares (kernel, stride, dilation, padding,
    activation, bias) and work out its output size."""
    height, width, _channels = _need_volume(shape, name, kind)
    kh, kw = _positive_pair(layer.kernel_size, "kernel_size", name)
    sh, sw = _positive_pair(layer.strides, "strides", name)
    dh, dw = _positive_pair(getattr(layer, "dilation_rate", (1, 1)), "dilation_rate", name)
    padding = _padding(layer.padding, name)
    _activation(layer.activation, name)
    if not isinstance(layer.use_bias, bool):
        raise ValueError(
            _("{layer}: use_bias must be True or False, not {value}.").format(
                layer=name, value=repr(layer.use_bias)
            )
        )
    span = (kh + (kh - 1) * (dh - 1), kw + (kw - 1) * (dw - 1))
    if (dh, dw) != (1, 1) and padding == "valid" and (span[0] > height or span[1] > width):
        raise ValueError(
            _(
                "{layer}: a {kernel} kernel dilated by {rate} spans {span}, which does not fit "
                "the {shape} input with 'valid' padding. Use a smaller kernel or dilation, or "
                "padding='same'."
            ).format(
                layer=name,
                kernel=f"{kh}×{kw}",
                rate=_pair_text(dh, dw),
                span=f"{span[0]}×{span[1]}",
                shape=_shape_text(shape),
            )
        )
    _window_fits(shape, (kh, kw), padding, name, _("kernel"))
    rows = size_formula(height, kh, sh, padding, dh)
    cols = size_formula(width, kw, sw, padding, dw)
    return _ConvSettings(
        kernel=(kh, kw),
        strides=(sh, sw),
        dilation=(dh, dw),
        padding=padding,
        output=(
            conv_output_size(height, span[0], sh, padding),
            conv_output_size(width, span[1], sw, padding),
        ),
        size_formula=_rows_and_cols(rows, cols),
    )


def _conv_transpose(layer: L.Conv2DTranspose, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("Conv2DTranspose")
    height, width, channels = _need_volume(shape, name, "Conv2DTranspose")
    filters = _positive(layer.filters, "filters", name)
    kh, kw = _positive_pair(layer.kernel_size, "kernel_size", name)
    sh, sw = _positive_pair(layer.strides, "strides", name)
    padding = _padding(layer.padding, name)
    _activation(layer.activation, name)
    if not isinstance(layer.use_bias, bool):
        raise ValueError(
            _("{layer}: use_bias must be True or False, not {value}.").format(
                layer=name, value=repr(layer.use_bias)
            )
        )
    out = (
        transposed_output_size(height, kh, sh, padding),
        transposed_output_size(width, kw, sw, padding),
        filters,
    )
    weights = filters * kh * kw * channels
    bias = filters if layer.use_bias else 0
    formula = f"{filters} × ({kh} × {kw} × {channels})" + (f" + {filters}" if bias else "")
    formula += f" = {weights + bias:,}"
    rows = transposed_size_formula(height, kh, sh, padding)
    cols = transposed_size_formula(width, kw, sw, padding)
    macs = height * width * weights
    settings = _("{filters} filters {settings}").format(
        filters=filters,
        settings=_("{kernel}, stride {stride}").format(
            kernel=f"{kh}×{kw}", stride=_pair_text(sh, sw)
        ),
    )
    settings += f", {padding}, {layer.activation or _('no activation')}"
    settings += "" if layer.use_bias else _(", no bias")
    return _row(
        where,
        "Conv2DTranspose",
        settings,
        shape,
        out,
        trainable=weights + bias,
        macs=macs,
        param_formula=formula,
        size_formula=_rows_and_cols(rows, cols),
        mac_formula=_(
            "{height} × {width} input positions × {filters} × ({kh} × {kw} × {channels}) = {macs}"
        ).format(
            height=height,
            width=width,
            filters=filters,
            kh=kh,
            kw=kw,
            channels=channels,
            macs=f"{macs:,}",
        ),
    )


def _depthwise(layer: L.DepthwiseConv2D, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("DepthwiseConv2D")
    conv = _conv_settings(layer, shape, name, "DepthwiseConv2D")
    multiplier = _positive(layer.depth_multiplier, "depth_multiplier", name)
    (kh, kw), channels = conv.kernel, shape[2]
    maps = channels * multiplier
    weights = maps * kh * kw
    bias = maps if layer.use_bias else 0
    formula = f"{maps} × ({kh} × {kw} × 1)" + (f" + {maps}" if bias else "")
    formula += f" = {weights + bias:,}"
    out_h, out_w = conv.output
    macs = out_h * out_w * weights
    settings = _("{multiplier} per channel, {settings}").format(
        multiplier=multiplier, settings=conv.text(layer)
    )
    return _row(
        where,
        "DepthwiseConv2D",
        settings,
        shape,
        (out_h, out_w, maps),
        trainable=weights + bias,
        macs=macs,
        param_formula=formula,
        size_formula=conv.size_formula,
        mac_formula=f"{out_h} × {out_w} × {maps} × ({kh} × {kw} × 1) = {macs:,}",
        comparison=_plain_conv_text(conv, channels, maps, layer.use_bias, weights + bias, macs),
    )


def _separable(layer: L.SeparableConv2D, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("SeparableConv2D")
    conv = _conv_settings(layer, shape, name, "SeparableConv2D")
    filters = _positive(layer.filters, "filters", name)
    (kh, kw), channels = conv.kernel, shape[2]
    depthwise = kh * kw * channels
    pointwise = channels * filters
    bias = filters if layer.use_bias else 0
    formula = _("depthwise {kh} × {kw} × {channels} + pointwise {channels} × {filters}").format(
        kh=kh, kw=kw, channels=channels, filters=filters
    )
    formula += f" + {filters}" if bias else ""
    formula += f" = {depthwise + pointwise + bias:,}"
    out_h, out_w = conv.output
    macs = out_h * out_w * (depthwise + pointwise)
    return _row(
        where,
        "SeparableConv2D",
        _("{filters} filters {settings}").format(filters=filters, settings=conv.text(layer)),
        shape,
        (out_h, out_w, filters),
        trainable=depthwise + pointwise + bias,
        macs=macs,
        param_formula=formula,
        size_formula=conv.size_formula,
        mac_formula=(
            f"{out_h} × {out_w} × ({kh} × {kw} × {channels} + {channels} × {filters}) = {macs:,}"
        ),
        comparison=_plain_conv_text(
            conv, channels, filters, layer.use_bias, depthwise + pointwise + bias, macs
        ),
    )


def plain_conv_cost(
    kernel: tuple[int, int], channels: int, maps: int, positions: int, use_bias: bool = True
) -> tuple[int, int]:
    """Parameters and MACs of a plain Conv2D with this kernel making `maps` maps from
    `channels` channels at `positions` output positions: what depthwise and separable
    convolutions are measured against."""
    weights = maps * kernel[0] * kernel[1] * channels
    return weights + (maps if use_bias else 0), positions * weights


def _plain_conv_text(
    conv: _ConvSettings, channels: int, maps: int, use_bias: bool, params: int, macs: int
) -> str:
    positions = conv.output[0] * conv.output[1]
    plain_params, plain_macs = plain_conv_cost(conv.kernel, channels, maps, positions, use_bias)
    kh, kw = conv.kernel
    return _(
        "a plain {kernel} Conv2D making the same {maps} maps: {params} parameters "
        "({params_times} as many) and {macs} MACs ({macs_times} as many)"
    ).format(
        kernel=f"{kh}×{kw}",
        maps=maps,
        params=f"{plain_params:,}",
        params_times=_times(plain_params, params),
        macs=f"{plain_macs:,}",
        macs_times=_times(plain_macs, macs),
    )


def _rows_and_cols(rows: str, cols: str) -> str:
    """One formula where height and width agree, else both, named."""
    if rows == cols:
        return rows
    return _("height {rows}; width {cols}").format(rows=rows, cols=cols)


def _times(big: int, small: int) -> str:
    return f"{big / small:.1f}×" if small else "∞×"


def _upsampling(layer: L.UpSampling2D, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("UpSampling2D")
    height, width, channels = _need_volume(shape, name, "UpSampling2D")
    sh, sw = _positive_pair(layer.size, "size", name)
    if layer.interpolation not in L.INTERPOLATIONS:
        raise ValueError(
            _("{layer}: interpolation must be 'nearest' or 'bilinear', not {value}.").format(
                layer=name, value=repr(layer.interpolation)
            )
        )
    out = (height * sh, width * sw, channels)
    rows = f"{height} × {sh} = {out[0]}"
    cols = f"{width} × {sw} = {out[1]}"
    return _row(
        where,
        "UpSampling2D",
        f"{_pair_text(sh, sw)}, {layer.interpolation}",
        shape,
        out,
        size_formula=_rows_and_cols(rows, cols),
    )


def _pooling(layer: Any, shape: tuple[int, ...], where: _Where) -> LayerRow:
    kind = type(layer).__name__
    name = where.named(kind)
    height, width, channels = _need_volume(shape, name, kind)
    ph, pw = _positive_pair(layer.pool_size, "pool_size", name)
    strides = layer.pool_size if layer.strides is None else layer.strides
    sh, sw = _positive_pair(strides, "strides", name)
    padding = _padding(layer.padding, name)
    _window_fits(shape, (ph, pw), padding, name, _("pooling window"))
    out = (
        conv_output_size(height, ph, sh, padding),
        conv_output_size(width, pw, sw, padding),
        channels,
    )
    return _row(
        where,
        kind,
        _("{kernel}, stride {stride}").format(kernel=f"{ph}×{pw}", stride=_pair_text(sh, sw))
        + f", {padding}",
        shape,
        out,
        size_formula=_size_formula_2d(shape, (ph, pw), (sh, sw), padding),
    )


def _global_pooling(layer: Any, shape: tuple[int, ...], where: _Where) -> LayerRow:
    kind = type(layer).__name__
    name = where.named(kind)
    _height, _width, channels = _need_volume(shape, name, kind)
    if kind.startswith("GlobalAverage"):
        how = _("average of each feature map")
    else:
        how = _("maximum of each feature map")
    return _row(
        where,
        kind,
        how,
        shape,
        (channels,),
        size_formula=_("{shape} → {channels} (one value per channel)").format(
            shape=_shape_text(shape), channels=channels
        ),
    )


def _zero_padding(layer: L.ZeroPadding2D, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("ZeroPadding2D")
    height, width, channels = _need_volume(shape, name, "ZeroPadding2D")
    pad = layer.padding
    valid = (
        isinstance(pad, tuple)
        and len(pad) == 2
        and all(isinstance(p, tuple) and len(p) == 2 for p in pad)
        and all(_is_int(n) and n >= 0 for p in pad for n in p)
    )
    if not valid:
        raise ValueError(
            _(
                "{layer}: padding must be ((top, bottom), (left, right)) with whole numbers of "
                "at least 0, e.g. ((1, 1), (1, 1)), not {value}."
            ).format(layer=name, value=repr(pad))
        )
    (top, bottom), (left, right) = pad
    out = (height + top + bottom, width + left + right, channels)
    if top == bottom == left == right:
        settings = _("{pad} on each side").format(pad=top)
    else:
        settings = _("top {top}, bottom {bottom}, left {left}, right {right}").format(
            top=top, bottom=bottom, left=left, right=right
        )
    rows_text = f"{height} + {top} + {bottom} = {out[0]}"
    cols_text = f"{width} + {left} + {right} = {out[1]}"
    formula = _rows_and_cols(rows_text, cols_text)
    return _row(where, "ZeroPadding2D", settings, shape, out, size_formula=formula)


def _flatten(layer: L.Flatten, shape: tuple[int, ...], where: _Where) -> LayerRow:
    size = math.prod(shape)
    formula = "" if len(shape) == 1 else f"{' × '.join(str(n) for n in shape)} = {size:,}"
    return _row(where, "Flatten", "", shape, (size,), size_formula=formula)


def _dense(layer: L.Dense, shape: tuple[int, ...], where: _Where) -> LayerRow:
    name = where.named("Dense")
    if len(shape) != 1:
        raise ValueError(
            _(
                "{layer}: Dense needs a vector, but it gets {input}. Add Flatten or "
                "GlobalAveragePooling2D before it."
            ).format(layer=name, input=_describe(shape))
        )
    units = _positive(layer.units, "units", name)
    _activation(layer.activation, name)
    if not isinstance(layer.use_bias, bool):
        raise ValueError(
            _("{layer}: use_bias must be True or False, not {value}.").format(
                layer=name, value=repr(layer.use_bias)
            )
        )
    inputs = shape[0]
    bias = units if layer.use_bias else 0
    formula = f"{units:,} × {inputs:,}" + (f" + {units:,}" if bias else "")
    formula += f" = {units * inputs + bias:,}"
    settings = _("{units} units, {activation}").format(
        units=units, activation=layer.activation or _("no activation")
    )
    settings += "" if layer.use_bias else _(", no bias")
    return _row(
        where,
        "Dense",
        settings,
        shape,
        (units,),
        trainable=units * inputs + bias,
        macs=units * inputs,
        param_formula=formula,
        mac_formula=f"{units:,} × {inputs:,} = {units * inputs:,}",
    )


def _dropout(layer: L.Dropout, shape: tuple[int, ...], where: _Where) -> LayerRow:
    rate = layer.rate
    if not isinstance(rate, Real) or isinstance(rate, bool) or not 0 <= rate < 1:
        raise ValueError(
            _(
                "{layer}: the rate is the fraction of values dropped and must be at least 0 and "
                "below 1, e.g. 0.25, not {value}."
            ).format(layer=where.named("Dropout"), value=repr(rate))
        )
    return _row(where, "Dropout", _("rate {rate}").format(rate=f"{rate:g}"), shape, shape)


def _batch_norm(layer: L.BatchNormalization, shape: tuple[int, ...], where: _Where) -> LayerRow:
    channels = shape[-1]
    formula = _(
        "2 × {channels} trainable (γ, β) + 2 × {channels} non-trainable (moving mean, variance) "
        "= {total}"
    ).format(channels=channels, total=f"{4 * channels:,}")
    return _row(
        where,
        "BatchNormalization",
        _("per channel ({channels})").format(channels=channels),
        shape,
        shape,
        trainable=2 * channels,
        non_trainable=2 * channels,
        param_formula=formula,
    )


def _activation_layer(layer: L.Activation, shape: tuple[int, ...], where: _Where) -> LayerRow:
    _activation(layer.activation, where.named("Activation"))
    return _row(where, "Activation", layer.activation or "linear", shape, shape)


def _parallel(layer: L.Parallel, shape: tuple[int, ...], where: _Where) -> LayerRow:
    title = f"Parallel {layer.shown_name()!r}" if layer.name else "Parallel"
    name = where.named(title)
    branches = layer.branches
    if not branches:
        raise ValueError(
            _("{layer}: a block needs at least one branch; add branches or remove it.").format(
                layer=name
            )
        )
    if layer.merge not in L.MERGES:
        raise ValueError(
            _(
                "{layer}: merge must be 'concat' or 'add', not {value}. Use 'concat' to join "
                "channels (inception) or 'add' to sum (residual)."
            ).format(layer=name, value=repr(layer.merge))
        )
    _activation(layer.activation, name)
    children: list[LayerRow] = []
    outputs: list[tuple[int, ...]] = []
    branch_params: list[int] = []
    for b, branch in enumerate(branches, start=1):
        branch_shape = shape
        params = 0
        for i, inner in enumerate(branch, start=1):
            inner_where = _Where(
                index=where.index,
                path=f"{where.path}.b{b}.{i}",
                depth=where.depth + 1,
                label=_("{block}, branch {branch}, layer {number}").format(
                    block=name, branch=b, number=i
                ),
            )
            if isinstance(inner, L.Input):
                raise ValueError(
                    _(
                        "{layer}: a block's branches take the block's input; remove this Input."
                    ).format(layer=inner_where.named("Input"))
                )
            row = _layer_row(inner, branch_shape, inner_where)
            children.append(row)
            branch_shape = row.output_shape
            params += row.params
        outputs.append(branch_shape)
        branch_params.append(params)
    out, merge_formula = _merge(layer.merge, outputs, shape, name)
    identities = sum(1 for branch in branches if not branch)
    settings = f"{layer.shown_name()}: " if layer.name else ""
    settings += ngettext("{count} branch", "{count} branches", len(branches)).format(
        count=len(branches)
    )
    if identities:
        if len(branches) > 1:
            settings += _(" ({count} identity)").format(count=identities)
        else:
            settings += _(" (identity)")
    settings += f", {layer.merge}"
    if layer.activation:
        settings += _(", then {activation}").format(activation=layer.activation)
    # As Keras builds it: a merge layer when there are several branches, and an activation
    # layer after it, each with an output of the block's shape.
    merged_outputs = (len(branches) > 1) + (layer.activation is not None)
    total = sum(branch_params)
    nonzero = [f"{p:,}" for p in branch_params if p]
    param_formula = ""
    if len(nonzero) > 1:
        param_formula = _("branches {sum} = {total}").format(
            sum=" + ".join(nonzero), total=f"{total:,}"
        )
    elif nonzero:
        param_formula = _("branch total {total}").format(total=f"{total:,}")
    return _row(
        where,
        "Parallel",
        settings,
        shape,
        out,
        trainable=sum(row.trainable for row in children),
        non_trainable=sum(row.non_trainable for row in children),
        macs=sum(row.macs for row in children),
        param_formula=param_formula,
        size_formula=merge_formula,
        children=children,
        activation_bytes=sum(row.activation_bytes for row in children)
        + merged_outputs * math.prod(out) * BYTES_PER_VALUE,
    )


def _merge(
    merge: str, outputs: list[tuple[int, ...]], block_input: tuple[int, ...], name: str
) -> tuple[tuple[int, ...], str]:
    shapes = ", ".join(
        _("branch {number}: {shape}").format(number=b, shape=_shape_text(s))
        for b, s in enumerate(outputs, start=1)
    )
    if merge == "add":
        if any(s != outputs[0] for s in outputs):
            raise ValueError(
                _(
                    "{layer}: adding needs the same shape from every branch, but got {shapes}. "
                    "Make the filters, strides and padding agree, e.g. give the shortcut a 1×1 "
                    "convolution with the main branch's filters and stride."
                ).format(layer=name, shapes=shapes)
            )
        return outputs[0], _("element-wise sum of {count} × {shape}").format(
            count=len(outputs), shape=_shape_text(outputs[0])
        )
    if len({len(s) for s in outputs}) != 1:
        raise ValueError(
            _(
                "{layer}: concatenating needs all branches to end in volumes or all in vectors, "
                "but got {shapes}. Add Flatten or global pooling to every branch, or to none."
            ).format(layer=name, shapes=shapes)
        )
    if len(outputs[0]) == 3:
        if len({s[:2] for s in outputs}) != 1:
            raise ValueError(
                _(
                    "{layer}: concatenating along channels needs the same height and width in "
                    "every branch, but got {shapes}. Use padding='same' and equal strides in "
                    "each branch."
                ).format(layer=name, shapes=shapes)
            )
    elif len(outputs[0]) != 1:
        raise ValueError(
            _("{layer}: cannot concatenate {shapes}.").format(layer=name, shapes=shapes)
        )
    parts = [s[-1] for s in outputs]
    out = outputs[0][:-1] + (sum(parts),)
    axis = _("channels {sum} = {total}") if len(out) == 3 else _("lengths {sum} = {total}")
    return out, axis.format(sum=" + ".join(str(p) for p in parts), total=f"{sum(parts):,}")


_HANDLERS = {
    L.Conv2D: _conv2d,
    L.Conv2DTranspose: _conv_transpose,
    L.DepthwiseConv2D: _depthwise,
    L.SeparableConv2D: _separable,
    L.UpSampling2D: _upsampling,
    L.MaxPooling2D: _pooling,
    L.AveragePooling2D: _pooling,
    L.GlobalAveragePooling2D: _global_pooling,
    L.GlobalMaxPooling2D: _global_pooling,
    L.ZeroPadding2D: _zero_padding,
    L.Flatten: _flatten,
    L.Dense: _dense,
    L.Dropout: _dropout,
    L.BatchNormalization: _batch_norm,
    L.Activation: _activation_layer,
    L.Parallel: _parallel,
}


# ---------------------------------------------------------------------------------------------
# Checks and text.


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _positive(value: Any, what: str, name: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(
            _("{layer}: {what} must be a whole number of at least 1, not {value}.").format(
                layer=name, what=what, value=repr(value)
            )
        )
    return int(value)


def _positive_pair(value: Any, what: str, name: str) -> tuple[int, int]:
    if not (isinstance(value, tuple) and len(value) == 2) or not all(
        _is_int(n) and n >= 1 for n in value
    ):
        raise ValueError(
            _(
                "{layer}: {what} must be one whole number of at least 1 or a pair of them "
                "(height, width), not {value}."
            ).format(layer=name, what=what, value=repr(value))
        )
    return int(value[0]), int(value[1])


def _padding(value: Any, name: str) -> str:
    if value not in L.PADDINGS:
        raise ValueError(
            _("{layer}: padding must be 'valid' or 'same', not {value}.").format(
                layer=name, value=repr(value)
            )
        )
    return value


def _activation(value: Any, name: str) -> None:
    if value not in L.ACTIVATIONS:
        known = ", ".join(a for a in L.ACTIVATIONS if a)
        raise ValueError(
            _("{layer}: unknown activation {value}; use one of {known}, or none.").format(
                layer=name, value=repr(value), known=known
            )
        )


def _need_volume(shape: tuple[int, ...], name: str, kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(
            _(
                "{layer}: {kind} needs a height × width × channels volume, but it gets {input}. "
                "Move it above the layer that made the vector (Flatten or global pooling), or "
                "give the Input a (height, width, channels) shape."
            ).format(layer=name, kind=kind, input=_describe(shape))
        )
    return shape  # type: ignore[return-value]


def _window_fits(
    shape: tuple[int, ...], window: tuple[int, int], padding: str, name: str, what: str
) -> None:
    height, width, _channels = shape
    if padding == "valid" and (window[0] > height or window[1] > width):
        raise ValueError(
            _(
                "{layer}: a {size} {what} does not fit the {shape} input with 'valid' padding. "
                "Use a {what} of at most {most}, or padding='same', or remove a pooling layer "
                "before it."
            ).format(
                layer=name,
                size=f"{window[0]}×{window[1]}",
                what=what,
                shape=_shape_text(shape),
                most=f"{height}×{width}",
            )
        )


def _size_formula_2d(
    shape: tuple[int, ...], window: tuple[int, int], strides: tuple[int, int], padding: str
) -> str:
    rows = size_formula(shape[0], window[0], strides[0], padding)
    cols = size_formula(shape[1], window[1], strides[1], padding)
    return _rows_and_cols(rows, cols)


def _pair_text(first: int, second: int) -> str:
    return str(first) if first == second else f"{first}×{second}"


def _describe(shape: tuple[int, ...]) -> str:
    """'a vector of 128' or 'a 7×7×64 volume', for messages."""
    if len(shape) == 1:
        return _("a vector of {length}").format(length=f"{shape[0]:,}")
    return _("a {shape} volume").format(shape=_shape_text(shape))


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return _("vector of {length}").format(length=f"{shape[0]:,}")
    return "×".join(str(n) for n in shape)
