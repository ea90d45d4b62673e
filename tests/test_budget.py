"""Tests of cnnlib.budget: the memory and size limits checked before a network is built.

The references are hand arithmetic for the issue's oversized network, Keras's own weights for
the weight bytes, and the registry's trainable networks, which must all pass. The memory limit
is read from a written meminfo file and from the environment, never from this machine's state.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlib import budget as B
from cnnlib import layers as L
from cnnlib.registry import for_dataset

GiB = 2**30
# The issue's network: 229 k parameters, 64 MiB of activations per image.
WIDE = L.Network(
    "wide 1×1",
    (
        L.Input((32, 32, 3)),
        L.Conv2D(16384, 1),
        L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax"),
    ),
)


@pytest.fixture(autouse=True)
def no_limit_variable(monkeypatch):
    monkeypatch.delenv(B.MEMORY_VARIABLE, raising=False)


def test_the_issues_oversized_network_is_refused_naming_the_layer_and_the_remedies():
    with pytest.raises(ValueError) as refused:
        B.check_budget(WIDE, 128, limit_bytes=8 * GiB)
    message = str(refused.value)
    assert "layer 1 (Conv2D: 16384 filters 1×1" in message
    assert "fewer filters" in message
    assert "pooling layer" in message
    assert "smaller batch" in message
    assert "8.0 GiB" in message


def test_the_issues_network_figures_match_hand_arithmetic():
    # Outputs per image, float32: input, convolution, pooled vector, scores.
    per_image = 4 * (32 * 32 * 3 + 32 * 32 * 16384 + 16384 + 10)
    parameters = (16384 * 3 + 16384) + (10 * 16384 + 10)
    budget = B.check_budget(WIDE, 2, limit_bytes=64 * GiB)
    assert budget.parameters == budget.trainable_parameters == parameters == 229_386
    assert budget.activation_bytes == 2 * 2 * per_image
    assert budget.weight_bytes == 4 * parameters
    assert budget.optimizer_bytes == 3 * 4 * parameters
    assert budget.total_bytes == 4 * per_image + 16 * parameters
    # At the issue's batch of 128 the forward pass alone is its "~8.6 GB".
    assert round(128 * per_image / 1e9, 1) == 8.6


def test_the_batch_the_message_proposes_fits_and_one_more_does_not():
    limit = 3 * GiB
    with pytest.raises(ValueError, match=r"a batch of at most (\d+) fits") as refused:
        B.check_budget(WIDE, 128, limit_bytes=limit)
    fitting = int(refused.value.args[0].split("a batch of at most ")[1].split(" fits")[0])
    assert 1 <= fitting < 128
    B.check_budget(WIDE, fitting, limit_bytes=limit)
    with pytest.raises(ValueError):
        B.check_budget(WIDE, fitting + 1, limit_bytes=limit)


def test_every_network_meant_for_training_passes_at_batch_128_in_one_gib():
    entries = for_dataset("mnist") + for_dataset("cifar10")
    assert len(entries) >= 5
    for entry in entries:
        budget = B.check_budget(entry.network, 128, limit_bytes=GiB)
        assert 0 < budget.total_bytes <= GiB, entry.key


def test_weight_bytes_match_the_weights_keras_allocates():
    from cnnlib.build import build_model

    network = L.Network(
        "small",
        (
            L.Input((12, 12, 3)),
            L.Conv2D(4, 3),
            L.BatchNormalization(),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(5, activation="softmax"),
        ),
    )
    model = build_model(network)
    budget = B.check_budget(network, 4, limit_bytes=GiB)
    assert budget.weight_bytes == sum(w.numpy().nbytes for w in model.weights)
    trainable = sum(w.numpy().nbytes for w in model.trainable_weights)
    assert budget.optimizer_bytes == 3 * trainable


def test_absurd_sizes_are_refused_in_milliseconds():
    absurd = {
        "filters": L.Network("f", (L.Input((32, 32, 3)), L.Conv2D(10**9, 3))),
        "input": L.Network("i", (L.Input((10**9, 10**9, 3)), L.Conv2D(8, 3))),
        "dense": L.Network("d", (L.Input((100_000,)), L.Dense(100_000))),
    }
    for name, network in absurd.items():
        start = time.perf_counter()
        with pytest.raises(ValueError) as refused:
            B.check_budget(network, 128, limit_bytes=8 * GiB)
        assert time.perf_counter() - start < 0.5, name
        assert "layer 1 (" in str(refused.value), name
    with pytest.raises(ValueError, match="at most 150,000,000"):
        B.check_budget(absurd["dense"], 1, limit_bytes=2**60)


def test_a_parameter_cap_refusal_names_the_biggest_layer():
    network = L.Network("flat", (L.Input((256, 256, 3)), L.Flatten(), L.Dense(4096), L.Dense(10)))
    with pytest.raises(ValueError) as refused:
        B.check_budget(network, 1, limit_bytes=2**60)
    message = str(refused.value)
    assert "805,351,434 parameters" in message
    assert "layer 2 (Dense: 4096 units" in message
    assert "fewer units" in message and "GlobalAveragePooling2D" in message


def test_weights_that_do_not_fit_are_named_before_the_batch():
    # VGG-16's classifier alone: 102 M weights, 1.5 GiB with gradients and Adam's moments.
    network = L.Network("vgg top", (L.Input((25088,)), L.Dense(4096), L.Dense(10)))
    with pytest.raises(ValueError, match="weights and optimizer state") as refused:
        B.check_budget(network, 1, limit_bytes=GiB)
    assert "layer 1 (Dense" in str(refused.value)


def test_a_block_layer_is_named_by_its_branch():
    block = L.Parallel(
        branches=((L.Conv2D(8, 1, padding="same"),), (L.Conv2D(4096, 3, padding="same"),))
    )
    network = L.Network("block", (L.Input((64, 64, 3)), block, L.GlobalAveragePooling2D()))
    with pytest.raises(ValueError, match=r"layer 1, branch 2, layer 1 \(Conv2D: 4096 filters"):
        B.check_budget(network, 64, limit_bytes=GiB)


@pytest.mark.parametrize("batch_size", [0, -3, 1.5, True, "32", None])
def test_bad_batch_sizes_are_refused(batch_size):
    with pytest.raises(ValueError, match="batch size must be a whole number"):
        B.check_budget(WIDE, batch_size, limit_bytes=GiB)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1073741824", GiB),
        ("2G", 2 * GiB),
        ("2g", 2 * GiB),
        ("512M", 512 * 2**20),
        ("512 MiB", 512 * 2**20),
        ("1.5GB", 3 * GiB // 2),
        ("64k", 64 * 1024),
        ("1T", 2**40),
    ],
)
def test_the_memory_variable_takes_bytes_with_units(monkeypatch, text, expected):
    monkeypatch.setenv(B.MEMORY_VARIABLE, text)
    assert B.memory_limit() == (expected, B.MEMORY_VARIABLE)


@pytest.mark.parametrize("text", ["lots", "0", "-2G", "2X", "2 G B", "0.1", "1e9", "9" * 400])
def test_a_bad_memory_variable_says_how_to_write_it(monkeypatch, text):
    monkeypatch.setenv(B.MEMORY_VARIABLE, text)
    with pytest.raises(ValueError, match=r"CNNLAB_MAX_JOB_MEMORY is .*e\.g\. 2G or 512M"):
        B.memory_limit()
    with pytest.raises(ValueError, match="CNNLAB_MAX_JOB_MEMORY"):
        B.check_budget(WIDE, 1)


def test_the_memory_variable_is_the_limit_a_refusal_names(monkeypatch):
    monkeypatch.setenv(B.MEMORY_VARIABLE, "1G")
    with pytest.raises(ValueError, match=r"the 1\.0 GiB a job may use \(CNNLAB_MAX_JOB_MEMORY\)"):
        B.check_budget(WIDE, 128)
    assert B.check_budget(WIDE, 4).limit_bytes == GiB


def test_without_the_variable_the_limit_is_half_the_available_memory(monkeypatch, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       16000000 kB\nMemFree:          500000 kB\n"
        "MemAvailable:    8000000 kB\nBuffers:          100000 kB\n"
    )
    monkeypatch.setattr(B, "MEMINFO", meminfo)
    limit, source = B.memory_limit()
    assert limit == 8_000_000 * 1024 // 2
    assert "50%" in source and "7.6 GiB free" in source
    assert B.check_budget(WIDE, 8).limit_bytes == limit
    with pytest.raises(ValueError, match="free now"):
        B.check_budget(WIDE, 128)


def test_unreadable_memory_falls_back_to_a_fixed_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(B, "MEMINFO", tmp_path / "missing")

    def no_sysconf(name):
        raise ValueError(f"unknown {name}")

    monkeypatch.setattr(B.os, "sysconf", no_sysconf)
    assert B.memory_limit()[0] == B.FALLBACK_LIMIT


def test_the_budget_module_does_not_load_tensorflow():
    code = (
        "import sys; from cnnlib import budget, registry; "
        "budget.check_budget(registry.get('mnist_two_conv').network, 128, 2**30); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.stdout.strip() == "[]"


def test_describe_gives_the_figures_in_words():
    text = B.check_budget(WIDE, 2, limit_bytes=GiB).describe()
    assert text.startswith("Training needs about 259.8 MiB of the 1.0 GiB a job may use")
    assert "256.3 MiB for a batch of 2" in text
    assert "3.5 MiB for 229,386 parameters" in text


def test_a_layer_that_enlarges_the_volume_is_named_with_advice_that_fits_it():
    network = L.Network(
        "decoder",
        (L.Input((64, 64, 8)), L.UpSampling2D(8), L.Conv2D(1, 1), L.Flatten(), L.Dense(2)),
    )
    with pytest.raises(ValueError) as err:
        B.check_budget(network, 64, limit_bytes=2**30)
    message = str(err.value)
    assert "layer 1 (UpSampling2D: 8, nearest)" in message
    assert "It enlarges its 64×64×8 input: upsample by a smaller factor" in message
