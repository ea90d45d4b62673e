"""Layer specifications: plain, immutable descriptions of a network's layers.

A network is a `Network`: a name and a tuple of layer specs whose first entry is an `Input`.
Each spec holds only the settings a student would choose (filters, kernel size, padding...).
What the settings imply (shapes, parameters, operations) is worked out in
`cnnlib.arithmetic`, and turning a spec into a Keras model is `cnnlib.build`'s job; this module
imports neither TensorFlow nor Keras.

Blocks with branches (inception modules, residual blocks, Kim's parallel filter widths) are a
`Parallel` spec: several branches applied to the same input and merged by concatenation along
the channel axis or by addition. An empty branch is the identity (a residual shortcut).

`to_dict`/`from_dict` and `Network.to_json`/`Network.from_json` give a JSON form that pages
can offer for download and load back; `from_dict` refuses anything that is not a spec, with a
message that says what to change. It also refuses sizes no network of a class can train
(`MAX_FILTERS`, `MAX_UNITS`, `MAX_WINDOW`, `MAX_DEPTH_MULTIPLIER`, `MAX_INPUT_SIDE`) and
blocks nested deeper than `MAX_NESTING`, so that a hand-edited file fails here, with a
message, rather than in Keras.

Besides Conv2D, the convolution family of Dumoulin and Visin's guide to convolution arithmetic
is here as Keras names it: dilated convolution (`Conv2D.dilation_rate`), `Conv2DTranspose`,
`DepthwiseConv2D`, `SeparableConv2D` and `UpSampling2D`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

from cnnlib.i18n import N_, _

PADDINGS = ("valid", "same")
INTERPOLATIONS = ("nearest", "bilinear")  # how UpSampling2D fills the new pixels
ACTIVATIONS = (None, "relu", "sigmoid", "tanh", "softmax", "elu", "gelu", "linear")
MERGES = ("concat", "add")
# A network definition larger than this is refused before it is parsed: real networks,
# even ResNet-50 written out layer by layer, stay far below it.
MAX_SPEC_BYTES = 512 * 1024
# Upper bounds on what a file may ask for. They are far above any real network (ResNet-50's
# widest layer has 2,048 filters, VGG-16's 4,096 units, GoogLeNet's input is 224×224) and far
# below sizes that would overflow memory before the training budget could refuse them.
MAX_FILTERS = 65_536  # filters of every convolution; also the channels of an Input
MAX_UNITS = 65_536  # Dense units
MAX_WINDOW = 4_096  # kernel, pool, stride, dilation and upsampling sides; zeros of padding
MAX_DEPTH_MULTIPLIER = 1_024  # DepthwiseConv2D's maps per input channel (MobileNet uses 1)
MAX_INPUT_SIDE = 8_192  # height and width of an Input image
MAX_VECTOR_LENGTH = 1_048_576  # an Input of shape (length,)
# Parallel blocks inside Parallel blocks: real networks use one level (inception modules,
# residual blocks); deeper files are refused before their nesting can exhaust Python's stack.
MAX_NESTING = 8
_NETWORK_EXAMPLE = '{"name": "my net", "layers": [{"type": "Input", "shape": [28, 28, 1]}]}'


def _pair(value: Any) -> Any:
    """Keras accepts an int or a pair for sizes; specs always hold a pair."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _set(spec: Any, name: str, value: Any) -> None:
    object.__setattr__(spec, name, value)


@dataclass(frozen=True)
class Input:
    shape: tuple[int, ...] = (28, 28, 1)  # height, width, channels; or (length,) for vectors

    def __post_init__(self) -> None:
        _set(self, "shape", tuple(self.shape))


@dataclass(frozen=True)
class Conv2D:
    filters: int = 32  # number of kernels, i.e. of output feature maps
    kernel_size: tuple[int, int] = (3, 3)  # height, width of each kernel
    strides: tuple[int, int] = (1, 1)  # step between kernel positions
    padding: str = "valid"  # "valid": no padding; "same": pad so output = ceil(input / stride)
    activation: str | None = "relu"  # applied to each output value
    use_bias: bool = True  # one bias per filter
    dilation_rate: tuple[int, int] = (1, 1)  # step between kernel taps: 2 spreads 3×3 over 5×5

    def __post_init__(self) -> None:
        _set(self, "kernel_size", _pair(self.kernel_size))
        _set(self, "strides", _pair(self.strides))
        _set(self, "dilation_rate", _pair(self.dilation_rate))


@dataclass(frozen=True)
class Conv2DTranspose:
    """Spreads each input value over a kernel-sized patch of a larger output ("deconvolution"):
    stride 2 doubles the height and width."""

    filters: int = 32  # number of output feature maps
    kernel_size: tuple[int, int] = (3, 3)  # height, width of each kernel
    strides: tuple[int, int] = (2, 2)  # step between the patches in the output
    padding: str = "same"  # "same": output = input × stride; "valid": (input − 1) × stride + kernel
    activation: str | None = "relu"
    use_bias: bool = True  # one bias per filter

    def __post_init__(self) -> None:
        _set(self, "kernel_size", _pair(self.kernel_size))
        _set(self, "strides", _pair(self.strides))


@dataclass(frozen=True)
class DepthwiseConv2D:
    """One kernel per input channel, each seeing only its own channel: channels are not mixed."""

    kernel_size: tuple[int, int] = (3, 3)  # height, width of each kernel
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1  # output maps per input channel
    activation: str | None = "relu"  # MobileNet has none here: batch normalisation, then ReLU
    use_bias: bool = True  # one bias per output map
    dilation_rate: tuple[int, int] = (1, 1)  # step between kernel taps

    def __post_init__(self) -> None:
        _set(self, "kernel_size", _pair(self.kernel_size))
        _set(self, "strides", _pair(self.strides))
        _set(self, "dilation_rate", _pair(self.dilation_rate))


@dataclass(frozen=True)
class SeparableConv2D:
    """A depthwise convolution (one kernel per channel) followed by a 1×1 convolution that
    mixes the channels into `filters` maps. The depth multiplier is 1, as in MobileNet and
    Xception; DepthwiseConv2D with a multiplier and a 1×1 Conv2D build any other."""

    filters: int = 32  # maps made by the 1×1 (pointwise) step
    kernel_size: tuple[int, int] = (3, 3)  # the depthwise kernel's height, width
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    activation: str | None = "relu"
    use_bias: bool = True  # one bias per filter, after the pointwise step
    dilation_rate: tuple[int, int] = (1, 1)  # step between the depthwise kernel's taps

    def __post_init__(self) -> None:
        _set(self, "kernel_size", _pair(self.kernel_size))
        _set(self, "strides", _pair(self.strides))
        _set(self, "dilation_rate", _pair(self.dilation_rate))


@dataclass(frozen=True)
class MaxPooling2D:
    pool_size: tuple[int, int] = (2, 2)  # window height, width
    strides: tuple[int, int] | None = None  # None: same as pool_size, as in Keras
    padding: str = "valid"

    def __post_init__(self) -> None:
        _set(self, "pool_size", _pair(self.pool_size))
        _set(self, "strides", None if self.strides is None else _pair(self.strides))


@dataclass(frozen=True)
class AveragePooling2D:
    pool_size: tuple[int, int] = (2, 2)  # window height, width
    strides: tuple[int, int] | None = None  # None: same as pool_size, as in Keras
    padding: str = "valid"

    def __post_init__(self) -> None:
        _set(self, "pool_size", _pair(self.pool_size))
        _set(self, "strides", None if self.strides is None else _pair(self.strides))


@dataclass(frozen=True)
class GlobalAveragePooling2D:
    """Averages each feature map to one number: (H, W, C) -> (C,)."""


@dataclass(frozen=True)
class GlobalMaxPooling2D:
    """Keeps each feature map's largest value: (H, W, C) -> (C,)."""


@dataclass(frozen=True)
class ZeroPadding2D:
    padding: tuple[tuple[int, int], tuple[int, int]] = (
        (1, 1),
        (1, 1),
    )  # (top, bottom), (left, right)

    def __post_init__(self) -> None:
        pad = self.padding
        if isinstance(pad, int) and not isinstance(pad, bool):
            pad = ((pad, pad), (pad, pad))
        elif (
            isinstance(pad, (list, tuple))
            and len(pad) == 2
            and all(isinstance(p, int) for p in pad)
        ):
            pad = ((pad[0], pad[0]), (pad[1], pad[1]))
        elif isinstance(pad, (list, tuple)):
            pad = tuple(_pair(p) if not isinstance(p, list) else tuple(p) for p in pad)
        _set(self, "padding", pad)


@dataclass(frozen=True)
class UpSampling2D:
    """Repeats (or interpolates) every pixel: (H, W, C) -> (H·sh, W·sw, C), no weights."""

    size: tuple[int, int] = (2, 2)  # factors for height, width
    interpolation: str = "nearest"  # "nearest" copies pixels; "bilinear" blends neighbours

    def __post_init__(self) -> None:
        _set(self, "size", _pair(self.size))


@dataclass(frozen=True)
class Flatten:
    """Lays a volume out as one vector: (H, W, C) -> (H*W*C,)."""


@dataclass(frozen=True)
class Dense:
    units: int = 128  # number of output neurons
    activation: str | None = "relu"
    use_bias: bool = True


@dataclass(frozen=True)
class Dropout:
    rate: float = 0.25  # fraction of inputs zeroed at random during training only


@dataclass(frozen=True)
class BatchNormalization:
    """Normalises each channel; 2 trainable (scale, offset) and 2 non-trainable (moving mean,
    variance) numbers per channel."""


@dataclass(frozen=True)
class Activation:
    activation: str = "relu"


@dataclass(frozen=True)
class Parallel:
    branches: tuple[tuple[Any, ...], ...] = ((), ())  # layer stacks fed the same input
    merge: str = "concat"  # "concat" joins channels; "add" sums (shapes must agree)
    activation: str | None = None  # applied after merging (ResNet: "relu")
    name: str = ""  # shown to the user, e.g. "inception (3a)" or "residual 2a"

    def __post_init__(self) -> None:
        _set(self, "branches", tuple(tuple(branch) for branch in self.branches))

    def shown_name(self) -> str:
        """The block's name in the current language (`name` itself stays as written)."""
        return shown_block_name(self.name)


# The case studies' block names, kept in English in the networks (they are part of a network
# as it is stored and shared) and translated where shown; any other name is shown as written.
_BLOCK_NAMES = (
    (re.compile(r"inception \((?P<id>\w+)\)"), N_("inception ({id})")),
    (re.compile(r"conv(?P<stage>\d+) block (?P<number>\d+)"), N_("conv{stage} block {number}")),
    (re.compile(r"filter widths (?P<widths>[\d, ]+)"), N_("filter widths {widths}")),
)


def shown_block_name(name: str) -> str:
    """A Parallel block's name in the current language, where it is one of the case studies'."""
    for pattern, template in _BLOCK_NAMES:
        match = pattern.fullmatch(name)
        if match:
            return _(template).format(**match.groupdict())
    return name


LAYER_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Input,
        Conv2D,
        Conv2DTranspose,
        DepthwiseConv2D,
        SeparableConv2D,
        MaxPooling2D,
        AveragePooling2D,
        GlobalAveragePooling2D,
        GlobalMaxPooling2D,
        ZeroPadding2D,
        UpSampling2D,
        Flatten,
        Dense,
        Dropout,
        BatchNormalization,
        Activation,
        Parallel,
    )
}

Layer = (
    Input
    | Conv2D
    | Conv2DTranspose
    | DepthwiseConv2D
    | SeparableConv2D
    | MaxPooling2D
    | AveragePooling2D
    | GlobalAveragePooling2D
    | GlobalMaxPooling2D
    | ZeroPadding2D
    | UpSampling2D
    | Flatten
    | Dense
    | Dropout
    | BatchNormalization
    | Activation
    | Parallel
)


@dataclass(frozen=True)
class Network:
    name: str
    layers: tuple[Any, ...]  # first entry is an Input

    def __post_init__(self) -> None:
        _set(self, "layers", tuple(self.layers))

    @property
    def input_shape(self) -> tuple[int, ...]:
        if not self.layers or not isinstance(self.layers[0], Input):
            raise ValueError(_("A network must start with an Input layer; add one at the top."))
        return self.layers[0].shape

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layers": [to_dict(layer) for layer in self.layers]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> Network:
        if not isinstance(data, dict) or "layers" not in data:
            raise ValueError(
                _(
                    'A network file must be a JSON object with "name" and "layers", e.g. {example}.'
                ).format(example=_NETWORK_EXAMPLE)
            )
        layers = data["layers"]
        if not isinstance(layers, list) or not layers:
            raise ValueError(_('"layers" must be a non-empty list of layer objects.'))
        name = data.get("name", "network")
        if not isinstance(name, str):
            raise ValueError(_('"name" must be a string.'))
        parsed = tuple(
            from_dict(item, where=_("layer {number}").format(number=i))
            for i, item in enumerate(layers)
        )
        if not isinstance(parsed[0], Input):
            raise ValueError(
                _("The first layer must be {example}.").format(
                    example='{"type": "Input", "shape": [...]}'
                )
            )
        return cls(name=name, layers=parsed)

    @classmethod
    def from_json(cls, text: str | bytes) -> Network:
        size = len(text.encode() if isinstance(text, str) else text)
        if size > MAX_SPEC_BYTES:
            raise ValueError(
                _(
                    "The network file is {size} bytes; the limit is {limit}. Upload a network "
                    "definition exported by CNN Lab, not a model or data file."
                ).format(size=f"{size:,}", limit=f"{MAX_SPEC_BYTES:,}")
            )
        try:
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(
                _(
                    "The network file is not valid JSON ({error}). Export a network from the "
                    "architecture explorer and edit that."
                ).format(error=err)
            ) from None
        except RecursionError:
            raise ValueError(
                _(
                    "The network file nests lists or objects hundreds of levels deep; real "
                    "networks need a few. Export a network from the architecture explorer and "
                    "edit that."
                )
            ) from None
        return cls.from_dict(data)


def to_dict(layer: Any) -> dict[str, Any]:
    """The JSON-ready form of one layer spec: {"type": name, field: value, ...}."""
    out: dict[str, Any] = {"type": type(layer).__name__}
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.name == "branches":
            value = [[to_dict(sub) for sub in branch] for branch in value]
        out[f.name] = _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def from_dict(data: Any, where: str = "layer", depth: int = 0) -> Any:
    """Parse one layer spec, refusing unknown types, unknown fields, wrong value types and
    sizes beyond the bounds above. `depth` counts the Parallel blocks around this layer."""
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(
            _('{where}: each layer must be an object with a "type" key.').format(where=where)
        )
    kind = data["type"]
    cls = LAYER_TYPES.get(kind)
    if cls is None:
        known = ", ".join(LAYER_TYPES)
        raise ValueError(
            _("{where}: unknown layer type {kind}; use one of {known}.").format(
                where=where, kind=repr(kind), known=known
            )
        )
    allowed = {f.name for f in fields(cls)}
    extra = set(data) - allowed - {"type"}
    if extra:
        raise ValueError(
            _("{where} ({kind}): unknown setting(s) {settings}; {kind} takes {allowed}.").format(
                where=where,
                kind=kind,
                settings=", ".join(sorted(extra)),
                allowed=", ".join(sorted(allowed)) or _("no settings"),
            )
        )
    kwargs = {k: v for k, v in data.items() if k != "type"}
    for key, value in kwargs.items():
        _check_value(where, kind, key, value)
        _check_bounds(where, kind, key, value)
    if cls is Parallel and "branches" in kwargs:
        branches = kwargs["branches"]
        if not isinstance(branches, list) or not all(isinstance(b, list) for b in branches):
            raise ValueError(
                _("{where} (Parallel): branches must be a list of lists of layers.").format(
                    where=where
                )
            )
        if depth >= MAX_NESTING:
            raise ValueError(
                _(
                    "{where} (Parallel): blocks are nested more than {limit} deep; real networks "
                    "need one or two levels. Put the inner blocks one after another instead of "
                    "inside each other."
                ).format(where=where, limit=MAX_NESTING)
            )
        kwargs["branches"] = tuple(
            tuple(
                from_dict(
                    sub,
                    where=_("{where}, branch {branch}, layer {number}").format(
                        where=where, branch=b, number=i
                    ),
                    depth=depth + 1,
                )
                for i, sub in enumerate(br)
            )
            for b, br in enumerate(branches)
        )
    return cls(**kwargs)


def _check_bounds(where: str, kind: str, key: str, value: Any) -> None:
    """Refuse sizes beyond the MAX_ bounds; `_check_value` has already checked the types."""
    if key == "filters":
        bounds, advice = [("filters", value, MAX_FILTERS)], _("use fewer filters")
    elif key == "units":
        bounds, advice = [("units", value, MAX_UNITS)], _("use fewer units")
    elif key == "depth_multiplier":
        bounds = [("depth_multiplier", value, MAX_DEPTH_MULTIPLIER)]
        advice = _("use a smaller multiplier")
    elif key in ("kernel_size", "pool_size", "strides", "dilation_rate", "size") or (
        key == "padding" and kind == "ZeroPadding2D"
    ):
        bounds, advice = [(key, n, MAX_WINDOW) for n in _leaves(value)], _("use a smaller value")
    elif key == "shape" and kind == "Input":
        sizes = value if isinstance(value, list) else [value]
        advice = _("use smaller images or shorter vectors")
        if len(sizes) == 1:
            bounds = [(_("vector length"), sizes[0], MAX_VECTOR_LENGTH)]
        else:
            bounds = [(_("height or width"), n, MAX_INPUT_SIDE) for n in sizes[:2]]
            bounds += [(_("channels"), n, MAX_FILTERS) for n in sizes[2:]]
    else:
        return
    for what, number, limit in bounds:
        if isinstance(number, int) and number > limit:
            raise ValueError(
                _(
                    "{where} ({kind}): {what} {number} is more than CNN Lab allows ({limit}); "
                    "{advice}."
                ).format(
                    where=where,
                    kind=kind,
                    what=what,
                    number=f"{number:,}",
                    limit=f"{limit:,}",
                    advice=advice,
                )
            )


def _check_value(where: str, kind: str, key: str, value: Any) -> None:
    if key == "branches":
        return
    if key in ("activation",):
        if value is not None and not isinstance(value, str):
            raise ValueError(
                _("{where} ({kind}): activation must be a name like 'relu' or null.").format(
                    where=where, kind=kind
                )
            )
        return
    if key in ("padding",) and kind != "ZeroPadding2D":
        if value not in PADDINGS:
            raise ValueError(
                _("{where} ({kind}): padding must be 'valid' or 'same', not {value}.").format(
                    where=where, kind=kind, value=repr(value)
                )
            )
        return
    if key == "interpolation":
        if value not in INTERPOLATIONS:
            raise ValueError(
                _(
                    "{where} ({kind}): interpolation must be 'nearest' or 'bilinear', not {value}."
                ).format(where=where, kind=kind, value=repr(value))
            )
        return
    if key == "depth_multiplier":
        if not _is_int_tree(value) or isinstance(value, list):
            raise ValueError(
                _("{where} ({kind}): depth_multiplier must be a whole number.").format(
                    where=where, kind=kind
                )
            )
        return
    if key in ("name", "merge"):
        if not isinstance(value, str):
            raise ValueError(
                _("{where} ({kind}): {key} must be a string.").format(
                    where=where, kind=kind, key=key
                )
            )
        return
    if key == "use_bias":
        if not isinstance(value, bool):
            raise ValueError(
                _("{where} ({kind}): use_bias must be true or false.").format(
                    where=where, kind=kind
                )
            )
        return
    if key == "rate":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(
                _("{where} ({kind}): rate must be a number between 0 and 1.").format(
                    where=where, kind=kind
                )
            )
        return
    if value is None and key == "strides":
        return
    if key == "shape" and not (isinstance(value, list) and all(_is_int_tree(v, 2) for v in value)):
        raise ValueError(
            _(
                "{where} ({kind}): shape must be a list of whole numbers, e.g. [28, 28, 1] for "
                "28×28 grey images."
            ).format(where=where, kind=kind)
        )
    if not _is_int_tree(value):
        raise ValueError(
            _(
                "{where} ({kind}): {key} must be a whole number or a list of them (a list of "
                "pairs for ZeroPadding2D)."
            ).format(where=where, kind=kind, key=key)
        )


def _is_int_tree(value: Any, depth: int = 0) -> bool:
    """A whole number, or a non-empty list of them, or a list of such lists: no deeper,
    as no setting needs more than ZeroPadding2D's ((top, bottom), (left, right))."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, list) and depth < 2:
        return bool(value) and all(_is_int_tree(v, depth + 1) for v in value)
    return False


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]
