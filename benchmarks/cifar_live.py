"""CIFAR-10 live page throughput: the ConvNetJS network trained through the page's own path
(a `TrainingJob` with the page's `LiveProbe` producing activation maps, filters and the test
image stream every second) against a plain `model.fit` on the same data shape.

Uses CIFAR-10 from CNN Lab's data folder when it is there, else random images of CIFAR-10's
shape (throughput does not depend on what the pixels show). Each run trains two epochs and
times the second; plain and page runs alternate. Targets (issue 7): the page's path keeps at
least 80% of plain fit's images/s, and reaches at least 4,000 images/s in the precision
"auto" picks.

Run from the project folder: `.venv/bin/python benchmarks/cifar_live.py [--repeats 3]
[--train-size 20000]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_speed import BATCH_SIZE, plain_fit, real_or_random  # noqa: E402

from cnnlib import registry  # noqa: E402
from cnnlib.build import build_model  # noqa: E402
from cnnlib.probes import LiveProbe  # noqa: E402
from cnnlib.scheduler import JobScheduler  # noqa: E402
from cnnlib.training import TrainingJob, TrainSettings, resolve_precision  # noqa: E402


def page_fit(network, policy: str, data) -> tuple[float, float]:
    """Images/s of the page's path in its second epoch, and the probe's share of the time."""
    settings = TrainSettings(
        epochs=2,
        batch_size=BATCH_SIZE,
        optimizer="adam",
        validation_split=0.0,
        precision=policy,
        seed=0,
        augment_shift=2,
        augment_flip=True,
    )
    probe = LiveProbe(data.x_test, data.y_test, data.class_names)
    job = TrainingJob(
        lambda dtype: build_model(network, dtype),
        data,
        settings,
        name="benchmark",
        probe=probe,
        probe_interval=1.0,
        scheduler=JobScheduler(1),
    )
    job.start()
    while not job.wait(1.0):
        job.snapshot()  # as the live page reads it, once a second
    snapshot = job.snapshot()
    if snapshot["state"] != "finished":
        raise RuntimeError(f"The benchmark job ended {snapshot['state']}: {snapshot['error']}")
    seconds = snapshot["epoch_history"][1]["seconds"]
    probe_share = snapshot["timing"]["probe_s_total"] / sum(
        entry["seconds"] for entry in snapshot["epoch_history"]
    )
    return len(data.x_train) / seconds, probe_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=20_000)
    args = parser.parse_args()

    network = registry.get("convnetjs_cifar10").network
    data, source = real_or_random("cifar10", args.train_size)
    x_float = data.x_train.astype(np.float32) / 255
    auto = resolve_precision("auto")
    print(f"Data: {source}; {len(data.x_train):,} images per epoch, batch {BATCH_SIZE}.")
    print(f'Precision "auto" picks {auto}. Timing the second of two epochs.\n')
    plain_speeds, page_speeds, shares = [], [], []
    for repeat in range(args.repeats):
        for method in ("plain", "page") if repeat % 2 == 0 else ("page", "plain"):
            if method == "plain":
                wall, _ = plain_fit(network, auto, data, x_float)
                plain_speeds.append(len(data.x_train) / wall)
                print(f"  plain fit   repeat {repeat + 1}: {plain_speeds[-1]:8,.0f} images/s")
            else:
                speed, share = page_fit(network, auto, data)
                page_speeds.append(speed)
                shares.append(share)
                print(
                    f"  page path   repeat {repeat + 1}: {speed:8,.0f} images/s "
                    f"(live views took {share:.1%} of the time)",
                    flush=True,
                )
    plain, page = statistics.median(plain_speeds), statistics.median(page_speeds)
    print(f"\n{'precision':<15} {'plain images/s':>15} {'page images/s':>14} {'page/plain':>11}")
    print(f"{auto:<15} {plain:15,.0f} {page:14,.0f} {page / plain:11.3f}")
    print(
        f"Targets: page/plain >= 0.80 ({'met' if page / plain >= 0.8 else 'missed'}), "
        f"page >= 4,000 images/s ({'met' if page >= 4000 else 'missed'}). Medians."
    )


if __name__ == "__main__":
    main()
