"""Editing a network as a table: layer specs to plain rows and back, and whole-layer edits.

A row is a dict with the keys in `COLUMNS`, one per setting a student edits in a table
(filters, units or a depthwise convolution's maps per channel; kernel, pool window, zero
padding or upsampling factor; stride, padding, activation, dropout rate, bias),
plus `block`, the JSON of a Parallel block, which a table shows as one row and keeps whole.
Settings without a column of their own are written into the window cell: a dilated kernel as
"3×3 dilation 2", bilinear upsampling as "2×2 bilinear".
`rows_to_layers` reads rows back into specs and refuses bad cells with a ValueError naming the
row and saying what to write instead; blank cells take the layer's default. `insert_layer`,
`remove_layer`, `move_layer`, `replace_layer` and `with_input_shape` return new networks (specs
are immutable). `collect_blocks` lists the distinct Parallel blocks of several networks, so a
block from one case study can be inserted into another.

Whether the edited stack is possible (shapes that fit) is `cnnlib.arithmetic`'s question, not
this module's. Nothing here imports TensorFlow or Streamlit.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any

from cnnlib import layers as specs
from cnnlib.i18n import _

COLUMNS = ("layer", "size", "window", "stride", "padding", "activation", "rate", "bias", "block")
# Layer kinds a table row can be set to; Input is the network's input shape and Parallel
# blocks are inserted whole (see `collect_blocks`).
ROW_KINDS = tuple(k for k in specs.LAYER_TYPES if k not in ("Input", "Parallel"))
NO_ACTIVATION = "none"  # how a table shows activation=None
ACTIVATION_CHOICES = tuple(NO_ACTIVATION if a is None else a for a in specs.ACTIVATIONS)
# Generous limits that still stop a typo (an extra zero or three) from describing a network
# no machine could hold.
MAX_FILTERS = 65_536
MAX_WINDOW = 4_096
MAX_INPUT_SIDE = 8_192
# What the size column holds for each kind: filters, units, or DepthwiseConv2D's maps per
# input channel.
_SIZE_SETTING = {"Dense": "units", "DepthwiseConv2D": "depth_multiplier"}
_DILATED = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")  # kinds whose kernels dilate
_DILATION_WORDS = re.compile(r"^(.*?)\s*(?:dilation|dilated)\s*(?:by\s+)?(.*)$", re.IGNORECASE)
_INTERPOLATION_WORDS = re.compile(r"^(.*?)\s*\b(nearest|bilinear)\s*$", re.IGNORECASE)

_CONV = ("size", "window", "stride", "padding", "activation", "bias")
_USES = {
    "Conv2D": _CONV,
    "Conv2DTranspose": _CONV,
    "DepthwiseConv2D": _CONV,
    "SeparableConv2D": _CONV,
    "MaxPooling2D": ("window", "stride", "padding"),
    "AveragePooling2D": ("window", "stride", "padding"),
    "ZeroPadding2D": ("window",),
    "UpSampling2D": ("window",),
    "Dense": ("size", "activation", "bias"),
    "Dropout": ("rate",),
    "Activation": ("activation",),
    "Parallel": ("activation", "block"),
}


def uses(kind: str) -> tuple[str, ...]:
    """The row columns that mean something for a layer kind; the others are left blank."""
    return _USES.get(kind, ())


# ---------------------------------------------------------------------------------------------
# Text for sizes


def format_pair(pair: tuple[int, int] | None) -> str | None:
    """`(3, 3)` -> "3×3"; None stays None (a pooling stride that follows the window)."""
    return None if pair is None else f"{pair[0]}×{pair[1]}"


def format_padding_amounts(padding: tuple[tuple[int, int], tuple[int, int]]) -> str:
    """ZeroPadding2D amounts: "1×1" when each axis is even, else "top,bottom,left,right"."""
    (top, bottom), (left, right) = padding
    if top == bottom and left == right:
        return f"{top}×{left}"
    return f"{top},{bottom},{left},{right}"


def format_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def format_count(n: int) -> str:
    """15,480,000,000 -> "15.5 G"; below a thousand, the number in full."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:,}"


def _numbers(text: Any) -> list[int] | None:
    """Whole numbers in "3", "3×3", "3x3", "3, 3", "(3, 3)" or [3, 3]; None if it is not that."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return [text]
    if isinstance(text, float) and text.is_integer():
        return [int(text)]
    if isinstance(text, (list, tuple)):
        return [int(v) for v in text] if all(_is_whole(v) for v in text) else None
    if not isinstance(text, str):
        return None
    cleaned = text.strip().strip("()[]").strip()
    parts = re.split(r"\s*[×xX*,]\s*|\s+", cleaned)
    if not all(re.fullmatch(r"\d+", p) for p in parts):
        return None
    return [int(p) for p in parts]


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_pair(text: Any, what: str, where: str, low: int = 1, high: int = MAX_WINDOW):
    """ "3" or "3×5" (height × width) -> (3, 3) or (3, 5), within [low, high]."""
    numbers = _numbers(text)
    if numbers is None or len(numbers) not in (1, 2):
        raise ValueError(
            _(
                "{where}: {what} {value} is not a size; write one whole number such as 3, or "
                "height×width such as 3×5."
            ).format(where=where, what=what, value=repr(text))
        )
    pair = (numbers[0], numbers[-1])
    if min(pair) < low or max(pair) > high:
        raise ValueError(
            _("{where}: {what} must be between {low} and {high}, not {value}.").format(
                where=where, what=what, low=low, high=high, value=repr(text)
            )
        )
    return pair


def format_kernel(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> str:
    """A kernel cell: "3×3", or "3×3 dilation 2" for a dilated one."""
    if dilation == (1, 1):
        return format_pair(kernel)
    rate = str(dilation[0]) if dilation[0] == dilation[1] else format_pair(dilation)
    return f"{format_pair(kernel)} dilation {rate}"


def parse_kernel(text: Any, where: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """ "3", "3×5", "3×3 dilation 2" or "3 dilated by 2×1" -> (kernel, dilation)."""
    match = _DILATION_WORDS.match(text) if isinstance(text, str) else None
    if match is None:
        return parse_pair(text, _("kernel size"), where), (1, 1)
    kernel, rate = match.groups()
    if not rate.strip():
        raise ValueError(
            _(
                "{where}: {value} names no dilation rate; write e.g. 3×3 dilation 2 (taps 2 "
                "apart, so the kernel spans 5×5)."
            ).format(where=where, value=repr(text))
        )
    return parse_pair(kernel, _("kernel size"), where), parse_pair(rate, _("dilation"), where)


def format_upsampling(size: tuple[int, int], interpolation: str) -> str:
    """An upsampling cell: "2×2", or "2×2 bilinear"."""
    text = format_pair(size)
    return text if interpolation == "nearest" else f"{text} {interpolation}"


def parse_upsampling(text: Any, where: str) -> tuple[tuple[int, int], str]:
    """ "2", "2×3", "2×2 bilinear" or "bilinear" (2×2) -> (size, interpolation)."""
    match = _INTERPOLATION_WORDS.match(text) if isinstance(text, str) else None
    if match is None:
        return parse_pair(text, _("upsampling size"), where), "nearest"
    size, interpolation = match.groups()
    pair = parse_pair(size, _("upsampling size"), where) if size.strip() else (2, 2)
    return pair, interpolation.lower()


def parse_padding_amounts(text: Any, where: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """ZeroPadding2D amounts: "1" (all sides), "1×2" (rows, columns) or "t,b,l,r"."""
    numbers = _numbers(text)
    if numbers is None or len(numbers) not in (1, 2, 4) or max(numbers, default=0) > MAX_WINDOW:
        raise ValueError(
            _(
                "{where}: zero padding {value} is not understood; write 1 (every side), 1×2 "
                "(rows × columns) or 0,1,0,1 (top, bottom, left, right)."
            ).format(where=where, value=repr(text))
        )
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) == 2:
        numbers = [numbers[0], numbers[0], numbers[1], numbers[1]]
    return ((numbers[0], numbers[1]), (numbers[2], numbers[3]))


def parse_shape(text: Any) -> tuple[int, ...]:
    """An input shape such as "28×28×1", "120x160x1" or "19, 19, 48"."""
    numbers = _numbers(text)
    if numbers is None or len(numbers) not in (1, 3):
        raise ValueError(
            _(
                "The input shape {value} is not understood; write height×width×channels, for "
                "example 28×28×1 or 120×160×3 (or one length for a vector input)."
            ).format(value=repr(text))
        )
    if min(numbers) < 1 or max(numbers) > MAX_INPUT_SIDE:
        raise ValueError(
            _("Every side of the input must be between 1 and {limit}, not {value}.").format(
                limit=MAX_INPUT_SIDE, value=repr(text)
            )
        )
    return tuple(numbers)


# ---------------------------------------------------------------------------------------------
# Rows


def describe(layer: Any) -> str:
    """One line a person reads: "Conv2D 32 3×3 /1 valid relu", "inception (3a): 4 branches"."""
    if isinstance(layer, specs.Parallel):
        title = layer.shown_name() or _("parallel block")
        if layer.merge == "add":
            text = _("{block}: {count} branches, added")
        else:
            text = _("{block}: {count} branches, concatenated")
        text = text.format(block=title, count=len(layer.branches))
        if layer.activation:
            text += _(", then {activation}").format(activation=layer.activation)
        return text
    if isinstance(layer, specs.Input):
        return f"Input {format_shape(layer.shape)}"
    row = layer_to_row(layer)
    parts = [row["layer"]]
    if isinstance(layer, specs.DepthwiseConv2D):
        if layer.depth_multiplier != 1:
            parts.append(_("{count} per channel").format(count=layer.depth_multiplier))
    elif row["size"] is not None:
        parts.append(str(row["size"]))
    if row["window"] is not None:
        parts.append(row["window"])
    if row["stride"] not in (None, "1×1"):
        stride = row["stride"].split("×")[0] if _square(row["stride"]) else row["stride"]
        parts.append(_("stride {stride}").format(stride=stride))
    if row["padding"] is not None:
        parts.append(row["padding"])
    if row["rate"] is not None:
        parts.append(f"{row['rate']:g}")
    if row["activation"] not in (None, NO_ACTIVATION) or isinstance(layer, specs.Activation):
        parts.append(str(row["activation"]))
    return " ".join(parts)


def _square(text: str) -> bool:
    parts = text.split("×")
    return len(parts) == 2 and parts[0] == parts[1]


def layer_to_row(layer: Any) -> dict[str, Any]:
    """One spec as a row: every key of `COLUMNS`, None where the kind has no such setting."""
    kind = type(layer).__name__
    if kind == "Input":
        raise ValueError(_("The Input is the network's input shape, not a table row."))
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["layer"] = kind
    if isinstance(
        layer, (specs.Conv2D, specs.Conv2DTranspose, specs.DepthwiseConv2D, specs.SeparableConv2D)
    ):
        row.update(
            size=getattr(layer, _SIZE_SETTING.get(kind, "filters")),
            window=format_kernel(layer.kernel_size, getattr(layer, "dilation_rate", (1, 1))),
            stride=format_pair(layer.strides),
            padding=layer.padding,
            bias=layer.use_bias,
        )
    elif isinstance(layer, specs.UpSampling2D):
        row["window"] = format_upsampling(layer.size, layer.interpolation)
    elif isinstance(layer, (specs.MaxPooling2D, specs.AveragePooling2D)):
        row.update(
            window=format_pair(layer.pool_size),
            stride=format_pair(layer.strides),
            padding=layer.padding,
        )
    elif isinstance(layer, specs.ZeroPadding2D):
        row["window"] = format_padding_amounts(layer.padding)
    elif isinstance(layer, specs.Dense):
        row.update(size=layer.units, bias=layer.use_bias)
    elif isinstance(layer, specs.Dropout):
        row["rate"] = float(layer.rate)
    elif isinstance(layer, specs.Parallel):
        row["block"] = json.dumps(specs.to_dict(layer))
    if "activation" in uses(kind):
        row["activation"] = NO_ACTIVATION if layer.activation is None else layer.activation
    return row


def network_to_rows(network: specs.Network) -> list[dict[str, Any]]:
    """Every layer below the Input as a row, in order."""
    return [layer_to_row(layer) for layer in network.layers[1:]]


def is_blank(value: Any) -> bool:
    """An empty table cell: None, NaN, pandas' missing value or blank text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    # pandas' missing-value marker, recognised without importing pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def _whole(value: Any, what: str, where: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not _is_whole(value) and type(value).__name__.startswith(("int", "uint")):
        value = int(value)  # NumPy integers from a table
    if not _is_whole(value) or not low <= value <= high:
        raise ValueError(
            _("{where}: {what} must be a whole number from {low} to {high}, not {value}.").format(
                where=where, what=what, low=low, high=high, value=repr(value)
            )
        )
    return value


def row_to_layer(row: dict[str, Any], where: str | None = None) -> Any:
    """Read one row back into a spec. Blank cells take the kind's default; cells the kind does
    not use are ignored (so changing a row's kind from Conv2D to Dense keeps its size).
    `where` names the row in messages ("Row 3")."""
    where = where or _("Row")
    kind = row.get("layer")
    if is_blank(kind) or kind not in ROW_KINDS + ("Parallel",):
        raise ValueError(
            _("{where}: choose a layer type ({kinds}), not {value}.").format(
                where=where, kinds=", ".join(ROW_KINDS), value=repr(kind)
            )
        )
    where = f"{where} ({kind})"
    get = {key: (None if is_blank(row.get(key)) else row.get(key)) for key in COLUMNS}
    kwargs: dict[str, Any] = {}
    if kind == "Parallel":
        if get["block"] is None:
            raise ValueError(
                _(
                    "{where}: a parallel block cannot be typed into the table; insert one from "
                    "a case study with 'Insert a block', or choose another layer type."
                ).format(where=where)
            )
        try:
            block = specs.from_dict(json.loads(get["block"]), where=where)
        except json.JSONDecodeError:
            raise ValueError(
                _("{where}: the block's definition is damaged; insert it again.").format(
                    where=where
                )
            ) from None
        if not isinstance(block, specs.Parallel):
            raise ValueError(
                _("{where}: the block's definition is not a parallel block.").format(where=where)
            )
        if "activation" in row:
            block = replace(block, activation=_activation(get["activation"], where))
        return block
    if "size" in uses(kind) and get["size"] is not None:
        name = _SIZE_SETTING.get(kind, "filters")
        high = specs.MAX_DEPTH_MULTIPLIER if kind == "DepthwiseConv2D" else MAX_FILTERS
        kwargs[name] = _whole(get["size"], name, where, 1, high)
    if "window" in uses(kind) and get["window"] is not None:
        window = get["window"]
        if kind == "ZeroPadding2D":
            kwargs["padding"] = parse_padding_amounts(window, where)
        elif kind == "UpSampling2D":
            kwargs["size"], kwargs["interpolation"] = parse_upsampling(window, where)
        elif kind in _DILATED:
            kwargs["kernel_size"], dilation = parse_kernel(window, where)
            if dilation != (1, 1):
                kwargs["dilation_rate"] = dilation
        elif kind == "Conv2DTranspose":
            if _DILATION_WORDS.match(str(window)):
                raise ValueError(
                    _(
                        "{where}: CNN Lab's transposed convolution takes no dilation; write the "
                        "kernel alone, e.g. 3×3."
                    ).format(where=where)
                )
            kwargs["kernel_size"] = parse_pair(window, _("kernel size"), where)
        else:
            kwargs["pool_size"] = parse_pair(window, _("pool size"), where)
    if "stride" in uses(kind) and get["stride"] is not None:
        kwargs["strides"] = parse_pair(get["stride"], _("stride"), where)
    if "padding" in uses(kind) and get["padding"] is not None:
        if get["padding"] not in specs.PADDINGS:
            raise ValueError(
                _("{where}: padding must be 'valid' or 'same', not {value}.").format(
                    where=where, value=repr(get["padding"])
                )
            )
        kwargs["padding"] = get["padding"]
    if "activation" in uses(kind) and get["activation"] is not None:
        activation = _activation(get["activation"], where)
        if activation is None and kind == "Activation":
            raise ValueError(
                _("{where}: an Activation layer needs an activation such as relu.").format(
                    where=where
                )
            )
        kwargs["activation"] = activation
    if "rate" in uses(kind) and get["rate"] is not None:
        rate = get["rate"]
        if isinstance(rate, str):
            try:
                rate = float(rate)
            except ValueError:
                rate = None
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise ValueError(
                _("{where}: the dropout rate must be a number from 0 up to (not) 1.").format(
                    where=where
                )
            )
        kwargs["rate"] = float(rate)
    if "bias" in uses(kind) and get["bias"] is not None:
        kwargs["use_bias"] = bool(get["bias"])
    return specs.LAYER_TYPES[kind](**kwargs)


def _activation(value: Any, where: str) -> str | None:
    if value is None or value == NO_ACTIVATION:
        return None
    if value not in specs.ACTIVATIONS:
        raise ValueError(
            _("{where}: activation {value} is not one CNN Lab knows; use one of {choices}.").format(
                where=where, value=repr(value), choices=", ".join(ACTIVATION_CHOICES)
            )
        )
    return value


def is_pending(row: dict[str, Any]) -> bool:
    """A row just added to a table whose layer type has not been chosen yet."""
    return is_blank(row.get("layer"))


def normalised_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as `network_to_rows` would write them back, blanks as None, pending rows left out:
    a table whose rows differ from this was tidied when read (defaults filled in)."""
    return [
        {key: (None if is_blank(value) else value) for key, value in row.items()}
        for row in rows
        if not is_pending(row)
    ]


def rows_to_layers(rows: list[dict[str, Any]], where: str | None = None) -> tuple[Any, ...]:
    """Read rows back into specs, skipping pending rows; errors name the row, counted from 1
    after `where` (default "Row")."""
    where = where or _("Row")
    return tuple(
        row_to_layer(row, f"{where} {number}")
        for number, row in enumerate(rows, start=1)
        if not is_pending(row)
    )


def rows_to_network(name: str, input_shape: tuple[int, ...], rows: list[dict[str, Any]]):
    """A Network from an input shape and table rows."""
    return specs.Network(
        name=name, layers=(specs.Input(tuple(input_shape)),) + rows_to_layers(rows)
    )


# ---------------------------------------------------------------------------------------------
# Whole-layer edits


def _check_position(network: specs.Network, position: int, allow_end: bool = False) -> None:
    last = len(network.layers) if allow_end else len(network.layers) - 1
    if not isinstance(position, int) or not 1 <= position <= last:
        raise ValueError(
            _(
                "Layer {position} does not exist; layers are numbered 1 to {last} below the "
                "input (the input itself cannot be moved or removed)."
            ).format(position=position, last=len(network.layers) - 1)
        )


def insert_layer(network: specs.Network, position: int, layer: Any) -> specs.Network:
    """A copy with `layer` at `position` (1 = right after the input; len(layers) = at the end)."""
    _check_position(network, position, allow_end=True)
    if isinstance(layer, specs.Input):
        raise ValueError(_("A network has one Input; change the input shape instead."))
    items = list(network.layers)
    items.insert(position, layer)
    return replace(network, layers=tuple(items))


def remove_layer(network: specs.Network, position: int) -> specs.Network:
    _check_position(network, position)
    items = list(network.layers)
    del items[position]
    return replace(network, layers=tuple(items))


def replace_layer(network: specs.Network, position: int, layer: Any) -> specs.Network:
    _check_position(network, position)
    items = list(network.layers)
    items[position] = layer
    return replace(network, layers=tuple(items))


def move_layer(network: specs.Network, position: int, offset: int) -> specs.Network:
    """A copy with the layer at `position` moved up (offset < 0) or down (offset > 0)."""
    _check_position(network, position)
    target = position + offset
    if not 1 <= target <= len(network.layers) - 1:
        if offset < 0:
            message = _("Layer {position} is already at the top (just below the input).")
        else:
            message = _("Layer {position} is already at the bottom.")
        raise ValueError(message.format(position=position))
    items = list(network.layers)
    items.insert(target, items.pop(position))
    return replace(network, layers=tuple(items))


def with_input_shape(network: specs.Network, shape: tuple[int, ...]) -> specs.Network:
    return replace(network, layers=(specs.Input(tuple(shape)),) + tuple(network.layers[1:]))


def default_layer(kind: str) -> Any:
    """A new layer of `kind` with its default settings (a 32-filter 3×3 Conv2D, ...)."""
    if kind not in ROW_KINDS:
        raise ValueError(
            _("Cannot add a {kind}; choose one of {kinds}.").format(
                kind=repr(kind), kinds=", ".join(ROW_KINDS)
            )
        )
    return specs.LAYER_TYPES[kind]()


# ---------------------------------------------------------------------------------------------
# Blocks


def update_branch(block: specs.Parallel, branch: int, rows: list[dict[str, Any]]) -> specs.Parallel:
    """A copy of `block` whose branch number `branch` (from 0) is read from `rows`.

    An empty branch is the identity: the block's input passed through unchanged (a shortcut).
    """
    if not 0 <= branch < len(block.branches):
        raise ValueError(
            _("The block has branches 1 to {count}, not {number}.").format(
                count=len(block.branches), number=branch + 1
            )
        )
    layers_ = rows_to_layers(rows, where=_("Branch {number}, row").format(number=branch + 1))
    branches = list(block.branches)
    branches[branch] = layers_
    return replace(block, branches=tuple(branches))


def collect_blocks(networks: dict[str, specs.Network]) -> list[tuple[str, specs.Parallel]]:
    """The distinct Parallel blocks in `networks` (title -> network), labelled by origin."""
    seen: set[str] = set()
    found = []
    for title, network in networks.items():
        for layer in network.layers:
            if not isinstance(layer, specs.Parallel):
                continue
            key = json.dumps(specs.to_dict(layer), sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            found.append((f"{title}: {layer.shown_name() or _('parallel block')}", layer))
    return found


# ---------------------------------------------------------------------------------------------
# Shapes as people write them


def stated_shape_matches(text: str, shape: tuple[int, ...]) -> bool:
    """Whether a shape written in a code comment ("26,26,32", "116x156", "3136 = 7*7*64")
    names `shape`. The part before any "=" is read; a height×width without the channels
    matches a volume of that height and width."""
    stated = re.findall(r"\d+", str(text).split("=")[0])
    numbers = [int(n) for n in stated]
    if not numbers:
        return False
    if numbers == list(shape):
        return True
    return len(numbers) == 2 and len(shape) == 3 and numbers == list(shape[:2])


def compare_stated_shapes(
    network: specs.Network, stated: tuple[tuple[int, str, str], ...]
) -> list[dict[str, Any]]:
    """The lecture's stated output shapes beside the true ones, one dict per statement.

    `stated` holds (layer index, the comment's text, why it differs) as a registry entry's
    `lecture_shapes` does; each dict has the layer, its settings, the stated text, the true
    shape, whether they agree and the reason (given only where it explains something).
    """
    from cnnlib.arithmetic import analyse

    rows = analyse(network).rows
    out = []
    for index, text, why in stated:
        row = rows[index]
        agrees = stated_shape_matches(text, row.output_shape)
        out.append(
            {
                "layer": f"{index} {row.kind}",
                "settings": row.settings,
                "stated": text,
                "true": format_shape(row.output_shape),
                "agrees": agrees,
                "why": why if not agrees or why else "",
            }
        )
    return out
