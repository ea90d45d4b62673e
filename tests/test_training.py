"""Tests of the training engine on tiny synthetic data: live snapshots, controls, queueing,
NaN handling, reproducibility and the end-of-training report.

Hyperparameter changes are checked against the update rules worked out in NumPy, not just
against the optimizer's attributes: on all-zero images a dense layer's kernel gets no gradient,
so only weight decay moves it, and its bias follows plain softmax gradients.
"""

from __future__ import annotations

import json
import re
import threading
import time
import types

import keras
import numpy as np
import pytest
from keras import layers
from sklearn.metrics import accuracy_score, confusion_matrix

from cnnlib import precision, scheduler, training
from cnnlib.scheduler import JobScheduler
from cnnlib.training import TrainingJob, TrainSettings
from cnnlib.training import history as job_history

CLASS_NAMES = ["left", "middle", "right"]


def stripes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """9x9 uint8 images with a bright vertical band in the third named by the label, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    images = rng.integers(0, 40, (count, 9, 9, 1)).astype(np.uint8)
    for index, label in enumerate(labels):
        images[index, :, 3 * label : 3 * label + 3] = 200
    return images, labels


def stripe_data(train: int = 320, test: int = 90) -> types.SimpleNamespace:
    x_train, y_train = stripes(train, seed=1)
    x_test, y_test = stripes(test, seed=2)
    return types.SimpleNamespace(
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_names=CLASS_NAMES
    )


def small_cnn(policy: str) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            layers.Conv2D(4, 3, activation="relu", dtype=policy),
            layers.MaxPooling2D(2, dtype=policy),
            layers.Dropout(0.25, dtype=policy),
            layers.Flatten(dtype=policy),
            layers.Dense(3, activation="softmax", dtype="float32"),
        ]
    )


def linear_model() -> keras.Model:
    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((4, 4, 1)),
            layers.Flatten(),
            layers.Dense(3, activation="softmax", bias_initializer="random_normal"),
        ]
    )


def blank_data(count: int = 400) -> types.SimpleNamespace:
    """All-zero images, all of class 0: the kernel's gradient is exactly zero."""
    images = np.zeros((count, 4, 4, 1), np.uint8)
    labels = np.zeros(count, np.int64)
    return types.SimpleNamespace(
        x_train=images,
        y_train=labels,
        x_test=images[:30],
        y_test=labels[:30],
        class_names=CLASS_NAMES,
    )


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def jobs():
    """Makes jobs that share one scheduler of their own (one job at a time), so that jobs left
    by other tests cannot hold them up, and stops them all afterwards."""
    pool = JobScheduler(max_running=1)
    made: list[TrainingJob] = []

    def make(*args, **kwargs) -> TrainingJob:
        job = TrainingJob(*args, scheduler=pool, **kwargs)
        made.append(job)
        return job

    yield make
    for job in made:
        job.stop()
    for job in made:
        assert job.wait(30), "a job outlived its test"


def endless(**overrides) -> TrainSettings:
    """Settings for a run that lasts until the test stops it."""
    values = {"epochs": 500, "batch_size": 16, "validation_split": 0.0, "precision": "float32"}
    values.update(overrides)
    return TrainSettings(**values)


def test_snapshot_moves_while_running_and_is_plain_data(jobs):
    job = jobs(small_cnn, stripe_data(), endless(), name="moving").start()
    first = wait_for(lambda: (s := job.snapshot())["step"] >= 2 and s, what="two batches")
    later = wait_for(lambda: (s := job.snapshot())["step"] >= first["step"] + 5 and s)
    assert later["state"] == "running"
    assert later["step"] > first["step"]
    assert later["examples_seen"] > first["examples_seen"]
    assert later["elapsed_s"] > first["elapsed_s"]
    assert 0 < later["progress"] < 1
    assert later["samples_per_s"] > 0 and later["eta_s"] > 0
    assert later["timing"]["forward_backward_ms_per_example"] > 0
    history = later["batch_history"]
    assert len(history["step"]) == len(history["loss"]) == len(history["accuracy_smooth"])
    assert history["step"] == sorted(history["step"])
    assert later["precision"] == "float32" and later["queue_position"] is None
    json.dumps(later)  # plain data only


def test_pause_holds_counter_and_cpu_then_resume_continues(jobs):
    job = jobs(small_cnn, stripe_data(), endless()).start()
    wait_for(lambda: job.snapshot()["step"] >= 2)
    job.pause()
    paused = wait_for(lambda: (s := job.snapshot())["state"] == "paused" and s, what="pause")
    cpu_before = time.process_time()
    time.sleep(0.6)
    cpu_spent = time.process_time() - cpu_before
    still = job.snapshot()
    assert still["step"] == paused["step"] and still["examples_seen"] == paused["examples_seen"]
    assert still["state"] == "paused"
    assert cpu_spent < 0.1, f"a paused job used {cpu_spent:.2f} s of CPU in 0.6 s"
    job.resume()
    wait_for(lambda: job.snapshot()["step"] > paused["step"] + 2, what="training to continue")
    assert job.snapshot()["state"] == "running"


def test_stop_ends_after_the_current_batch_and_keeps_a_working_model(jobs):
    holder = {}

    def stop_at_third_batch(model, info):
        if info["step"] == 3:
            holder["job"].stop()
        return {"step": info["step"]}

    data = stripe_data()
    job = jobs(small_cnn, data, endless(), probe=stop_at_third_batch, probe_interval=1e-9)
    holder["job"] = job
    job.start()
    assert job.wait(20)
    snap = job.snapshot()
    assert snap["state"] == "finished" and snap["stopped_early"]
    assert snap["step"] == 3 and snap["examples_seen"] == 48
    predicted = job.model.predict(data.x_test.astype(np.float32) / 255, verbose=0)
    np.testing.assert_allclose(predicted, job.test_probabilities, atol=1e-5)
    assert snap["test"]["accuracy"] == pytest.approx(
        accuracy_score(data.y_test, predicted.argmax(axis=1))
    )


def test_stop_from_another_thread_ends_quickly(jobs):
    job = jobs(small_cnn, stripe_data(), endless()).start()
    wait_for(lambda: job.snapshot()["step"] >= 1)
    stopped_at = time.monotonic()
    job.stop()
    assert job.wait(10)
    assert time.monotonic() - stopped_at < 5
    snap = job.snapshot()
    assert snap["state"] == "finished" and snap["stopped_early"] and snap["test"] is not None


def test_learning_rate_change_reaches_the_optimizer(jobs):
    job = jobs(small_cnn, stripe_data(), endless()).start()
    wait_for(lambda: job.snapshot()["step"] >= 1)
    job.pause()
    wait_for(lambda: job.snapshot()["state"] == "paused")
    job.set_learning_rate(0.0042)
    optimizer = job.model.optimizer
    wait_for(lambda: np.isclose(float(optimizer.learning_rate), 0.0042), what="paused change")
    job.resume()
    job.set_learning_rate(0.0007)
    wait_for(lambda: np.isclose(float(optimizer.learning_rate), 0.0007), what="running change")
    assert job.snapshot()["learning_rate"] == 0.0007


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def sgd_bias_reference(bias: np.ndarray, steps: int, rate: float, momentum: float) -> np.ndarray:
    """Keras's SGD on the bias of `linear_model` for all-zero images of class 0."""
    velocity = np.zeros_like(bias)
    target = np.eye(len(bias))[0]
    for _ in range(steps):
        gradient = softmax(bias) - target
        velocity = momentum * velocity - rate * gradient
        bias = bias + velocity
    return bias


def pause_and_read(job: TrainingJob) -> tuple[int, np.ndarray, np.ndarray]:
    job.pause()
    snap = wait_for(lambda: (s := job.snapshot())["state"] == "paused" and s, what="pause")
    kernel, bias = (np.array(v.numpy(), dtype=np.float64) for v in job.model.layers[-1].weights)
    return snap["step"], kernel, bias


def test_momentum_change_reaches_training(jobs):
    settings = endless(optimizer="sgd", learning_rate=0.5, momentum=0.0, batch_size=20)
    job = jobs(None, blank_data(), settings, initial_model=linear_model()).start()
    wait_for(lambda: job.snapshot()["step"] >= 2)
    step_before, _, bias_before = pause_and_read(job)
    job.set_momentum(0.9)
    wait_for(lambda: job.model.optimizer.momentum == 0.9, what="momentum to reach the optimizer")
    job.resume()
    wait_for(lambda: job.snapshot()["step"] >= step_before + 6)
    step_after, _, bias_after = pause_and_read(job)
    steps = step_after - step_before
    expected = sgd_bias_reference(bias_before, steps, rate=0.5, momentum=0.9)
    np.testing.assert_allclose(bias_after, expected, atol=1e-5)
    without = sgd_bias_reference(bias_before, steps, rate=0.5, momentum=0.0)
    assert not np.allclose(bias_after, without, atol=1e-3)


def test_weight_decay_change_reaches_training(jobs):
    model = linear_model()
    kernel_start = np.array(model.layers[-1].kernel.numpy(), dtype=np.float64)
    settings = endless(optimizer="sgd", learning_rate=0.5, momentum=0.0, batch_size=20)
    job = jobs(None, blank_data(), settings, initial_model=model).start()
    wait_for(lambda: job.snapshot()["step"] >= 2)
    step_before, kernel_before, bias_before = pause_and_read(job)
    # Without decay the zero gradient leaves the kernel exactly as it started.
    np.testing.assert_array_equal(kernel_before, kernel_start)
    job.set_weight_decay(0.2)
    job.resume()
    wait_for(lambda: job.snapshot()["step"] >= step_before + 5)
    step_after, kernel_after, bias_after = pause_and_read(job)
    steps = step_after - step_before
    np.testing.assert_allclose(kernel_after, kernel_before * (1 - 0.5 * 0.2) ** steps, rtol=1e-5)
    # Biases are not decayed: they follow the gradient alone.
    expected_bias = sgd_bias_reference(bias_before, steps, rate=0.5, momentum=0.0)
    np.testing.assert_allclose(bias_after, expected_bias, atol=1e-5)
    decay_loss = job.snapshot()["weight_decay_loss"]
    assert 0 < decay_loss <= 0.5 * 0.2 * np.square(kernel_before).sum()


def test_batch_size_change_applies_from_the_next_batch(jobs):
    job = jobs(small_cnn, stripe_data(train=1200), endless(batch_size=10)).start()
    wait_for(lambda: job.snapshot()["step"] >= 2)
    job.pause()
    before = wait_for(lambda: (s := job.snapshot())["state"] == "paused" and s)
    job.set_batch_size(7)
    job.resume()
    wait_for(lambda: job.snapshot()["step"] >= before["step"] + 4)
    job.pause()
    after = wait_for(lambda: (s := job.snapshot())["state"] == "paused" and s)
    assert after["epoch"] == before["epoch"] == 1
    assert after["examples_seen"] - before["examples_seen"] == 7 * (after["step"] - before["step"])
    assert after["batches_per_epoch"] == after["batch"] + -(-(1200 - after["examples_seen"]) // 7)


def test_huge_learning_rate_fails_with_a_message_that_says_what_to_do(jobs):
    settings = TrainSettings(epochs=2, batch_size=16, optimizer="sgd", learning_rate=10.0)
    job = jobs(small_cnn, stripe_data(), settings).start()
    assert job.wait(20)
    snap = job.snapshot()
    assert snap["state"] == "failed"
    assert re.fullmatch(
        r"The loss (became NaN|became infinite|diverged: \S+) at epoch \d+, batch \d+"
        r"(, after 10 batches far above the 1\.10 of guessing at random)?: "
        r"the learning rate 10 is too high for sgd\. Lower it \(try 0\.01\) and start again\.",
        snap["error"],
    ), snap["error"]
    assert snap["test"] is None and job.test_probabilities is None


def test_finite_but_exploding_loss_is_caught_as_divergence(jobs):
    # Adam at 10 throws the weights where softmax saturates: the loss sits in the thousands
    # and stays finite, so only the comparison with chance level (ln 10) catches it.
    from datafiles import synthetic_digits

    from cnnlib.build import build_model
    from cnnlib.registry import REGISTRY

    x_train, y_train = synthetic_digits(450, seed=1, size=32, channels=3)
    x_test, y_test = synthetic_digits(100, seed=2, size=32, channels=3)
    data = types.SimpleNamespace(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=[str(label) for label in range(10)],
    )
    network = REGISTRY["convnetjs_cifar10"].network
    settings = TrainSettings(
        epochs=4, optimizer="adam", learning_rate=10.0, precision="float32", seed=0
    )
    job = jobs(lambda policy: build_model(network, policy), data, settings).start()
    assert job.wait(120)
    snap = job.snapshot()
    assert snap["state"] == "failed", snap["batch_history"]["loss"][-12:]
    assert re.fullmatch(
        r"The loss diverged: \S+ at epoch \d+, batch \d+, after 10 batches far above the 2\.30 "
        r"of guessing at random: the learning rate 10 is too high for adam\. Lower it "
        r"\(try 0\.001\) and start again\.",
        snap["error"],
    ), snap["error"]


def test_jobs_queue_and_run_one_at_a_time(jobs):
    release_first = threading.Event()
    first_probed = threading.Event()

    def hold(model, info):
        first_probed.set()
        release_first.wait(20)

    short = TrainSettings(epochs=1, batch_size=32, validation_split=0.0, precision="float32")
    first = jobs(small_cnn, stripe_data(), short, name="first", probe=hold).start()
    assert first_probed.wait(20)
    second = jobs(small_cnn, stripe_data(), short, name="second").start()
    third = jobs(small_cnn, stripe_data(), short, name="third").start()
    wait_for(lambda: third.snapshot()["queue_position"] == 2, what="third in the queue")
    assert first.snapshot()["state"] == "running"
    second_view = second.snapshot()
    assert second_view["state"] == "queued" and second_view["queue_position"] == 1
    assert second_view["step"] == 0

    third.stop()
    assert third.wait(5)
    left = third.snapshot()
    assert left["state"] == "finished" and left["stopped_early"] and left["queue_position"] is None
    assert third.model is None and left["test"] is None

    release_first.set()
    assert first.wait(20) and second.wait(20)
    assert second.snapshot()["state"] == "finished" and second.snapshot()["test"] is not None


def test_a_larger_pool_runs_jobs_side_by_side():
    pool = JobScheduler(max_running=2)
    both_running = threading.Barrier(2, timeout=20)

    def meet(model, info):
        both_running.wait()  # breaks (and fails the job) unless both run at once

    settings = TrainSettings(epochs=1, batch_size=32, validation_split=0.0, precision="float32")
    pair = [
        TrainingJob(small_cnn, stripe_data(), settings, probe=meet, scheduler=pool).start()
        for _ in range(2)
    ]
    for job in pair:
        assert job.wait(30)
        snap = job.snapshot()
        assert snap["state"] == "finished" and snap["probe_error"] is None


def test_same_seed_gives_the_same_first_epoch(jobs):
    def first_epoch(seed: int) -> dict:
        settings = TrainSettings(
            epochs=1, batch_size=16, seed=seed, augment_shift=1, augment_flip=True
        )
        job = jobs(small_cnn, stripe_data(), settings).start()
        assert job.wait(30)
        return job.snapshot()["epoch_history"][0]

    once, again, other = first_epoch(7), first_epoch(7), first_epoch(8)
    assert once["loss"] == again["loss"] and once["val_loss"] == again["val_loss"]
    assert once["loss"] != other["loss"]


def test_batch_history_stays_bounded_and_keeps_the_whole_run():
    history = job_history.BatchHistory(max_points=100)
    for step in range(1, 5001):
        history.add(step, loss=float(step), accuracy=0.5, smooth=(float(step), 0.5))
    columns = history.as_dict()
    assert 50 <= len(columns["step"]) <= 100
    assert columns["step"][0] <= 64 and columns["step"][-1] > 4900
    # Each point is the mean of the batches it stands for: loss == step, so the mean of a
    # block ending at step s of length k is s - (k - 1) / 2.
    stride = columns["step"][1] - columns["step"][0]
    assert columns["loss"][-1] == pytest.approx(columns["step"][-1] - (stride - 1) / 2)


def test_job_history_is_bounded(jobs, monkeypatch):
    monkeypatch.setattr(job_history, "MAX_HISTORY_POINTS", 40)
    settings = TrainSettings(epochs=2, batch_size=2, validation_split=0.0, precision="float32")
    job = jobs(small_cnn, stripe_data(train=200), settings).start()
    assert job.wait(60)
    history = job.snapshot()["batch_history"]
    assert len(history["step"]) <= 40 and history["step"][-1] > 150


def test_end_of_training_report_matches_an_independent_count(jobs):
    data = stripe_data()
    settings = TrainSettings(epochs=3, batch_size=16, learning_rate=0.01, test_each_epoch=True)
    job = jobs(small_cnn, data, settings).start()
    assert job.wait(30)
    snap = job.snapshot()
    test = snap["test"]
    predicted = job.model.predict(data.x_test.astype(np.float32) / 255, verbose=0).argmax(axis=1)
    expected = confusion_matrix(data.y_test, predicted, labels=[0, 1, 2])
    assert test["confusion"] == expected.tolist()
    assert sum(map(sum, test["confusion"])) == len(data.y_test)
    for label, accuracy in enumerate(test["per_class_accuracy"]):
        mine = data.y_test == label
        assert accuracy == pytest.approx((predicted[mine] == label).mean())
    assert test["accuracy"] > 0.9 and test["class_names"] == CLASS_NAMES
    epochs = snap["epoch_history"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[-1]["test_accuracy"] == pytest.approx(test["accuracy"])
    assert all(e["val_accuracy"] is not None and e["seconds"] > 0 for e in epochs)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("batch_size", 2.5),
        ("optimizer", "adagrad"),
        ("learning_rate", 0),
        ("learning_rate", float("nan")),
        ("momentum", 1.5),
        ("weight_decay", -0.1),
        ("validation_split", 1.0),
        ("augment_shift", -1),
        ("augment_flip", "yes"),
        ("seed", -3),
        ("precision", "float16"),
        ("test_each_epoch", 1),
        ("schedule", "linear"),
        # Extremes that used to pass: each is refused by name, with its bound.
        ("learning_rate", 1e9),
        ("batch_size", 10**9),
        ("epochs", 10**9),
        ("seed", 2**70),
        ("weight_decay", 5.0),
        ("augment_shift", 10**6),
    ],
)
def test_settings_refuse_bad_values_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        TrainSettings(**{field: value})


def test_job_refuses_data_and_models_that_do_not_fit():
    data = stripe_data()
    with pytest.raises(ValueError, match="augment_shift"):
        TrainingJob(small_cnn, data, TrainSettings(augment_shift=9))
    wrong_input = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match="inputs of shape"):
        TrainingJob(None, data, initial_model=wrong_input)
    wrong_classes = keras.Sequential([keras.Input((9, 9, 1)), layers.Flatten(), layers.Dense(10)])
    with pytest.raises(ValueError, match="make the last Dense layer 3 units"):
        TrainingJob(None, data, initial_model=wrong_classes)
    with pytest.raises(ValueError, match="x_train"):
        TrainingJob(small_cnn, types.SimpleNamespace(x_test=data.x_test))
    job = TrainingJob(small_cnn, data)
    for setter, value in [(job.set_learning_rate, -1), (job.set_batch_size, 0)]:
        with pytest.raises(ValueError):
            setter(value)


def test_probe_failures_are_reported_without_stopping_training(jobs):
    def broken(model, info):
        raise RuntimeError("no picture today")

    settings = TrainSettings(epochs=1, batch_size=32, validation_split=0.0, precision="float32")
    job = jobs(small_cnn, stripe_data(), settings, probe=broken, probe_interval=1e-9).start()
    assert job.wait(20)
    snap = job.snapshot()
    assert snap["state"] == "finished" and "no picture today" in snap["probe_error"]


def test_a_paused_job_can_be_stopped_and_released(jobs):
    job = jobs(small_cnn, stripe_data(), endless()).start()
    wait_for(lambda: job.snapshot()["step"] >= 1)
    job.pause()
    wait_for(lambda: job.snapshot()["state"] == "paused")
    job.stop()
    assert job.wait(10)
    snap = job.snapshot()
    assert snap["state"] == "finished" and snap["stopped_early"] and snap["test"] is not None
    job.release()
    assert job.model is None and job.test_probabilities is None


def test_precision_follows_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "missing") == frozenset()
    native = bool(precision.cpu_flags() & {"amx_bf16", "avx512_bf16"})
    assert precision.resolve_precision("auto") == ("mixed_bfloat16" if native else "float32")
    assert precision.resolve_precision("float32") == "float32"
    assert precision.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision"):
        precision.resolve_precision("half")


def test_max_jobs_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CNNLAB_MAX_JOBS", raising=False)
    assert scheduler.max_jobs_from_env() == 1
    monkeypatch.setenv("CNNLAB_MAX_JOBS", "3")
    assert scheduler.max_jobs_from_env() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("CNNLAB_MAX_JOBS", bad)
        with pytest.raises(ValueError, match="CNNLAB_MAX_JOBS"):
            scheduler.max_jobs_from_env()
    with pytest.raises(ValueError, match="max_running"):
        JobScheduler(0)
    before = training.default_scheduler.max_running
    try:
        training.configure(2)
        assert training.default_scheduler.counts()["max_running"] == 2
    finally:
        training.configure(before)


def test_a_job_speaks_the_language_of_the_page_that_started_it(jobs):
    """A job started while the page speaks Korean reports its failure in Korean: the training
    thread runs in a copy of the starting context."""
    from cnnlib import i18n

    settings = TrainSettings(epochs=2, batch_size=16, optimizer="sgd", learning_rate=10.0)
    with i18n.language("ko"):
        job = jobs(small_cnn, stripe_data(), settings).start()
    assert job.wait(20)
    error = job.snapshot()["error"]
    assert job.snapshot()["state"] == "failed"
    assert re.search("[가-힣]", error), error
