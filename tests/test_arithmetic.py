"""Layer arithmetic against Keras itself, against hand-worked numbers, and on impossible stacks.

The reference for shapes and parameter counts is the Keras model `cnnlib.build.build_model`
makes: every row's output shape and weights, the totals, the multiply-accumulates implied by
each convolution's and Dense layer's kernel and positions, and the memory of every layer's
output. It is checked for every registry entry and for 200 seeded random stacks, which draw
the whole convolution family (dilated, transposed, depthwise, separable) and upsampling too.
"""

import math
import random
import re

import keras
import pytest
from keras import layers

from cnnlib import arithmetic as ar
from cnnlib import layers as L
from cnnlib import registry
from cnnlib.build import build_model, keras_layer_names

RANDOM_STACKS = 200
SEED = 20240611


# ---------------------------------------------------------------------------------------------
# Keras as the reference


def _weights(layer) -> tuple[int, int]:
    trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
    return trainable, non_trainable


def _block_prefix(path: str) -> str:
    """Names the builder gives a block's layers: "3.b1.2" -> "block3_branch1_block2_"."""
    words = [f"branch{p[1:]}" if p.startswith("b") else f"block{p}" for p in path.split(".")]
    return "_".join(words) + "_"


def _keras_macs(model) -> int:
    """Multiply-accumulates read off Keras: kernel size times output positions (input
    positions for a transposed convolution, which multiplies each input by its whole kernel;
    both kernels for a separable one)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D | layers.DepthwiseConv2D):
            _, height, width, _ = layer.output.shape
            total += math.prod(layer.kernel.shape) * height * width
        elif isinstance(layer, layers.Conv2DTranspose):
            _, height, width, _ = layer.input.shape
            total += math.prod(layer.kernel.shape) * height * width
        elif isinstance(layer, layers.SeparableConv2D):
            _, height, width, _ = layer.output.shape
            kernels = math.prod(layer.depthwise_kernel.shape)
            kernels += math.prod(layer.pointwise_kernel.shape)
            total += kernels * height * width
        elif isinstance(layer, layers.Dense):
            total += math.prod(layer.kernel.shape)
    return total


def compare_with_keras(network: L.Network) -> ar.Analysis:
    """Assert that every row of the analysis matches the Keras model built from `network`."""
    analysis = ar.analyse(network)
    model = build_model(network)
    names = keras_layer_names(network)
    by_name = {layer.name: layer for layer in model.layers}
    for row in analysis.all_rows():
        if row.path not in names:
            # Only a block whose single branch is the identity makes no Keras layer.
            assert row.kind == "Parallel" and not row.children, row.path
            continue
        layer = by_name[names[row.path]]
        where = f"{network.name}, row {row.path} ({row.kind})"
        assert tuple(layer.output.shape[1:]) == row.output_shape, where
        if row.kind == "Parallel":
            prefix = _block_prefix(row.path)
            inside = [lay for lay in model.layers if lay.name.startswith(prefix)]
            pairs = [_weights(lay) for lay in inside]
            counts = (sum(p[0] for p in pairs), sum(p[1] for p in pairs))
        else:
            counts = _weights(layer)
        assert counts == (row.trainable, row.non_trainable), where
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    assert (trainable, non_trainable) == (
        analysis.trainable_params,
        analysis.non_trainable_params,
    ), network.name
    assert model.count_params() == analysis.total_params
    assert tuple(model.output.shape[1:]) == analysis.output_shape
    assert _keras_macs(model) == analysis.total_macs, network.name
    outputs = sum(math.prod(lay.output.shape[1:]) for lay in model.layers) * 4
    assert outputs == analysis.activation_bytes, network.name
    return analysis


@pytest.fixture
def fresh_keras():
    """Frees the models a test built; clearing costs a few tenths of a second, so only the
    tests that build models ask for it."""
    yield
    keras.backend.clear_session()


@pytest.mark.parametrize("key", list(registry.REGISTRY))
def test_every_registry_entry_matches_keras(key, fresh_keras):
    compare_with_keras(registry.get(key).network)


# ---------------------------------------------------------------------------------------------
# Random stacks


def _conv(rng: random.Random, strides=None, padding=None, filters=None) -> L.Conv2D:
    strides = strides or (rng.randint(1, 3), rng.randint(1, 3))
    # Keras's Conv2D dilates only with stride 1.
    dilated = strides == (1, 1) and rng.random() < 0.3
    return L.Conv2D(
        filters=filters or rng.randint(1, 6),
        kernel_size=(rng.randint(1, 5), rng.randint(1, 5)),
        strides=strides,
        padding=padding or rng.choice(L.PADDINGS),
        activation=rng.choice(L.ACTIVATIONS),
        use_bias=rng.random() < 0.8,
        dilation_rate=(rng.randint(1, 3), rng.randint(1, 3)) if dilated else (1, 1),
    )


def _family(rng: random.Random, shape: tuple[int, ...]):
    """A transposed, depthwise or separable convolution, or an upsampling layer; the layers
    that enlarge a volume only while it is small."""
    small = max(shape[:2]) <= 24
    kinds = ["depthwise", "separable"] + (["transposed", "upsampling"] if small else [])
    kind = rng.choice(kinds)
    kernel = (rng.randint(1, 4), rng.randint(1, 4))
    strides = (rng.randint(1, 3), rng.randint(1, 3))
    common = {
        "kernel_size": kernel,
        "strides": strides,
        "padding": rng.choice(L.PADDINGS),
        "activation": rng.choice(L.ACTIVATIONS),
        "use_bias": rng.random() < 0.8,
    }
    dilation = (rng.randint(1, 2), rng.randint(1, 2))
    if kind == "transposed":
        return L.Conv2DTranspose(filters=rng.randint(1, 6), **common)
    if kind == "depthwise":
        # Unlike Conv2D, these two take a stride and a dilation together.
        return L.DepthwiseConv2D(
            depth_multiplier=rng.randint(1, 3), dilation_rate=dilation, **common
        )
    if kind == "separable":
        return L.SeparableConv2D(filters=rng.randint(1, 6), dilation_rate=dilation, **common)
    return L.UpSampling2D(
        size=(rng.randint(1, 3), rng.randint(1, 3)), interpolation=rng.choice(L.INTERPOLATIONS)
    )


def _pool(rng: random.Random, strides=None, padding=None):
    cls = rng.choice((L.MaxPooling2D, L.AveragePooling2D))
    if strides is None:
        strides = rng.choice((None, (rng.randint(1, 3), rng.randint(1, 3))))
    return cls(
        pool_size=(rng.randint(1, 4), rng.randint(1, 4)),
        strides=strides,
        padding=padding or rng.choice(L.PADDINGS),
    )


def _extras(rng: random.Random) -> list:
    return rng.choice(
        ([], [L.BatchNormalization()], [L.Activation(rng.choice(L.ACTIVATIONS[1:]))], [])
    )


def _volume_block(rng: random.Random, channels: int) -> L.Parallel:
    stride = rng.choice(((1, 1), (2, 2), (1, 2), (2, 1)))
    branches = []
    if rng.random() < 0.5:
        for _ in range(rng.randint(2, 3)):
            if stride == (1, 1) and rng.random() < 0.25:
                branches.append(())
                continue
            first = rng.choice(
                (
                    _conv(rng, strides=stride, padding="same"),
                    _pool(rng, strides=stride, padding="same"),
                )
            )
            rest = _extras(rng)
            if rng.random() < 0.15:  # a block inside the block
                rest.append(
                    L.Parallel(
                        ((_conv(rng, strides=(1, 1), padding="same"),), (L.BatchNormalization(),)),
                        merge="concat",
                    )
                )
            branches.append((first, *rest))
        merge = "concat"
    else:
        filters = channels if rng.random() < 0.5 else rng.randint(1, 6)
        for _ in range(rng.randint(2, 3)):
            if stride == (1, 1) and filters == channels and rng.random() < 0.4:
                branches.append(())
                continue
            branch = [_conv(rng, strides=stride, padding="same")]
            branch += _extras(rng)
            branch.append(_conv(rng, strides=(1, 1), padding="same", filters=filters))
            branches.append(tuple(branch))
        merge = "add"
    return L.Parallel(
        tuple(branches),
        merge=merge,
        activation=rng.choice((None, "relu")),
        name=rng.choice(("", "block")),
    )


def _vector_block(rng: random.Random, length: int) -> L.Parallel:
    if rng.random() < 0.5:
        branches = tuple((L.Dense(rng.randint(1, 8)),) for _ in range(rng.randint(2, 3)))
        return L.Parallel(branches, merge="concat")
    branches = ((L.Dense(length), L.BatchNormalization()), ())
    return L.Parallel(branches, merge="add", activation="relu")


def _propose(rng: random.Random, shape: tuple[int, ...]):
    if len(shape) == 3:
        kinds = ["conv"] * 5 + ["pool"] * 3 + ["pad", "bn", "act", "drop", "flat", "global"]
        kinds += ["block"] * 3 + ["family"] * 4
        kind = rng.choice(kinds)
        if kind == "conv":
            return _conv(rng)
        if kind == "family":
            return _family(rng, shape)
        if kind == "pool":
            return _pool(rng)
        if kind == "pad":
            return L.ZeroPadding2D(((rng.randint(0, 2), rng.randint(0, 2)), (rng.randint(0, 2), 1)))
        if kind == "flat":
            return L.Flatten()
        if kind == "global":
            return rng.choice((L.GlobalAveragePooling2D(), L.GlobalMaxPooling2D()))
        if kind == "block":
            return _volume_block(rng, shape[-1])
    else:
        kind = rng.choice(("dense", "dense", "dense", "bn", "act", "drop", "block"))
        if kind == "dense":
            return L.Dense(rng.randint(1, 16), activation=rng.choice(L.ACTIVATIONS))
        if kind == "block":
            return _vector_block(rng, shape[0])
    if kind == "bn":
        return L.BatchNormalization()
    if kind == "act":
        return L.Activation(rng.choice(L.ACTIVATIONS[1:]))
    return L.Dropout(rng.choice((0.0, 0.25, 0.5)))


def random_stacks(count: int, seed: int):
    """Seeded valid networks, and the single layers the arithmetic refused along the way."""
    rng = random.Random(seed)
    networks, refused = [], []
    while len(networks) < count:
        shape = (rng.randint(3, 33), rng.randint(3, 33), rng.randint(1, 4))
        stack = [L.Input(shape)]
        for _ in range(rng.randint(2, 9)):
            candidate = _propose(rng, shape)
            try:
                analysis = ar.analyse(L.Network("candidate", (*stack, candidate)))
            except ValueError as err:
                refused.append((shape, candidate, str(err)))
                continue
            stack.append(candidate)
            shape = analysis.output_shape
        networks.append(L.Network(f"random {len(networks)}", tuple(stack)))
    return networks, refused


def test_random_stacks_match_keras(fresh_keras):
    networks, _ = random_stacks(RANDOM_STACKS, SEED)
    seen: set[str] = set()
    for number, network in enumerate(networks, start=1):
        compare_with_keras(network)
        if number % 25 == 0:
            keras.backend.clear_session()
        for layer in network.layers:
            seen.add(type(layer).__name__)
            if isinstance(layer, L.Parallel):
                seen.add(f"Parallel {layer.merge}")
            if isinstance(layer, L.Conv2D | L.MaxPooling2D | L.AveragePooling2D):
                if layer.padding == "same" and layer.strides not in ((1, 1), None):
                    seen.add("same with stride")
            if isinstance(layer, L.Conv2D) and layer.kernel_size[0] != layer.kernel_size[1]:
                seen.add("rectangular kernel")
            if isinstance(layer, L.Conv2D) and layer.dilation_rate != (1, 1):
                seen.add("dilated Conv2D")
            if isinstance(layer, L.DepthwiseConv2D | L.SeparableConv2D):
                if layer.dilation_rate != (1, 1) and layer.strides != (1, 1):
                    seen.add("dilation with stride")
            if isinstance(layer, L.DepthwiseConv2D) and layer.depth_multiplier > 1:
                seen.add("depth multiplier")
            if isinstance(layer, L.Conv2DTranspose) and layer.padding == "valid":
                if min(layer.kernel_size) < min(layer.strides):
                    seen.add("transposed kernel below stride")
            if isinstance(layer, L.MaxPooling2D | L.AveragePooling2D) and layer.strides:
                seen.add("pool strides")
    # The generator really exercises what the cross-check is meant to cover.
    assert (
        set(L.LAYER_TYPES)
        | {
            "Parallel concat",
            "Parallel add",
            "same with stride",
            "rectangular kernel",
            "pool strides",
            "dilated Conv2D",
            "dilation with stride",
            "depth multiplier",
            "transposed kernel below stride",
        }
        <= seen
    )
    assert sum(n.input_shape[0] != n.input_shape[1] for n in networks) > RANDOM_STACKS // 2


def test_layers_the_arithmetic_refuses_keras_refuses_too(fresh_keras):
    _, refused = random_stacks(60, SEED + 1)
    single = [
        (shape, layer, message)
        for shape, layer, message in refused
        if isinstance(layer, L.Conv2D | L.MaxPooling2D | L.AveragePooling2D)
    ]
    assert len(single) >= 10
    for shape, layer, message in single:
        assert "does not fit" in message
        kwargs = {"padding": layer.padding, "strides": layer.strides}
        if isinstance(layer, L.Conv2D):
            kwargs["dilation_rate"] = layer.dilation_rate
            keras_layer = layers.Conv2D(layer.filters, layer.kernel_size, **kwargs)
        else:
            keras_layer = getattr(layers, type(layer).__name__)(layer.pool_size, **kwargs)
        with pytest.raises(ValueError):
            keras_layer(keras.Input(shape))


# ---------------------------------------------------------------------------------------------
# Hand-worked numbers


def _rows(key: str) -> list[ar.LayerRow]:
    return ar.analyse(registry.get(key).network).rows


def test_lecture_numbers():
    one = _rows("mnist_one_conv")
    assert one[1].output_shape == (26, 26, 32)
    assert one[2].output_shape == (13, 13, 32)  # not the comment's 14
    assert one[4].output_shape == (5408,)  # not 6272
    two = _rows("mnist_two_conv")
    assert [two[i].output_shape for i in (1, 2, 4, 5)] == [
        (26, 26, 32),
        (13, 13, 32),
        (11, 11, 64),
        (5, 5, 64),
    ]
    assert two[7].output_shape == (1600,)  # not 3136
    assert two[7].size_formula == "5 × 5 × 64 = 1,600"
    figure = _rows("lecture_figure8")
    assert [figure[i].output_shape[:2] for i in range(1, 7)] == [
        (116, 156),
        (58, 78),
        (54, 74),
        (27, 37),
        (24, 34),
        (12, 17),
    ]
    assert figure[7].output_shape == (4080,)  # not 204
    assert figure[7].size_formula == "12 × 17 × 20 = 4,080"


def test_formulas_with_the_layers_own_numbers():
    rows = _rows("mnist_two_conv")
    assert rows[1].param_formula == "32 × (3 × 3 × 1) + 32 = 320"
    assert rows[1].size_formula == "(28 − 3 + 2·0) / 1 + 1 = 26"
    assert rows[1].settings == "32 filters 3×3, stride 1, valid, relu"
    assert rows[4].param_formula == "64 × (3 × 3 × 32) + 64 = 18,496"
    assert rows[5].size_formula == "⌊(11 − 2 + 2·0) / 2⌋ + 1 = ⌊4.5⌋ + 1 = 5"
    assert rows[8].param_formula == "128 × 1,600 + 128 = 204,928"
    assert ar.size_formula(28, 3, 2, "same") == "⌈28 / 2⌉ = 14 ('same' pads 0 before, 1 after)"
    assert ar.size_formula(28, 3, 1, "same") == "⌈28 / 1⌉ = 28 ('same' pads 1 before, 1 after)"
    assert ar.size_formula(32, 5, 1, 2) == "(32 − 5 + 2·2) / 1 + 1 = 32"
    figure = _rows("lecture_figure8")
    assert figure[1].size_formula == (
        "height (120 − 5 + 2·0) / 1 + 1 = 116; width (160 − 5 + 2·0) / 1 + 1 = 156"
    )


def test_same_padding_with_stride_two_on_odd_sizes():
    # Keras's 'same' gives ceil(W / S), whatever the kernel: 7 -> 4, 27 -> 14, 5 -> 3.
    assert [ar.conv_output_size(n, 3, 2, "same") for n in (7, 27, 5, 1)] == [4, 14, 3, 1]
    assert ar.conv_output_size(5, 7, 2, "same") == 3  # kernel larger than the input
    assert ar.same_padding(7, 3, 2) == (1, 1)
    assert ar.same_padding(28, 3, 2) == (0, 1)  # the odd zero goes after, as in TensorFlow
    network = L.Network(
        "odd",
        (
            L.Input((27, 13, 3)),
            L.Conv2D(4, (3, 5), strides=2, padding="same"),
            L.MaxPooling2D(3, strides=2, padding="same"),
        ),
    )
    rows = ar.analyse(network).rows
    assert rows[1].output_shape == (14, 7, 4)
    assert rows[2].output_shape == (7, 4, 4)
    assert rows[2].size_formula.startswith("height ⌈14 / 2⌉ = 7")


def test_conv_macs_by_hand():
    network = L.Network("macs", (L.Input((28, 28, 3)), L.Conv2D(16, (3, 5), strides=(1, 2))))
    # 26 × 12 outputs per map, 16 maps, 3·5·3 multiply-adds each.
    conv = ar.analyse(network).rows[1]
    assert conv.output_shape == (26, 12, 16)
    assert conv.macs == 26 * 12 * 16 * (3 * 5 * 3) == 224_640
    assert conv.trainable == 16 * 45 + 16
    # VGG-16's widely quoted 15.5 G multiply-adds; ResNet's paper: 1.8 G and 3.8 G.
    assert round(ar.analyse(registry.get("vgg16").network).total_macs / 1e9, 1) == 15.5
    assert round(ar.analyse(registry.get("resnet18").network).total_macs / 1e9, 1) == 1.8
    resnet50 = ar.analyse(registry.get("resnet50").network).total_macs
    assert abs(resnet50 - 3.8e9) / 3.8e9 < 0.03


def test_batch_norm_dense_and_blocks():
    block = L.Parallel(
        (
            (L.Conv2D(8, 3, padding="same", activation=None), L.BatchNormalization()),
            (),
        ),
        merge="add",
        activation="relu",
        name="residual",
    )
    network = L.Network("blocks", (L.Input((6, 6, 8)), block, L.GlobalMaxPooling2D()))
    analysis = ar.analyse(network)
    row = analysis.rows[1]
    assert row.kind == "Parallel" and row.output_shape == (6, 6, 8)
    assert [child.path for child in row.children] == ["1.b1.1", "1.b1.2"]
    bn = row.children[1]
    assert (bn.trainable, bn.non_trainable) == (16, 16)
    assert (row.trainable, row.non_trainable) == (8 * 72 + 8 + 16, 16)
    assert "residual" in row.settings and "identity" in row.settings
    assert [r.path for r in analysis.all_rows()] == ["0", "1", "1.b1.1", "1.b1.2", "2"]
    assert analysis.rows[2].output_shape == (8,)


# ---------------------------------------------------------------------------------------------
# Impossible stacks


def _net(*layers) -> L.Network:
    return L.Network("bad", layers)


BAD_STACKS = [
    (
        _net(L.Input((3, 3, 16)), L.Conv2D(8, 5)),
        r"^Layer 1 \(Conv2D\): a 5×5 kernel does not fit the 3×3×16 input with 'valid' padding\. "
        r"Use a kernel of at most 3×3, or padding='same', or remove a pooling layer before it\.$",
    ),
    (_net(L.Input((8, 8, 1)), L.Conv2D(4, 3), L.MaxPooling2D(7)), r"^Layer 2 \(MaxPooling2D\)"),
    (
        # The map shrinks to 1×1; the next pooling would make it empty.
        _net(L.Input((3, 3, 1)), L.Conv2D(2, 3), L.AveragePooling2D(2)),
        r"^Layer 2 \(AveragePooling2D\): a 2×2 pooling window does not fit the 1×1×2 input",
    ),
    (
        _net(L.Input((7, 7, 64)), L.Dense(10)),
        r"^Layer 1 \(Dense\): .*7×7×64.*Add Flatten or GlobalAveragePooling2D",
    ),
    (_net(L.Input((28, 28, 1)), L.Flatten(), L.Conv2D(4, 3)), r"^Layer 2 \(Conv2D\).*vector"),
    (_net(L.Input((784,)), L.MaxPooling2D()), r"^Layer 1 \(MaxPooling2D\).*vector of 784"),
    (_net(L.Input((10,)), L.GlobalAveragePooling2D()), r"^Layer 1 \(GlobalAveragePooling2D\)"),
    (_net(L.Input((10,)), L.ZeroPadding2D(1)), r"^Layer 1 \(ZeroPadding2D\)"),
    (_net(L.Input((8, 8, 1)), L.ZeroPadding2D(-1)), r"^Layer 1 \(ZeroPadding2D\).*at least 0"),
    (_net(L.Input((8, 8, 1)), L.Conv2D(0, 3)), r"^Layer 1 \(Conv2D\): filters .*at least 1"),
    (_net(L.Input((8, 8, 1)), L.Conv2D(-4, 3)), r"^Layer 1 \(Conv2D\): filters"),
    (_net(L.Input((8, 8, 1)), L.Conv2D(2.5, 3)), r"^Layer 1 \(Conv2D\): filters"),
    (_net(L.Input((8, 8, 1)), L.Conv2D(True, 3)), r"^Layer 1 \(Conv2D\): filters"),
    (_net(L.Input((8, 8, 1)), L.Conv2D(4, (0, 3))), r"^Layer 1 \(Conv2D\): kernel_size"),
    (_net(L.Input((8, 8, 1)), L.Conv2D(4, 3, strides=0)), r"^Layer 1 \(Conv2D\): strides"),
    (_net(L.Input((8, 8, 1)), L.MaxPooling2D(2, strides=-1)), r"^Layer 1 \(MaxPooling2D\): str"),
    (_net(L.Input((8, 8, 1)), L.AveragePooling2D(0)), r"^Layer 1 \(AveragePooling2D\): pool"),
    (_net(L.Input((8,)), L.Dense(0)), r"^Layer 1 \(Dense\): units .*at least 1"),
    (_net(L.Input((8,)), L.Dropout(1.0)), r"^Layer 1 \(Dropout\): .*below 1"),
    (_net(L.Input((8,)), L.Dropout(-0.1)), r"^Layer 1 \(Dropout\)"),
    (_net(L.Input((8,)), L.Dropout("0.5")), r"^Layer 1 \(Dropout\)"),
    (_net(L.Input((8,)), L.Dense(4, activation="relu6")), r"^Layer 1 \(Dense\): unknown activ"),
    (_net(L.Input((8,)), L.Activation("swish!")), r"^Layer 1 \(Activation\): unknown activ"),
    (
        _net(L.Input((8, 8, 1)), L.Conv2D(4, 3, padding="full")),
        r"^Layer 1 \(Conv2D\): padding must be 'valid' or 'same'",
    ),
    (_net(L.Input((8, 8, 1)), L.MaxPooling2D(padding="causal")), r"^Layer 1 \(MaxPooling2D\)"),
    (_net(L.Conv2D(4, 3)), r"^Layer 0 \(Conv2D\): a network must start with an Input"),
    (
        _net(L.Input((8, 8, 1)), L.Conv2D(4, 3), L.Input((6, 6, 4))),
        r"^Layer 2 \(Input\): only the first layer may be an Input",
    ),
    (_net(), r"^The network has no layers"),
    (_net(L.Input((28, 28))), r"^Layer 0 \(Input\): the shape must be"),
    (_net(L.Input((0, 28, 1))), r"^Layer 0 \(Input\): every size"),
    (_net(L.Input((8, 8, 1)), "Conv2D"), r"^Layer 1: 'str' is not a layer spec"),
    (
        _net(
            L.Input((8, 8, 3)),
            L.Parallel(((L.Conv2D(4, 3, padding="same"),), ()), merge="add", name="res"),
        ),
        r"^Layer 1 \(Parallel 'res'\): adding needs the same shape .*8×8×4.*8×8×3",
    ),
    (
        _net(
            L.Input((8, 8, 3)),
            L.Parallel(((L.Conv2D(4, 3),), (L.Conv2D(4, 3, padding="same"),))),
        ),
        r"^Layer 1 \(Parallel\): concatenating along channels needs the same height and width",
    ),
    (
        _net(L.Input((8, 8, 3)), L.Parallel(((L.Flatten(),), ()))),
        r"^Layer 1 \(Parallel\): concatenating needs all branches to end in volumes or all",
    ),
    (
        _net(L.Input((8, 8, 3)), L.Conv2D(4, 1), L.Parallel(((), (L.Conv2D(4, 9),)))),
        r"^Layer 2 \(Parallel\), branch 2, layer 1 \(Conv2D\): a 9×9 kernel does not fit",
    ),
    (
        _net(L.Input((8, 8, 3)), L.Parallel(((L.Input((8, 8, 3)),),))),
        r"^Layer 1 \(Parallel\), branch 1, layer 1 \(Input\)",
    ),
    (_net(L.Input((8, 8, 3)), L.Parallel(())), r"^Layer 1 \(Parallel\): a block needs at least"),
    (
        _net(L.Input((8, 8, 3)), L.Parallel(((), ()), merge="mul")),
        r"^Layer 1 \(Parallel\): merge must be 'concat' or 'add'",
    ),
]


@pytest.mark.parametrize(("network", "message"), BAD_STACKS)
def test_impossible_stacks_say_which_layer_and_what_to_change(network, message):
    with pytest.raises(ValueError, match=message):
        ar.analyse(network)


def test_size_helpers_refuse_bad_numbers():
    with pytest.raises(ValueError, match="kernel of 5 does not fit an input of 3"):
        ar.conv_output_size(3, 5, 1, "valid")
    with pytest.raises(ValueError, match="stride must be"):
        ar.conv_output_size(28, 3, 0, "valid")
    with pytest.raises(ValueError, match="padding must be"):
        ar.conv_output_size(28, 3, 1, "full")
    assert ar.conv_output_size(28, 5, 2) == 12  # Keras drops the last column
    with pytest.raises(ValueError, match="kernel must be"):
        ar.size_formula(28, 0, 1)


def test_messages_do_not_leak_python_reprs_of_shapes():
    with pytest.raises(ValueError) as err:
        ar.analyse(_net(L.Input((7, 7, 64)), L.Dense(10)))
    assert not re.search(r"\(7, 7, 64\)", str(err.value))


def test_bytes_as_text():
    # The one size formatter, for the explorer's tables and the memory budget's messages.
    assert ar.format_bytes(3 * 2**20 // 2) == "1.5 MiB" and ar.format_bytes(512) == "512 B"
    assert ar.format_bytes(2**30) == "1.0 GiB"
    assert ar.format_bytes(16 * 2**30) == "16.0 GiB" and ar.format_bytes(3 * 2**40) == "3.0 TiB"
    assert ar.format_bytes(1500 * 2**40) == "1,500.0 TiB"
