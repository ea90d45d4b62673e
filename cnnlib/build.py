"""Turn a `cnnlib.layers.Network` into Keras: a functional model, Python source, a summary.

`build_model` makes a functional `keras.Model` whose layers carry readable, unique names, in
float32 or in mixed bfloat16 precision. `compile_model` compiles it with a chosen optimizer
(from `cnnlib.training.settings.make_optimizer`, the project's one optimizer factory, which
avoids a per-model memory leak), learning rate and loss.
`keras_code` (from `cnnlib.keras_source`, which imports no Keras) writes Python source that
builds the same model with `import keras` / `from keras import layers`.
`keras_summary_rows` reads Keras's own per-layer numbers so a page
can set them beside `cnnlib.arithmetic`'s, and `keras_layer_names` says which Keras layer
stands for which arithmetic row. Training and saving live elsewhere (`cnnlib.training`,
`cnnlib.library`).

Both the model and the source are made from one translation of each spec into a Keras class
and its arguments (`keras_source.keras_layer_args`), so the exported code cannot drift from
what is built.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from cnnlib import layers as specs
from cnnlib.keras_source import (  # noqa: F401 - keras_code and the names are this API too
    KerasNames,
    check_network,
    keras_code,
    keras_layer_names,
    safe_identifier,
)

DTYPE_POLICIES = ("float32", "mixed_bfloat16")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")

# ---------------------------------------------------------------------------------------------
# Building


class _Builder(KerasNames):
    """Applies specs to tensors, naming every layer by `KerasNames`'s rule and choosing each
    layer's dtype policy."""

    def __init__(self, dtype_policy: str) -> None:
        super().__init__()
        self.policy = dtype_policy

    def make(self, class_name: str, kwargs: dict[str, Any], name: str, last: bool) -> Any:
        # In mixed precision the network's final layer computes in float32, as Keras's mixed
        # precision guide asks, so the softmax and the loss see float32 numbers.
        dtype = "float32" if last else self.policy
        return getattr(layers, class_name)(**kwargs, name=name, dtype=dtype)


def build_model(
    network: specs.Network, dtype_policy: str = "float32", name: str | None = None
) -> keras.Model:
    """A functional Keras model of `network`, uncompiled.

    Layers are named `conv2d_1`, `max_pooling2d_1`, `dense_2`... in order of appearance; the
    layers of the Parallel block `network.layers[i]` are named `block{i}_branch{b}_{kind}_{n}`
    (branches counted from 1), its merge `block{i}_concat` or `block{i}_add`, and its
    activation `block{i}_{activation}`; `keras_layer_names` maps arithmetic rows to them.
    With `dtype_policy="mixed_bfloat16"` every layer computes in bfloat16 except the last,
    which computes in float32, so the model's output is float32. A network the arithmetic
    refuses raises its ValueError unchanged.
    """
    if dtype_policy not in DTYPE_POLICIES:
        raise ValueError(
            f"Unknown precision {dtype_policy!r}; use one of {', '.join(DTYPE_POLICIES)}."
        )
    check_network(network)
    builder = _Builder(dtype_policy)
    inputs = keras.Input(shape=network.input_shape, name="input")
    outputs = builder.stack(inputs, network.layers[1:], path="", last=True)
    if dtype_policy != "float32" and keras.backend.standardize_dtype(outputs.dtype) != "float32":
        # Only reached when the last layer makes no Keras layer of its own (a Parallel of
        # identity branches): cast the output so the loss still sees float32.
        outputs = layers.Activation("linear", dtype="float32", name="output_float32")(outputs)
    model_name = safe_identifier(name if name is not None else network.name)
    return keras.Model(inputs, outputs, name=model_name)


def compile_model(
    model: keras.Model,
    optimizer: str = "adam",
    learning_rate: float = 0.001,
    loss: str = "sparse_categorical_crossentropy",
    metrics: tuple[str, ...] = ("accuracy",),
) -> keras.Model:
    """Compile `model` in place with the training engine's optimizer factory; returns it.

    Use "sparse_categorical_crossentropy" with integer labels (CNN Lab's datasets) and
    "categorical_crossentropy" with one-hot labels (the lecture's listings).
    """
    from cnnlib.training.settings import make_optimizer

    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; use one of {', '.join(LOSSES)}.")
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate), loss=loss, metrics=list(metrics)
    )
    return model


# ---------------------------------------------------------------------------------------------
# Keras's own numbers


def keras_summary_rows(model: keras.Model) -> list[dict[str, Any]]:
    """One row per layer of `model`, with the numbers Keras itself reports.

    Each row: {"name": str, "class": str, "output_shape": tuple (without the batch axis),
    "params": int, "trainable_params": int, "non_trainable_params": int, "dtype": str (the
    layer's compute dtype)}. The input layer is a row (0 parameters) for functional models;
    `keras.Sequential` does not list it.
    """
    rows = []
    for layer in model.layers:
        output = layer.output
        shape = tuple(output.shape[1:]) if not isinstance(output, list) else None
        trainable = sum(int(_size(weight)) for weight in layer.trainable_weights)
        non_trainable = sum(int(_size(weight)) for weight in layer.non_trainable_weights)
        rows.append(
            {
                "name": layer.name,
                "class": type(layer).__name__,
                "output_shape": shape,
                "params": trainable + non_trainable,
                "trainable_params": trainable,
                "non_trainable_params": non_trainable,
                "dtype": layer.compute_dtype,
            }
        )
    return rows


def _size(weight: Any) -> int:
    total = 1
    for dim in weight.shape:
        total *= int(dim)
    return total
