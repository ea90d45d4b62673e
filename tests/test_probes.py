"""The live probe against independent computations: activations from Keras's own layer calls,
filters from the layer's weights, and the test-image stream against known answers."""

import keras
import numpy as np
import pytest
from keras import layers

from cnnlib.probes import LiveProbe, ProbeConfig, to_uint8


def small_colour_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(5, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def test_layer_activations_match_keras_layer_by_layer():
    model = small_colour_model()
    rng = np.random.default_rng(1)
    x_test = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    probe = LiveProbe(x_test, np.zeros(10, dtype=int), ["a", "b", "c"])
    image = rng.random((2, 8, 8, 3), dtype=np.float32)
    result = probe(model, {"x": image, "y": np.array([1, 0]), "step": 0})

    value = image[:1]
    for layer, entry in zip(model.layers, result["layers"], strict=True):
        value = np.asarray(layer(value))
        assert entry["kind"] == layer.__class__.__name__
        assert entry["shape"] == list(value.shape[1:])
        assert entry["min"] == pytest.approx(float(value.min()), rel=1e-5, abs=1e-6)
        assert entry["max"] == pytest.approx(float(value.max()), rel=1e-5, abs=1e-6)
    assert result["image_label"] == "b"
    first, second = result["layers"][0], result["layers"][2]
    assert first["filters"]["colour"] is True and len(first["filters"]["images"]) == 4
    assert first["filters"]["images"][0].shape == (3, 3, 3)
    assert second["filters"]["colour"] is False and second["filters"]["images"][0].shape == (3, 3)
    assert len(first["maps"]) == 4 and first["maps"][0].dtype == np.uint8


class ConstantModel(keras.Model):
    """Always answers class 0 with certainty: a reference whose accuracy is known."""

    def call(self, inputs, training=False):
        batch = keras.ops.shape(inputs)[0]
        return keras.ops.one_hot(keras.ops.zeros((batch,), dtype="int32"), 3)


def test_stream_accuracy_counts_only_the_recent_window():
    x_test = np.zeros((7, 8, 8, 3), dtype=np.uint8)
    y_test = np.array([0, 0, 0, 0, 0, 1, 2])  # the constant model gets 5 of 7 right
    config = ProbeConfig(stream_batch=7, stream_window=14, stream_keep=5)
    probe = LiveProbe(x_test, y_test, ["a", "b", "c"], config)
    model = ConstantModel()
    probe._prepare = lambda model: None  # no layers to look into
    probe._layers, probe._layer_model = [], lambda x, training=False: []
    for step in range(3):
        result = probe(model, {"x": np.zeros((1, 8, 8, 3)), "y": [0], "step": step})
    assert result["stream_count"] == 14
    assert result["stream_accuracy"] == pytest.approx(10 / 14)
    assert len(result["stream"]) == 5
    last = result["stream"][-1]
    assert last["truth"] == "c" and last["correct"] is False
    assert last["top"][0] == ("a", pytest.approx(1.0))


def test_to_uint8_scales_to_the_full_range_and_handles_flat_maps():
    scaled = to_uint8(np.array([[-1.0, 0.0], [1.0, 3.0]]))
    assert scaled.min() == 0 and scaled.max() == 255 and scaled[0, 1] == 64
    assert (to_uint8(np.ones((2, 2))) == 128).all()


def test_empty_test_set_is_refused():
    with pytest.raises(ValueError, match="at least one test image"):
        LiveProbe(np.zeros((0, 8, 8, 3), dtype=np.uint8), np.zeros(0), ["a"])
