"""Keras source for a `cnnlib.layers.Network`, written without importing Keras.

`keras_layer_args` translates each spec into a Keras layer class name and its constructor
arguments; `cnnlib.build` builds models from the same translation, so exported code cannot
drift from what is built. `KerasNames` is the one rule for the names of the layers
`cnnlib.build` makes (`conv2d_1`, `separable_conv2d_2`, `block3_branch1_conv2d_2`,
`block3_concat`): the builder walks the network with it, and `keras_layer_names` and
`keras_comparison` use it without building, so a page can pair Keras's own summary with
`cnnlib.arithmetic`'s rows.
`keras_code` writes Python that, run as is, defines `model`. Because nothing here imports
TensorFlow, a page can offer the code and the names at once.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from cnnlib import layers as specs
from cnnlib.i18n import N_

# Arguments equal to Keras's own defaults are left out of exported code, so that it reads like
# the lecture's listings rather than like a configuration dump.
_CONV_DEFAULTS = {"strides": (1, 1), "padding": "valid", "activation": None, "use_bias": True}
_KERAS_DEFAULTS: dict[str, dict[str, Any]] = {
    "Conv2D": {**_CONV_DEFAULTS, "dilation_rate": (1, 1)},
    "Conv2DTranspose": dict(_CONV_DEFAULTS),
    "DepthwiseConv2D": {**_CONV_DEFAULTS, "depth_multiplier": 1, "dilation_rate": (1, 1)},
    "SeparableConv2D": {**_CONV_DEFAULTS, "dilation_rate": (1, 1)},
    "MaxPooling2D": {"strides": None, "padding": "valid"},
    "AveragePooling2D": {"strides": None, "padding": "valid"},
    "UpSampling2D": {"size": (2, 2), "interpolation": "nearest"},
    "Dense": {"activation": None, "use_bias": True},
}
# The first argument of these classes is written positionally, as Keras's guides do.
_POSITIONAL = {
    "Conv2D": "filters",
    "Conv2DTranspose": "filters",
    "SeparableConv2D": "filters",
    "DepthwiseConv2D": "kernel_size",
    "Dense": "units",
    "Dropout": "rate",
    "Activation": "activation",
}


# ---------------------------------------------------------------------------------------------
# One translation of each spec


def keras_layer_args(spec: Any) -> tuple[str, dict[str, Any]]:
    """The Keras layer class name and constructor arguments for one (non-Parallel) spec."""
    if isinstance(spec, (specs.Conv2D, specs.SeparableConv2D)):
        return type(spec).__name__, {
            "filters": spec.filters,
            "kernel_size": spec.kernel_size,
            "strides": spec.strides,
            "padding": spec.padding,
            "dilation_rate": spec.dilation_rate,
            "activation": spec.activation,
            "use_bias": spec.use_bias,
        }
    if isinstance(spec, specs.Conv2DTranspose):
        return "Conv2DTranspose", {
            "filters": spec.filters,
            "kernel_size": spec.kernel_size,
            "strides": spec.strides,
            "padding": spec.padding,
            "activation": spec.activation,
            "use_bias": spec.use_bias,
        }
    if isinstance(spec, specs.DepthwiseConv2D):
        return "DepthwiseConv2D", {
            "kernel_size": spec.kernel_size,
            "strides": spec.strides,
            "padding": spec.padding,
            "depth_multiplier": spec.depth_multiplier,
            "dilation_rate": spec.dilation_rate,
            "activation": spec.activation,
            "use_bias": spec.use_bias,
        }
    if isinstance(spec, specs.UpSampling2D):
        return "UpSampling2D", {"size": spec.size, "interpolation": spec.interpolation}
    if isinstance(spec, (specs.MaxPooling2D, specs.AveragePooling2D)):
        return type(spec).__name__, {
            "pool_size": spec.pool_size,
            "strides": spec.strides,
            "padding": spec.padding,
        }
    if isinstance(spec, specs.Dense):
        return "Dense", {
            "units": spec.units,
            "activation": spec.activation,
            "use_bias": spec.use_bias,
        }
    if isinstance(spec, specs.Dropout):
        return "Dropout", {"rate": spec.rate}
    if isinstance(spec, specs.Activation):
        return "Activation", {"activation": spec.activation}
    if isinstance(spec, specs.ZeroPadding2D):
        return "ZeroPadding2D", {"padding": spec.padding}
    if isinstance(
        spec,
        (
            specs.Flatten,
            specs.BatchNormalization,
            specs.GlobalAveragePooling2D,
            specs.GlobalMaxPooling2D,
        ),
    ):
        return type(spec).__name__, {}
    raise ValueError(
        f"{type(spec).__name__} is not a layer CNN Lab can build; "
        f"use one of {', '.join(specs.LAYER_TYPES)}."
    )


def snake_name(class_name: str) -> str:
    """Keras's own naming rule: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    step = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", step).lower()


# ---------------------------------------------------------------------------------------------
# One naming rule for the layers of a built model


class KerasNames:
    """Walks a network in the order `cnnlib.build` makes its Keras layers and names each one.

    Top-level layers count per kind (`conv2d_1`, `dense_2`); inside branch b of block i they
    count from 1 again and start with `block{i}_branch{b}_`; a block with several branches
    ends in `block{i}_concat` or `block{i}_add`, and its activation in `block{i}_{activation}`.
    Paths are those of `cnnlib.arithmetic`'s rows ("3", "3.b1.2"). `names` maps each path to
    the layer whose output is that row's output; `layers` lists every layer made, in order,
    as (name, path, merge) with `merge` true for a block's merge and post-merge activation.
    The builder subclasses this and overrides `make` to create the Keras layers; here
    `make` creates nothing, so the names cost no TensorFlow.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.names: dict[str, str] = {}
        self.layers: list[tuple[str, str, bool]] = []

    def make(self, class_name: str, kwargs: dict[str, Any], name: str, last: bool) -> Any:
        """The callable that applies the named layer to a tensor (none here: names only)."""
        return lambda tensor: None

    def _layer(self, class_name, kwargs, name, path, last, merge, tensor) -> Any:
        self.layers.append((name, path, merge))
        self.names[path] = name
        return self.make(class_name, kwargs, name, last)(tensor)

    def stack(self, tensor: Any, stack: tuple[Any, ...], path: str, last: bool) -> Any:
        """Apply a stack of specs. At top level (path "") positions are indexes into
        `network.layers`; inside a branch (path "i.bb") they count from 1."""
        local: Counter[str] = Counter()
        counter = local if path else self.counts
        prefix = path_prefix(path)
        for position, spec in enumerate(stack, start=1):
            row_path = f"{path}.{position}" if path else str(position)
            is_last = last and position == len(stack)
            if isinstance(spec, specs.Parallel):
                tensor = self.parallel(tensor, spec, row_path, is_last)
                continue
            class_name, kwargs = keras_layer_args(spec)
            kind = snake_name(class_name)
            counter[kind] += 1
            name = f"{prefix}{kind}_{counter[kind]}"
            tensor = self._layer(class_name, kwargs, name, row_path, is_last, False, tensor)
        return tensor

    def parallel(self, tensor: Any, spec: specs.Parallel, path: str, last: bool) -> Any:
        # A Parallel that is the network's last layer ends in its merge or its activation;
        # only that layer counts as last, so branches are made as inner layers.
        block = path_prefix(path).rstrip("_")
        outputs = []
        for number, branch in enumerate(spec.branches, start=1):
            branch_path = f"{path}.b{number}"
            outputs.append(
                self.stack(tensor, branch, branch_path, last=False) if branch else tensor
            )
        merged_last = last and spec.activation is None
        if len(outputs) == 1:
            merged = outputs[0]
            branch = spec.branches[0]
            if branch:
                self.names[path] = self.names[f"{path}.b1.{len(branch)}"]
        elif spec.merge == "add":
            merged = self._layer("Add", {}, f"{block}_add", path, merged_last, True, outputs)
        else:
            merged = self._layer(
                "Concatenate", {"axis": -1}, f"{block}_concat", path, merged_last, True, outputs
            )
        if spec.activation is not None:
            name = f"{block}_{spec.activation}"
            kwargs = {"activation": spec.activation}
            merged = self._layer("Activation", kwargs, name, path, last, True, merged)
        return merged


def path_prefix(path: str) -> str:
    """The name prefix for a row path: "3.b1" -> "block3_branch1_", "3" -> "block3_"."""
    if not path:
        return ""
    parts = path.split(".")
    words = [f"branch{part[1:]}" if part.startswith("b") else f"block{part}" for part in parts]
    return "_".join(words) + "_"


def _named(network: specs.Network) -> KerasNames:
    check_network(network)
    names = KerasNames()
    names.stack(None, network.layers[1:], path="", last=True)
    return names


def keras_layer_names(network: specs.Network) -> dict[str, str]:
    """For each row path of `cnnlib.arithmetic.analyse` ("0", "3", "3.b1.2"), the name of the
    layer of `cnnlib.build.build_model(network)` whose output is that row's output.

    A Parallel block's path names its activation if it has one, else its merge layer. A
    block with a single identity branch makes no layer and has no entry.
    """
    return {"0": "input", **_named(network).names}


# Marks a layer this page expects but Keras lacks, after its name; pages translate it.
NOT_IN_KERAS = N_(" (not in the Keras model)")
# The comparison's column names, in English; pages show them with `_()`.
COMPARISON_COLUMNS = (
    N_("Keras layer"),
    N_("output here"),
    N_("output in Keras"),
    N_("parameters here"),
    N_("parameters in Keras"),
    N_("agree"),
)


def keras_comparison(network: specs.Network, analysis: Any, keras_rows: list[dict]) -> list[dict]:
    """One row per Keras layer of the built model beside `analysis`'s numbers for it.

    `keras_rows` are `cnnlib.build.keras_summary_rows` of `build_model(network)`; the result
    has the Keras name, both output shapes and both parameter counts, and "agree" ✓ or ✗.
    Layers this page expects but Keras lacks come last, marked "(not in the Keras model)".
    A block's merge and its activation have the block's output and no parameters.
    """
    rows = {row.path: row for row in analysis.all_rows()}
    ours = {name: (rows[path], merge) for name, path, merge in _named(network).layers}
    table = []
    for item in keras_rows:
        if item["class"] == "InputLayer":
            continue
        row, merge = ours.pop(item["name"], (None, False))
        our_params = None if row is None else (0 if merge else row.params)
        our_shape = _shape_text(row.output_shape) if row is not None else "—"
        keras_shape = _shape_text(item["output_shape"]) if item["output_shape"] else "—"
        agree = row is not None and our_shape == keras_shape and our_params == item["params"]
        table.append(
            {
                "Keras layer": item["name"],
                "output here": our_shape,
                "output in Keras": keras_shape,
                "parameters here": our_params,
                "parameters in Keras": item["params"],
                "agree": "✓" if agree else "✗",
            }
        )
    for name, (row, merge) in ours.items():
        table.append(
            {
                "Keras layer": name + NOT_IN_KERAS,
                "output here": _shape_text(row.output_shape),
                "output in Keras": "—",
                "parameters here": 0 if merge else row.params,
                "parameters in Keras": None,
                "agree": "✗",
            }
        )
    return table


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def safe_identifier(text: str, fallback: str = "model") -> str:
    """A Keras-safe name: letters, digits, '_', '.', '-' only (Keras refuses '/')."""
    cleaned = re.sub(r"[^0-9A-Za-z_.-]+", "_", text).strip("_")
    return cleaned or fallback


def _one_line(text: str) -> str:
    """Text for a code comment: no line breaks that could turn a name into code."""
    return " ".join(str(text).split())


def check_network(network: Any) -> None:
    if not isinstance(network, specs.Network):
        raise ValueError("Pass a cnnlib.layers.Network (for example a registry entry's .network).")
    # The arithmetic names the layer, the input it got and what to change; Keras would only
    # give a traceback from deep inside its shape inference.
    from cnnlib.arithmetic import analyse

    analyse(network)


# ---------------------------------------------------------------------------------------------
# Exported source


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # double quotes, as ruff formats them
    return repr(value)


def _call(spec: Any) -> str:
    class_name, kwargs = keras_layer_args(spec)
    parts = []
    positional = _POSITIONAL.get(class_name)
    if positional is not None:
        parts.append(_literal(kwargs.pop(positional)))
    defaults = _KERAS_DEFAULTS.get(class_name, {})
    for key, value in kwargs.items():
        if key in defaults and value == defaults[key]:
            continue
        parts.append(f"{key}={_literal(value)}")
    return f"layers.{class_name}({', '.join(parts)})"


def _functional_lines(stack: tuple[Any, ...], source: str, target: str) -> list[str]:
    """Lines applying `stack` to the tensor named `source`, leaving the result in `target`."""
    lines: list[str] = []
    current = source
    for spec in stack:
        if isinstance(spec, specs.Parallel):
            lines.extend(_parallel_lines(spec, current, target))
        else:
            lines.append(f"{target} = {_call(spec)}({current})")
        current = target
    if current != target:
        lines.append(f"{target} = {current}")
    return lines


def _parallel_lines(spec: specs.Parallel, source: str, target: str) -> list[str]:
    merge = "Add" if spec.merge == "add" else "Concatenate"
    title = _one_line(spec.name) or "parallel block"
    lines = [f"# {title}: {len(spec.branches)} branches on the same input, then {merge}"]
    base = "branch" if target == "x" else target
    names = []
    for number, branch in enumerate(spec.branches, start=1):
        branch_name = f"{base}_{number}"
        names.append(branch_name)
        if branch:
            lines.extend(_functional_lines(branch, source, branch_name))
        else:
            lines.append(f"{branch_name} = {source}  # identity shortcut")
    if not names:
        lines.append(f"{target} = {source}")
    elif len(names) == 1:
        lines.append(f"{target} = {names[0]}")
    else:
        lines.append(f"{target} = layers.{merge}()([{', '.join(names)}])")
    if spec.activation is not None:
        lines.append(f"{target} = layers.Activation({_literal(spec.activation)})({target})")
    return lines


def keras_code(network: specs.Network, style: str = "sequential") -> str:
    """Python source that, run as is, defines `model`: the same layers and parameter count.

    `style` is "sequential" (a `keras.Sequential` list, as the lecture writes) or "functional"
    (`keras.Input` and layer calls; needed for networks with Parallel blocks).
    """
    if style not in ("sequential", "functional"):
        raise ValueError(f"Unknown code style {style!r}; use 'sequential' or 'functional'.")
    check_network(network)
    body = network.layers[1:]
    if style == "sequential" and any(isinstance(spec, specs.Parallel) for spec in body):
        raise ValueError(
            "This network has parallel branches, which keras.Sequential cannot express; "
            "export it in the functional style instead."
        )
    model_name = _literal(safe_identifier(network.name))
    header = [
        f"# {_one_line(network.name)}: Keras code exported by CNN Lab.",
        "import keras",
        "from keras import layers",
        "",
    ]
    shape = repr(tuple(network.input_shape))
    if style == "sequential":
        entries = [f"        keras.Input(shape={shape}),"]
        entries += [f"        {_call(spec)}," for spec in body]
        lines = [
            "model = keras.Sequential(",
            "    [",
            *entries,
            "    ],",
            f"    name={model_name},",
        ]
        lines.append(")")
    else:
        lines = [f"inputs = keras.Input(shape={shape})"]
        lines += _functional_lines(body, "inputs", "x")
        lines.append(f"model = keras.Model(inputs, x, name={model_name})")
    return "\n".join(header + lines) + "\n"
