"""What the training job costs over a plain `model.fit`, and what precision "auto" gains.

Trains the lecture's two-convolution MNIST model (the registry's `mnist_two_conv`, built by
`cnnlib.build`) on MNIST-shaped data (the real MNIST when it is in CNN Lab's data folder, else
random images of the same shape) in two ways, in one process, alternating, several times:

- plain: the lecture's way, `model.fit(x / 255, y, batch_size=128)` on a float32 array;
- job: a `cnnlib.training.TrainingJob` with the same model, batch size and optimizer, scaling
  uint8 batches on the fly, with its snapshot polled as a page would poll it.

Each run trains two epochs and times the second, so that tracing and start-up are left out
of both. Wall-clock throughput is what a user sees; CPU time per example (of the whole
process) is steadier when other programs share the machine. Prints a table for float32 and
for the precision "auto" picks, with the ratio job / plain. Targets (issue 3): the job within
5% of plain `fit` at equal precision; "auto" at least 1.5x plain float32 where it picks
bfloat16. Then (issue 18): the share of a 4096² matrix product's FLOP/s (measured in the same
run, same precision) that the job reaches, and the control latency: pause requested → the
job reports paused, and stop → the job leaves the running state (target: within 0.25 s).
The job runs several batches per compiled call (about 0.1 s each); plain `fit` is the same
in every version, so job/plain compares versions of the job.

Run from the project folder: `.venv/bin/python benchmarks/train_speed.py [--repeats 3]
[--train-size 20000]`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from benchmarks._common import load_average  # noqa: E402
from cnnlib import datasets, registry  # noqa: E402
from cnnlib.build import build_model  # noqa: E402
from cnnlib.scheduler import JobScheduler  # noqa: E402
from cnnlib.training import TrainingJob, TrainSettings, resolve_precision  # noqa: E402
from cnnlib.training.settings import avoid_graph_leak  # noqa: E402

BATCH_SIZE = 128
SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
POLL_SECONDS = 0.5  # how often the benchmark reads the job's snapshot, like a live page


def real_or_random(name: str, train_size: int) -> tuple[SimpleNamespace, str]:
    """The dataset `name` ("mnist" or "cifar10") if it is in CNN Lab's data folder, else
    random uint8 images of its shape: throughput does not depend on what the pixels show."""
    try:
        real = datasets.load(name, allow_download=False)
        data = SimpleNamespace(
            x_train=real.x_train[:train_size],
            y_train=real.y_train[:train_size],
            x_test=real.x_test[:1000],
            y_test=real.y_test[:1000],
            class_names=list(real.class_names),
        )
        return data, f"{name} ({real.source})"
    except datasets.DatasetError:
        shape = SHAPES[name]
        rng = np.random.default_rng(0)
        data = SimpleNamespace(
            x_train=rng.integers(0, 256, (train_size, *shape), dtype=np.uint8),
            y_train=rng.integers(0, 10, train_size),
            x_test=rng.integers(0, 256, (1000, *shape), dtype=np.uint8),
            y_test=rng.integers(0, 10, 1000),
            class_names=[str(label) for label in range(10)],
        )
        return data, f"random {name}-shaped images ({name} is not in the data folder)"


class EpochClock(keras.callbacks.Callback):
    """Wall and CPU time of each epoch; epoch hooks only, so fit's batch loop is untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[tuple[float, float]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        wall, cpu = self._start
        self.epochs.append((time.perf_counter() - wall, time.process_time() - cpu))


def plain_fit(network, policy: str, data, x_float: np.ndarray) -> tuple[float, float]:
    """Seconds (wall, CPU) of plain fit's second epoch."""
    keras.utils.set_random_seed(0)
    model = build_model(network, policy)
    model.compile(
        optimizer=avoid_graph_leak(keras.optimizers.Adam(1e-3)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    clock = EpochClock()
    model.fit(x_float, data.y_train, batch_size=BATCH_SIZE, epochs=2, verbose=0, callbacks=[clock])
    return clock.epochs[1]


def job_fit(network, policy: str, data) -> tuple[float, float]:
    """Seconds (wall, CPU) of the job's second epoch.

    Wall time is the job's own epoch time. CPU time is read by a probe, which the job calls in
    its training thread after every compiled call (so its small cost counts against the job):
    from the end of the epoch's first call to the end of its last, scaled up to the whole
    epoch.
    """
    marks: list[tuple[int, float]] = []

    def clock(model, info):
        # Called after every compiled call, which may run several batches.
        if info["epoch"] == 2:
            marks.append((info["batch"], time.process_time()))

    settings = TrainSettings(
        epochs=2, batch_size=BATCH_SIZE, validation_split=0.0, precision=policy, seed=0
    )
    job = TrainingJob(
        lambda dtype: build_model(network, dtype),
        data,
        settings,
        name="benchmark",
        probe=clock,
        probe_interval=1e-9,
        scheduler=JobScheduler(1),
    )
    job.start()
    while not job.wait(POLL_SECONDS):
        job.snapshot()  # as a live page reads it
    snapshot = job.snapshot()
    if snapshot["state"] != "finished":
        raise RuntimeError(f"The benchmark job ended {snapshot['state']}: {snapshot['error']}")
    batches = snapshot["batches_per_epoch"]
    cpu = (marks[-1][1] - marks[0][1]) * batches / (marks[-1][0] - marks[0][0])
    return snapshot["epoch_history"][1]["seconds"], cpu


def matmul_peak(dtype: str, size: int = 4096, repeats: int = 10) -> float:
    """FLOP/s of a size x size matrix product in TensorFlow (best of `repeats`)."""
    import tensorflow as tf

    a = tf.random.uniform((size, size), dtype=tf.float32)
    b = tf.random.uniform((size, size), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)))
    product(a, b).numpy()  # trace and warm up
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def control_latency(network, policy: str, data, rounds: int = 5) -> dict[str, list[float]]:
    """Seconds from a control to its effect on a running job: pause until the job reports
    paused, and stop until it reports that it has left the running state."""
    settings = TrainSettings(
        epochs=50, batch_size=BATCH_SIZE, validation_split=0.0, precision=policy, seed=0
    )
    job = TrainingJob(
        lambda dtype: build_model(network, dtype), data, settings, scheduler=JobScheduler(1)
    ).start()

    def wait_until(condition) -> float:
        started = time.perf_counter()
        while not condition():
            time.sleep(0.001)
        return time.perf_counter() - started

    wait_until(lambda: job.snapshot()["step"] >= 60)  # traced, and calls sized
    pauses = []
    for _ in range(rounds):
        step = job.snapshot()["step"]
        wait_until(lambda step=step: job.snapshot()["step"] >= step + 20)
        job.pause()
        pauses.append(wait_until(lambda: job.state == "paused"))
        job.resume()
        wait_until(lambda: job.state == "running")
    job.stop()
    stop = wait_until(lambda: job.state != "running")
    job.wait()
    job.release()
    return {"pause": pauses, "stop": [stop]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternating pairs per precision")
    parser.add_argument("--train-size", type=int, default=20_000, help="images per epoch")
    args = parser.parse_args()

    network = registry.get("mnist_two_conv").network
    data, source = real_or_random("mnist", args.train_size)
    x_float = data.x_train.astype(np.float32) / 255
    examples = len(data.x_train)
    auto = resolve_precision("auto")
    precisions = ["float32"] if auto == "float32" else ["float32", auto]
    print(f"Data: {source}; {examples:,} images per epoch, batch {BATCH_SIZE}.")
    print(f'Precision "auto" picks {auto} on this CPU.')
    print(f"Timing the second of two epochs, {args.repeats} alternating pairs per precision.")
    print(f"Load average before: {load_average()}\n")

    results: dict[str, dict[str, list]] = {}
    for policy in precisions:
        runs = results[policy] = {"plain": [], "job": []}
        for repeat in range(args.repeats):
            for method in ("plain", "job") if repeat % 2 == 0 else ("job", "plain"):
                if method == "plain":
                    wall, cpu = plain_fit(network, policy, data, x_float)
                else:
                    wall, cpu = job_fit(network, policy, data)
                runs[method].append((examples / wall, 1e6 * cpu / examples))
                print(
                    f"  {policy:<15} {method:<6} repeat {repeat + 1}: "
                    f"{examples / wall:8,.0f} images/s  {1e6 * cpu / examples:6.1f} µs CPU/image",
                    flush=True,
                )

    print(f"\nLoad average after: {load_average()}\n")
    print(
        f"{'precision':<15} {'plain images/s':>15} {'job images/s':>13} {'job/plain':>10} "
        f"{'pairwise':>9} {'plain µs CPU':>13} {'job µs CPU':>11} {'CPU job/plain':>14}"
    )
    for policy, runs in results.items():
        plain_speed = statistics.median(speed for speed, _ in runs["plain"])
        job_speed = statistics.median(speed for speed, _ in runs["job"])
        # Each pair ran back to back, under much the same load from other programs.
        pairwise = statistics.median(
            job / plain for (job, _), (plain, _) in zip(runs["job"], runs["plain"], strict=True)
        )
        plain_cpu = statistics.median(cpu for _, cpu in runs["plain"])
        job_cpu = statistics.median(cpu for _, cpu in runs["job"])
        print(
            f"{policy:<15} {plain_speed:15,.0f} {job_speed:13,.0f} {job_speed / plain_speed:10.3f} "
            f"{pairwise:9.3f} {plain_cpu:13.1f} {job_cpu:11.1f} {job_cpu / plain_cpu:14.3f}"
        )
    if auto != "float32":
        float_plain = statistics.median(speed for speed, _ in results["float32"]["plain"])
        auto_job = statistics.median(speed for speed, _ in results[auto]["job"])
        auto_plain = statistics.median(speed for speed, _ in results[auto]["plain"])
        print(
            f"\n{auto} over float32: plain fit {auto_plain / float_plain:.2f}x, "
            f"job {auto_job / float_plain:.2f}x plain float32 (target 1.5x)."
        )
    # How much of the machine's arithmetic the job uses: the model's training FLOPs per
    # image (forward and backward: about 3 x 2 x its multiply-adds) times images/s, over a
    # large matrix product's FLOP/s measured now, in the same precision.
    from cnnlib.arithmetic import analyse

    flop_per_image = 3 * 2 * analyse(network).total_macs
    print(f"\nTraining costs about {flop_per_image / 1e6:.1f} MFLOP per image (3 x 2 x MACs).")
    for policy, runs in results.items():
        dtype = "bfloat16" if "bfloat16" in policy else "float32"
        peak = matmul_peak(dtype)
        job_speed = statistics.median(speed for speed, _ in runs["job"])
        print(
            f"{policy:<15} 4096² matmul {peak / 1e12:.2f} TFLOP/s in {dtype}; the job "
            f"{job_speed * flop_per_image / 1e12:.3f} TFLOP/s = "
            f"{job_speed * flop_per_image / peak:.1%} of it"
        )
    for policy in results:
        latency = control_latency(network, policy, data)
        pauses = sorted(latency["pause"])
        print(
            f"{policy:<15} control latency: pause → paused median "
            f"{1000 * statistics.median(pauses):.0f} ms, max {1000 * pauses[-1]:.0f} ms "
            f"over {len(pauses)}; stop → stopping {1000 * latency['stop'][0]:.0f} ms "
            "(target 250 ms)"
        )
    print(f"Load average at the end: {load_average()}\n")
    print(
        "Medians over the repeats; the job target is job/plain >= 0.95. When the load average "
        "exceeds the number of cores, other programs decide the wall-clock figures: trust the "
        "CPU columns then."
    )


if __name__ == "__main__":
    main()
