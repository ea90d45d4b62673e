"""Table rows to layer specs and back, whole-layer edits, and the messages for bad cells."""

import json

import numpy as np
import pytest

from cnnlib import layers as L
from cnnlib import network_edit as ne

LECTURE = L.Network(
    "lecture",
    (
        L.Input((28, 28, 1)),
        L.Conv2D(32, 3),
        L.MaxPooling2D(),
        L.Dropout(0.25),
        L.ZeroPadding2D(((0, 1), (2, 2))),
        L.AveragePooling2D(3, strides=(1, 2), padding="same"),
        L.Flatten(),
        L.Dense(128, activation=None, use_bias=False),
        L.Activation("softmax"),
    ),
)
BLOCK = L.Parallel(
    branches=((L.Conv2D(8, 3, padding="same"), L.BatchNormalization()), ()),
    merge="add",
    activation="relu",
    name="residual",
)


def test_rows_round_trip_every_kind_including_blocks():
    network = ne.insert_layer(LECTURE, 3, BLOCK)
    network = ne.insert_layer(network, 4, L.GlobalMaxPooling2D())
    network = ne.insert_layer(network, 4, L.BatchNormalization())
    rows = ne.network_to_rows(network)
    assert [set(row) for row in rows] == [set(ne.COLUMNS)] * len(rows)
    assert ne.rows_to_network("lecture", (28, 28, 1), rows) == network
    # Through JSON, as a table's cells would come back.
    rows = json.loads(json.dumps(rows))
    assert ne.rows_to_network("lecture", (28, 28, 1), rows).to_dict() == network.to_dict()


def test_rows_show_settings_as_a_student_writes_them():
    conv, pool, drop, zero = ne.network_to_rows(LECTURE)[:4]
    assert conv == {
        "layer": "Conv2D",
        "size": 32,
        "window": "3×3",
        "stride": "1×1",
        "padding": "valid",
        "activation": "relu",
        "rate": None,
        "bias": True,
        "block": None,
    }
    assert pool["stride"] is None and pool["size"] is None  # pooling stride follows the window
    assert drop["rate"] == 0.25
    assert zero["window"] == "0,1,2,2"
    assert ne.layer_to_row(L.Dense(10, activation=None))["activation"] == ne.NO_ACTIVATION


@pytest.mark.parametrize(
    "text, expected",
    [("3", (3, 3)), ("3×5", (3, 5)), ("3x5", (3, 5)), ("(3, 5)", (3, 5)), (" 2 X 2 ", (2, 2))],
)
def test_sizes_are_read_in_the_usual_spellings(text, expected):
    assert ne.parse_pair(text, "kernel size", "Row 1") == expected


def test_blank_cells_take_defaults_and_unused_cells_are_ignored():
    row = {"layer": "Conv2D", "size": np.float64("nan"), "window": "", "rate": 0.9}
    assert ne.row_to_layer(row) == L.Conv2D()
    # Changing a row's kind keeps what still applies: the size becomes Dense units.
    assert ne.row_to_layer({"layer": "Dense", "size": 64.0, "window": "5×5"}) == L.Dense(64)
    assert ne.row_to_layer({"layer": "MaxPooling2D", "window": "3", "stride": "2"}) == (
        L.MaxPooling2D((3, 3), (2, 2))
    )
    assert ne.rows_to_layers([{"layer": None}, {"layer": "Flatten"}]) == (L.Flatten(),)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"layer": "Conv2D", "size": 0}, r"Row 1 \(Conv2D\): filters must be a whole number"),
        ({"layer": "Conv2D", "size": 2.5}, "filters must be a whole number"),
        ({"layer": "Conv2D", "window": "3×"}, "write one whole number such as 3"),
        ({"layer": "Conv2D", "window": "0"}, "kernel size must be between 1"),
        ({"layer": "Conv2D", "padding": "full"}, "padding must be 'valid' or 'same'"),
        ({"layer": "Conv2D", "activation": "swish"}, "activation 'swish' is not one"),
        ({"layer": "Dense", "size": 10**9}, "units must be a whole number from 1 to"),
        ({"layer": "Dropout", "rate": 1.0}, "dropout rate must be a number from 0"),
        ({"layer": "ZeroPadding2D", "window": "1,2,3"}, "top, bottom, left, right"),
        ({"layer": "Activation", "activation": "none"}, "needs an activation"),
        ({"layer": "Parallel"}, "cannot be typed into the table"),
        ({"layer": "Input"}, "choose a layer type"),
    ],
)
def test_bad_cells_are_refused_naming_the_row_and_what_to_write(row, message):
    with pytest.raises(ValueError, match=message):
        ne.rows_to_layers([row])


def test_whole_layer_edits_return_new_networks_and_protect_the_input():
    moved = ne.move_layer(LECTURE, 2, -1)
    assert moved.layers[1:3] == (L.MaxPooling2D(), L.Conv2D(32, 3))
    assert LECTURE.layers[1] == L.Conv2D(32, 3)  # the original is untouched
    assert ne.move_layer(moved, 1, 1) == LECTURE
    assert ne.remove_layer(LECTURE, 3).layers == LECTURE.layers[:3] + LECTURE.layers[4:]
    assert ne.replace_layer(LECTURE, 1, L.Conv2D(64, 5)).layers[1] == L.Conv2D(64, 5)
    end = len(LECTURE.layers)
    assert ne.insert_layer(LECTURE, end, L.Dense(10)).layers[-1] == L.Dense(10)
    with pytest.raises(ValueError, match="already at the top"):
        ne.move_layer(LECTURE, 1, -1)
    with pytest.raises(ValueError, match="input itself cannot be moved or removed"):
        ne.remove_layer(LECTURE, 0)
    with pytest.raises(ValueError, match="one Input"):
        ne.insert_layer(LECTURE, 1, L.Input((3,)))
    assert ne.with_input_shape(LECTURE, (120, 160, 3)).input_shape == (120, 160, 3)
    assert ne.default_layer("Conv2D") == L.Conv2D()


def test_input_shapes_may_be_rectangular_and_must_be_sensible():
    assert ne.parse_shape("120×160×1") == (120, 160, 1)
    assert ne.parse_shape("19, 19, 48") == (19, 19, 48)
    for bad in ("28×28", "0×28×1", "a×b×c", "99999×2×1"):
        with pytest.raises(ValueError, match="input"):
            ne.parse_shape(bad)


def test_blocks_are_kept_whole_edited_by_branch_and_collected_once():
    row = ne.layer_to_row(BLOCK)
    assert row["layer"] == "Parallel" and row["activation"] == "relu"
    row["activation"] = ne.NO_ACTIVATION
    assert ne.row_to_layer(row).activation is None  # the post-merge activation is editable
    edited = ne.update_branch(BLOCK, 0, [{"layer": "Conv2D", "size": 4, "padding": "same"}])
    assert edited.branches == ((L.Conv2D(4, padding="same"),), ())
    assert ne.update_branch(BLOCK, 0, []).branches == ((), ())
    with pytest.raises(ValueError, match=r"Branch 1, row 1 \(Dense\)"):
        ne.update_branch(BLOCK, 0, [{"layer": "Dense", "size": -1}])
    net = ne.insert_layer(LECTURE, 2, BLOCK)
    blocks = ne.collect_blocks({"A": net, "B": net, "C": LECTURE})
    assert blocks == [("A: residual", BLOCK)]
    assert ne.describe(BLOCK) == "residual: 2 branches, added, then relu"
    assert ne.describe(L.Conv2D(32, 3, strides=2)) == "Conv2D 32 3×3 stride 2 valid relu"


def test_shapes_stated_in_comments_are_read_as_the_lecture_writes_them():
    assert ne.stated_shape_matches("26,26,32", (26, 26, 32))
    assert ne.stated_shape_matches("116x156", (116, 156, 12))  # channels left out
    assert ne.stated_shape_matches("128", (128,))
    assert not ne.stated_shape_matches("14,14,32", (13, 13, 32))
    assert not ne.stated_shape_matches("12x17=204", (4080,))
    assert not ne.stated_shape_matches("3136 = 7*7*64", (1600,))
    assert ne.stated_shape_matches("1600 = 5*5*64", (1600,))


def test_stated_shapes_are_compared_layer_by_layer_with_the_reason():
    network = L.Network(
        "two conv",
        (L.Input((28, 28, 1)), L.Conv2D(32, 3), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)),
    )
    stated = (
        (1, "26,26,32", ""),
        (3, "3136 = 7*7*64", "Flatten of 13×13×32 gives 5,408 values."),
        (4, "10", "a reason where they agree is kept"),
    )
    rows = ne.compare_stated_shapes(network, stated)
    assert [row["layer"] for row in rows] == ["1 Conv2D", "3 Flatten", "4 Dense"]
    assert [row["agrees"] for row in rows] == [True, False, True]
    assert rows[1]["stated"] == "3136 = 7*7*64" and rows[1]["true"] == "5408"
    assert rows[1]["why"].startswith("Flatten of 13×13×32")
    assert rows[2]["why"] == "a reason where they agree is kept" and rows[0]["why"] == ""
    assert rows[0]["settings"] == "32 filters 3×3, stride 1, valid, relu"


def test_counts_and_bytes_as_text():
    assert ne.format_count(15_480_000_000) == "15.5 G"
    assert ne.format_count(138_357_544) == "138.4 M"
    assert ne.format_count(1_600) == "1.6 k" and ne.format_count(999) == "999"


def test_rows_read_back_are_compared_as_written():
    rows = ne.network_to_rows(L.Network("n", (L.Input((8, 8, 1)), L.Conv2D(4, 3))))
    typed = [dict(rows[0], stride=" ", rate=float("nan")), dict.fromkeys(ne.COLUMNS)]
    assert ne.normalised_rows(typed) == [dict(rows[0], stride=None)]


FAMILY = L.Network(
    "family",
    (
        L.Input((32, 32, 3)),
        L.Conv2D(8, 3, padding="same", dilation_rate=2),
        L.Conv2D(8, (3, 5), dilation_rate=(2, 1)),
        L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation=None, use_bias=False),
        L.SeparableConv2D(16, 3, padding="same", dilation_rate=2),
        L.UpSampling2D(2, interpolation="bilinear"),
        L.UpSampling2D((2, 3)),
        L.Conv2DTranspose(4, 3, strides=2, padding="valid", activation="tanh"),
    ),
)


def test_the_table_accepts_the_convolution_family_and_reads_it_back():
    for kind in ("Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "UpSampling2D"):
        assert kind in ne.ROW_KINDS
        assert ne.default_layer(kind) == L.LAYER_TYPES[kind]()
    rows = ne.network_to_rows(FAMILY)
    assert [row["window"] for row in rows] == [
        "3×3 dilation 2",
        "3×5 dilation 2×1",
        "3×3",
        "3×3 dilation 2",
        "2×2 bilinear",
        "2×3",
        "3×3",
    ]
    assert rows[2]["size"] == 2  # the depthwise row's size is its depth multiplier
    assert ne.rows_to_network("family", (32, 32, 3), rows) == FAMILY
    rows = json.loads(json.dumps(rows))
    assert ne.rows_to_network("family", (32, 32, 3), rows).to_dict() == FAMILY.to_dict()


@pytest.mark.parametrize(
    "row, expected",
    [
        ({"layer": "Conv2D", "window": "3 dilated by 2"}, L.Conv2D(dilation_rate=2)),
        ({"layer": "Conv2D", "window": "3x3 Dilation 2x1"}, L.Conv2D(dilation_rate=(2, 1))),
        ({"layer": "SeparableConv2D", "size": 64}, L.SeparableConv2D(64)),
        (
            {"layer": "DepthwiseConv2D", "size": 3, "stride": "2"},
            L.DepthwiseConv2D(3, 2, "valid", 3),
        ),
        (
            {"layer": "Conv2DTranspose", "window": "4", "padding": "valid"},
            L.Conv2DTranspose(32, 4, 2, "valid"),
        ),
        ({"layer": "UpSampling2D", "window": "bilinear"}, L.UpSampling2D(2, "bilinear")),
        ({"layer": "UpSampling2D", "window": "3"}, L.UpSampling2D(3)),
        ({"layer": "UpSampling2D"}, L.UpSampling2D()),
    ],
)
def test_family_cells_in_the_spellings_a_student_writes(row, expected):
    assert ne.row_to_layer(row) == expected


@pytest.mark.parametrize(
    "row, message",
    [
        ({"layer": "Conv2D", "window": "3×3 dilation"}, "names no dilation rate"),
        ({"layer": "Conv2D", "window": "3×3 dilation 0"}, "dilation must be between 1"),
        ({"layer": "Conv2DTranspose", "window": "3 dilation 2"}, "takes no dilation"),
        ({"layer": "DepthwiseConv2D", "size": 5000}, "depth_multiplier must be a whole number"),
        ({"layer": "UpSampling2D", "window": "2 bicubic"}, "upsampling size"),
    ],
)
def test_bad_family_cells_say_what_to_write(row, message):
    with pytest.raises(ValueError, match=message):
        ne.rows_to_layers([row])


def test_family_rows_are_described_as_a_student_reads_them():
    assert ne.describe(FAMILY.layers[1]) == "Conv2D 8 3×3 dilation 2 same relu"
    assert ne.describe(FAMILY.layers[3]) == "DepthwiseConv2D 2 per channel 3×3 stride 2 valid"
    assert ne.describe(L.DepthwiseConv2D()) == "DepthwiseConv2D 3×3 valid relu"
    assert ne.describe(FAMILY.layers[5]) == "UpSampling2D 2×2 bilinear"
    assert ne.describe(FAMILY.layers[7]) == "Conv2DTranspose 4 3×3 stride 2 valid tanh"
