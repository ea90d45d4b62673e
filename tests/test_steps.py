"""Several training steps per compiled call (`cnnlib.training.steps`) and the learning-rate
schedule: checked against Keras's own one-batch-at-a-time training and against the formula."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import layers

from cnnlib.scheduler import JobScheduler
from cnnlib.training import TrainingJob, TrainSettings, loop
from cnnlib.training.settings import schedule_factor
from cnnlib.training.steps import CallSizer, MultiStep
from tests.test_training import small_cnn, stripe_data, wait_for


def compiled_cnn(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_a_stack_of_batches_trains_exactly_as_keras_does_batch_by_batch():
    data = stripe_data(train=96)
    xs = (data.x_train.astype("float32") / 255).reshape(6, 16, 9, 9, 1)
    ys = data.y_train.reshape(6, 16)

    rates = [0.01, 0.005, 0.02, 0.001, 0.01, 0.003]  # a schedule changes it step by step
    reference = compiled_cnn(seed=3)
    expected = []
    for x, y, rate in zip(xs, ys, rates, strict=True):
        reference.optimizer.learning_rate = rate
        expected.append(reference.train_on_batch(x, y, return_dict=True))

    model = compiled_cnn(seed=3)
    model.optimizer.build(model.trainable_variables)
    steps = MultiStep(model)
    assert steps.will_trace()
    losses_a, accuracies_a = steps(xs[:4], ys[:4], rates[:4])
    assert not steps.will_trace()  # traced once for stacks of any length
    losses_b, accuracies_b = steps(xs[4:], ys[4:], rates[4:])
    losses = np.concatenate([losses_a, losses_b])
    accuracies = np.concatenate([accuracies_a, accuracies_b])

    # Keras reports each batch's own values; ours are running means over the stack's epoch.
    # The same numbers, and the same weights at the end.
    count = np.arange(1, 7)
    running_loss = np.cumsum([entry["loss"] for entry in expected]) / count
    running_accuracy = np.cumsum([entry["accuracy"] for entry in expected]) / count
    np.testing.assert_allclose(losses, running_loss, rtol=1e-5)
    np.testing.assert_allclose(accuracies, running_accuracy, rtol=1e-5)
    for ours, theirs in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


class OneBatchPerCall(CallSizer):
    def batches(self) -> int:
        return 1


def test_how_batches_are_grouped_into_calls_does_not_change_the_run(monkeypatch):
    """The same seed with a cosine schedule and shifts: one batch per call, or as many as
    fit in 0.1 s, gives the same losses batch by batch."""

    def run() -> dict:
        settings = TrainSettings(
            epochs=2,
            batch_size=16,
            learning_rate=0.01,
            schedule="cosine",
            augment_shift=1,
            validation_split=0.0,
            precision="float32",
        )
        job = TrainingJob(small_cnn, stripe_data(), settings, scheduler=JobScheduler(1)).start()
        assert job.wait(60)
        return job.snapshot()

    grouped = run()
    monkeypatch.setattr(loop, "CallSizer", OneBatchPerCall)
    single = run()
    assert grouped["state"] == single["state"] == "finished"
    losses = grouped["batch_history"]["loss"]
    assert len(losses) == 40
    np.testing.assert_allclose(losses, single["batch_history"]["loss"], rtol=1e-4, atol=1e-6)


def test_calls_are_sized_to_the_target_length():
    sizer = CallSizer(call_seconds=0.1, most=32)
    assert sizer.batches() == 1  # nothing timed yet
    sizer.record(0.02, 1)
    assert sizer.batches() == 5
    sizer.record(0.5, 1)  # one slow call (the machine was busy) does not swing it at once
    sizer.record(0.02, 1)
    assert sizer.batches() == 5
    sizer.record(0.0001 * 10, 10)
    sizer.record(0.0001 * 10, 10)
    sizer.record(0.0001 * 10, 10)
    assert sizer.batches() == 32  # never more than `most`
    sizer.forget()
    assert sizer.batches() == 1


@pytest.mark.parametrize(
    ("progress", "factor"), [(0.0, 1.0), (0.25, 0.5 + 0.5 * math.sqrt(0.5)), (0.5, 0.5), (1.0, 0.0)]
)
def test_cosine_schedule_follows_half_a_cosine(progress, factor):
    assert schedule_factor("cosine", progress) == pytest.approx(factor)
    assert schedule_factor("constant", progress) == 1.0


def test_a_cosine_run_lowers_the_optimizers_rate_to_near_zero_by_the_end():
    data = stripe_data(train=320)
    settings = TrainSettings(
        epochs=3,
        batch_size=16,
        learning_rate=0.01,
        schedule="cosine",
        validation_split=0.0,
        precision="float32",
    )
    job = TrainingJob(small_cnn, data, settings, scheduler=JobScheduler(max_running=1)).start()
    seen = []
    wait_for(lambda: seen.append(job.snapshot()["learning_rate_now"]) or job.wait(0), 60, "end")
    assert job.snapshot()["state"] == "finished"
    assert seen[-1] < 0.01 * 0.02  # the last call ran at under 2% of the chosen rate
    assert all(a >= b for a, b in zip(seen, seen[1:], strict=False))  # never rises
    assert job.snapshot()["learning_rate"] == 0.01  # the chosen rate is kept as chosen
    rate = float(keras.ops.convert_to_numpy(job.model.optimizer.learning_rate))
    assert rate == pytest.approx(seen[-1])
