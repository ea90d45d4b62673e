"""The run model: one record format whichever page trained the model, the can-train check,
unique names, job states, and a smoothed curve that keeps up with the network."""

from __future__ import annotations

import numpy as np
import pytest
from datafiles import synthetic_digits

from cnnlib import ensemble, profiles, registry
from cnnlib.datasets import Dataset
from cnnlib.layers import Conv2D, Dense, Flatten, Input, Network
from cnnlib.runs import network_problem, start_run, unique_name
from cnnlib.training import JobState, TrainSettings
from cnnlib.training.history import MovingAverage, smoothing_window


def tiny(profile: profiles.DatasetProfile) -> Dataset:
    size, channels = profile.input_shape[0], profile.input_shape[2]
    x_train, y_train = synthetic_digits(120, seed=1, size=size, channels=channels)
    x_test, y_test = synthetic_digits(40, seed=2, size=size, channels=channels)
    return Dataset(profile.name, x_train, y_train, x_test, y_test, profile.class_names, "tests")


SETTINGS = TrainSettings(epochs=1, batch_size=32, precision="float32")


def test_a_saved_model_has_the_same_metadata_whichever_page_trained_it():
    records = []
    # The MNIST page, the CIFAR-10 page (live view on) and the ensemble's member trainer.
    mnist, cifar = profiles.MNIST, profiles.with_live_view(profiles.CIFAR10)
    for profile, network, probe in (
        (mnist, registry.get("mnist_one_conv").network, None),
        (cifar, registry.get("convnetjs_cifar10").network, 0.5),
    ):
        run = start_run(
            profile, tiny(profile), network, SETTINGS, name=profile.label, probe_interval=probe
        )
        assert run.job.wait(120) and run.state == JobState.FINISHED
        records.append(run.record())
    spec = ensemble.MemberSpec("member", "mnist_one_conv", 3)
    member = ensemble.start_member_run(spec, mnist, tiny(mnist), SETTINGS, 100, data_seed=5)
    assert member.job.wait(120)
    records.append(member.record())
    keys = [set(record.metadata()) for record in records]
    settings = [set(record.settings) for record in records]
    history = [set(record.history) for record in records]
    assert keys[0] == keys[1] == keys[2]
    assert settings[0] == settings[1] == settings[2]
    assert history[0] == history[1] == history[2]
    assert records[2].settings["seed"] == 3 and records[2].settings["data_seed"] == 5
    assert records[2].settings["train_images"] == 100
    assert records[2].settings["architecture"] == "mnist_one_conv"


def test_networks_that_cannot_train_on_a_profile_are_refused_by_name():
    mnist = profiles.MNIST
    colour = Network("c", (Input((32, 32, 3)), Flatten(), Dense(10, activation="softmax")))
    assert "32×32×3" in network_problem(colour, mnist) and "28×28×1" in network_problem(
        colour, mnist
    )
    five = Network("f", (Input((28, 28, 1)), Flatten(), Dense(5, activation="softmax")))
    assert "Dense(10, softmax)" in network_problem(five, mnist)
    logits = Network("l", (Input((28, 28, 1)), Flatten(), Dense(10)))
    assert "softmax" in network_problem(logits, mnist)
    huge = Network(
        "h",
        (Input((28, 28, 1)), Conv2D(16384, 1), Flatten(), Dense(10, activation="softmax")),
    )
    assert network_problem(huge, mnist) is None  # the spec itself is fine...
    assert "Conv2D" in network_problem(huge, mnist, batch_size=128)  # ...its memory is not
    with pytest.raises(ValueError, match="Conv2D"):
        start_run(mnist, tiny(mnist), huge, TrainSettings(batch_size=128), name="too big")
    assert network_problem(registry.get("mnist_two_conv").network, mnist, 128) is None


def test_unique_names_count_up():
    assert unique_name("net", {}) == "net"
    assert unique_name("net", {"net": 1, "net (2)": 2}) == "net (3)"
    assert unique_name("  ", {}) == "model"


def test_job_states_answer_what_pages_ask():
    assert JobState("running").active and not JobState.RUNNING.ended
    assert JobState.FAILED.ended and JobState.FINISHED.ended
    assert {state for state in JobState if state.active} == {
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.PAUSED,
        JobState.STOPPING,
    }
    assert JobState.PAUSED == "paused"  # snapshots stay plain strings


def test_the_smoothed_curve_keeps_up_with_a_network_that_learns_fast():
    # 70 batches an epoch (10,000 images, 10% held out, batch 128), accuracy climbing as a
    # small network's does: 1 - 0.9 exp(-batch / 8). At half an epoch the smoothed value must
    # be near the per-batch one; the old 50-batch window stayed near the climb's mean.
    batches = np.arange(35)
    values = 1 - 0.9 * np.exp(-batches / 8)
    new, old = MovingAverage(smoothing_window(70)), MovingAverage(50)
    smoothed = [new.add(value) for value in values]
    lagging = [old.add(value) for value in values]
    assert smoothed[0] == pytest.approx(values[0])  # bias-corrected: no start at zero
    assert abs(smoothed[-1] - values[-1]) < 0.05
    assert values[-1] - lagging[-1] > 0.15
    assert smoothing_window(469) == 46 and smoothing_window(10) == 5
