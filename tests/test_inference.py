"""Inference against independent references: Keras's own `model.predict` for probabilities and
a NumPy loop for convolution feature maps. Scores are tested in `test_metrics.py`."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from cnnlib import inference  # noqa: E402


def small_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 1))
    x = layers.Conv2D(3, 3, activation="relu", name="conv_a")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(2, 3, activation="relu", name="conv_b")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(4, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    # Random biases, so the reference has to add them to agree.
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.random.default_rng(seed).normal(0, 0.1, bias.shape)])
    return model


def numpy_conv_relu(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Valid cross-correlation, stride 1, then ReLU: the textbook loop."""
    kh, kw, _, filters = kernel.shape
    height, width = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((height, width, filters))
    for row in range(height):
        for col in range(width):
            window = image[row : row + kh, col : col + kw, :]
            for f in range(filters):
                out[row, col, f] = (window * kernel[:, :, :, f]).sum() + bias[f]
    return np.maximum(out, 0)


def numpy_max_pool(volume: np.ndarray) -> np.ndarray:
    height, width = volume.shape[0] // 2, volume.shape[1] // 2
    return volume[: height * 2, : width * 2].reshape(height, 2, width, 2, -1).max(axis=(1, 3))


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).integers(0, 256, size=(80, 12, 12), dtype=np.uint8)


def test_probabilities_match_keras_predict(model, images):
    reference = model.predict(images[..., None].astype(np.float32) / 255, verbose=0)
    # Many images: the batched path.
    np.testing.assert_allclose(inference.predict_proba(model, images), reference, atol=1e-5)
    # One image, without batch or channel axis: the direct path.
    one = inference.predict_proba(model, images[3])
    assert one.shape == (1, 4) and one.dtype == np.float32
    np.testing.assert_allclose(one[0], reference[3], atol=1e-5)
    # Floats are taken as already scaled to 0..1, other integers as pixel values.
    floats = images[:5, :, :, None].astype(np.float32) / 255
    np.testing.assert_allclose(inference.predict_proba(model, floats), reference[:5], atol=1e-5)
    wide = images[:5].astype(np.int64)
    np.testing.assert_allclose(inference.predict_proba(model, wide), reference[:5], atol=1e-5)
    assert np.allclose(inference.predict_proba(model, images[:5]).sum(axis=1), 1, atol=1e-5)


def test_wrong_image_shape_is_refused_with_a_message(model):
    with pytest.raises(ValueError, match=r"reads images of shape \(12, 12, 1\)"):
        inference.predict_proba(model, np.zeros((28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8 or float"):
        inference.predict_proba(model, np.array([["a"] * 12] * 12))


def test_feature_maps_match_a_numpy_convolution(model, images):
    image = images[0].astype(np.float64)[:, :, None] / 255
    maps = inference.feature_maps(model, images[0])
    assert [name for name, _ in maps] == ["conv_a", "conv_b"]
    first = numpy_conv_relu(image, *model.get_layer("conv_a").get_weights())
    second = numpy_conv_relu(numpy_max_pool(first), *model.get_layer("conv_b").get_weights())
    assert maps[0][1].shape == (10, 10, 3) and maps[1][1].shape == (3, 3, 2)
    np.testing.assert_allclose(maps[0][1], first, atol=1e-5)
    np.testing.assert_allclose(maps[1][1], second, atol=1e-5)


def test_feature_maps_of_a_model_without_convolutions_are_empty():
    model = keras.Sequential([keras.Input((4, 4, 1)), layers.Flatten(), layers.Dense(2)])
    assert inference.feature_maps(model, np.zeros((4, 4), dtype=np.uint8)) == []


def test_cached_functions_do_not_keep_a_model_alive(images):
    model = small_model(seed=5)
    inference.predict_proba(model, images[0])
    inference.feature_maps(model, images[0])
    assert model in inference._feature_models and model in inference._forward_passes
    # The second call reuses the sub-model built by the first.
    exposer = inference._feature_models[model]
    inference.feature_maps(model, images[1])
    assert inference._feature_models[model] is exposer
    reference = weakref.ref(model)
    del model, exposer
    gc.collect()
    assert reference() is None


def test_a_retrained_model_is_read_with_its_new_weights(images):
    model = small_model(seed=2)
    before = inference.predict_proba(model, images[0])
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + np.array([5.0, 0, 0, 0])])
    after = inference.predict_proba(model, images[0])
    assert after[0].argmax() == 0 and not np.allclose(before, after)


def test_after_warm_up_the_first_image_is_read_without_tracing(images):
    model = small_model(seed=3)
    inference.warm_up(model)
    forward = inference._forward_passes[model]
    exposer_forward = inference._forward_passes[inference._feature_models[model]]
    traced = forward.experimental_get_tracing_count()
    assert traced == 1 and exposer_forward.experimental_get_tracing_count() == 1
    inference.warm_up(model)  # a second warm-up does nothing
    probabilities = inference.predict_proba(model, images[0])
    maps = inference.feature_maps(model, images[0])
    assert forward.experimental_get_tracing_count() == traced
    assert exposer_forward.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(
        probabilities, model.predict(images[:1] / 255.0, verbose=0), atol=1e-6
    )
    assert [name for name, _ in maps] == ["conv_a", "conv_b"]
