"""The rest of the convolution family: dilated, transposed, depthwise and separable
convolutions, and upsampling.

References independent of the code under test: numbers worked out by hand from Dumoulin and
Visin's "A guide to convolution arithmetic for deep learning" (2016) and Howard et al.'s
MobileNet cost formula, the inverse relation between a convolution and its transpose, and
Keras itself (its layers' refusals, and the code it runs when exported source is executed).
The random cross-check against Keras is `tests/test_arithmetic.py`'s.
"""

import keras
import numpy as np
import pytest
from keras import layers

from cnnlib import arithmetic as ar
from cnnlib import layers as L
from cnnlib.build import build_model
from cnnlib.keras_source import keras_code

FAMILY = L.Network(
    "family",
    (
        L.Input((12, 10, 3)),
        L.Conv2D(4, 3, padding="same", dilation_rate=2),
        L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, dilation_rate=(2, 1)),
        L.SeparableConv2D(6, (3, 2), padding="same", activation=None, use_bias=False),
        L.UpSampling2D((2, 3), interpolation="bilinear"),
        L.Conv2DTranspose(5, 3, strides=2, padding="valid", activation="tanh"),
        L.GlobalAveragePooling2D(),
        L.Dense(3, activation="softmax"),
    ),
)


def _row(shape, layer) -> ar.LayerRow:
    return ar.analyse(L.Network("one", (L.Input(shape), layer))).rows[1]


# --- shapes, parameters and MACs by hand ------------------------------------------------------


def test_dilated_convolution_spans_more_inputs_with_the_same_weights():
    row = _row((28, 28, 1), L.Conv2D(8, 3, dilation_rate=2))
    plain = _row((28, 28, 1), L.Conv2D(8, 3))
    assert row.output_shape == (24, 24, 8)  # the 5×5 span: 28 − 5 + 1
    assert row.params == plain.params == 8 * 9 + 8
    assert row.macs == 24 * 24 * 8 * 9
    assert row.size_formula == (
        "3 dilated by 2 spans 3 + (3 − 1)·(2 − 1) = 5; (28 − 5 + 2·0) / 1 + 1 = 24"
    )
    assert row.settings == "8 filters 3×3, stride 1, dilation 2, valid, relu"
    assert row.mac_formula == "24 × 24 × 8 × (3 × 3 × 1) = 41,472"
    same = _row((9, 7, 2), L.Conv2D(2, (3, 2), padding="same", dilation_rate=(3, 2)))
    assert same.output_shape == (9, 7, 2)
    assert [ar.effective_kernel(k, d) for k, d in ((3, 1), (3, 2), (3, 4), (5, 2), (1, 9))] == [
        3,
        5,
        9,
        9,
        1,
    ]


def test_transposed_convolution_sizes_invert_the_convolutions_they_transpose():
    # Dumoulin and Visin: a convolution of the transposed output gives the input back.
    for size in range(1, 9):
        for kernel in range(1, 6):
            for stride in range(1, 4):
                valid = ar.transposed_output_size(size, kernel, stride, "valid")
                same = ar.transposed_output_size(size, kernel, stride, "same")
                assert ar.conv_output_size(valid, kernel, stride, "valid") == size
                assert ar.conv_output_size(same, kernel, stride, "same") == size
                assert same == size * stride
                if kernel >= stride:  # relationship 14 of the guide: o' = s(i − 1) + k
                    assert valid == stride * (size - 1) + kernel


def test_transposed_convolution_by_hand():
    row = _row((4, 4, 8), L.Conv2DTranspose(16, 3, strides=2, padding="valid"))
    assert row.output_shape == (9, 9, 16)
    assert row.params == 16 * (3 * 3 * 8) + 16 == 1_168
    assert row.param_formula == "16 × (3 × 3 × 8) + 16 = 1,168"
    # Every input position multiplies the whole kernel.
    assert row.macs == 4 * 4 * 16 * 3 * 3 * 8
    assert row.size_formula == "(4 − 1)·2 + 3 = 9"
    same = _row((4, 4, 8), L.Conv2DTranspose(16, 3, strides=2, padding="same"))
    assert same.output_shape == (8, 8, 16)
    assert same.size_formula == "4·2 = 8 ('same' cuts 0 before, 1 after from (4 − 1)·2 + 3 = 9)"
    gap = _row((3, 3, 1), L.Conv2DTranspose(1, 1, strides=2, padding="valid"))
    assert gap.output_shape == (6, 6, 1)
    assert gap.size_formula.startswith("(3 − 1)·2 + max(1, 2) = 6")
    assert ar.transposed_crop(4, 3, 2, "same") == (0, 1)
    assert ar.transposed_crop(4, 5, 2, "same") == (1, 2)
    assert ar.transposed_crop(3, 1, 2, "valid") == (0, -1)  # a zero added after


def test_depthwise_and_separable_save_what_howard_et_al_say():
    shape = (14, 14, 512)  # a MobileNet layer
    depthwise = _row(shape, L.DepthwiseConv2D(3, padding="same", use_bias=False))
    assert depthwise.output_shape == (14, 14, 512)
    assert depthwise.params == 512 * 9 == 4_608
    assert depthwise.macs == 14 * 14 * 512 * 9
    assert depthwise.param_formula == "512 × (3 × 3 × 1) = 4,608"
    doubled = _row((8, 8, 3), L.DepthwiseConv2D(3, depth_multiplier=2))
    assert doubled.output_shape == (6, 6, 6) and doubled.params == 6 * 9 + 6
    separable = _row(shape, L.SeparableConv2D(512, 3, padding="same"))
    plain = _row(shape, L.Conv2D(512, 3, padding="same"))
    assert separable.params == 3 * 3 * 512 + 512 * 512 + 512 == 267_264
    assert separable.param_formula == "depthwise 3 × 3 × 512 + pointwise 512 × 512 + 512 = 267,264"
    assert plain.params == 2_359_808
    # The paper's reduction: (K²·M + M·N) / (K²·M·N) = 1/N + 1/K².
    assert separable.macs / plain.macs == pytest.approx(1 / 512 + 1 / 9)
    assert separable.comparison == (
        "a plain 3×3 Conv2D making the same 512 maps: 2,359,808 parameters (8.8× as many) "
        f"and {plain.macs:,} MACs (8.8× as many)"
    )
    assert depthwise.comparison.startswith("a plain 3×3 Conv2D making the same 512 maps")
    assert ar.plain_conv_cost((3, 3), 512, 512, 14 * 14) == (plain.params, plain.macs)
    strided = _row((9, 9, 2), L.SeparableConv2D(4, 3, strides=2, dilation_rate=2))
    assert strided.output_shape == (3, 3, 4)  # span 5: ⌊(9 − 5) / 2⌋ + 1


def test_upsampling_by_hand():
    row = _row((7, 5, 3), L.UpSampling2D((2, 3)))
    assert row.output_shape == (14, 15, 3)
    assert (row.params, row.macs) == (0, 0)
    assert row.size_formula == "height 7 × 2 = 14; width 5 × 3 = 15"
    assert row.settings == "2×3, nearest"
    assert _row((4, 4, 1), L.UpSampling2D(2, "bilinear")).settings == "2, bilinear"


# --- what cannot be built ---------------------------------------------------------------------


def test_what_keras_refuses_the_arithmetic_refuses_with_a_reason():
    with pytest.raises(ValueError, match="stride above 1 and a dilation above 1"):
        _row((16, 16, 1), L.Conv2D(4, 3, strides=2, dilation_rate=2))
    with pytest.raises(ValueError):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"dilated by 2 spans 5×5, which does not fit the 4×4×1"):
        _row((4, 4, 1), L.DepthwiseConv2D(3, dilation_rate=2))
    with pytest.raises(ValueError):
        layers.DepthwiseConv2D(3, dilation_rate=2)(keras.Input((4, 4, 1)))
    with pytest.raises(ValueError, match=r"\(SeparableConv2D\): a 5×5 kernel does not fit"):
        _row((4, 4, 1), L.SeparableConv2D(2, 5))
    with pytest.raises(ValueError, match="Conv2DTranspose needs a height × width × channels"):
        _row((10,), L.Conv2DTranspose(2))
    with pytest.raises(ValueError, match="interpolation must be 'nearest' or 'bilinear'"):
        _row((4, 4, 1), L.UpSampling2D(2, "bicubic"))
    with pytest.raises(ValueError, match="depth_multiplier must be a whole number"):
        _row((4, 4, 1), L.DepthwiseConv2D(3, depth_multiplier=0))
    keras.backend.clear_session()


# --- JSON, bounds and export ------------------------------------------------------------------


def test_json_round_trip_and_old_files_without_dilation():
    assert L.Network.from_json(FAMILY.to_json()) == FAMILY
    old = {"type": "Conv2D", "filters": 4, "kernel_size": [3, 3]}
    assert L.from_dict(old).dilation_rate == (1, 1)
    assert L.from_dict({"type": "UpSampling2D", "size": 3}) == L.UpSampling2D((3, 3))


@pytest.mark.parametrize(
    "item, message",
    [
        ({"type": "Conv2D", "dilation_rate": L.MAX_WINDOW + 1}, "dilation_rate 4,097 is more"),
        ({"type": "DepthwiseConv2D", "depth_multiplier": 2_000}, "depth_multiplier 2,000"),
        ({"type": "DepthwiseConv2D", "depth_multiplier": [2]}, "must be a whole number"),
        ({"type": "UpSampling2D", "size": [2, 10_000]}, "size 10,000 is more"),
        ({"type": "UpSampling2D", "interpolation": "cubic"}, "'nearest' or 'bilinear'"),
        ({"type": "Conv2DTranspose", "dilation_rate": 2}, "unknown setting"),
        ({"type": "SeparableConv2D", "depth_multiplier": 2}, "unknown setting"),
        ({"type": "SeparableConv2D", "filters": L.MAX_FILTERS + 1}, "use fewer filters"),
    ],
)
def test_files_beyond_the_bounds_are_refused(item, message):
    with pytest.raises(ValueError, match=message):
        L.from_dict(item)


def test_bounds_are_accepted_up_to_the_limit():
    depthwise = L.from_dict({"type": "DepthwiseConv2D", "depth_multiplier": L.MAX_DEPTH_MULTIPLIER})
    assert depthwise.depth_multiplier == L.MAX_DEPTH_MULTIPLIER
    assert L.from_dict({"type": "Conv2D", "dilation_rate": L.MAX_WINDOW}).dilation_rate == (
        L.MAX_WINDOW,
        L.MAX_WINDOW,
    )


def _run(code: str):
    namespace: dict = {}
    exec(compile(code, "<exported>", "exec"), namespace)
    return namespace["model"]


def _settings(model) -> list[tuple[str, dict]]:
    """Each layer's class and Keras config without the names and dtypes CNN Lab chooses."""
    skip = ("name", "dtype", "trainable")
    return [
        (type(layer).__name__, {k: v for k, v in layer.get_config().items() if k not in skip})
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    ]


def test_exported_code_names_the_new_layers_and_builds_the_same_model():
    code = keras_code(FAMILY, "sequential")
    assert 'layers.Conv2D(4, kernel_size=(3, 3), padding="same", dilation_rate=(2, 2)' in code
    assert "layers.DepthwiseConv2D((3, 3), strides=(2, 2), depth_multiplier=2" in code
    assert "dilation_rate=(2, 1)" in code
    assert 'layers.SeparableConv2D(6, kernel_size=(3, 2), padding="same", use_bias=False)' in code
    assert 'layers.UpSampling2D(size=(2, 3), interpolation="bilinear")' in code
    assert (
        'layers.Conv2DTranspose(5, kernel_size=(3, 3), strides=(2, 2), activation="tanh")' in code
    )
    built = build_model(FAMILY)
    for style in ("sequential", "functional"):
        exported = _run(keras_code(FAMILY, style))
        assert _settings(exported) == _settings(built)
        assert exported.count_params() == built.count_params() == ar.analyse(FAMILY).total_params
        # Run, not only built: TensorFlow computes every layer, strided dilation included.
        batch = np.zeros((2, *FAMILY.input_shape), dtype="float32")
        assert exported.predict(batch, verbose=0).shape == (2, 3)
    names = [layer.name for layer in built.layers[1:6]]
    assert names == [
        "conv2d_1",
        "depthwise_conv2d_1",
        "separable_conv2d_1",
        "up_sampling2d_1",
        "conv2d_transpose_1",
    ]
    keras.backend.clear_session()
