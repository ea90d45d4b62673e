"""Tests of cnnlib.build against Keras itself and against cnnlib.arithmetic.

The references are independent of the code under test: the parameter counts and shapes that
`cnnlib.arithmetic` works out without TensorFlow, the layer configurations Keras reports for
the model built from the exported source, and TensorFlow's own gradient registry.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import layers as L
from cnnlib.arithmetic import analyse
from cnnlib.build import (
    build_model,
    compile_model,
    keras_code,
    keras_layer_names,
    keras_summary_rows,
)
from cnnlib.registry import REGISTRY
from cnnlib.training.settings import avoid_graph_leak, make_optimizer

# Building the 60-140 million parameter case studies (AlexNet, VGG-16, ResNet-50) allocates
# gigabytes; the arithmetic's own cross-check covers them. Everything smaller is built here.
SMALL_ENOUGH = 15_000_000
SMALL_ENTRIES = [
    key for key, entry in REGISTRY.items() if analyse(entry.network).total_params <= SMALL_ENOUGH
]

# Hand-made networks that exercise every argument the export may leave out or must keep.
EDGE_CASES = {
    "pool strides differ from window": L.Network(
        "pool strides",
        (
            L.Input((12, 10, 2)),
            L.Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation=None, use_bias=False),
            L.MaxPooling2D((2, 2), strides=(1, 1)),
            L.AveragePooling2D((3, 3), strides=(2, 2), padding="same"),
            L.ZeroPadding2D(((1, 0), (2, 1))),
            L.BatchNormalization(),
            L.Activation("tanh"),
            L.GlobalMaxPooling2D(),
            L.Dense(4, activation="softmax", use_bias=False),
        ),
    ),
    "vector input": L.Network(
        "vector",
        (
            L.Input((20,)),
            L.Dense(7, activation="gelu"),
            L.Dropout(0.3),
            L.Dense(3, activation=None),
        ),
    ),
    "nested and identity branches": L.Network(
        "nested",
        (
            L.Input((9, 9, 3)),
            L.Conv2D(4, 3, padding="same"),
            L.Parallel(
                branches=(
                    (
                        L.Conv2D(4, 1),
                        L.Parallel(branches=((L.Conv2D(4, 3, padding="same"),), ()), merge="add"),
                    ),
                    (),
                ),
                merge="add",
                activation="relu",
                name="residual",
            ),
            L.Parallel(branches=((L.Conv2D(2, 1),), (L.MaxPooling2D(3, 1, "same"),)), name="mix"),
            L.Parallel(branches=((L.Conv2D(5, 1),),), name="single branch"),
            L.Flatten(),
            L.Dense(6, activation="softmax"),
        ),
    ),
}


def run_exported(code: str):
    namespace: dict = {}
    exec(compile(code, "<exported>", "exec"), namespace)
    return namespace["model"]


def layer_settings(model) -> list[tuple[str, dict]]:
    """Each layer's class and Keras config without the names and dtypes CNN Lab chooses."""
    out = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        config = {
            key: value
            for key, value in layer.get_config().items()
            if key not in ("name", "dtype", "trainable")
        }
        out.append((type(layer).__name__, config))
    return out


# --- parameter counts: build, export and arithmetic agree ------------------------------------


@pytest.mark.parametrize("key", SMALL_ENTRIES)
def test_registry_entry_builds_and_exports_with_the_arithmetic_count(key):
    network = REGISTRY[key].network
    expected = analyse(network).total_params
    model = build_model(network)
    assert model.count_params() == expected
    assert run_exported(keras_code(network, "functional")).count_params() == expected
    if not any(isinstance(layer, L.Parallel) for layer in network.layers):
        assert run_exported(keras_code(network, "sequential")).count_params() == expected


@pytest.mark.parametrize("key", SMALL_ENTRIES)
def test_every_arithmetic_row_matches_its_keras_layer(key):
    network = REGISTRY[key].network
    model = build_model(network)
    names = keras_layer_names(network)
    for row in analyse(network).all_rows():
        layer = model.get_layer(names[row.path])
        assert tuple(layer.output.shape[1:]) == row.output_shape, row.path
        if row.kind != "Parallel":  # a block's merge layer has none of its branches' weights
            assert layer.count_params() == row.params, row.path


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_exported_code_builds_the_same_layers_as_build_model(case):
    network = EDGE_CASES[case]
    built = build_model(network)
    functional = run_exported(keras_code(network, "functional"))
    assert layer_settings(functional) == layer_settings(built)
    assert functional.count_params() == built.count_params() == analyse(network).total_params
    if not any(isinstance(layer, L.Parallel) for layer in network.layers):
        sequential = run_exported(keras_code(network, "sequential"))
        assert layer_settings(sequential) == layer_settings(built)


def test_exported_code_reads_like_the_lecture():
    code = keras_code(REGISTRY["mnist_two_conv"].network, "sequential")
    assert code.startswith("# ")
    assert "import keras\nfrom keras import layers\n" in code
    assert 'layers.Conv2D(32, kernel_size=(3, 3), activation="relu")' in code
    assert "layers.Dropout(0.25)" in code
    assert 'layers.Dense(10, activation="softmax")' in code
    assert "strides" not in code and "padding" not in code  # Keras's defaults are left out


def test_sequential_export_of_a_branched_network_says_to_use_functional():
    with pytest.raises(ValueError, match="functional"):
        keras_code(EDGE_CASES["nested and identity branches"], "sequential")
    with pytest.raises(ValueError, match="'sequential' or 'functional'"):
        keras_code(EDGE_CASES["vector input"], "subclassed")


def test_a_network_name_cannot_inject_code_into_the_export():
    network = L.Network(
        'evil"\nimport os\nraise SystemExit("ran")', EDGE_CASES["vector input"].layers
    )
    model = run_exported(keras_code(network, "functional"))
    assert model.name == "evil_import_os_raise_SystemExit_ran"
    assert "\nimport os" not in keras_code(network, "sequential")


# --- errors come from the arithmetic, not from Keras -----------------------------------------


def test_impossible_network_raises_the_arithmetic_message():
    network = L.Network("bad", (L.Input((3, 3, 1)), L.Conv2D(4, 5), L.Flatten(), L.Dense(2)))
    with pytest.raises(ValueError) as from_arithmetic:
        analyse(network)
    for call in (build_model, keras_code, keras_layer_names):
        with pytest.raises(ValueError) as from_build:
            call(network)
        assert str(from_build.value) == str(from_arithmetic.value)
    assert "Layer 1" in str(from_arithmetic.value)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        build_model(EDGE_CASES["vector input"], dtype_policy="float16")


# --- names -----------------------------------------------------------------------------------


def test_layer_names_are_unique_and_readable():
    model = build_model(REGISTRY["googlenet"].network)
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    convs = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs[:3] == ["conv2d_1", "conv2d_2", "conv2d_3"]
    assert any(name.startswith("block") and "_branch2_conv2d_" in name for name in convs)
    mnist = build_model(REGISTRY["mnist_two_conv"].network)
    assert [layer.name for layer in mnist.layers][:3] == ["input", "conv2d_1", "max_pooling2d_1"]


def test_model_name_defaults_to_a_safe_form_of_the_network_name():
    network = REGISTRY["mnist_two_conv"].network
    assert build_model(network, name="my model/1").name == "my_model_1"
    assert "/" not in build_model(network).name


# --- mixed precision -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "network",
    [
        REGISTRY["mnist_two_conv"].network,
        EDGE_CASES["nested and identity branches"],
        # Ends in a block of identity branches, which makes no layer of its own.
        L.Network(
            "identity end",
            (L.Input((6,)), L.Dense(3), L.Parallel(branches=((), ()), merge="add")),
        ),
    ],
    ids=["lecture", "branches", "identity end"],
)
def test_mixed_precision_computes_in_bfloat16_and_outputs_float32(network):
    model = build_model(network, dtype_policy="mixed_bfloat16")
    with_weights = [layer for layer in model.layers if layer.weights]
    assert all(layer.compute_dtype == "bfloat16" for layer in with_weights[:-1])
    assert all(weight.dtype == "float32" for weight in model.weights)  # variables stay float32
    assert model.layers[-1].compute_dtype == "float32"
    batch = np.random.default_rng(0).random((2, *network.input_shape), dtype=np.float32)
    assert model.predict(batch, verbose=0).dtype == np.float32


def test_mixed_precision_model_trains_to_a_finite_loss():
    network = L.Network(
        "tiny",
        (L.Input((8, 8, 1)), L.Conv2D(4, 3), L.Flatten(), L.Dense(3, activation="softmax")),
    )
    model = compile_model(build_model(network, dtype_policy="mixed_bfloat16"))
    rng = np.random.default_rng(1)
    history = model.fit(
        rng.random((32, 8, 8, 1), dtype=np.float32), rng.integers(0, 3, 32), epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])


# --- Keras's own summary ---------------------------------------------------------------------


def test_summary_rows_carry_keras_numbers():
    network = EDGE_CASES["pool strides differ from window"]
    model = build_model(network)
    rows = keras_summary_rows(model)
    assert [row["name"] for row in rows] == [layer.name for layer in model.layers]
    assert sum(row["params"] for row in rows) == model.count_params()
    by_class = {row["class"]: row for row in rows}
    # Batch normalisation over 3 channels: scale and offset train, moving mean and variance do not.
    assert by_class["BatchNormalization"]["trainable_params"] == 6
    assert by_class["BatchNormalization"]["non_trainable_params"] == 6
    analysis = {row.path: row for row in analyse(network).all_rows()}
    names = keras_layer_names(network)
    for path, name in names.items():
        [row] = [row for row in rows if row["name"] == name]
        assert row["output_shape"] == analysis[path].output_shape
        assert row["params"] == analysis[path].params
    assert rows[0]["class"] == "InputLayer" and rows[0]["params"] == 0


# --- compiling, and the leak it avoids --------------------------------------------------------


def test_compile_model_sets_the_optimizer_and_learning_rate():
    model = compile_model(
        build_model(EDGE_CASES["vector input"]), optimizer="sgd", learning_rate=0.05
    )
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    for bad in (
        {"optimizer": "adamw2"},
        {"learning_rate": 0},
        {"learning_rate": "fast"},
        {"loss": "mse"},
    ):
        with pytest.raises(ValueError):
            compile_model(build_model(EDGE_CASES["vector input"]), **bad)


def _custom_gradients() -> int:
    from tensorflow.python.framework import ops

    return sum(name.startswith("CustomGradient") for name in ops.gradient_registry.list())


def test_training_leaves_no_graph_in_tensorflow_gradient_registry():
    rng = np.random.default_rng(2)
    x = rng.random((64, 20), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)  # learnable: the class is the first feature's side
    network = L.Network("toy", (L.Input((20,)), L.Dense(2, activation="softmax")))

    before = _custom_gradients()
    model = compile_model(build_model(network), learning_rate=0.1)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history
    assert _custom_gradients() == before
    assert history["loss"][-1] < history["loss"][0]  # skipping the all-reduce still learns

    # Keras's own optimizer does register one per traced step: the leak this avoids.
    plain = build_model(network)
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    plain.fit(x, y, epochs=1, verbose=0)
    assert _custom_gradients() > before, "TensorFlow no longer leaks; avoid_graph_leak can go"


def test_avoid_graph_leak_changes_only_the_instance():
    import keras

    optimizer = avoid_graph_leak(keras.optimizers.Adam())
    assert "_all_reduce_sum_gradients" in vars(optimizer)
    assert "_all_reduce_sum_gradients" not in vars(keras.optimizers.Adam())
    assert type(make_optimizer("rmsprop", 0.01)).__name__ == "RMSprop"
    saved = {k: v for k, v in optimizer.get_config().items() if k != "name"}
    assert saved == {k: v for k, v in keras.optimizers.Adam().get_config().items() if k != "name"}
