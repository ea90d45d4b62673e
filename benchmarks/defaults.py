"""The defaults that are not precision: how many images a prediction call takes, and how many
threads TensorFlow computes with.

1. Prediction chunk (`cnnlib.metrics.PREDICT_CHUNK`, used for every test-set prediction, the
   ensemble's and the live views'): images per second predicting 10,000 MNIST-shaped images
   with the lecture's two-convolution model, for several chunk sizes, in float32 and in the
   precision "auto" picks; median of `--repeats`, alternating.
2. Threads: the job's compiled training step (`MultiStep`, batch 128, the same model) in a
   fresh process per setting, since TensorFlow fixes its thread pools when it starts: its own
   default (as many threads as cores, which CNN Lab keeps) against explicit intra-op and
   inter-op counts; median of `--repeats`, alternating.

Prints a table each, the load average beside it. Run on a quiet machine, from the project
folder: `.venv/bin/python benchmarks/defaults.py [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_average  # noqa: E402

CHUNKS = (100, 250, 500, 1000, 2500, 10_000)
THREADS = (None, (1, 1), (2, 1), (1, 2), (2, 2), (4, 2))  # (intra-op, inter-op); None: TF's


def _model(policy: str):
    from cnnlib import registry
    from cnnlib.build import build_model

    return build_model(registry.get("mnist_two_conv").network, policy)


def prediction(repeats: int) -> None:
    import numpy as np

    from cnnlib.metrics import PREDICT_CHUNK, predict_in_chunks
    from cnnlib.precision import resolve_precision as resolve

    images = np.random.default_rng(0).integers(0, 256, (10_000, 28, 28, 1), dtype=np.uint8)
    policies = sorted({"float32", resolve("auto")})
    print(f"1. Prediction of 10,000 images, images/s (median of {repeats}); now {PREDICT_CHUNK}")
    print("   chunk | " + " | ".join(f"{policy:>14}" for policy in policies))
    models = {policy: _model(policy) for policy in policies}
    for model in models.values():
        for chunk in CHUNKS:  # trace every shape before timing
            predict_in_chunks(model, images[: 2 * chunk], chunk=chunk)
    speeds = {(policy, chunk): [] for policy in policies for chunk in CHUNKS}
    for _ in range(repeats):
        for chunk in CHUNKS:
            for policy, model in models.items():
                started = time.perf_counter()
                predict_in_chunks(model, images, chunk=chunk)
                speeds[policy, chunk].append(len(images) / (time.perf_counter() - started))
    for chunk in CHUNKS:
        row = " | ".join(f"{statistics.median(speeds[p, chunk]):14,.0f}" for p in policies)
        print(f"  {chunk:6,} | {row}")
    print(f"   load average: {load_average()}")


_CHILD = """
import json, sys, time
import numpy as np
import tensorflow as tf
intra, inter = json.loads(sys.argv[1]) or (None, None)
if intra:
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
sys.path.insert(0, sys.argv[2])
from benchmarks.defaults import _model
from cnnlib.precision import resolve_precision as resolve
from cnnlib.training.steps import MultiStep
model = _model(resolve("auto"))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
xs = rng.random((8, 128, 28, 28, 1), dtype=np.float32)
ys = rng.integers(0, 10, (8, 128)).astype(np.int64)
step, rates = MultiStep(model), np.full(8, 0.001, np.float32)
step(xs, ys, rates)
step(xs, ys, rates)
started = time.perf_counter()
for _ in range(12):
    step(xs, ys, rates)
print(json.dumps(12 * 8 * 128 / (time.perf_counter() - started)))
"""


def threads(repeats: int) -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    speeds: dict = {setting: [] for setting in THREADS}
    for _ in range(repeats):
        for setting in THREADS:
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, json.dumps(setting), root],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            speeds[setting].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"2. Training step, precision auto, batch 128, images/s (median of {repeats})")
    print("   threads (intra-op, inter-op) | images/s")
    for setting in THREADS:
        name = "TensorFlow's default" if setting is None else f"{setting[0]}, {setting[1]}"
        print(f"   {name:>29} | {statistics.median(speeds[setting]):8,.0f}")
    print(f"   {os.cpu_count()} cores; load average: {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", nargs="+", default=["prediction", "threads"])
    arguments = parser.parse_args()
    if "prediction" in arguments.parts:
        prediction(arguments.repeats)
    if "threads" in arguments.parts:
        threads(arguments.repeats)


if __name__ == "__main__":
    main()
