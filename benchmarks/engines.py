"""A class at once, on each engine: simulated students (no browser) each start a short run of
one of the lecture's MNIST models through the engine interface (`cnnlib.engines`), all at the
same moment, and poll their job's snapshot once a second as the page does, until every run
has ended. Done twice on the same cores: with the in-process engine (jobs in this process,
one at a time as `CNNLAB_MAX_JOBS` defaults) and with Ray (a local Ray given the same cores,
each job in an actor asking for one CPU, kept warm for the next job).

Prints per engine: total wall time, runs per minute, the longest and the median wait in the
queue (from start to training), runs finished (and on Ray how many worker processes ran
them), the memory of this process (the web server's part: its resident size at the start,
the peak and the end) and its CPU share while the runs train, with the load average before
and after. Then each model's training speed in images/s per core (Ray's jobs train on one
core each), and from it the capacity plan of
`deploy/README.md`: a 12-epoch run on the full MNIST training set per core, and the cores a
class of 100 needs for everyone's run inside a 45-minute lab.

Targets (issue 16): with Ray, the server's CPU share small and its memory flat, every run
finished, and throughput within 10% of the in-process engine on the same cores.

Run from the project folder: `.venv/bin/python benchmarks/engines.py [--students 20]
[--train-size 6000] [--cores 2]`. Needs `requirements-ray.txt`.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load_average  # noqa: E402
from cnnlib import datasets, registry  # noqa: E402
from cnnlib.build import build_model  # noqa: E402
from cnnlib.engines import InProcessEngine  # noqa: E402
from cnnlib.engines.ray_jobs import RayEngine, RaySettings  # noqa: E402
from cnnlib.training import TrainSettings  # noqa: E402

MODELS = ("mnist_one_conv", "mnist_two_conv", "exercise")  # the lecture's MNIST models
POLL_S = 1.0  # how often each simulated page reads its job's snapshot
# The capacity plan: the lecture's run, the class and the lab.
PLAN_EPOCHS = 12
PLAN_TRAIN_IMAGES = 54_000  # MNIST's 60,000 less the validation tenth
PLAN_VALIDATION_IMAGES = 6_000  # validated once per epoch
PLAN_TEST_IMAGES = 10_000  # tested once at the end
PLAN_STUDENTS = 100
PLAN_LAB_S = 45 * 60


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def mnist(train_size: int) -> tuple[SimpleNamespace, str]:
    """Real MNIST when it is in CNN Lab's data folder, else random images of its shape."""
    try:
        real = datasets.load_mnist(allow_download=False)
        picked = datasets.subset(real, train_size, 1000, seed=0)
        return picked, f"MNIST ({real.source})"
    except datasets.DatasetError:
        rng = np.random.default_rng(0)
        data = SimpleNamespace(
            x_train=rng.integers(0, 256, (train_size, 28, 28, 1), dtype=np.uint8),
            y_train=rng.integers(0, 10, train_size),
            x_test=rng.integers(0, 256, (1000, 28, 28, 1), dtype=np.uint8),
            y_test=rng.integers(0, 10, 1000),
            class_names=[str(label) for label in range(10)],
        )
        return data, "random MNIST-shaped images (MNIST is not in the data folder)"


class Sampler:
    """This process's resident memory and CPU time, every half second, in a thread."""

    def __init__(self) -> None:
        self.memory: list[float] = [resident_mb()]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        times = os.times()
        self._cpu, self._wall = times.user + times.system, time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.memory.append(resident_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.memory.append(resident_mb())
        times = os.times()
        self.cpu_s = times.user + times.system - self._cpu
        self.wall_s = time.monotonic() - self._wall


def class_at_once(engine, data, students: int) -> dict:
    """Every student starts a run at once; returns the figures of the whole class."""
    settings = TrainSettings(epochs=1, batch_size=128, seed=0)
    load_before = load_average()
    with Sampler() as sampler:
        runs = []
        for student in range(students):
            key = MODELS[student % len(MODELS)]
            network = registry.get(key).network
            job = engine.make_job(
                lambda policy, network=network: build_model(network, policy),
                data,
                settings,
                name=f"student {student + 1}",
            )
            runs.append({"key": key, "job": job.start(), "started": time.monotonic()})
        while any(run.get("ended") is None for run in runs):
            for run in runs:
                if run.get("ended") is not None:
                    continue
                snap = run["job"].snapshot()
                now = time.monotonic()
                if run.get("training") is None and snap["state"] != "queued":
                    run["training"] = now
                if snap["state"] in ("finished", "failed") and run["job"].wait(0):
                    run["ended"], run["snapshot"] = now, snap
            time.sleep(POLL_S)
    waits = [run.get("training", run["ended"]) - run["started"] for run in runs]
    wall = max(run["ended"] for run in runs) - min(run["started"] for run in runs)
    finished = [run for run in runs if run["snapshot"]["state"] == "finished"]
    speeds: dict[str, list[float]] = {}
    for run in finished:
        if run["snapshot"]["samples_per_s"]:
            speeds.setdefault(run["key"], []).append(run["snapshot"]["samples_per_s"])
    return {
        "wall_s": wall,
        "runs_per_minute": len(finished) / wall * 60,
        "longest_wait_s": max(waits),
        "median_wait_s": statistics.median(waits),
        "finished": len(finished),
        "failed": [run["snapshot"]["error"] for run in runs if run not in finished],
        "memory_mb": (sampler.memory[0], max(sampler.memory), sampler.memory[-1]),
        "cpu_s": sampler.cpu_s,
        "cpu_share": sampler.cpu_s / sampler.wall_s,
        "load": (load_before, load_average()),
        "speeds": {key: statistics.median(values) for key, values in speeds.items()},
        "precision": finished[0]["snapshot"]["precision"] if finished else "?",
        # Ray's worker processes (each imports TensorFlow once); none for the in-process engine.
        "workers": len(
            {run["snapshot"]["worker"]["pid"] for run in finished if run["snapshot"].get("worker")}
        ),
    }


def report(name: str, figures: dict, cores: int) -> None:
    start, peak, end = figures["memory_mb"]
    print(f"\n{name}")
    print(f"  total wall time        {figures['wall_s']:8.1f} s")
    print(f"  runs per minute        {figures['runs_per_minute']:8.2f}")
    print(f"  longest wait in queue  {figures['longest_wait_s']:8.1f} s")
    print(f"  median wait in queue   {figures['median_wait_s']:8.1f} s")
    print(f"  runs finished          {figures['finished']:8d}  failed: {figures['failed'] or 0}")
    print(f"  server memory (MB)     {start:8.0f} at start, {peak:.0f} peak, {end:.0f} at end")
    print(
        f"  server CPU             {figures['cpu_s']:8.1f} s = {figures['cpu_share']:.0%} of one "
        f"core = {figures['cpu_share'] / cores:.0%} of the {cores} cores"
    )
    print(f"  load average           before {figures['load'][0]}; after {figures['load'][1]}")
    print(f"  precision              {figures['precision']}")
    if figures["workers"]:
        print(f"  worker processes       {figures['workers']:8d} for {figures['finished']} runs")
    for key, speed in figures["speeds"].items():
        print(f"  {key:22s} {speed:8.0f} images/s per job")


def capacity_plan(speeds: dict[str, float], cores_per_job: int, how: str) -> None:
    """Runs per core and cores for the class, from each model's images/s per job. A job's
    cores run whole runs one after another, so they fit floor(lab / run) of them into the lab."""
    print(
        f"\nCapacity plan, {how}: a {PLAN_EPOCHS}-epoch run on {PLAN_TRAIN_IMAGES:,} images "
        f"({PLAN_VALIDATION_IMAGES:,} validated each epoch, {PLAN_TEST_IMAGES:,} tested at the "
        f"end), {cores_per_job} core(s) per job; {PLAN_STUDENTS} students inside "
        f"{PLAN_LAB_S // 60} minutes"
    )
    print(
        f"  {'model':16s} {'images/s/job':>12s} {'run (min)':>10s} {'runs/h/core':>12s} "
        f"{'runs/lab/job':>13s} {'cores':>6s} {'8-core workers':>15s}"
    )
    for key, speed in speeds.items():
        # Predicting an image costs about a third of training on it (no backward pass).
        images = PLAN_EPOCHS * (PLAN_TRAIN_IMAGES + PLAN_VALIDATION_IMAGES / 3)
        run_s = (images + PLAN_TEST_IMAGES / 3) / speed
        per_lab = int(PLAN_LAB_S // run_s)
        cores = math.ceil(PLAN_STUDENTS / per_lab) * cores_per_job if per_lab else None
        workers = "-" if cores is None else str(math.ceil(cores / 8))
        print(
            f"  {key:16s} {speed:12.0f} {run_s / 60:10.1f} {3600 / run_s / cores_per_job:12.2f} "
            f"{per_lab:13d} {cores or '-':>6} {workers:>15s}"
        )
    print("  (-: the run does not fit in the lab on these cores; give each job more, or a GPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--train-size", type=int, default=6000)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    data, source = mnist(args.train_size)
    print(
        f"{args.students} students at once, each one epoch of {args.train_size:,} images "
        f"(a tenth validated) of {', '.join(MODELS)} in turn, on {source}; "
        f"load average {load_average()}"
    )
    in_process = class_at_once(InProcessEngine(), data, args.students)
    report("In-process engine (one job at a time, TensorFlow on all cores)", in_process, args.cores)
    ray_engine = RayEngine(
        "local",
        RaySettings(num_cpus=1),
        init_options={"num_cpus": args.cores, "include_dashboard": False, "log_to_driver": False},
    )
    ray_engine.connect()
    on_ray = class_at_once(ray_engine, data, args.students)
    ray_engine.close()
    report(f"Ray engine (local Ray, {args.cores} CPUs, one CPU per job)", on_ray, args.cores)
    ratio = on_ray["runs_per_minute"] / in_process["runs_per_minute"]
    print(f"\nRay's throughput / in-process: {ratio:.2f} (target: at least 0.90)")
    capacity_plan(on_ray["speeds"], 1, "from Ray's jobs (one core each)")
    capacity_plan(in_process["speeds"], args.cores, "from the in-process jobs (all cores each)")


if __name__ == "__main__":
    main()
