"""The training-job behaviour tests on both engines: the in-process one (threads and the
process-wide queue) and Ray (each job an actor), the latter on a local Ray with two CPUs
started here. Each behaviour a student notices is checked the same way on both: the snapshot
moves, pause holds (and the worker then uses no CPU), resume continues, stop ends within one
batch and keeps a working model, live changes reach the optimizer (checked against the update
rules worked out in NumPy, as in `test_training.py`, whose helpers these are), a NaN ends with
advice, a seed gives the same first epoch, and jobs queue with their place in line shown.

The Ray engine has some behaviour of its own, tested below those: a worker that dies is a
failed run with its reason, snapshots are polled a few times a second at most, pictures and
models larger than their limits are refused with what to do, and a page's run (the live
probe's pictures, the saved record) works through it. A job's probe runs in the worker's
process there, so the probes that hold a job at a batch signal through files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import test_training
from sklearn.metrics import accuracy_score
from test_training import (
    blank_data,
    endless,
    linear_model,
    sgd_bias_reference,
    small_cnn,
    stripe_data,
)

from cnnlib.engines import InProcessEngine, engine_from_env, set_default_engine
from cnnlib.engines.ray_jobs import (
    RayEngine,
    RaySettings,
    _JobActor,
    failure_reason,
    model_from_payload,
)
from cnnlib.scheduler import JobScheduler
from cnnlib.training import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
RAY_MISSING = "Ray is not installed: install requirements-ray.txt to test the Ray engine"


def wait_for(condition, timeout: float = 90.0, what: str = "condition"):
    """`condition()` once it is true. Longer than the in-process tests wait, as a Ray worker
    first starts and imports TensorFlow; and less often, as a check may be a call to it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def local_ray():
    """A Ray with two CPUs on this machine, no dashboard, for this module's tests."""
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    # Workers unpickle this module's probes and models by value: they cannot import tests.
    ray.cloudpickle.register_pickle_by_value(test_training)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with pytest.MonkeyPatch.context() as environment:
        # Ray's own usage statistics would be sent out; the tests keep to this machine.
        environment.setenv("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200 * 2**20,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
            _node_ip_address="127.0.0.1",
        )
        yield ray
        ray.shutdown()


# The Ray engines a test made: their idle workers are ended after it, so that they hold no
# cores the next test's jobs need.
ray_engines: list[RayEngine] = []


def new_ray_engine(**settings) -> RayEngine:
    engine = RayEngine(settings=RaySettings(**settings))
    ray_engines.append(engine)
    return engine


@pytest.fixture(autouse=True)
def close_ray_engines():
    yield
    while ray_engines:
        ray_engines.pop().close()


class Jobs:
    """Makes jobs on one engine, and reads what only the training process can see."""

    def __init__(self, kind: str, request) -> None:
        self.kind = kind
        self.request = request
        self.made: list = []
        self.engine = self.make_engine(num_cpus=1)

    def make_engine(self, num_cpus: int, **settings):
        if self.kind == "in-process":
            return InProcessEngine(JobScheduler(max_running=1))
        self.request.getfixturevalue("local_ray")
        return new_ray_engine(num_cpus=num_cpus, **settings)

    def one_at_a_time(self) -> None:
        """On Ray, each job asks for both CPUs, so that one runs and the rest wait."""
        self.engine = self.make_engine(num_cpus=2)

    def __call__(self, *args, **kwargs):
        job = self.engine.make_job(*args, **kwargs)
        self.made.append(job)
        return job

    def on_model(self, job, function):
        """`function(model)` where the job trains: the optimizer and weights training sees."""
        return function(job.model) if self.kind == "in-process" else job.inspect_model(function)

    def cpu_seconds(self, job) -> float:
        """CPU time of the process that trains `job`."""
        return time.process_time() if self.kind == "in-process" else job.cpu_seconds()


@pytest.fixture(params=["in-process", "ray"])
def jobs(request):
    maker = Jobs(request.param, request)
    yield maker
    for job in maker.made:
        job.stop()
    for job in maker.made:
        assert job.wait(60), "a job outlived its test"


@dataclass
class Gate:
    """A probe that, at training step `step`, leaves a mark in `folder` and holds the job
    until the test opens the gate (at most 60 s): it holds a job at a known batch whichever
    process trains it."""

    folder: str
    step: int = 1

    def __call__(self, model, info):
        if info["step"] == self.step:
            Path(self.folder, "reached").touch()
            deadline = time.monotonic() + 60
            while not Path(self.folder, "open").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        return {"step": info["step"]}

    def reached(self) -> bool:
        return Path(self.folder, "reached").exists()

    def open(self) -> None:
        Path(self.folder, "open").touch()


def learning_rate(model) -> float:
    return float(model.optimizer.learning_rate)


def momentum(model) -> float:
    return float(model.optimizer.momentum)


def intra_op_threads(model) -> int:
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads()


def last_layer(model) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.array(v.numpy(), dtype=np.float64) for v in model.layers[-1].weights)


def float32_drift(steps: int) -> float:
    """How far float32 training may drift from a float64 reference over `steps` updates of
    values near 1 to 10: a few rounding errors per step, never less than 1e-5."""
    return max(1e-5, 4e-7 * steps)


def pause_and_read(jobs: Jobs, job) -> tuple[int, np.ndarray, np.ndarray]:
    job.pause()
    snap = wait_for(lambda: (s := job.snapshot())["state"] == "paused" and s, what="pause")
    kernel, bias = jobs.on_model(job, last_layer)
    return snap["step"], kernel, bias


# The behaviour of a training job, on both engines.


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
    cpu_before = jobs.cpu_seconds(job)
    time.sleep(0.6)
    cpu_spent = jobs.cpu_seconds(job) - cpu_before
    still = job.snapshot()
    assert still["step"] == paused["step"] and still["examples_seen"] == paused["examples_seen"]
    assert still["state"] == "paused"
    assert cpu_spent < 0.1, f"a paused job used {cpu_spent:.2f} s of CPU in 0.6 s"
    job.resume()
    wait_for(lambda: job.snapshot()["step"] > paused["step"] + 2, what="training to continue")
    assert job.snapshot()["state"] == "running"


def test_stop_ends_after_the_current_batch_and_keeps_a_working_model(jobs, tmp_path):
    gate = Gate(str(tmp_path), step=3)
    data = stripe_data()
    job = jobs(small_cnn, data, endless(), probe=gate, probe_interval=1e-9).start()
    wait_for(gate.reached, what="the third batch")
    job.stop()
    gate.open()
    assert job.wait(30)
    snap = job.snapshot()
    assert snap["state"] == "finished" and snap["stopped_early"]
    assert snap["step"] == 3 and snap["examples_seen"] == 48
    # The model here (on Ray: rebuilt from the config and weights the worker sent back)
    # predicts what the job measured on the test set.
    predicted = job.model.predict(data.x_test.astype(np.float32) / 255, verbose=0)
    np.testing.assert_allclose(predicted, job.test_probabilities, atol=1e-5)
    assert snap["test"]["accuracy"] == pytest.approx(
        accuracy_score(data.y_test, predicted.argmax(axis=1))
    )
    # Handed over to the session, the model leaves the job; its results stay.
    job.hand_over_model()
    assert job.model is None and job.snapshot()["test"] == snap["test"]
    job.release()
    assert job.model is None and job.test_probabilities is None


def test_learning_rate_change_reaches_the_optimizer(jobs):
    job = jobs(small_cnn, stripe_data(), endless()).start()
    wait_for(lambda: job.snapshot()["step"] >= 1)
    job.pause()
    wait_for(lambda: job.snapshot()["state"] == "paused")
    job.set_learning_rate(0.0042)
    wait_for(lambda: np.isclose(jobs.on_model(job, learning_rate), 0.0042), what="paused change")
    job.resume()
    job.set_learning_rate(0.0007)
    wait_for(lambda: np.isclose(jobs.on_model(job, learning_rate), 0.0007), what="running change")
    assert job.snapshot()["learning_rate"] == 0.0007


def test_momentum_change_reaches_training(jobs):
    settings = endless(optimizer="sgd", learning_rate=0.5, momentum=0.0, batch_size=20)
    job = jobs(None, blank_data(), settings, initial_model=linear_model()).start()
    wait_for(lambda: job.snapshot()["step"] >= 2)
    step_before, _, bias_before = pause_and_read(jobs, job)
    job.set_momentum(0.9)
    wait_for(lambda: jobs.on_model(job, momentum) == 0.9, what="momentum to reach the optimizer")
    job.resume()
    wait_for(lambda: job.snapshot()["step"] >= step_before + 6)
    step_after, _, bias_after = pause_and_read(jobs, job)
    steps = step_after - step_before
    expected = sgd_bias_reference(bias_before, steps, rate=0.5, momentum=0.9)
    np.testing.assert_allclose(bias_after, expected, atol=float32_drift(steps))
    without = sgd_bias_reference(bias_before, steps, rate=0.5, momentum=0.0)
    assert not np.allclose(bias_after, without, atol=1e-3)


def test_weight_decay_change_reaches_training(jobs):
    model = linear_model()
    kernel_start = np.array(model.layers[-1].kernel.numpy(), dtype=np.float64)
    settings = endless(optimizer="sgd", learning_rate=0.5, momentum=0.0, batch_size=20)
    job = jobs(None, blank_data(), settings, initial_model=model).start()
    wait_for(lambda: job.snapshot()["step"] >= 2)
    step_before, kernel_before, bias_before = pause_and_read(jobs, job)
    # Without decay the zero gradient leaves the kernel exactly as it started.
    np.testing.assert_array_equal(kernel_before, kernel_start)
    # A small decay: a Ray job's pause may come hundreds of steps later (the page polls it
    # every poll_s, and a call runs many of these tiny batches), and the kernel must stay
    # far from float32's smallest numbers for that many steps.
    job.set_weight_decay(0.02)
    job.resume()
    wait_for(lambda: job.snapshot()["step"] >= step_before + 5)
    step_after, kernel_after, bias_after = pause_and_read(jobs, job)
    steps = step_after - step_before
    np.testing.assert_allclose(
        kernel_after, kernel_before * (1 - 0.5 * 0.02) ** steps, rtol=float32_drift(steps)
    )
    # Biases are not decayed: they follow the gradient alone.
    expected_bias = sgd_bias_reference(bias_before, steps, rate=0.5, momentum=0.0)
    np.testing.assert_allclose(bias_after, expected_bias, atol=float32_drift(steps))
    decay_loss = job.snapshot()["weight_decay_loss"]
    assert 0 < decay_loss <= 0.5 * 0.02 * np.square(kernel_before).sum()


def test_batch_size_change_applies_from_the_next_batch(jobs):
    # A long first epoch: a page sees a Ray job's progress up to poll_s late, and a job runs
    # up to 32 batches per compiled call, so the pause may land many batches after the
    # snapshot that asked for it.
    count = 30000
    job = jobs(small_cnn, stripe_data(train=count), endless(batch_size=10)).start()
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
    left = count - after["examples_seen"]
    assert after["batches_per_epoch"] == after["batch"] + -(-left // 7)


def test_huge_learning_rate_fails_with_a_message_that_says_what_to_do(jobs):
    settings = TrainSettings(epochs=2, batch_size=16, optimizer="sgd", learning_rate=10.0)
    job = jobs(small_cnn, stripe_data(), settings).start()
    assert job.wait(90)
    snap = job.snapshot()
    assert snap["state"] == "failed"
    assert re.fullmatch(
        r"The loss (became NaN|became infinite|diverged: \S+) at epoch \d+, batch \d+"
        r"(, after 10 batches far above the 1\.10 of guessing at random)?: "
        r"the learning rate 10 is too high for sgd\. Lower it \(try 0\.01\) and start again\.",
        snap["error"],
    ), snap["error"]
    assert snap["test"] is None and job.test_probabilities is None


def test_jobs_queue_and_run_one_at_a_time_with_their_place_in_line(jobs, tmp_path):
    jobs.one_at_a_time()
    gate = Gate(str(tmp_path), step=1)
    short = TrainSettings(epochs=1, batch_size=32, validation_split=0.0, precision="float32")
    first = jobs(small_cnn, stripe_data(), short, name="first", probe=gate).start()
    wait_for(gate.reached, what="the first job to train")
    second = jobs(small_cnn, stripe_data(), short, name="second").start()
    third = jobs(small_cnn, stripe_data(), short, name="third").start()
    wait_for(lambda: third.snapshot()["queue_position"] == 2, what="third in the queue")
    assert first.snapshot()["state"] == "running"
    second_view = second.snapshot()
    assert second_view["state"] == "queued" and second_view["queue_position"] == 1
    assert second_view["step"] == 0

    third.stop()
    assert third.wait(10)
    left = third.snapshot()
    assert left["state"] == "finished" and left["stopped_early"] and left["queue_position"] is None
    assert third.model is None and left["test"] is None
    assert second.snapshot()["queue_position"] == 1

    gate.open()
    assert first.wait(90) and second.wait(90)
    assert second.snapshot()["state"] == "finished" and second.snapshot()["test"] is not None


def test_same_seed_gives_the_same_first_epoch(jobs):
    def first_epoch(seed: int):
        settings = TrainSettings(
            epochs=1, batch_size=16, seed=seed, augment_shift=1, augment_flip=True
        )
        return jobs(small_cnn, stripe_data(), settings).start()

    started = [first_epoch(7), first_epoch(7), first_epoch(8)]
    for job in started:
        assert job.wait(120)
    once, again, other = (job.snapshot()["epoch_history"][0] for job in started)
    assert once["loss"] == again["loss"] and once["val_loss"] == again["val_loss"]
    assert once["loss"] != other["loss"]


# Choosing an engine.


def test_the_environment_chooses_the_engine_and_its_resources():
    assert isinstance(engine_from_env({}), InProcessEngine)
    assert isinstance(engine_from_env({"CNNLAB_RAY_ADDRESS": "  "}), InProcessEngine)
    engine = engine_from_env(
        {
            "CNNLAB_RAY_ADDRESS": "ray://head:10001",
            "CNNLAB_RAY_CPUS": "2",
            "CNNLAB_RAY_GPUS": "1",
            "CNNLAB_RAY_MEMORY_MB": "1500",
        }
    )
    assert isinstance(engine, RayEngine) and engine.address == "ray://head:10001"
    assert engine.settings.actor_options() == {
        "num_cpus": 2.0,
        "num_gpus": 1.0,
        "memory": 1500 * 2**20,
    }
    assert RaySettings.from_env({}).actor_options() == {"num_cpus": 1.0, "num_gpus": 0.0}
    for variable, value in (
        ("CNNLAB_RAY_CPUS", "two"),
        ("CNNLAB_RAY_CPUS", "0"),
        ("CNNLAB_RAY_GPUS", "-1"),
        ("CNNLAB_RAY_POLL_S", "0"),
        ("CNNLAB_RAY_MAX_RESULT_MB", "nan"),
    ):
        with pytest.raises(ValueError, match=variable):
            RaySettings.from_env({variable: value})
    with pytest.raises(ValueError, match="no in-process scheduler"):
        engine.make_job(small_cnn, stripe_data(), scheduler=JobScheduler(1))


def test_ray_errors_are_told_by_their_reason():
    class Died(Exception):
        def __str__(self):
            return (
                "The actor died unexpectedly before finishing this task.\n"
                "\tclass_name: _JobActor\n\tpid: 4242\n"
                "The actor is dead because its worker process has died. Worker exit type: "
                "SYSTEM_ERROR"
            )

    assert failure_reason(Died()) == (
        "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR"
    )


# What only the Ray engine does.


def ray_engine(local_ray, **settings) -> RayEngine:
    return new_ray_engine(**settings)


def test_ray_refuses_a_job_larger_than_the_cluster(local_ray):
    job = ray_engine(local_ray, num_cpus=3).make_job(small_cnn, stripe_data(), endless())
    with pytest.raises(ValueError, match="asks Ray for 3 CPU, but the cluster has 2"):
        job.start()


@dataclass
class Pictures:
    """A probe whose picture is `small` bytes until step `grow`, then `large`. While the
    pictures are small it holds each call for `pace` seconds, so that a page polling a few
    times a second sees several of them (the probe runs between compiled calls, each of up
    to 32 batches)."""

    grow: int
    small: int = 4096
    large: int = 2 * 2**20
    pace: float = 0.3

    def __call__(self, model, info):
        size = self.large
        if info["step"] < self.grow:
            size = self.small
            time.sleep(self.pace)
        return {"step": info["step"], "picture": np.full(size, info["step"] % 251, np.uint8)}


def test_ray_polls_a_few_times_a_second_limits_pictures_and_reports_a_dead_worker(local_ray):
    engine = ray_engine(local_ray, poll_s=0.25, max_probe_mb=1)
    job = engine.make_job(
        small_cnn, stripe_data(), endless(), probe=Pictures(grow=60), probe_interval=1e-9
    ).start()
    # The pictures come back whole while they are small...
    snap = wait_for(lambda: (s := job.snapshot())["probe"] is not None and s, what="a picture")
    probe = snap["probe"]
    assert probe["step"] <= 60 and snap["probe_error"] is None
    np.testing.assert_array_equal(probe["picture"], np.full(4096, probe["step"] % 251, np.uint8))
    # ...while the page asks for snapshots as fast as it can, the worker is asked at most
    # every poll_s seconds, and the snapshots still move.
    polls, steps, started = job.polls, set(), time.monotonic()
    while time.monotonic() - started < 1.0:
        steps.add(job.snapshot()["step"])
    assert 2 <= job.polls - polls <= 5 and len(steps) >= 2
    # ...and larger ones are refused with what to change.
    snap = wait_for(lambda: (s := job.snapshot())["step"] > 60 and s["probe"] is None and s)
    assert "CNNLAB_RAY_MAX_PROBE_MB" in snap["probe_error"]
    # TensorFlow in the worker uses the one core the job asked for, not every core.
    assert job.inspect_model(intra_op_threads) == 1
    # A worker that dies mid-run makes a failed run that says why and what to do.
    assert snap["worker"]["pid"] != os.getpid()
    os.kill(snap["worker"]["pid"], signal.SIGKILL)
    assert job.wait(60)
    failed = job.snapshot()
    assert failed["state"] == "failed" and job.state.ended
    assert failed["error"].startswith("Training failed: the Ray worker running this job stopped")
    assert "worker" in failed["error"].split("stopped", 1)[1]
    assert failed["error"].endswith("Start the run again.")
    assert job.model is None and failed["step"] > 60


SHORT = TrainSettings(epochs=1, batch_size=32, validation_split=0.0, precision="float32")


def seeded(seed: int) -> TrainSettings:
    return TrainSettings(epochs=1, batch_size=16, seed=seed, augment_shift=1, augment_flip=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ray_a_second_job_reuses_the_warm_worker_and_trains_as_the_first(local_ray):
    # Each job asks for both CPUs, so that the second can only run where the first did.
    engine = ray_engine(local_ray, num_cpus=2)
    data = stripe_data()
    first = engine.make_job(small_cnn, data, seeded(7)).start()
    assert first.wait(120)
    assert engine.status()["idle_workers"] == 1
    second = engine.make_job(small_cnn, data, seeded(7)).start()
    assert second.wait(120)
    once, again = first.snapshot(), second.snapshot()
    assert once["state"] == again["state"] == "finished"
    assert again["worker"]["pid"] == once["worker"]["pid"] != os.getpid()
    # Nothing of the first job leaks into the second: the same seed, the same first epoch.
    assert again["epoch_history"][0]["loss"] == once["epoch_history"][0]["loss"]
    predicted = second.model.predict(data.x_test.astype(np.float32) / 255, verbose=0)
    np.testing.assert_allclose(predicted, second.test_probabilities, atol=1e-5)
    assert again["test"]["accuracy"] == pytest.approx(
        accuracy_score(data.y_test, predicted.argmax(axis=1))
    )


def test_ray_a_job_queued_behind_a_full_cluster_starts_when_another_ends(local_ray, tmp_path):
    # Idle workers would keep their cores for ten minutes: the waiting job must be given the
    # first one that ends its job, not wait for a new worker that cannot be placed.
    engine = ray_engine(local_ray, num_cpus=1, idle_s=600)
    gates = [Gate(str(tmp_path / name)) for name in ("a", "b")]
    for gate in gates:
        Path(gate.folder).mkdir()
    held = [
        engine.make_job(small_cnn, stripe_data(), SHORT, name=f"held {n}", probe=gate).start()
        for n, gate in enumerate(gates)
    ]
    for gate in gates:
        wait_for(gate.reached, what="both CPUs to train")
    waiting = engine.make_job(small_cnn, stripe_data(), SHORT, name="waiting").start()
    assert waiting.snapshot()["queue_position"] == 1 and waiting.snapshot()["state"] == "queued"
    gates[0].open()
    assert held[0].wait(90)
    assert waiting.wait(120), "the waiting job never started"
    snap = waiting.snapshot()
    assert snap["state"] == "finished" and snap["test"] is not None
    assert snap["worker"]["pid"] == held[0].snapshot()["worker"]["pid"]
    assert held[1].snapshot()["state"] == "running"
    gates[1].open()
    assert held[1].wait(90) and held[1].snapshot()["state"] == "finished"
    assert engine.status() == {
        "kind": "ray",
        "address": None,
        "running": 0,
        "waiting": 0,
        "idle_workers": 2,
    }


def test_ray_an_idle_worker_is_ended_after_the_idle_time(local_ray):
    engine = ray_engine(local_ray, num_cpus=1, idle_s=3)
    job = engine.make_job(small_cnn, stripe_data(), SHORT).start()
    assert job.wait(120) and job.snapshot()["state"] == "finished"
    pid = job.snapshot()["worker"]["pid"]
    assert engine.status()["idle_workers"] == 1 and process_alive(pid)
    # Ended after the idle time: its process is gone and the cluster has both CPUs again.
    wait_for(lambda: engine.status()["idle_workers"] == 0, timeout=30, what="the idle time")
    wait_for(lambda: not process_alive(pid), timeout=30, what="the idle worker to end")
    wait_for(lambda: local_ray.available_resources().get("CPU") == 2, what="the CPUs back")
    # A job after that has a new worker.
    again = engine.make_job(small_cnn, stripe_data(), SHORT).start()
    assert again.wait(120) and again.snapshot()["state"] == "finished"
    assert again.snapshot()["worker"]["pid"] != pid


def test_ray_a_worker_killed_mid_run_fails_only_its_job_and_the_next_runs(local_ray):
    engine = ray_engine(local_ray, num_cpus=1, idle_s=600)
    # Long runs (100,000 batches), so that the other job is still training after the kill.
    data = stripe_data(train=3200)
    doomed, other = (engine.make_job(small_cnn, data, endless()).start() for _ in "ab")
    for job in (doomed, other):
        wait_for(lambda job=job: job.snapshot()["step"] >= 2, what="both jobs to train")
    pid = doomed.snapshot()["worker"]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert doomed.wait(60)
    failed = doomed.snapshot()
    assert failed["state"] == "failed"
    assert failed["error"].startswith("Training failed: the Ray worker running this job stopped")
    # The other job trains on, and a new job runs on a new worker in the dead one's place.
    step = other.snapshot()["step"]
    wait_for(lambda: other.snapshot()["step"] > step + 2, what="the other job to go on")
    after = engine.make_job(small_cnn, stripe_data(), SHORT).start()
    assert after.wait(120)
    snap = after.snapshot()
    assert snap["state"] == "finished" and snap["test"] is not None
    assert snap["worker"]["pid"] not in (pid, other.snapshot()["worker"]["pid"])
    assert other.snapshot()["state"] == "running"
    other.stop()
    assert other.wait(60) and other.snapshot()["state"] == "finished"
    assert other.snapshot()["error"] is None


def test_the_idle_time_comes_from_the_environment():
    assert RaySettings.from_env({"CNNLAB_RAY_IDLE_S": "5"}).idle_s == 5
    assert RaySettings.from_env({}).idle_s == 60
    with pytest.raises(ValueError, match="CNNLAB_RAY_IDLE_S"):
        RaySettings.from_env({"CNNLAB_RAY_IDLE_S": "-1"})


def test_a_model_larger_than_its_limit_is_not_sent_back():
    # The worker's side of the result, without Ray: config and weights within the limit,
    # a message saying what to change beyond it.
    worker = _JobActor.__new__(_JobActor)
    model = small_cnn("float32")
    probabilities = np.full((90, 3), 1 / 3, np.float32)
    worker.job = types.SimpleNamespace(model=model, test_probabilities=probabilities)
    worker.limits = {"max_result_bytes": 2**20}
    payload = worker.result()
    rebuilt = model_from_payload(payload)
    images = np.random.default_rng(0).random((4, 9, 9, 1), dtype=np.float32)
    np.testing.assert_allclose(rebuilt.predict(images, verbose=0), model.predict(images, verbose=0))
    np.testing.assert_array_equal(payload["test_probabilities"], probabilities)
    # 151 weights (604 bytes) and 270 probabilities (1,080 bytes) exceed 1 kB.
    worker.limits = {"max_result_bytes": 1024}
    assert "CNNLAB_RAY_MAX_RESULT_MB" in worker.result()["error"]
    worker.job.test_probabilities = None
    assert "error" not in worker.result()


def test_a_page_run_on_ray_shows_its_live_view_and_saves_its_model(local_ray, small_home):
    from test_runs import SETTINGS, tiny

    from cnnlib import profiles, registry
    from cnnlib.inference import predict_proba
    from cnnlib.library import ModelLibrary
    from cnnlib.runs import start_run

    profile = profiles.with_live_view(profiles.CIFAR10)
    dataset = tiny(profile)
    previous = set_default_engine(ray_engine(local_ray))
    try:
        run = start_run(
            profile,
            dataset,
            registry.get("convnetjs_cifar10").network,
            SETTINGS,
            name="cluster run",
            probe_interval=0.2,
        )
        assert run.job.wait(120)
    finally:
        set_default_engine(previous)
    snap = run.snapshot()
    assert snap["state"] == "finished" and run.finished_with_model
    # The live view's pictures came back from the worker: 8-bit activation maps per layer.
    convolution = next(layer for layer in snap["probe"]["layers"] if layer["kind"] == "Conv2D")
    assert convolution["maps"][0].dtype == np.uint8 and convolution["maps"][0].shape == (32, 32)
    assert convolution["filters"]
    library = ModelLibrary(small_home)
    library.save(run.record())
    loaded = library.load("cluster run")
    np.testing.assert_allclose(
        predict_proba(loaded.model, dataset.x_test), run.job.test_probabilities, atol=1e-5
    )
    assert loaded.test_accuracy == pytest.approx(snap["test"]["accuracy"])


# The deployment files: docker cannot run here, so what can be checked without it is.


def dockerfile_copies(path: Path) -> list[str]:
    """The sources of a Dockerfile's COPY instructions, relative to the build context."""
    sources = []
    for line in path.read_text().splitlines():
        words = line.split()
        if words and words[0] == "COPY":
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def test_the_deployment_files_fit_the_project():
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with requirements-ray.txt")
    deploy = ROOT / "deploy"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"dashboard", "ray-head", "ray-worker"}
    for name, service in services.items():
        context = (deploy / service["build"]["context"]).resolve()
        assert context == ROOT, name
        dockerfile = context / service["build"]["dockerfile"]
        assert dockerfile.is_file(), name
        for source in dockerfile_copies(dockerfile):
            assert (context / source).exists(), f"{dockerfile.name} copies missing {source}"
    # The dashboard selects the Ray engine, and every CNNLAB_RAY_* it sets is one CNN Lab reads.
    environment = services["dashboard"]["environment"]
    assert environment["CNNLAB_RAY_ADDRESS"] == "auto"
    known = {*RaySettings.VARIABLES.values(), "CNNLAB_RAY_ADDRESS"}
    assert {key for key in environment if key.startswith("CNNLAB_RAY")} <= known
    assert "--num-cpus=0" in services["ray-head"]["command"]
    # Both images install the same pinned Ray that the tests run.
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    pins = (ROOT / "requirements-ray.txt").read_text().split()
    assert f"ray=={ray.__version__}" in pins
    base = (ROOT / "requirements.txt").read_text().lower().splitlines()
    assert not [line for line in base if line.startswith("ray")], "the base install stays Ray-free"
    for image in ("dashboard.Dockerfile", "worker.Dockerfile"):
        text = (deploy / image).read_text()
        assert "-r requirements.txt -r requirements-ray.txt" in text, image
