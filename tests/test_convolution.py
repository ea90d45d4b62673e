"""The hand-worked convolution and pooling against SciPy's correlate2d and against Keras's own
Conv2D, MaxPooling2D and AveragePooling2D layers with the same weights; the rest of the
convolution family (dilated, transposed, depthwise, separable, upsampling) against Keras's
layers of the same names and, for the transposed convolution, against its definition as the
adjoint of a convolution."""

import numpy as np
import pytest
from scipy import signal

from cnnlib import arithmetic as ar
from cnnlib import convolution as cv


def rng_image(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize(
    "shape, kernel_shape, stride",
    [((7, 7), (3, 3), 1), ((7, 9), (3, 3), 2), ((8, 6), (2, 3), (2, 3)), ((5, 5), (5, 5), 1)],
)
def test_valid_matches_scipy_correlate2d_subsampled(shape, kernel_shape, stride):
    image, kernel = rng_image(shape, 1), rng_image(kernel_shape, 2)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    expected = signal.correlate2d(image, kernel, mode="valid")[::sh, ::sw]
    result = cv.convolve2d(image, kernel, stride=stride, padding="valid")
    np.testing.assert_allclose(result.feature_map(), expected, atol=1e-12)


def test_same_stride_one_matches_scipy_for_odd_kernels():
    image, kernel = rng_image((6, 9), 3), rng_image((3, 5), 4)
    expected = signal.correlate2d(image, kernel, mode="same", boundary="fill")
    result = cv.convolve2d(image, kernel, padding="same")
    np.testing.assert_allclose(result.feature_map(), expected, atol=1e-12)


def test_multichannel_filter_is_the_sum_of_per_channel_correlations():
    image, kernels = rng_image((6, 6, 3), 5), rng_image((3, 3, 3, 2), 6)
    result = cv.convolve2d(image, kernels, bias=[0.5, -1.0])
    assert result.output.shape == (4, 4, 2)  # one feature map per filter
    for f, bias in enumerate([0.5, -1.0]):
        expected = sum(
            signal.correlate2d(image[:, :, c], kernels[:, :, c, f], mode="valid") for c in range(3)
        )
        np.testing.assert_allclose(result.feature_map(f), expected + bias, atol=1e-12)
    step = result.step(2, 1, 1)
    np.testing.assert_allclose(step.channel_sums.sum() + step.bias, result.output[2, 1, 1])
    assert step.field.shape == (3, 3, 3)  # the filter spans all three channels


def test_step_writes_out_the_multiply_and_sum():
    image = np.arange(16).reshape(4, 4)
    result = cv.convolve2d(image, [[1, 0], [0, -1]], stride=2)
    step = result.step(1, 1)
    assert (step.rows, step.cols) == ((2, 4), (2, 4))
    assert step.formula() == "10·1 + 11·0 + 14·0 + 15·(−1) = −5"
    assert step.value == -5
    long = cv.convolve2d(np.ones((5, 5)), np.ones((5, 5))).step(0, 0).formula(max_terms=6)
    assert long.count("·") == 5 and "…" in long and long.endswith("= 25")


def test_same_padding_splits_like_keras_and_shows_in_the_formula():
    assert cv.axis_padding(8, 3, 2, "same") == (0, 1)  # the odd zero goes after
    assert cv.axis_padding(7, 4, 1, "same") == (1, 2)
    assert cv.output_size(28, 3, 1, "same") == 28
    # The slides' formulas are the explorer's: one writer, `arithmetic.size_formula`.
    assert cv.check_tiling(28, 3, 1).formulas == ("(28 − 3 + 2·0) / 1 + 1 = 26",) * 2
    same = cv.check_tiling(8, 3, 2, "same").formulas[0]
    assert same == "⌈8 / 2⌉ = 4 ('same' pads 0 before, 1 after)"
    assert cv.check_tiling(8, 3, 2).formulas[0] == "⌊(8 − 3 + 2·0) / 2⌋ + 1 = ⌊2.5⌋ + 1 = 3"
    assert cv.check_tiling((8, 7), 4, 1, "same").formulas == (
        "⌈8 / 1⌉ = 8 ('same' pads 1 before, 2 after)",
        "⌈7 / 1⌉ = 7 ('same' pads 1 before, 2 after)",
    )
    assert cv.check_tiling(2, 3).formulas[0] == (
        "(2 − 3 + 2·0) / 1 + 1 < 1: the 3-wide window does not fit in 2"
    )
    for size, kernel, stride, padding in ((28, 5, 2, "valid"), (7, 3, 2, "same")):
        tiling = cv.check_tiling(size, kernel, stride, padding)
        assert tiling.formulas[0] == ar.size_formula(size, kernel, stride, padding)


def test_tiling_names_the_division_and_the_rows_never_covered():
    # Moved from the layer arithmetic's own tiling text, now that this is the only one.
    assert cv.check_tiling(28, 3, 1).tiles and cv.check_tiling(7, 3, 2).tiles
    problem = cv.check_tiling(28, 5, 2).problem
    assert "(28 − 5) / 2 = 11.5 is not whole" in problem
    assert "last row and column" in problem and "Keras floors to 12" in problem
    assert cv.check_tiling(28, 5, 2).unused == (1, 1)


def test_combinations_that_do_not_tile_are_refused_with_a_reason_and_sizes_that_tile():
    tiling = cv.check_tiling(8, 3, 2)
    assert not tiling.tiles and tiling.output_size == (3, 3) and tiling.unused == (1, 1)
    assert "(8 − 3) / 2 = 2.5 is not whole" in tiling.problem
    assert "7 or 9" in tiling.problem and "'same' padding" in tiling.problem
    for size in cv.suggestions(8, 3, 2)["sizes"]:
        assert cv.check_tiling(size, 3, 2).tiles
    with pytest.raises(ValueError, match="not whole"):
        cv.convolve2d(np.ones((8, 8)), np.ones((3, 3)), stride=2)
    with pytest.raises(ValueError, match="does not fit"):
        cv.convolve2d(np.ones((2, 2)), np.ones((3, 3)))
    assert cv.check_tiling(7, 3, 2).tiles and cv.check_tiling(8, 3, 2, "same").tiles
    # Keras floors instead: strict=False does the same and drops the last row and column.
    floored = cv.convolve2d(np.ones((8, 8)), np.ones((3, 3)), stride=2, strict=False)
    assert floored.output.shape == (3, 3, 1)
    assert "columns" in cv.check_tiling((7, 8), 3, 2).problem
    assert "rows" not in cv.check_tiling((7, 8), 3, 2).problem


def test_pooling_matches_block_reductions_and_explains_each_window():
    image = rng_image((6, 4, 2), 7)
    blocks = image.reshape(3, 2, 2, 2, 2)
    np.testing.assert_allclose(cv.pool2d(image, 2).output, blocks.max(axis=(1, 3)))
    np.testing.assert_allclose(cv.pool2d(image, 2, mode="avg").output, blocks.mean(axis=(1, 3)))
    grid = np.arange(16).reshape(4, 4)
    window = cv.pool2d(grid, 2).window(1, 0)
    assert window.formula() == "max(8, 9, 12, 13) = 13" and window.source == (3, 1)
    assert cv.pool2d(grid, 2, mode="avg").window(1, 0).formula() == "(8 + 9 + 12 + 13) / 4 = 10.5"
    with pytest.raises(ValueError, match="not whole"):
        cv.pool2d(np.ones((5, 5)), 2)
    assert cv.pool2d(np.ones((5, 5)), 2, strict=False).output.shape == (2, 2, 1)


def test_classic_kernels_respond_where_they_should():
    step = np.zeros((9, 9))
    step[:, 5:] = 1.0  # a vertical edge between columns 4 and 5
    maps = {m.kernel.key: m for m in cv.activation_maps(step, ["sobel_x", "sobel_y", "box_blur"])}
    assert maps["sobel_x"].activation_map[4].argmax() in (4, 5)
    assert np.allclose(maps["sobel_y"].activation_map[1:-1], 0)  # no horizontal edge inside
    assert maps["sobel_x"].activation_map.min() >= 0  # after ReLU
    assert maps["box_blur"].feature_map[4, 4] == pytest.approx(1 / 3)
    for kernel in cv.KERNELS.values():
        expected = {"blur": 1.0, "sharpen": 1.0, "emboss": 1.0, "edge": 0.0}[kernel.family]
        assert kernel.weights.sum() == pytest.approx(expected)  # flat areas keep or lose level


def test_sample_inputs_are_small_and_readable():
    digit = cv.sample_digit()
    assert digit.shape == (28, 28) and 0 <= digit.min() and digit.max() == 1
    assert 0.05 < (digit > 0.5).mean() < 0.3  # a stroke, not a blob or an empty page
    small = cv.shrink(digit, (10, 7))
    assert small.shape == (10, 7)
    assert small.mean() == pytest.approx(digit.mean())  # area averaging keeps the ink
    assert set(np.unique(cv.quantise(digit))) <= set(range(10))


def test_matches_keras_layers_with_the_same_weights():
    keras = pytest.importorskip("keras")
    from keras import layers

    image = rng_image((1, 9, 8, 3), 8).astype("float32")
    kernels = rng_image((3, 2, 3, 4), 9).astype("float32")
    bias = rng_image((4,), 10).astype("float32")
    for padding, stride in [("valid", (2, 3)), ("same", (2, 3)), ("same", 1), ("valid", 1)]:
        conv = layers.Conv2D(4, (3, 2), strides=stride, padding=padding)
        conv.build(image.shape)
        conv.set_weights([kernels, bias])
        expected = keras.ops.convert_to_numpy(conv(image))[0]
        ours = cv.convolve2d(image[0], kernels, stride, padding, bias, strict=False).output
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    for padding, size, stride in [("valid", 3, 2), ("same", 3, 2), ("same", (2, 3), 1)]:
        for mode, layer in (("max", layers.MaxPooling2D), ("avg", layers.AveragePooling2D)):
            pool = layer(pool_size=size, strides=stride, padding=padding)
            expected = keras.ops.convert_to_numpy(pool(image))[0]
            ours = cv.pool2d(image[0], size, stride, mode, padding, strict=False).output
            np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


# --- the rest of the convolution family --------------------------------------------------------


def _keras_output(layer, image):
    keras = pytest.importorskip("keras")
    return keras.ops.convert_to_numpy(layer(image[None].astype("float32")))[0]


@pytest.mark.parametrize("dilation, padding", [(2, "valid"), ((2, 3), "same"), (3, "valid")])
def test_dilated_convolution_matches_keras_and_takes_inputs_dilation_apart(dilation, padding):
    layers = pytest.importorskip("keras").layers
    image, kernels = rng_image((11, 12, 2), 20), rng_image((3, 2, 2, 3), 21)
    conv = layers.Conv2D(3, (3, 2), padding=padding, dilation_rate=dilation, use_bias=False)
    conv.build((1, 11, 12, 2))
    conv.set_weights([kernels.astype("float32")])
    ours = cv.convolve2d(image, kernels, padding=padding, dilation=dilation, strict=False)
    np.testing.assert_allclose(ours.output, _keras_output(conv, image), rtol=1e-4, atol=1e-4)
    step = cv.convolve2d(np.arange(49).reshape(7, 7), np.ones((3, 3)), dilation=2).step(1, 2)
    assert step.taps[:3] == [(1, 2), (1, 4), (1, 6)] and len(step.taps) == 9
    assert step.value == sum(r * 7 + c for r, c in step.taps)
    assert cv.check_tiling(9, 3, 1, "valid", 2).formulas[0].startswith("3 dilated by 2 spans")


@pytest.mark.parametrize(
    "kernel, stride, padding",
    [
        (3, 2, "valid"),
        (3, 2, "same"),
        (4, 2, "same"),
        (2, 3, "valid"),
        (1, 2, "same"),
        (5, 1, "same"),
    ],
)
def test_transposed_convolution_matches_keras(kernel, stride, padding):
    layers = pytest.importorskip("keras").layers
    image = rng_image((4, 5, 2), 22)
    kernels = rng_image((kernel, kernel, 2, 3), 23)  # (kh, kw, in, out), as convolve2d's
    bias = rng_image((3,), 24)
    layer = layers.Conv2DTranspose(3, kernel, strides=stride, padding=padding)
    layer.build((1, 4, 5, 2))
    # Keras keeps the same numbers as (kh, kw, out, in).
    layer.set_weights([kernels.transpose(0, 1, 3, 2).astype("float32"), bias.astype("float32")])
    ours = cv.conv_transpose2d(image, kernels, stride, padding, bias)
    expected = _keras_output(layer, image)
    assert ours.output.shape == expected.shape
    assert ours.output.shape[:2] == tuple(
        ar.transposed_output_size(n, kernel, stride, padding) for n in (4, 5)
    )
    np.testing.assert_allclose(ours.output, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.partial(4 * 5), ours.full)


def test_transposed_convolution_is_the_adjoint_of_convolution():
    # <conv(x), y> = <x, conv_transpose(y)>: the transpose of the convolution's matrix.
    x, w = rng_image((9, 7, 2), 25), rng_image((3, 3, 2, 4), 26)
    y = rng_image((4, 3, 4), 27)
    forward = cv.convolve2d(x, w, stride=2).output
    back = cv.conv_transpose2d(y, w.transpose(0, 1, 3, 2), stride=2).output
    assert forward.shape == y.shape and back.shape == x.shape
    assert np.sum(forward * y) == pytest.approx(np.sum(x * back))


def test_stride_two_kernel_three_makes_a_checkerboard_and_kernel_four_does_not():
    uneven = cv.conv_transpose2d(np.ones((4, 4)), np.ones((3, 3)), 2, "same")
    assert uneven.interior_counts() == [1, 2, 4]
    np.testing.assert_array_equal(uneven.coverage()[2:5, 2:5], [[4, 2, 4], [2, 1, 2], [4, 2, 4]])
    np.testing.assert_array_equal(uneven.full[:, :, 0], uneven.coverage())  # ones count patches
    assert cv.conv_transpose2d(np.ones((4, 4)), np.ones((4, 4)), 2).interior_counts() == [4]
    step = uneven.step(1, 2)
    assert (step.rows, step.cols) == ((2, 5), (4, 7))


def test_depthwise_and_separable_match_keras():
    layers = pytest.importorskip("keras").layers
    image = rng_image((9, 8, 3), 28)
    kernels, bias = rng_image((3, 2, 3, 2), 29), rng_image((6,), 30)
    layer = layers.DepthwiseConv2D((3, 2), strides=2, depth_multiplier=2, padding="same")
    layer.build((1, 9, 8, 3))
    layer.set_weights([kernels.astype("float32"), bias.astype("float32")])
    ours = cv.depthwise_conv2d(image, kernels, 2, "same", bias)
    np.testing.assert_allclose(ours.output, _keras_output(layer, image), rtol=1e-4, atol=1e-4)
    # Map c·M + m sees channel c only.
    alone = cv.convolve2d(image[:, :, 1], kernels[:, :, 1, 0], 2, "same", bias[2], strict=False)
    np.testing.assert_allclose(ours.output[:, :, 2], alone.feature_map())
    depthwise, pointwise = rng_image((3, 3, 3, 1), 31), rng_image((1, 1, 3, 4), 32)
    point_bias = rng_image((4,), 33)
    separable = layers.SeparableConv2D(4, 3, dilation_rate=2)
    separable.build((1, 9, 8, 3))
    separable.set_weights([w.astype("float32") for w in (depthwise, pointwise, point_bias)])
    ours = cv.separable_conv2d(image, depthwise, pointwise, bias=point_bias, dilation=2)
    expected = _keras_output(separable, image)
    np.testing.assert_allclose(ours.output, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "size, interpolation", [(2, "nearest"), ((2, 3), "nearest"), (2, "bilinear"), (3, "bilinear")]
)
def test_upsampling_matches_keras(size, interpolation):
    layers = pytest.importorskip("keras").layers
    image = rng_image((4, 5, 2), 34)
    expected = _keras_output(layers.UpSampling2D(size, interpolation=interpolation), image)
    np.testing.assert_allclose(
        cv.upsample2d(image, size, interpolation), expected, rtol=1e-5, atol=1e-5
    )
    if interpolation == "nearest":
        sh, sw = (size, size) if isinstance(size, int) else size
        assert cv.upsample2d(image, size)[3, 5, 1] == image[3 // sh, 5 // sw, 1]
