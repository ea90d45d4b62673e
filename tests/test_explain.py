"""Explanations against independent references: saliency against finite differences of a
NumPy forward pass in float64; Grad-CAM on hand-built corner detectors whose answer is known,
and against NumPy from the layer's activations and gradients; occlusion on a model that reads
one region only; filter maximisation against random inputs; the top images against a brute
force ranking from Keras's own layer outputs."""

from __future__ import annotations

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from cnnlib import explain
from cnnlib import figures_explain as fx


def conv_valid(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A 'valid' convolution (cross-correlation, as Keras computes it) by NumPy loops."""
    kh, kw, _, filters = kernel.shape
    height, width = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((height, width, filters))
    for row in range(height):
        for col in range(width):
            window = image[row : row + kh, col : col + kw, :]
            out[row, col] = np.tensordot(window, kernel, axes=([0, 1, 2], [0, 1, 2])) + bias
    return out


def smooth_model(ending: str = "dense_softmax", seed: int = 0) -> keras.Model:
    """8×8 grey images → tanh 3×3 convolution (3 filters) → flatten → 3 classes. Smooth
    everywhere (no ReLU kinks), so finite differences are exact to their step."""
    keras.utils.set_random_seed(seed)
    stack = [keras.Input((8, 8, 1)), layers.Conv2D(3, 3, activation="tanh"), layers.Flatten()]
    if ending == "dense_softmax":
        stack.append(layers.Dense(3, activation="softmax"))
    elif ending == "softmax_layer":
        stack += [layers.Dense(3), layers.Activation("softmax")]
    else:  # a model whose outputs are scores already
        stack.append(layers.Dense(3))
    return keras.Sequential(stack)


def numpy_logits(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """The smooth model's logits in float64, from its weights alone."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in model.layers[0].get_weights())
    dense_kernel, dense_bias = (
        np.asarray(w, dtype=np.float64) for w in model.layers[2].get_weights()
    )
    features = np.tanh(conv_valid(image.astype(np.float64), kernel, bias))
    return features.reshape(-1) @ dense_kernel + dense_bias


def test_saliency_equals_finite_differences_of_the_logit():
    model = smooth_model()
    image = np.random.default_rng(0).random((8, 8, 1)).astype(np.float32)
    for class_index in range(3):
        gradient = explain.saliency(model, image, class_index)
        assert gradient.shape == (8, 8, 1) and gradient.dtype == np.float32
        reference = np.zeros((8, 8, 1))
        step = 1e-6
        for row in range(8):
            for col in range(8):
                up, down = image.astype(np.float64), image.astype(np.float64)
                up[row, col, 0] += step
                down[row, col, 0] -= step
                reference[row, col, 0] = (
                    numpy_logits(model, up)[class_index] - numpy_logits(model, down)[class_index]
                ) / (2 * step)
        assert np.abs(reference).max() > 0.05  # a gradient worth comparing
        np.testing.assert_allclose(gradient, reference, atol=1e-3)


@pytest.mark.parametrize("ending", ["dense_softmax", "softmax_layer", "scores"])
def test_the_score_explained_is_the_logit_whatever_the_ending(ending):
    model = smooth_model(ending)
    image = np.random.default_rng(1).random((8, 8, 1)).astype(np.float32)
    logits = numpy_logits(model, image)
    for class_index in range(3):
        assert explain.class_score(model, image, class_index) == pytest.approx(
            logits[class_index], abs=1e-4
        )


def corner_detector_model() -> keras.Model:
    """16×16 grey images. Filter 0 answers only to a '┌' corner (ink along the top and left of
    its 3×3 window), filter 1 only to a '┘' corner; each class's logit is its filter's mean."""
    top_left = np.array([[1, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=np.float32)
    bottom_right = top_left[::-1, ::-1]
    kernel = np.stack([top_left, bottom_right], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)
    # Five inked pixels under the template give 5 − 4.5 > 0; anything less stays at 0.
    bias = np.array([-4.5, -4.5], dtype=np.float32)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(2, 3, padding="same", activation="relu", name="corners"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.get_layer("corners").set_weights([kernel, bias])
    model.layers[-1].set_weights([np.eye(2, dtype=np.float32) * 10, np.zeros(2, np.float32)])
    return model


def corners_image() -> np.ndarray:
    """A '┌' corner near the top left and a '┘' corner near the bottom right."""
    image = np.zeros((16, 16, 1), dtype=np.float32)
    image[2, 2:7] = image[2:7, 2] = 1.0  # ┌ with its vertex at (2, 2)
    image[13, 9:14] = image[9:14, 13] = 1.0  # ┘ with its vertex at (13, 13)
    return image


def test_grad_cam_lights_the_corner_the_class_stands_for():
    model = corner_detector_model()
    image = corners_image()
    for class_index, vertex in ((0, (3, 3)), (1, (12, 12))):
        cam = explain.grad_cam(model, image, class_index)
        assert cam.shape == (16, 16)
        assert np.unravel_index(cam.argmax(), cam.shape) == vertex
        # Nothing anywhere but at that corner's detector position.
        assert np.count_nonzero(cam) == 1


def test_grad_cam_equals_numpy_from_activations_and_gradients():
    # Flatten → Dense: each position has its own gradient, d logit / dA = the Dense weights.
    model = smooth_model()
    image = np.random.default_rng(2).random((8, 8, 1)).astype(np.float32)
    kernel, bias = model.layers[0].get_weights()
    dense_kernel = model.layers[2].get_weights()[0]
    activations = np.tanh(conv_valid(image, kernel, bias))  # (6, 6, 3)
    for class_index in range(3):
        gradients = dense_kernel[:, class_index].reshape(activations.shape)
        weights = gradients.mean(axis=(0, 1))
        expected = np.maximum((activations * weights).sum(axis=2), 0)
        cam = explain.grad_cam(model, image, class_index, upsample=False)
        np.testing.assert_allclose(cam, expected, atol=1e-5)
        full = explain.grad_cam(model, image, class_index)
        resized = tf.image.resize(expected[None, :, :, None], (8, 8), method="bilinear")
        np.testing.assert_allclose(full, np.asarray(resized)[0, :, :, 0], atol=1e-5)


def test_bilinear_upsampling_matches_tensorflow():
    values = np.random.default_rng(3).random((4, 5)).astype(np.float32)
    for size in ((16, 20), (28, 28), (7, 11)):
        expected = tf.image.resize(values[None, :, :, None], size, method="bilinear")
        np.testing.assert_allclose(
            explain.upsample_bilinear(values, size), np.asarray(expected)[0, :, :, 0], atol=1e-5
        )


def region_reader_model() -> keras.Model:
    """16×16 colour images of which only the top-left 8×8 reach the classifier."""
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.Cropping2D(((0, 8), (0, 8))),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def test_occlusion_changes_only_where_the_model_reads():
    model = region_reader_model()
    image = np.random.default_rng(5).random((16, 16, 3)).astype(np.float32)
    drop = explain.occlusion(model, image, 1, patch=4, stride=2)
    assert drop.shape == (16, 16)
    # Patches start at 0, 2, ..., 12; one starting at 6 or before reaches into rows/columns
    # 0..7, and covers up to index 9. Beyond that no covering patch touches the region.
    outside = np.zeros((16, 16), dtype=bool)
    outside[10:, :] = True
    outside[:, 10:] = True
    np.testing.assert_array_equal(drop[outside], 0)
    assert np.abs(drop[:8, :8]).min() > 0
    # The corner pixel is covered by the first patch only: its value is that patch's drop.
    hidden = image.copy()
    hidden[:4, :4] = 0.5
    probabilities = model.predict(np.stack([image, hidden]), verbose=0)
    assert drop[0, 0] == pytest.approx(probabilities[0, 1] - probabilities[1, 1], abs=1e-6)


def test_occlusion_covers_every_pixel_when_the_stride_does_not_fit():
    model = region_reader_model()
    image = np.random.default_rng(6).random((16, 16, 3)).astype(np.float32)
    # Patches of 5 every 4 pixels start at 0, 4, 8 and, so that the edge is covered, 11.
    drop = explain.occlusion(model, image, 0, patch=5, stride=4)
    assert np.isfinite(drop).all()
    with pytest.raises(ValueError, match="patch side"):
        explain.occlusion(model, image, 0, patch=17, stride=1)


def two_conv_model(seed: int = 7) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            layers.Conv2D(4, 3, activation="relu", name="first"),
            layers.Conv2D(6, 3, activation="relu", name="second"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )


def mean_activations(model: keras.Model, layer_name: str, images: np.ndarray) -> np.ndarray:
    """(images, filters): each filter's mean output, from Keras's own layer output."""
    exposer = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
    return np.asarray(exposer(images)).mean(axis=(1, 2))


def test_filter_maximisation_excites_each_filter_far_above_random_inputs():
    model = two_conv_model()
    maximised = explain.maximise_filters(model, "second", steps=40)
    assert maximised.shape == (6, 12, 12, 3)
    assert maximised.min() >= 0 and maximised.max() <= 1
    random_inputs = np.random.default_rng(8).random((32, 12, 12, 3)).astype(np.float32)
    random_means = mean_activations(model, "second", random_inputs)
    own_means = mean_activations(model, "second", maximised)
    for filter_index in range(6):
        best_random = random_means[:, filter_index].max()
        assert own_means[filter_index, filter_index] > 2 * best_random
    single = explain.maximise_filter(model, "second", 2, steps=40)
    assert single.shape == (12, 12, 3)


def test_filter_results_are_cached_per_model_and_weights():
    model = two_conv_model()
    images = np.random.default_rng(9).random((20, 12, 12, 3)).astype(np.float32)
    short = explain.AscentSettings(steps=5)
    assert not explain.cached_filter_views(model, "first", images, settings=short)
    first = explain.maximise_filters(model, "first", settings=short)
    assert not explain.cached_filter_views(model, "first", images, settings=short)
    explain.top_images(model, "first", images)
    assert explain.cached_filter_views(model, "first", images, settings=short)
    assert not explain.cached_filter_views(model, "first", images)  # other settings
    np.testing.assert_array_equal(explain.maximise_filters(model, "first", steps=5), first)
    # Training on changes the weights: the cached pictures no longer describe the model.
    kernel, bias = model.get_layer("first").get_weights()
    model.get_layer("first").set_weights([-kernel, bias])
    assert not explain.cached_filter_views(model, "first", images, settings=short)
    assert not np.allclose(explain.maximise_filters(model, "first", steps=5), first)
    # Only the results for the weights the model has now are kept.
    assert len(explain._caches[model].results) == 1


def test_top_images_are_the_strongest_responses_from_keras_outputs():
    model = two_conv_model()
    images = np.random.default_rng(10).random((30, 12, 12, 3)).astype(np.float32)
    indices, values = explain.top_images(model, "first", images, k=9)
    assert indices.shape == (4, 9) and values.shape == (4, 9)
    exposer = keras.Model(model.inputs[0], model.get_layer("first").output)
    strongest = np.asarray(exposer(images)).max(axis=(1, 2))  # (images, filters)
    for filter_index in range(4):
        expected = np.argsort(-strongest[:, filter_index], kind="stable")[:9]
        np.testing.assert_array_equal(indices[filter_index], expected)
        np.testing.assert_allclose(
            values[filter_index], strongest[expected, filter_index], rtol=1e-5
        )


def test_the_cache_lets_a_model_go():
    model = two_conv_model()
    explain.saliency(model, np.zeros((12, 12, 3), np.float32), 0)
    explain.maximise_filters(model, "first", steps=2)
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


def test_bad_requests_say_what_to_change():
    model = two_conv_model()
    image = np.zeros((12, 12, 3), np.float32)
    with pytest.raises(ValueError, match="out of range"):
        explain.saliency(model, image, 5)
    with pytest.raises(ValueError, match="choose one of first, second"):
        explain.grad_cam(model, image, 0, layer_name="dense")
    with pytest.raises(ValueError, match="one image at a time"):
        explain.saliency(model, np.zeros((2, 12, 12, 3), np.float32), 0)
    with pytest.raises(ValueError, match="between 0 and 3"):
        explain.maximise_filters(model, "first", [4])
    no_conv = keras.Sequential([keras.Input((4, 4, 1)), layers.Flatten(), layers.Dense(2)])
    with pytest.raises(ValueError, match="has none"):
        explain.grad_cam(no_conv, np.zeros((4, 4, 1), np.float32), 0)


def test_overlay_blends_the_stated_colour_scale_over_the_image():
    image = np.full((28, 28), 0.5, dtype=np.float32)
    heat = np.zeros((28, 28))
    heat[3, 4] = 2.0  # the strongest value: the top of the scale
    heat[5, 6] = 1.0  # half-way
    out = fx.overlay_rgb(image, heat, scale=fx.SALIENCY_SCALE, opacity=0.5)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8  # 8× enlarged, square pixels
    table = fx.colour_table(fx.SALIENCY_SCALE)
    grey = np.array([128, 128, 128])
    for (row, col), level in (((3, 4), 255), ((5, 6), 128), ((0, 0), 0)):
        expected = np.round(0.5 * grey + 0.5 * table[level])
        np.testing.assert_allclose(out[row * 8 + 3, col * 8 + 3], expected, atol=1)
    # Signed maps centre the scale on 0: zero is the diverging scale's white middle, and
    # −1 (as far below 0 as the largest value, 1, is above) is its blue end.
    signed = fx.overlay_rgb(image, heat - 1.0, scale=fx.OCCLUSION_SCALE, signed=True, opacity=1)
    diverging = fx.colour_table(fx.OCCLUSION_SCALE)
    np.testing.assert_array_equal(signed[5 * 8, 6 * 8], diverging[128])
    np.testing.assert_array_equal(signed[12 * 8, 12 * 8], diverging[0])
    with pytest.raises(ValueError, match="must match"):
        fx.overlay_rgb(image, np.zeros((14, 14)))


def test_bigger_maps_show_every_channel_on_one_stated_scale():
    maps = np.random.default_rng(11).random((5, 6, 64)) * np.arange(64)  # channels differ
    figure = fx.layer_maps_figure(maps, "conv2d_2")
    heatmap = figure.data[0]
    grid, index = np.asarray(heatmap.z, dtype=float), np.asarray(heatmap.customdata)
    assert index.max() == 63  # all 64 channels, not the first 32
    assert heatmap.zmin == pytest.approx(maps.min()) and heatmap.zmax == pytest.approx(maps.max())
    for channel in (0, 17, 63):
        cells = grid[index == channel].reshape(5, 6)
        np.testing.assert_allclose(cells, maps[:, :, channel])  # raw values, not rescaled
    assert "all 64 channels" in figure.layout.title.text
    assert heatmap.colorbar.title.text == "activation value"

    kernel = np.random.default_rng(12).normal(size=(3, 3, 2, 40))
    filters = fx.layer_filters_figure(kernel, "conv2d_1", input_channel=1)
    reach = np.abs(kernel[:, :, 1, :]).max()
    assert filters.data[0].zmin == pytest.approx(-reach)
    assert filters.data[0].zmax == pytest.approx(reach)
    assert np.asarray(filters.data[0].customdata).max() == 39


def test_saliency_of_a_model_without_convolutions_is_its_weights():
    """With no convolution to tap, the class logit of Flatten → Dense is linear in the pixels:
    its gradient is the Dense kernel's column for that class, whatever the image."""
    import keras
    from keras import layers

    from cnnlib import explain

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), layers.Flatten(), layers.Dense(3, activation="softmax")]
    )
    kernel = model.layers[-1].get_weights()[0]
    image = np.random.default_rng(3).random((4, 4, 1), dtype=np.float32)
    gradient = explain.saliency(model, image, 2)
    np.testing.assert_allclose(gradient.reshape(-1), kernel[:, 2], rtol=1e-5, atol=1e-6)
