"""Keras source for a `cnnlib.layers.Network`, written without importing Keras.

`keras_layer_args` translates each spec into a Keras layer class name and its constructor
arguments; `cnnlib.build` builds models from the same translation, so exported code cannot
drift from what is built. `keras_code` writes Python that, run as is, defines `model`.
Because nothing here imports TensorFlow, a page can offer the code at once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cnnlib import layers as specs

# Arguments equal to Keras's own defaults are left out of exported code, so that it reads like
# the lecture's listings rather than like a configuration dump.
_KERAS_DEFAULTS: dict[str, dict[str, Any]] = {
    "Conv2D": {"strides": (1, 1), "padding": "valid", "activation": None, "use_bias": True},
    "MaxPooling2D": {"strides": None, "padding": "valid"},
    "AveragePooling2D": {"strides": None, "padding": "valid"},
    "Dense": {"activation": None, "use_bias": True},
}
# The first argument of these classes is written positionally, as Keras's guides do.
_POSITIONAL = {"Conv2D": "filters", "Dense": "units", "Dropout": "rate", "Activation": "activation"}


# ---------------------------------------------------------------------------------------------
# One translation of each spec


def keras_layer_args(spec: Any) -> tuple[str, dict[str, Any]]:
    """The Keras layer class name and constructor arguments for one (non-Parallel) spec."""
    if isinstance(spec, specs.Conv2D):
        return "Conv2D", {
            "filters": spec.filters,
            "kernel_size": spec.kernel_size,
            "strides": spec.strides,
            "padding": spec.padding,
            "activation": spec.activation,
            "use_bias": spec.use_bias,
        }
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
