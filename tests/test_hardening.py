"""Tests of network files written to break the server: absurd sizes and deep nesting.

Every such file must fail in `cnnlib.layers` with a `ValueError` that says what to change,
never with a `RecursionError` or inside Keras. The reference for what must still pass is the
registry: every real network, written out and read back.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest

from cnnlib import layers as L
from cnnlib.arithmetic import analyse
from cnnlib.registry import REGISTRY


def network_json(*layers: dict) -> str:
    return json.dumps({"name": "hostile", "layers": list(layers)})


INPUT = {"type": "Input", "shape": [32, 32, 3]}


CONV = {"type": "Conv2D", "filters": 2, "kernel_size": [1, 1]}


def nested_blocks(levels: int) -> dict:
    """A network of `levels` Parallel blocks, each the only layer of its parent's one branch."""
    layer: dict = CONV
    for _ in range(levels):
        layer = {"type": "Parallel", "branches": [[layer]], "merge": "concat"}
    return {"name": "deep", "layers": [INPUT, layer]}


def nested_blocks_json(levels: int) -> str:
    """`nested_blocks(levels)` as JSON text, written out directly: `json.dumps` itself fails
    on such depths."""
    opening = '{"type": "Parallel", "merge": "concat", "branches": [['
    block = opening * levels + json.dumps(CONV) + "]]}" * levels
    return f'{{"name": "deep", "layers": [{json.dumps(INPUT)}, {block}]}}'


# --- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, expected",
    [
        ({"type": "Conv2D", "filters": 10**9}, "filters 1,000,000,000 is more than CNN Lab allows"),
        ({"type": "Dense", "units": 10**6}, "units 1,000,000 is more than CNN Lab allows"),
        ({"type": "Conv2D", "kernel_size": [5000, 3]}, "kernel_size 5,000"),
        ({"type": "MaxPooling2D", "strides": 10**12}, "strides 1,000,000,000,000"),
        ({"type": "ZeroPadding2D", "padding": [[0, 10**6], [1, 1]]}, "padding 1,000,000"),
    ],
)
def test_absurd_layer_sizes_are_refused_naming_the_layer(layer, expected):
    with pytest.raises(ValueError, match=expected) as refused:
        L.Network.from_json(network_json(INPUT, layer))
    assert str(refused.value).startswith(f"layer 1 ({layer['type']})")


@pytest.mark.parametrize(
    "shape, expected",
    [
        ([10**9, 10**9, 3], "height or width 1,000,000,000 is more than CNN Lab allows (8,192)"),
        ([32, 32, 10**6], "channels 1,000,000 is more than CNN Lab allows (65,536)"),
        ([10**8], "vector length 100,000,000"),
    ],
)
def test_absurd_input_shapes_are_refused(shape, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        L.Network.from_json(network_json({"type": "Input", "shape": shape}))


def test_sizes_at_the_bounds_are_accepted():
    network = L.Network.from_json(
        network_json(
            {"type": "Input", "shape": [L.MAX_INPUT_SIDE, L.MAX_INPUT_SIDE, 3]},
            {"type": "Conv2D", "filters": L.MAX_FILTERS, "kernel_size": L.MAX_WINDOW},
            {"type": "GlobalAveragePooling2D"},
            {"type": "Dense", "units": L.MAX_UNITS},
        )
    )
    assert network.layers[1].kernel_size == (L.MAX_WINDOW, L.MAX_WINDOW)


def test_every_registry_network_reads_back_from_its_json():
    for key, entry in REGISTRY.items():
        assert L.Network.from_json(entry.network.to_json()) == entry.network, key


# --- nesting ----------------------------------------------------------------------------------


def test_331_nested_blocks_are_refused_with_a_message_not_a_recursion_error():
    # The file: about 1,000 levels of JSON, more than Python's parser descends.
    text = nested_blocks_json(331)
    assert json.loads(nested_blocks_json(3)) == nested_blocks(3)
    assert 15_000 < len(text) < L.MAX_SPEC_BYTES
    with pytest.raises(ValueError, match="hundreds of levels deep; real networks need a few"):
        L.Network.from_json(text)
    # Shallower files parse, and the blocks' own nesting is refused.
    with pytest.raises(ValueError, match=r"nested more than 8 deep.*one after another"):
        L.Network.from_json(nested_blocks_json(100))
    # A dict built in Python (as a saved model's metadata is) never reaches the stack's end.
    with pytest.raises(ValueError, match="nested more than 8 deep"):
        L.Network.from_dict(nested_blocks(5000))


def test_blocks_nested_to_the_limit_are_read_and_analysed():
    network = L.Network.from_dict(nested_blocks(L.MAX_NESTING))
    assert analyse(network).output_shape == (32, 32, 2)
    with pytest.raises(ValueError, match="nested more than"):
        L.Network.from_dict(nested_blocks(L.MAX_NESTING + 1))


@pytest.mark.parametrize("opening", ["[", '{"a":', '{"name": "x", "layers": ['])
def test_json_nested_beyond_pythons_stack_is_refused_with_a_message(opening):
    closing = {"[": "]", '{"a":': "}", '{"name": "x", "layers": [': "]}"}[opening]
    depth = 100_000
    text = opening * depth + "1" + closing * depth
    if len(text) > L.MAX_SPEC_BYTES:
        depth = L.MAX_SPEC_BYTES // (len(opening) + len(closing)) - 1
        text = opening * depth + "1" + closing * depth
    with pytest.raises(ValueError, match="nests lists or objects hundreds of levels deep"):
        L.Network.from_json(text)


def test_a_setting_nested_in_lists_is_refused():
    for kernel in ([[[3]]], [[[[[[[[3]]]]]]]]):
        layer = {"type": "Conv2D", "kernel_size": kernel}
        with pytest.raises(ValueError, match="kernel_size must be a whole number or a list"):
            L.Network.from_json(network_json(INPUT, layer))
    deep = 3
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(ValueError, match="kernel_size must be a whole number"):
        L.Network.from_dict({"layers": [INPUT, {"type": "Conv2D", "kernel_size": deep}]})


# --- any value in any setting -----------------------------------------------------------------

ODD_VALUES = [0, -1, 3, 10**9, 2**70, 1.5, True, None, "x", "same", [], [1], [1, 2], [1, 2, 3]]
ODD_VALUES += [[[1, 1], [1, 1]], [[1], [2]], {}, {"a": 1}, [True], ["a"], [1.5, 2], [[[3]]]]


def test_any_value_in_any_setting_is_a_network_or_a_value_error():
    # Pages catch ValueError only; a TypeError or KeyError would show the user a traceback.
    for kind, cls in L.LAYER_TYPES.items():
        for setting in (f.name for f in fields(cls)):
            for value in ODD_VALUES:
                layer = {"type": kind, setting: value}
                layers = [layer] if kind == "Input" else [INPUT, layer]
                try:
                    analyse(L.Network.from_json(network_json(*layers)))
                except ValueError:
                    pass
                except Exception as error:  # any other kind is the failure
                    pytest.fail(f"{kind}.{setting} = {value!r} raised {error!r}")
