"""The live probe against independent computations: activations from Keras's own layer calls,
filters from the layer's weights, the test-image stream against known answers, and the live
gradients against backpropagation worked out by hand in NumPy."""

import keras
import numpy as np
import pytest
from keras import layers

from cnnlib.probes import LiveProbe, ProbeConfig, signed_to_uint8, to_uint8


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


def gradient_model(seed=3):
    """6×6×2 images → ReLU 3×3 convolution (3 filters) → flatten → softmax over 3 classes."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def backpropagation_by_hand(model, image, label):
    """Cross-entropy's gradients for the gradient model, by the chain rule in NumPy float64."""
    kernel, bias = (np.asarray(w, np.float64) for w in model.layers[0].get_weights())
    dense_kernel, dense_bias = (np.asarray(w, np.float64) for w in model.layers[2].get_weights())
    x = image.astype(np.float64)
    pre = np.zeros((4, 4, 3))
    for row in range(4):
        for col in range(4):
            window = x[row : row + 3, col : col + 3, :]
            pre[row, col] = np.tensordot(window, kernel, axes=([0, 1, 2], [0, 1, 2])) + bias
    features = np.maximum(pre, 0)
    logits = features.reshape(-1) @ dense_kernel + dense_bias
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    target = np.eye(3)[label]
    d_logits = probabilities - target
    d_probabilities = -target / probabilities  # d(−log p_label) / d p
    d_flat = dense_kernel @ d_logits
    d_features = d_flat.reshape(4, 4, 3)
    d_pre = d_features * (pre > 0)
    d_kernel = np.zeros_like(kernel)
    for row in range(4):
        for col in range(4):
            d_kernel += x[row : row + 3, col : col + 3, :, None] * d_pre[row, col][None, None, None]
    return {
        "loss": -np.log(probabilities[label]),
        "outputs": [d_features, d_flat, d_probabilities],
        "weights": [
            np.concatenate([d_kernel.ravel(), d_pre.sum(axis=(0, 1))]),
            None,
            np.concatenate([np.outer(features.reshape(-1), d_logits).ravel(), d_logits]),
        ],
        "values": [np.concatenate([kernel.ravel(), bias]), None, None],
    }


def test_live_gradients_equal_backpropagation_by_hand():
    model = gradient_model()
    rng = np.random.default_rng(4)
    image = rng.random((1, 6, 6, 2), dtype=np.float32)
    probe = LiveProbe(rng.integers(0, 256, (4, 6, 6, 2), dtype=np.uint8), np.zeros(4), "abc")
    result = probe(model, {"x": image, "y": np.array([2]), "step": 7})
    expected = backpropagation_by_hand(model, image[0], 2)
    assert result["probe_loss"] == pytest.approx(expected["loss"], rel=1e-5)
    for entry, gradient in zip(result["layers"], expected["outputs"], strict=True):
        assert entry["grad_min"] == pytest.approx(gradient.min(), rel=1e-4, abs=1e-6)
        assert entry["grad_max"] == pytest.approx(gradient.max(), rel=1e-4, abs=1e-6)
    for entry, gradient in zip(result["layers"], expected["weights"], strict=True):
        if gradient is None:
            assert "weight_grad_min" not in entry
            continue
        assert entry["weight_grad_min"] == pytest.approx(gradient.min(), rel=1e-4, abs=1e-6)
        assert entry["weight_grad_max"] == pytest.approx(gradient.max(), rel=1e-4, abs=1e-6)
    conv = result["layers"][0]
    assert conv["weight_min"] == pytest.approx(expected["values"][0].min())
    assert conv["weight_max"] == pytest.approx(expected["values"][0].max())
    # The gradient maps sit beside the activation maps, one per channel, 0 at mid-grey.
    assert len(conv["grad_maps"]) == len(conv["maps"]) == 3
    for channel, picture in enumerate(conv["grad_maps"]):
        reference = expected["outputs"][0][:, :, channel]
        reach = np.abs(reference).max()
        np.testing.assert_allclose(
            (picture.astype(float) - 128) / 127 * reach, reference, atol=reach / 100
        )
    assert result["layers"][2]["grad_vector"] == pytest.approx(expected["outputs"][2], rel=1e-4)
    # What was there before is still there.
    assert {"name", "kind", "shape", "min", "max", "maps", "filters"} <= set(conv)


def test_gradients_can_be_switched_off():
    model = gradient_model()
    rng = np.random.default_rng(5)
    x_test = rng.integers(0, 256, (4, 6, 6, 2), dtype=np.uint8)
    probe = LiveProbe(x_test, np.zeros(4), "abc", ProbeConfig(gradients=False))
    result = probe(model, {"x": rng.random((1, 6, 6, 2), dtype=np.float32), "y": [0]})
    assert "probe_loss" not in result
    assert not any(key.startswith(("grad", "weight_grad")) for key in result["layers"][0])


def test_signed_maps_put_zero_at_mid_grey():
    scaled = signed_to_uint8(np.array([[-2.0, 0.0], [1.0, 2.0]]))
    np.testing.assert_array_equal(scaled, [[1, 128], [192, 255]])
    assert (signed_to_uint8(np.zeros((2, 2))) == 128).all()
