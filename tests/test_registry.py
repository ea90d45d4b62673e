"""The architecture registry: its entries against their sources, the lecture's stated shapes
against the true ones, ResNet-50 and MobileNet against keras.applications, and the
no-TensorFlow import."""

import json
import math
import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from cnnlib import layers as L
from cnnlib import registry
from cnnlib.arithmetic import analyse
from cnnlib.training import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
LECTURE_KEYS = ["lecture_figure8", "mnist_one_conv", "mnist_two_conv", "exercise"]
DATASET_INPUTS = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}


def _analysis(key: str):
    return analyse(registry.get(key).network)


def test_lecture_models_come_first_and_every_case_study_is_there():
    keys = list(registry.REGISTRY)
    assert keys[:4] == LECTURE_KEYS
    for key in (
        "convnetjs_cifar10",
        "convnetjs_mnist",
        "lenet5",
        "alexnet",
        "vgg16",
        "googlenet",
        "resnet18",
        "resnet50",
        "kim_cnn",
        "alphago_policy",
        "mobilenet",
    ):
        assert key in keys


@pytest.mark.parametrize("key", list(registry.REGISTRY))
def test_entry_is_complete_and_ends_in_a_softmax_over_its_classes(key):
    entry = registry.get(key)
    assert entry.key == key and entry.title and entry.source and entry.summary
    assert entry.dataset in (None, *registry.DATASETS)
    if entry.dataset:
        assert entry.network.input_shape == DATASET_INPUTS[entry.dataset]
    analysis = analyse(entry.network)
    assert analysis.output_shape == (entry.num_classes,)
    last = entry.network.layers[-1]
    assert getattr(last, "activation", None) == "softmax"
    # Pages offer every network for download and load it back.
    assert L.Network.from_json(entry.network.to_json()) == entry.network
    if entry.published_params is not None and entry.published_params != analysis.total_params:
        assert entry.count_note
    with pytest.raises(FrozenInstanceError):
        entry.title = "changed"


def _stated_numbers(text: str) -> list[int]:
    """The shape a lecture comment states: '26,26,32' -> [26, 26, 32]; '6272 = 14*14*32' ->
    [6272] (what is left of '=' is the claim); '12x17=204' -> [12, 17]."""
    claim = text.split("=")[0]
    return [int(n) for n in re.findall(r"\d+", claim)]


@pytest.mark.parametrize("key", LECTURE_KEYS)
def test_lecture_shapes_are_flagged_exactly_where_they_disagree(key):
    entry = registry.get(key)
    rows = _analysis(key).rows
    for index, stated, explanation in entry.lecture_shapes:
        true = rows[index].output_shape
        numbers = _stated_numbers(stated)
        agrees = len(numbers) <= len(true) and list(true[: len(numbers)]) == numbers
        # An explanation is given exactly where the comment is wrong, and it gives the truth.
        assert agrees != bool(explanation), (key, index, stated, true)
        if explanation and len(true) == 1:
            assert f"{true[0]:,}" in explanation, (stated, explanation)
        elif explanation:
            assert ",".join(map(str, true)) in explanation, (stated, explanation)


def test_lecture_shape_comments_recorded_for_the_lecture_models():
    stated = {key: [s for _, s, _ in registry.get(key).lecture_shapes] for key in LECTURE_KEYS}
    assert stated["lecture_figure8"][-1] == "12x17=204"
    assert "14,14,32" in stated["mnist_one_conv"] and "6272 = 14*14*32" in stated["mnist_one_conv"]
    assert stated["mnist_two_conv"][:5] == [
        "26,26,32",
        "14,14,32",
        "14,14,64",
        "7,7,64",
        "3136 = 7*7*64",
    ]


def test_lecture_results_and_settings():
    assert registry.get("mnist_one_conv").lecture_accuracy == pytest.approx(0.9880)
    assert registry.get("mnist_two_conv").lecture_accuracy == pytest.approx(0.9929)
    assert registry.get("exercise").lecture_accuracy == pytest.approx(0.9935)
    for key in ("mnist_one_conv", "mnist_two_conv", "exercise"):
        settings = registry.get(key).lecture_settings
        assert (settings["epochs"], settings["batch_size"], settings["optimizer"]) == (
            12,
            128,
            "adam",
        )
    # The program whose run reports 99.29% drops 0.25 after the hidden Dense layer.
    two = registry.get("mnist_two_conv").network.layers
    assert isinstance(two[8], L.Dense) and two[9] == L.Dropout(0.25)


def test_exercise_is_ours_and_cheap_enough_for_a_cpu():
    entry = registry.get("exercise")
    assert "not in the text" in entry.source and "ours" in entry.summary
    assert _analysis("exercise").total_macs <= 2 * _analysis("mnist_two_conv").total_macs
    # The design is the lecture's two-convolution network trained with a recipe of its own:
    # the lecture's epochs, batch and optimizer, plus a schedule and shifts.
    assert entry.network.layers == registry.get("mnist_two_conv").network.layers
    recipe = entry.recipe
    assert (recipe["epochs"], recipe["batch_size"], recipe["optimizer"]) == (12, 128, "adam")
    assert (recipe["schedule"], recipe["augment_shift"]) == ("cosine", 2)
    TrainSettings(**{k: v for k, v in recipe.items() if k != "loss"})  # a valid setting


def test_published_counts():
    assert _analysis("vgg16").total_params == 138_357_544
    assert _analysis("resnet50").total_params == 25_636_712
    assert _analysis("resnet18").trainable_params == 11_689_512
    alexnet = _analysis("alexnet").total_params
    assert alexnet == 62_378_344 and abs(alexnet - 60e6) / 60e6 < 0.05
    lenet = _analysis("lenet5").total_params
    assert lenet == 61_706 and abs(lenet - 60e3) / 60e3 < 0.05
    assert "62,378,344" in registry.get("alexnet").count_note
    assert "61,706" in registry.get("lenet5").count_note
    mobilenet = _analysis("mobilenet").total_params
    assert mobilenet == 4_253_864 and abs(mobilenet - 4.2e6) / 4.2e6 < 0.02


def test_case_study_shapes_follow_the_papers():
    alexnet = _analysis("alexnet").rows
    assert alexnet[1].output_shape == (55, 55, 96)
    assert alexnet[8].output_shape == (6, 6, 256)
    # GoogLeNet's Table 1: each inception module's output size and depth.
    inception = [row for row in _analysis("googlenet").rows if row.kind == "Parallel"]
    assert [row.output_shape for row in inception] == [
        (28, 28, 256),
        (28, 28, 480),
        (14, 14, 512),
        (14, 14, 512),
        (14, 14, 512),
        (14, 14, 528),
        (14, 14, 832),
        (7, 7, 832),
        (7, 7, 1024),
    ]
    assert all(len(row.children) >= 6 for row in inception)  # expanded, not flattened away
    resnet18 = [row for row in _analysis("resnet18").rows if row.kind == "Parallel"]
    assert [row.output_shape for row in resnet18[1::2]] == [
        (56, 56, 64),
        (28, 28, 128),
        (14, 14, 256),
        (7, 7, 512),
    ]
    kim = _analysis("kim_cnn").rows[1]
    assert [child.output_shape for child in kim.children if child.kind == "Conv2D"] == [
        (54, 1, 100),
        (53, 1, 100),
        (52, 1, 100),
    ]
    assert kim.output_shape == (300,)
    assert registry.get("kim_cnn").network.layers[2] == L.Dropout(0.5)
    alphago = _analysis("alphago_policy").rows
    convs = [row for row in alphago if row.kind == "Conv2D"]
    assert len(convs) == 13 and all(row.output_shape[:2] == (19, 19) for row in convs)
    assert [row.output_shape[2] for row in convs] == [192] * 12 + [1]
    assert alphago[0].output_shape == (19, 19, 48) and alphago[-1].output_shape == (361,)
    lenet = _analysis("lenet5").rows
    assert [lenet[i].output_shape for i in (1, 2, 3, 4, 5)] == [
        (28, 28, 6),
        (14, 14, 6),
        (10, 10, 16),
        (5, 5, 16),
        (1, 1, 120),
    ]


def test_convnetjs_networks():
    cifar = _analysis("convnetjs_cifar10")
    assert [row.output_shape for row in cifar.rows[1:7]] == [
        (32, 32, 16),
        (16, 16, 16),
        (16, 16, 20),
        (8, 8, 20),
        (8, 8, 20),
        (4, 4, 20),
    ]
    mnist = _analysis("convnetjs_mnist")
    assert mnist.rows[4].output_shape == (4, 4, 16)  # 3×3 pool, stride 3, on 14×14
    assert [e.key for e in registry.for_dataset("cifar10")] == ["convnetjs_cifar10"]


def test_resnet50_matches_keras_applications_block_by_block():
    import keras

    try:
        reference = keras.applications.ResNet50(weights=None)
        network = registry.get("resnet50").network
        rows = analyse(network).rows
        blocks = [(spec, row) for spec, row in zip(network.layers, rows, strict=True)]
        blocks = [(spec, row) for spec, row in blocks if isinstance(spec, L.Parallel)]
        assert len(blocks) == 16
        for spec, row in blocks:
            stage, number = re.fullmatch(r"conv(\d) block (\d)", spec.name).groups()
            prefix = f"conv{stage}_block{number}_"
            inside = [layer for layer in reference.layers if layer.name.startswith(prefix)]
            trainable = sum(math.prod(w.shape) for lay in inside for w in lay.trainable_weights)
            frozen = sum(math.prod(w.shape) for lay in inside for w in lay.non_trainable_weights)
            assert (trainable, frozen) == (row.trainable, row.non_trainable), prefix
            out = reference.get_layer(f"{prefix}out").output.shape[1:]
            assert tuple(out) == row.output_shape, prefix
        analysis = _analysis("resnet50")
        assert reference.count_params() == analysis.total_params == 25_636_712
    finally:
        keras.backend.clear_session()


def test_get_and_for_dataset():
    assert registry.get("vgg16").title == "VGG-16"
    with pytest.raises(KeyError, match="vgg_16.*Known architectures: lecture_figure8"):
        registry.get("vgg_16")
    with pytest.raises(ValueError, match="Known architectures"):
        registry.get("nope")
    assert [e.key for e in registry.for_dataset("mnist")] == [
        "mnist_one_conv",
        "mnist_two_conv",
        "exercise",
        "convnetjs_mnist",
    ]
    with pytest.raises(ValueError, match="use one of mnist, cifar10"):
        registry.for_dataset("imagenet")


def test_importing_arithmetic_and_registry_loads_no_tensorflow():
    code = (
        "import json, sys, time\n"
        "start = time.perf_counter()\n"
        "import cnnlib.arithmetic, cnnlib.registry\n"
        "from cnnlib.arithmetic import analyse\n"
        "for entry in cnnlib.registry.REGISTRY.values():\n"
        "    analyse(entry.network)\n"
        "seconds = time.perf_counter() - start\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(json.dumps({'heavy': heavy, 'seconds': seconds}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["heavy"] == []
    print(f"import + analysing the registry: {report['seconds'] * 1000:.0f} ms")
    assert report["seconds"] < 2


def test_googlenet_note_puts_the_gap_where_it_is():
    """The note may not blame biases: they are a sliver of the gap to the paper's 6.8 M."""
    network = registry.get("googlenet").network
    note = registry.get("googlenet").count_note
    rows = analyse(network).all_rows()
    biases = sum(
        layer.filters if isinstance(layer, L.Conv2D) else layer.units
        for layer in _all_layers(network.layers)
        if isinstance(layer, (L.Conv2D, L.Dense)) and layer.use_bias
    )
    total = analyse(network).total_params
    assert f"{total:,}" in note and f"{biases:,}" in note
    assert biases < 0.05 * (total - 6_800_000)
    # The rows of the paper's table quoted in the note, recomputed without biases.
    conv1 = rows[1]
    assert conv1.kind == "Conv2D" and f"{conv1.params - 64:,} weights, not 2.7K" in note
    assert f"{rows[-1].params - 1000:,}, not 1000K" in note
    for row in rows:
        if row.kind == "Parallel" and row.depth == 0:
            name = row.settings.split(":")[0]
            weights = row.params - sum(
                child.output_shape[-1] for child in row.children if child.kind == "Conv2D"
            )
            if name in ("inception (4c)", "inception (5b)", "inception (5a)"):
                assert f"{name} {weights:,}" in note, name


def _all_layers(stack):
    for layer in stack:
        if isinstance(layer, L.Parallel):
            for branch in layer.branches:
                yield from _all_layers(branch)
        else:
            yield layer


def test_mobilenet_matches_keras_applications_layer_by_layer():
    import keras

    try:
        reference = keras.applications.MobileNet(weights=None)
        analysis = _analysis("mobilenet")
        assert reference.count_params() == analysis.total_params == 4_253_864
        # Every layer with weights, in order: Keras's conv1, conv1_bn, conv_dw_1, ... and
        # its 1×1 classifier convolution against the Dense layer here.
        theirs = [
            (
                sum(math.prod(w.shape) for w in layer.trainable_weights),
                sum(math.prod(w.shape) for w in layer.non_trainable_weights),
            )
            for layer in reference.layers
            if layer.weights
        ]
        ours = [(row.trainable, row.non_trainable) for row in analysis.rows if row.params]
        assert ours == theirs
        # The volume after each block: Keras's conv_pw_{n}_relu against the block's last row.
        relus = [row for row in analysis.rows if row.kind == "Activation"]
        for number in range(1, 14):
            out = reference.get_layer(f"conv_pw_{number}_relu").output.shape[1:]
            assert tuple(out) == relus[2 * number].output_shape, number
        assert relus[-1].output_shape == (7, 7, 1024)
    finally:
        keras.backend.clear_session()


def test_mobilenet_against_the_paper():
    entry = registry.get("mobilenet")
    analysis = _analysis("mobilenet")
    # Table 8 of Howard et al.: 569 million mult-adds and 4.2 million parameters at 224×224.
    assert analysis.total_macs == 568_740_352 and round(analysis.total_macs / 1e6) == 569
    batch_norm = sum(row.params for row in analysis.all_rows() if row.kind == "BatchNormalization")
    weights = analysis.total_params - batch_norm
    assert weights == 4_210_088 and round(weights / 1e6, 1) == 4.2
    assert analysis.non_trainable_params == batch_norm // 2 == 21_888
    for number in (analysis.total_params, weights, batch_norm // 2, analysis.total_macs):
        assert f"{number:,}" in entry.count_note
    kinds = [type(layer).__name__ for layer in entry.network.layers]
    assert kinds.count("DepthwiseConv2D") == 13 and kinds.count("ZeroPadding2D") == 4
    # The depthwise separable blocks cost 1/N + 1/9 of plain 3×3 convolutions.
    rows = analysis.rows
    depthwise = [i for i, row in enumerate(rows) if row.kind == "DepthwiseConv2D"]
    for i in depthwise:
        pointwise = rows[i + 3]
        assert pointwise.kind == "Conv2D" and pointwise.settings.startswith(
            f"{pointwise.output_shape[2]} filters 1×1"
        )
        plain = rows[i].output_shape[0] * rows[i].output_shape[1] * 9
        plain *= rows[i].input_shape[2] * pointwise.output_shape[2]
        ratio = (rows[i].macs + pointwise.macs) / plain
        assert ratio == pytest.approx(1 / pointwise.output_shape[2] + 1 / 9)
